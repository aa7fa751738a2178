#include "inspect.h"

#include <inttypes.h>
#include <string.h>

#include "../reader/pickle.h"

static cJSON *int_array(const int64_t *v, int n)
{
	cJSON *a = cJSON_CreateArray();
	int i;

	for (i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	return a;
}

static void add_num(cJSON *o, const char *k, uint64_t v)
{
	cJSON_AddNumberToObject(o, k, (double)v);
}

static int chunk_json(td_checkpoint *c, const dcp_key *k, size_t i,
		      int resolve, cJSON *out, td_err *err)
{
	const dcp_chunk *ch = &k->chunks[i];
	cJSON *o = cJSON_CreateObject();
	ts_tensor t;

	cJSON_AddItemToArray(out, o);
	if (k->kind == DCP_TENSOR) {
		cJSON_AddItemToObject(o, "offsets", int_array(ch->offsets, k->ndim));
		cJSON_AddItemToObject(o, "sizes", int_array(ch->sizes, k->ndim));
	}
	cJSON_AddStringToObject(o, "file", c->cat.files[ch->file]);
	add_num(o, "offset", ch->item_off);
	add_num(o, "length", ch->item_len);
	if (k->kind != DCP_TENSOR)
		return 0;
	add_num(o, "nbytes", ch->nbytes);
	if (!resolve)
		return 0;
	if (dcp_read_chunk(&c->cat, k, i, &t, err) != 0)
		return -1;
	add_num(o, "data_offset", t.data_off);
	/* The member's CRC is the chunk's when the storage is exactly it. */
	if (t.data_off == t.storage_off && t.nbytes == t.storage_nbytes)
		add_num(o, "crc32", t.storage_crc32);
	return 0;
}

static int key_json(td_checkpoint *c, const dcp_key *k, int resolve,
		    cJSON *keys, td_err *err)
{
	cJSON *o = cJSON_CreateObject(), *chunks = cJSON_CreateArray();
	const char *skip = dcp_skip_reason(k->name);
	size_t i;

	cJSON_AddItemToArray(keys, o);
	cJSON_AddStringToObject(o, "name", k->name);
	cJSON_AddStringToObject(o, "kind",
				k->kind == DCP_TENSOR ? "tensor" : "bytes");
	if (k->kind == DCP_TENSOR) {
		cJSON_AddStringToObject(o, "dtype", td_dtype_st_name(k->dtype));
		cJSON_AddItemToObject(o, "shape", int_array(k->shape, k->ndim));
	}
	add_num(o, "nbytes", k->nbytes);
	if (skip)
		cJSON_AddStringToObject(o, "skip", skip);
	else
		cJSON_AddNullToObject(o, "skip");
	cJSON_AddItemToObject(o, "chunks", chunks);
	for (i = 0; i < k->nchunks; i++)
		if (chunk_json(c, k, i, resolve, chunks, err) != 0)
			return -1;
	return 0;
}

static cJSON *arg_json(const arg_entry *e)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", arg_type_name(e->type));
	switch (e->type) {
	case ARG_NONE:  cJSON_AddNullToObject(o, "value"); break;
	case ARG_BOOL:  cJSON_AddBoolToObject(o, "value", e->i != 0); break;
	case ARG_INT:   cJSON_AddNumberToObject(o, "value", (double)e->i); break;
	case ARG_FLOAT: cJSON_AddNumberToObject(o, "value", e->f); break;
	case ARG_STR:   cJSON_AddStringToObject(o, "value", e->text); break;
	case ARG_OTHER:
		cJSON_AddNullToObject(o, "value");
		cJSON_AddStringToObject(o, "repr", e->text);
		break;
	}
	return o;
}

static cJSON *args_json(const td_checkpoint *c)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;

	for (i = 0; i < c->args.n; i++)
		cJSON_AddItemToObject(o, c->args.v[i].name,
				      arg_json(&c->args.v[i]));
	return o;
}

cJSON *inspect_json(td_checkpoint *c, int resolve, td_err *err)
{
	cJSON *root = cJSON_CreateObject(), *keys = cJSON_CreateArray();
	size_t i;

	cJSON_AddStringToObject(root, "checkpoint", c->iter_dir);
	cJSON_AddStringToObject(root, "backend", c->backend);
	if (c->has_args && c->args.iteration >= 0)
		add_num(root, "iteration", (uint64_t)c->args.iteration);
	if (c->has_args && c->args.has_version)
		cJSON_AddNumberToObject(root, "checkpoint_version",
					c->args.checkpoint_version);
	cJSON_AddItemToObject(root, "keys", keys);
	for (i = 0; i < c->cat.nkeys; i++)
		if (key_json(c, &c->cat.keys[i], resolve, keys, err) != 0) {
			cJSON_Delete(root);
			return NULL;
		}
	if (c->has_args)
		cJSON_AddItemToObject(root, "args", args_json(c));
	else
		cJSON_AddNullToObject(root, "args");
	return root;
}

/* ---------------------------------------------------------------- text */

static void human_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static int resolve_key(td_checkpoint *c, const dcp_key *k, td_err *err)
{
	ts_tensor t;
	size_t i;

	for (i = 0; k->kind == DCP_TENSOR && i < k->nchunks; i++)
		if (dcp_read_chunk(&c->cat, k, i, &t, err) != 0)
			return -1;
	return 0;
}

static void print_key(const dcp_key *k, FILE *out)
{
	const char *skip = dcp_skip_reason(k->name);
	char shape[128], size[32];

	human_bytes(k->nbytes, size, sizeof size);
	if (k->kind == DCP_TENSOR)
		td_shape_str(k->shape, k->ndim, shape, sizeof shape);
	else
		snprintf(shape, sizeof shape, "-");
	fprintf(out, "%-60s %-6s %-20s %6zu %10s%s%s\n", k->name,
		k->kind == DCP_TENSOR ? td_dtype_st_name(k->dtype) : "bytes",
		shape, k->nchunks, size, skip ? "  skip: " : "",
		skip ? skip : "");
}

static void print_summary(const td_checkpoint *c, FILE *out)
{
	size_t i, tensors = 0, skipped = 0;
	uint64_t bytes = 0;
	char size[32];

	for (i = 0; i < c->cat.nkeys; i++) {
		const dcp_key *k = &c->cat.keys[i];

		if (dcp_skip_reason(k->name))
			skipped++;
		else if (k->kind == DCP_TENSOR)
			bytes += k->nbytes;
		tensors += k->kind == DCP_TENSOR;
	}
	human_bytes(bytes, size, sizeof size);
	fprintf(out, "checkpoint  %s\n", c->iter_dir);
	fprintf(out, "backend     %s\n", c->backend[0] ? c->backend
						       : "(no metadata.json)");
	if (c->has_args && c->args.iteration >= 0)
		fprintf(out, "iteration   %" PRId64 "\n", c->args.iteration);
	fprintf(out, "files       %zu\n", c->cat.nfiles);
	fprintf(out, "keys        %zu (%zu tensors, %zu bytes entries), "
		"%zu skipped; %s of tensors to convert\n\n", c->cat.nkeys,
		tensors, c->cat.nkeys - tensors, skipped, size);
}

static void print_args(const td_checkpoint *c, FILE *out)
{
	char num[32];
	size_t i;

	if (!c->has_args) {
		fprintf(out, "\nargs: no common.pt\n");
		return;
	}
	fprintf(out, "\nargs (%zu, from common.pt)\n", c->args.n);
	for (i = 0; i < c->args.n; i++) {
		const arg_entry *e = &c->args.v[i];

		fprintf(out, "  %-40s ", e->name);
		switch (e->type) {
		case ARG_NONE:  fprintf(out, "None\n"); break;
		case ARG_BOOL:  fprintf(out, "%s\n", e->i ? "True" : "False"); break;
		case ARG_INT:   fprintf(out, "%" PRId64 "\n", e->i); break;
		case ARG_FLOAT:
			pk_float_repr(e->f, num, sizeof num);
			fprintf(out, "%s\n", num);
			break;
		case ARG_STR:   fprintf(out, "'%s'\n", e->text); break;
		case ARG_OTHER: fprintf(out, "%s\n", e->text); break;
		}
	}
}

int inspect_text(td_checkpoint *c, int resolve, FILE *out, td_err *err)
{
	size_t i;

	for (i = 0; resolve && i < c->cat.nkeys; i++)
		if (resolve_key(c, &c->cat.keys[i], err) != 0)
			return -1;
	print_summary(c, out);
	fprintf(out, "%-60s %-6s %-20s %6s %10s\n", "KEY", "DTYPE", "SHAPE",
		"CHUNKS", "BYTES");
	for (i = 0; i < c->cat.nkeys; i++)
		print_key(&c->cat.keys[i], out);
	print_args(c, out);
	return 0;
}
