#include "inspect.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/map.h"
#include "../common/grow.h"
#include "../common/units.h"
#include "../reader/pickle.h"
#include "../vm/match.h"

/* The rules' skips, each with its pattern's text ("*_state*"), made once
 * per listing. */
typedef struct skips {
	const program *p;    /* NULL: no rules, nothing shown as skipped */
	char **text;         /* one per p->skips */
} skips;

static int skips_init(skips *sk, const program *rules, td_err *err)
{
	uint32_t i;
	size_t len;
	FILE *f;

	sk->p = rules;
	sk->text = rules && rules->nskips ? calloc(rules->nskips,
						   sizeof *sk->text) : NULL;
	if (rules && rules->nskips && !sk->text)
		return td_errf(err, "out of memory");
	for (i = 0; sk->text && i < rules->nskips; i++) {
		f = open_memstream(&sk->text[i], &len);
		if (!f)
			return td_errf(err, "out of memory");
		prog_print_pattern(rules, rules->skips[i].pat, f);
		if (fclose(f) != 0)
			return td_errf(err, "out of memory");
	}
	return 0;
}

static void skips_free(skips *sk)
{
	uint32_t i;

	for (i = 0; sk->text && i < sk->p->nskips; i++)
		free(sk->text[i]);
	free(sk->text);
}

/* The pattern of the skip that drops a stored key; NULL: none does. */
static const char *skip_of(const skips *sk, const char *name)
{
	vm_caps caps;
	uint32_t i;

	for (i = 0; sk->text && i < sk->p->nskips; i++)
		if (vm_match(sk->p, sk->p->skips[i].pat, name, &caps))
			return sk->text[i];
	return NULL;
}

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

static int chunk_json(td_checkpoint *c, dcp_key *k, size_t i,
		      int resolve, cJSON *out, td_err *err)
{
	const dcp_chunk *ch = &k->chunks[i];
	cJSON *o = cJSON_CreateObject();
	torchsave_tensor t;

	cJSON_AddItemToArray(out, o);
	if (k->kind == DCP_TENSOR) {
		cJSON_AddItemToObject(o, "offsets", int_array(ch->offsets, k->ndim));
		cJSON_AddItemToObject(o, "sizes", int_array(ch->sizes, k->ndim));
	}
	cJSON_AddStringToObject(o, "file", c->cat.files[ch->item_file]);
	add_num(o, "offset", ch->item_off);
	add_num(o, "length", ch->item_len);
	if (ch->xform == XF_ZSTD)
		cJSON_AddStringToObject(o, "transform", XF_ZSTD_NAME);
	if (k->kind != DCP_TENSOR)
		return 0;
	add_num(o, "nbytes", ch->nbytes);
	if (!resolve)
		return 0;
	if (dcp_read_chunk(&c->cat, k, i, &t, err) != 0)
		return -1;
	if (ch->xi) /* in the decompressed archive */
		add_num(o, "archive_length", c->cat.xitems[ch->xi - 1].len);
	add_num(o, "data_offset", t.data_off - (ch->xi
				  ? c->cat.xitems[ch->xi - 1].off : 0));
	/* The member's CRC is the chunk's when the storage is exactly it. */
	if (t.data_off == t.storage_off && t.nbytes == t.storage_nbytes)
		add_num(o, "crc32", t.storage_crc32);
	return 0;
}

static int key_json(td_checkpoint *c, const skips *sk, dcp_key *k,
		    int resolve, cJSON *keys, td_err *err)
{
	cJSON *o = cJSON_CreateObject(), *chunks = cJSON_CreateArray();
	const char *skip = skip_of(sk, k->name);
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

cJSON *inspect_json(td_checkpoint *c, const program *rules, int resolve,
		    td_err *err)
{
	cJSON *root = cJSON_CreateObject(), *keys = cJSON_CreateArray();
	skips sk;
	size_t i;
	int rc = skips_init(&sk, rules, err);

	cJSON_AddStringToObject(root, "checkpoint", c->iter_dir);
	cJSON_AddStringToObject(root, "backend", c->backend);
	if (c->has_args && c->args.iteration >= 0)
		add_num(root, "iteration", (uint64_t)c->args.iteration);
	if (c->has_args && c->args.has_version)
		cJSON_AddNumberToObject(root, "checkpoint_version",
					c->args.checkpoint_version);
	if (c->cat.version)
		cJSON_AddStringToObject(root, "dcp_version", c->cat.version);
	else
		cJSON_AddNullToObject(root, "dcp_version");
	add_num(root, "zstd_items", c->cat.nzstd);
	cJSON_AddItemToObject(root, "keys", keys);
	for (i = 0; rc == 0 && i < c->cat.nkeys; i++)
		rc = key_json(c, &sk, &c->cat.keys[i], resolve, keys, err);
	skips_free(&sk);
	if (rc != 0) {
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

static int resolve_key(td_checkpoint *c, dcp_key *k, td_err *err)
{
	torchsave_tensor t;
	size_t i;

	for (i = 0; k->kind == DCP_TENSOR && i < k->nchunks; i++)
		if (dcp_read_chunk(&c->cat, k, i, &t, err) != 0)
			return -1;
	return 0;
}

/* A key's listing columns: its dtype ("bytes" for bytes entries), its
 * shape ("-" for them) and the rules' skip that drops it (NULL: none). */
static const char *key_columns(const dcp_key *k, const skips *sk,
			       char *shape, size_t size, const char **skip)
{
	*skip = skip_of(sk, k->name);
	if (k->kind != DCP_TENSOR) {
		snprintf(shape, size, "-");
		return "bytes";
	}
	td_shape_str(k->shape, k->ndim, shape, size);
	return td_dtype_st_name(k->dtype);
}

static void print_key(const dcp_key *k, const skips *sk, int width,
		      FILE *out)
{
	char shape[128], size[32];
	const char *skip, *dtype = key_columns(k, sk, shape, sizeof shape,
					       &skip);

	td_human_bytes(k->nbytes, size, sizeof size);
	fprintf(out, "%-*s %-6s %-20s %6zu %10s%s%s\n", width, k->name, dtype,
		shape, k->nchunks, size, skip ? "  skip: " : "",
		skip ? skip : "");
}

static void print_summary(const td_checkpoint *c, const skips *sk,
			  FILE *out)
{
	size_t i, tensors = 0, skipped = 0;
	uint64_t bytes = 0;
	char size[32];

	for (i = 0; i < c->cat.nkeys; i++) {
		const dcp_key *k = &c->cat.keys[i];

		if (skip_of(sk, k->name))
			skipped++;
		else if (k->kind == DCP_TENSOR)
			bytes += k->nbytes;
		tensors += k->kind == DCP_TENSOR;
	}
	td_human_bytes(bytes, size, sizeof size);
	fprintf(out, "checkpoint  %s\n", c->iter_dir);
	fprintf(out, "backend     %s\n", c->backend[0] ? c->backend
						       : "(no metadata.json)");
	if (c->has_args && c->args.iteration >= 0)
		fprintf(out, "iteration   %" PRId64 "\n", c->args.iteration);
	fprintf(out, "files       %zu\n", c->cat.nitem_files);
	fprintf(out, "format      %s%s\n", c->cat.version ? "DCP " : "",
		c->cat.version ? c->cat.version
			       : "no Metadata.version (older torch, e.g. 2.6)");
	if (c->cat.nzstd)
		fprintf(out, "transforms  " XF_ZSTD_NAME " (%zu items)\n",
			c->cat.nzstd);
	fprintf(out, "keys        %zu (%zu tensors, %zu bytes entries), "
		"%zu skipped; %s of tensors to convert\n\n", c->cat.nkeys,
		tensors, c->cat.nkeys - tensors, skipped, size);
}

/* The args shown unless asked for others: what says the model's shape
 * and how it was cut. */
static const char default_args[] =
	"num_layers,hidden_size,ffn_hidden_size,num_attention_heads,"
	"num_query_groups,kv_channels,vocab_size,padded_vocab_size,"
	"make_vocab_size_divisible_by,untie_embeddings_and_output_weights,"
	"swiglu,normalization,qk_layernorm,add_qkv_bias,num_experts,"
	"moe_ffn_hidden_size,moe_layer_freq,moe_shared_expert_intermediate_size,"
	"q_lora_rank,kv_lora_rank,mtp_num_layers,params_dtype,bf16,"
	"tensor_model_parallel_size,pipeline_model_parallel_size,"
	"expert_model_parallel_size";

static void print_value(const arg_entry *e, FILE *out)
{
	char num[32];

	switch (e->type) {
	case ARG_NONE:  fprintf(out, "None\n"); break;
	case ARG_BOOL:  fprintf(out, "%s\n", e->i ? "True" : "False"); break;
	case ARG_INT:   fprintf(out, "%" PRId64 "\n", e->i); break;
	case ARG_FLOAT:
		pickle_float_repr(e->f, num, sizeof num);
		fprintf(out, "%s\n", num);
		break;
	case ARG_STR:   fprintf(out, "'%s'\n", e->text); break;
	case ARG_OTHER: fprintf(out, "%s\n", e->text); break;
	}
}

/* Whether name is one of the comma-separated names in list. */
static int listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* Each name of the comma-separated list, in its order; a name common.pt
 * lacks is said to be missing. */
static void print_named(const td_checkpoint *c, const char *list, FILE *out)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < c->args.n; i++)
			if (strlen(c->args.v[i].name) == len &&
			    strncmp(c->args.v[i].name, p, len) == 0)
				break;
		if (len > 0) {
			fprintf(out, "  %-40.*s ", (int)len, p);
			if (i < c->args.n)
				print_value(&c->args.v[i], out);
			else
				fprintf(out, "(not in common.pt)\n");
		}
		p += len + (p[len] == ',');
	}
}

/* names: comma-separated, "*" for all, NULL for the default list. */
static void print_args(const td_checkpoint *c, const char *names, FILE *out)
{
	size_t i, shown = 0;

	if (!c->has_args) {
		fprintf(out, "\nargs: no common.pt\n");
		return;
	}
	fprintf(out, "\nargs (from common.pt)\n");
	if (names && strcmp(names, "*") != 0) {
		print_named(c, names, out);
		return;
	}
	for (i = 0; i < c->args.n; i++) {
		const arg_entry *e = &c->args.v[i];

		if (!names && !listed(default_args, e->name))
			continue;
		fprintf(out, "  %-40s ", e->name);
		print_value(e, out);
		shown++;
	}
	if (shown < c->args.n)
		fprintf(out, "  (%zu of %zu shown; --args NAME,... or "
			"--all-args for the others)\n", shown, c->args.n);
}

/* ---------------------------------------------------------------- groups:
 * keys that differ only in their numbers (layer, expert) */

typedef struct group {
	char *pattern;       /* the name with each digit run as <n> */
	const dcp_key *first;
	size_t keys, chunks;
	uint64_t bytes;
} group;

typedef struct groups {
	group *g;
	size_t n, cap;
	td_map *index;       /* pattern -> position in g */
} groups;

/* Whether the digit run at s (of len n, in name) is part of a module's
 * name (linear_fc1.weight) rather than an index (layers.3., shard_0_1,
 * _extra_state7/): after a letter and before a dot or the end. */
static int part_of_name(const char *name, const char *s, size_t n)
{
	return s > name && isalpha((unsigned char)s[-1]) &&
	       (s[n] == '.' || s[n] == '\0');
}

/* name with every index (run of digits) replaced by "<n>", in buf. */
static size_t pattern_of(const char *name, char *buf, size_t size)
{
	const char *s = name;
	size_t n = 0;

	while (*s && n + 4 < size) {
		size_t run = 0;

		while (isdigit((unsigned char)s[run]))
			run++;
		if (run == 0 || part_of_name(name, s, run)) {
			run = run ? run : 1;
			if (n + run + 1 >= size)
				break;
			memcpy(buf + n, s, run);
			n += run;
		} else {
			memcpy(buf + n, "<n>", 3);
			n += 3;
		}
		s += run;
	}
	buf[n] = '\0';
	return n;
}

static int add_to_group(groups *gs, const dcp_key *k)
{
	char pat[1024];
	size_t len = pattern_of(k->name, pat, sizeof pat), i;
	group *g;

	if (!td_map_get(gs->index, pat, len, &i)) {
		group *ng = td_grow(gs->g, gs->n, &gs->cap, sizeof *ng, 64);

		if (!ng)
			return -1;
		gs->g = ng;
		i = gs->n;
		memset(&gs->g[i], 0, sizeof gs->g[i]);
		gs->g[i].pattern = strdup(pat);
		gs->g[i].first = k;
		if (!gs->g[i].pattern ||
		    td_map_put(gs->index, pat, len, i, NULL) < 0)
			return -1;
		gs->n++;
	}
	g = &gs->g[i];
	g->keys++;
	g->chunks += k->nchunks;
	g->bytes += k->nbytes;
	return 0;
}

static void print_group(const group *g, const skips *sk, int width,
			FILE *out)
{
	char shape[128], size[32];
	const char *skip, *dtype = key_columns(g->first, sk, shape,
					       sizeof shape, &skip);

	td_human_bytes(g->bytes, size, sizeof size);
	fprintf(out, "%-*s %7zu %-6s %-20s %8zu %10s%s%s\n", width,
		g->pattern, g->keys, dtype, shape, g->chunks, size,
		skip ? "  skip: " : "", skip ? skip : "");
}

/* One line per name pattern, in the order of first appearance; the
 * dtype and shape are the first key's. */
static int print_groups(const td_checkpoint *c, const skips *sk,
			FILE *out, td_err *err)
{
	groups gs = {0};
	size_t i;
	int width = 7, rc = 0;

	gs.index = td_map_new();
	for (i = 0; gs.index && rc == 0 && i < c->cat.nkeys; i++)
		rc = add_to_group(&gs, &c->cat.keys[i]);
	if (!gs.index || rc != 0)
		rc = td_errf(err, "out of memory");
	for (i = 0; rc == 0 && i < gs.n; i++)
		if (strlen(gs.g[i].pattern) > (size_t)width)
			width = (int)strlen(gs.g[i].pattern);
	if (rc == 0) {
		fprintf(out, "%-*s %7s %-6s %-20s %8s %10s\n", width, "KEYS",
			"COUNT", "DTYPE", "SHAPE", "CHUNKS", "BYTES");
		for (i = 0; i < gs.n; i++)
			print_group(&gs.g[i], sk, width, out);
		fprintf(out, "(%zu keys in %zu groups; --keys lists each)\n",
			c->cat.nkeys, gs.n);
	}
	for (i = 0; i < gs.n; i++)
		free(gs.g[i].pattern);
	free(gs.g);
	td_map_free(gs.index);
	return rc;
}

static void print_keys(const td_checkpoint *c, const skips *sk,
		       FILE *out)
{
	size_t i;
	int width = 3;

	for (i = 0; i < c->cat.nkeys; i++)
		if (strlen(c->cat.keys[i].name) > (size_t)width)
			width = (int)strlen(c->cat.keys[i].name);
	fprintf(out, "%-*s %-6s %-20s %6s %10s\n", width, "KEY", "DTYPE",
		"SHAPE", "CHUNKS", "BYTES");
	for (i = 0; i < c->cat.nkeys; i++)
		print_key(&c->cat.keys[i], sk, width, out);
}

int inspect_text(td_checkpoint *c, const program *rules, int resolve,
		 const char *args, inspect_list list, FILE *out, td_err *err)
{
	skips sk;
	size_t i;
	int rc = skips_init(&sk, rules, err);

	for (i = 0; rc == 0 && resolve && i < c->cat.nkeys; i++)
		rc = resolve_key(c, &c->cat.keys[i], err);
	if (rc == 0) {
		print_summary(c, &sk, out);
		if (list == INSPECT_AUTO)
			list = c->cat.nkeys > INSPECT_LIST_MAX ? INSPECT_SUMMARY
							       : INSPECT_KEYS;
		if (list == INSPECT_KEYS)
			print_keys(c, &sk, out);
		else
			rc = print_groups(c, &sk, out, err);
	}
	skips_free(&sk);
	if (rc == 0)
		print_args(c, args, out);
	return rc ? -1 : 0;
}
