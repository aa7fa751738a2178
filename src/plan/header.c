#include "header.h"

#include <cjson/cJSON.h>

#include "../common/map.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- text */

typedef struct sb {
	char *p;
	size_t len, cap;
	int oom;
} sb;

static void sb_put(sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_printf(sb *b, const char *fmt, ...) TD_PRINTF(2, 3);

static void sb_printf(sb *b, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_put(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length, or
 * 0 when invalid (then the byte is taken as U+FFFD-free Latin-1). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n)
		return 0;
	*cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return len;
}

/* A JSON string.  ascii: Python's ensure_ascii (\uXXXX, surrogate pairs);
 * otherwise serde_json's rules (UTF-8 kept as is). */
static void json_string(sb *b, const char *s, int ascii)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	sb_put(b, "\"", 1);
	while (i < n) {
		uint32_t cp = u[i];
		size_t len = 1;

		if (cp == '"' || cp == '\\') {
			sb_printf(b, "\\%c", (char)cp);
		} else if (cp < 0x20) {
			const char *esc = cp == '\n' ? "\\n" : cp == '\r' ? "\\r"
					: cp == '\t' ? "\\t" : cp == '\b' ? "\\b"
					: cp == '\f' ? "\\f" : NULL;

			if (esc)
				sb_put(b, esc, 2);
			else
				sb_printf(b, "\\u%04x", cp);
		} else if (cp >= 0x80 && ascii &&
			   (len = utf8_decode(u + i, n - i, &cp)) > 0) {
			if (cp >= 0x10000)
				sb_printf(b, "\\u%04x\\u%04x",
					  0xd800 + ((cp - 0x10000) >> 10),
					  0xdc00 + ((cp - 0x10000) & 0x3ff));
			else
				sb_printf(b, "\\u%04x", cp);
		} else {
			len = 1;
			sb_put(b, s + i, 1);
		}
		i += len ? len : 1;
	}
	sb_put(b, "\"", 1);
}

/* ---------------------------------------------------------------- headers */

/* safetensors: dtype descending (its enum order), then name ascending. */
static int by_dtype_name(const void *a, const void *b)
{
	const plan_tensor *x = *(plan_tensor *const *)a;
	const plan_tensor *y = *(plan_tensor *const *)b;
	int dx = plan_tensor_dtype(x), dy = plan_tensor_dtype(y);

	if (dx != dy)
		return dy - dx;
	return strcmp(x->out.name, y->out.name);
}

static void entry_json(sb *b, const plan_tensor *t, uint64_t begin)
{
	const vm_shape *s = &t->out.node->shape;
	int d;

	json_string(b, t->out.name, 0);
	sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[",
		  td_dtype_st_name(plan_tensor_dtype(t)));
	for (d = 0; d < s->ndim; d++)
		sb_printf(b, "%s%" PRId64, d ? "," : "", s->dims[d]);
	sb_printf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", begin,
		  begin + t->out.nbytes);
}

/* Header of shard s from its tensors (sorted): JSON padded with spaces to
 * a multiple of 8, after its 8-byte little-endian length. */
static int shard_header(plan *pl, uint32_t s, plan_tensor **ts, uint32_t n,
			td_err *err)
{
	plan_shard *sh = &pl->shards[s];
	sb b = {0};
	uint64_t off = 0, len;
	uint32_t i;
	int k;

	sb_put(&b, "\0\0\0\0\0\0\0\0{", 9);
	if (pl->quant.strategy != PQ_NONE)  /* slime's save_file(metadata=) */
		sb_put(&b, "\"__metadata__\":{\"format\":\"pt\"}", 30);
	for (i = 0; i < n; i++) {
		if (i || pl->quant.strategy != PQ_NONE)
			sb_put(&b, ",", 1);
		entry_json(&b, ts[i], off);
		off += ts[i]->out.nbytes;
	}
	sb_put(&b, "}", 1);
	while (!b.oom && (b.len - 8) % 8)
		sb_put(&b, " ", 1);
	if (b.oom) {
		free(b.p);
		return td_errf(err, "out of memory");
	}
	len = b.len - 8;
	for (k = 0; k < 8; k++)
		b.p[k] = (char)(len >> (8 * k));
	sh->header = b.p;
	sh->header_len = b.len;
	sh->size = b.len + off;
	sh->ntensors = n;
	for (i = 0, off = b.len; i < n; i++) {
		ts[i]->offset = off;
		off += ts[i]->out.nbytes;
	}
	return 0;
}

int plan_headers(plan *pl, td_err *err)
{
	plan_tensor **ts = malloc((pl->ntensors ? pl->ntensors : 1) * sizeof *ts);
	uint32_t s, i, n, start = 0;
	int rc = 0;

	if (!ts)
		return td_errf(err, "out of memory");
	for (s = 0; rc == 0 && s < pl->nshards; s++) {
		for (n = 0, i = start; i < pl->nemitted &&
		     pl->tensors[pl->emitted[i]].shard == s; i++)
			ts[n++] = &pl->tensors[pl->emitted[i]];
		start = i;
		qsort(ts, n, sizeof *ts, by_dtype_name);
		rc = shard_header(pl, s, ts, n, err);
	}
	free(ts);
	return rc;
}

/* ---------------------------------------------------------------- index */

/* slime's converters write the two keys in opposite orders. */
static void index_metadata(sb *b, const plan *pl, int last)
{
	sb_printf(b, "\n  \"metadata\": {\n    \"total_size\": %" PRIu64
		  "\n  }%s", pl->total_size, last ? "\n}" : ",");
}

char *plan_index_json(const plan *pl)
{
	int fp8 = pl->quant.strategy != PQ_NONE;
	sb b = {0};
	uint32_t i;

	sb_put(&b, "{", 1);
	if (!fp8)
		index_metadata(&b, pl, 0);
	sb_printf(&b, "%s", "\n  \"weight_map\": {");
	for (i = 0; i < pl->nemitted; i++) {
		const plan_tensor *t = &pl->tensors[pl->emitted[i]];

		sb_put(&b, i ? ",\n    " : "\n    ", i ? 6 : 5);
		json_string(&b, t->out.name, 1);
		sb_put(&b, ": ", 2);
		json_string(&b, pl->shards[t->shard].file, 1);
	}
	sb_put(&b, pl->nemitted ? "\n  }" : "}", pl->nemitted ? 4 : 1);
	if (fp8)
		sb_put(&b, ",", 1);
	if (fp8)
		index_metadata(&b, pl, 1);
	else
		sb_put(&b, "\n}", 2);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---------------------------------------------------------------- config */

/* A JSON list of strings as json.dump(indent=2) writes it at depth 2. */
static void name_list(sb *b, const char *const *names, uint32_t n)
{
	uint32_t i;

	if (n == 0) {
		sb_put(b, "[]", 2);
		return;
	}
	sb_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		sb_put(b, i ? ",\n      " : "\n      ", i ? 8 : 7);
		json_string(b, names[i], 1);
	}
	sb_put(b, "\n    ]", 6);
}

/* slime's compressed-tensors config for --strategy channel. */
static const char channel_head[] =
	"{\n"
	"    \"config_groups\": {\n"
	"      \"group_0\": {\n"
	"        \"input_activations\": {\n"
	"          \"actorder\": null,\n"
	"          \"block_structure\": null,\n"
	"          \"dynamic\": true,\n"
	"          \"group_size\": null,\n"
	"          \"num_bits\": 8,\n"
	"          \"observer\": null,\n"
	"          \"observer_kwargs\": {},\n"
	"          \"strategy\": \"token\",\n"
	"          \"symmetric\": true,\n"
	"          \"type\": \"float\"\n"
	"        },\n"
	"        \"output_activations\": null,\n"
	"        \"targets\": [\n"
	"          \"Linear\"\n"
	"        ],\n"
	"        \"weights\": {\n"
	"          \"actorder\": null,\n"
	"          \"block_structure\": null,\n"
	"          \"dynamic\": false,\n"
	"          \"group_size\": null,\n"
	"          \"num_bits\": 8,\n"
	"          \"observer\": \"minmax\",\n"
	"          \"observer_kwargs\": {},\n"
	"          \"strategy\": \"channel\",\n"
	"          \"symmetric\": true,\n"
	"          \"type\": \"float\"\n"
	"        }\n"
	"      }\n"
	"    },\n"
	"    \"format\": \"float-quantized\",\n"
	"    \"ignore\": ";

/* The quantization_config object, as json.dump(indent=2) writes it as a
 * member of the config (depth 1).  unconverted: slime's
 * modules_to_not_convert / ignore, each name once. */
static void quant_config(sb *b, const quant_spec *q, const char *const *unconv,
			 uint32_t n)
{
	if (q->strategy == PQ_CHANNEL) {
		sb_put(b, channel_head, sizeof channel_head - 1);
		name_list(b, unconv, n);
		sb_printf(b, "%s", ",\n    \"quant_method\": \"compressed-tensors\","
			  "\n    \"quantization_status\": \"compressed\"\n  }");
		return;
	}
	sb_printf(b, "%s", "{\n    \"activation_scheme\": \"dynamic\",\n"
		  "    \"fmt\": \"e4m3\",\n    \"quant_method\": \"fp8\"");
	if (q->strategy == PQ_BLOCK) {
		sb_printf(b, ",\n    \"weight_block_size\": [\n      %" PRId64
			  ",\n      %" PRId64 "\n    ]", q->block[0], q->block[1]);
		if (q->scale_fmt) {
			sb_printf(b, "%s", ",\n    \"scale_fmt\": ");
			json_string(b, q->scale_fmt, 1);
		}
	}
	if (n) {
		sb_printf(b, "%s", ",\n    \"modules_to_not_convert\": ");
		name_list(b, unconv, n);
	}
	sb_put(b, "\n  }", 4);
}

/* slime's modules_to_not_convert: key.replace(".weight", "") of every
 * tensor not quantized, without repeats (it goes through a set). */
static char **unconverted(const plan *pl, uint32_t *n)
{
	char **v = calloc(pl->nemitted + 1, sizeof *v);
	td_map *seen = td_map_new();
	uint32_t i;
	int ok = v && seen;

	*n = 0;
	for (i = 0; ok && i < pl->nemitted; i++) {
		const plan_tensor *t = &pl->tensors[pl->emitted[i]];
		char *m;
		size_t old;

		if (t->quant != PT_PLAIN)
			continue;
		m = quant_replace(t->out.name, ".weight", "", VM_NAME_MAX);
		if (!m) {
			ok = 0;
			break;
		}
		switch (td_map_put(seen, m, strlen(m), i, &old)) {
		case 0:
			v[(*n)++] = m;
			break;
		case 1:
			free(m);
			break;
		default:
			free(m);
			ok = 0;
		}
	}
	td_map_free(seen);
	if (!ok && v) {
		for (i = 0; i < *n; i++)
			free(v[i]);
		free(v);
		v = NULL;
	}
	return v;
}

/* Adds or replaces the config's quantization_config: inserted before its
 * closing brace, every other byte kept; an existing one is replaced by
 * cJSON (the file is then printed anew). */
static int splice_config(sb *out, const char *text, size_t len,
			 const char *qc, const char *path, td_err *err)
{
	cJSON *root = cJSON_ParseWithLength(text, len), *nq;
	size_t end = len, j;
	char *printed;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return td_errf(err, "%s: not a JSON object", path);
	}
	if (cJSON_HasObjectItem(root, "quantization_config")) {
		nq = cJSON_Parse(qc);
		if (!nq || !cJSON_ReplaceItemInObject(root, "quantization_config", nq)) {
			cJSON_Delete(root);
			return td_errf(err, "out of memory");
		}
		printed = cJSON_Print(root);
		cJSON_Delete(root);
		if (!printed)
			return td_errf(err, "out of memory");
		sb_printf(out, "%s", printed);
		free(printed);
		return 0;
	}
	cJSON_Delete(root);
	while (end > 0 && text[end - 1] != '}')
		end--;
	for (j = end - 1; j > 0 && strchr(" \t\r\n", text[j - 1]); j--)
		;
	sb_put(out, text, j);
	sb_put(out, text[j - 1] == '{' ? "\n  " : ",\n  ", text[j - 1] == '{' ? 3 : 4);
	sb_printf(out, "%s", "\"quantization_config\": ");
	sb_put(out, qc, strlen(qc));
	sb_put(out, "\n", 1);
	sb_put(out, text + end - 1, len - (end - 1));
	return 0;
}

char *plan_config_json(const plan *pl, const char *text, size_t len,
		       const char *path, td_err *err)
{
	uint32_t n = 0, i;
	char **names = unconverted(pl, &n);
	sb qc = {0}, out = {0};

	if (!names) {
		td_errf(err, "out of memory");
		return NULL;
	}
	quant_config(&qc, &pl->quant, (const char *const *)names, n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (qc.oom || splice_config(&out, text, len, qc.p, path, err) != 0 ||
	    out.oom) {
		if (qc.oom || out.oom)
			td_errf(err, "out of memory");
		free(qc.p);
		free(out.p);
		return NULL;
	}
	free(qc.p);
	return out.p;
}
