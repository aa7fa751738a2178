#include "header.h"

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
	int dx = x->out.node->shape.dtype, dy = y->out.node->shape.dtype;

	if (dx != dy)
		return dy - dx;
	return strcmp(x->out.name, y->out.name);
}

static void entry_json(sb *b, const plan_tensor *t, uint64_t begin)
{
	const vm_shape *s = &t->out.node->shape;
	int d;

	json_string(b, t->out.name, 0);
	sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", td_dtype_st_name(s->dtype));
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
	for (i = 0; i < n; i++) {
		if (i)
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

char *plan_index_json(const plan *pl)
{
	sb b = {0};
	uint32_t i;

	sb_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %" PRIu64
		  "\n  },\n  \"weight_map\": {", pl->total_size);
	for (i = 0; i < pl->nemitted; i++) {
		const plan_tensor *t = &pl->tensors[pl->emitted[i]];

		sb_put(&b, i ? ",\n    " : "\n    ", i ? 6 : 5);
		json_string(&b, t->out.name, 1);
		sb_put(&b, ": ", 2);
		json_string(&b, pl->shards[t->shard].file, 1);
	}
	sb_put(&b, pl->nemitted ? "\n  }\n}" : "}\n}", pl->nemitted ? 6 : 3);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
