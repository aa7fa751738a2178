/* program.c — .mapbc files: write, read, validate (docs/bytecode.md).
 *
 * Every table is a section: a u32 count followed by fixed-size records of
 * little-endian integers.  A record's layout is a format string ('u' u32,
 * 'i' i32, 'b' u8, 'h' u16, 'q' i64) matching its C struct field by field,
 * so one encoder and one decoder serve all tables. */
#include "program.h"

#include <stdlib.h>
#include <string.h>

#include "../common/bytes.h"
#include "../common/file.h"
#include "../common/dtype.h"

const opinfo opinfo_table[OP_COUNT] = {
#define TD_OP_INFO(name, operand, cls, pops, pushes, tin, tout, doc) \
	{#name, OPERAND_##operand, OPCLASS_##cls, pops, pushes, TENSORS_##tin, TENSORS_##tout, doc},
	TD_OPCODES(TD_OP_INFO)
#undef TD_OP_INFO
};

int op_pops(unsigned op, unsigned a)
{
	int pops = opinfo_table[op].pops;

	return pops == -1 ? (int)a : pops == -2 ? (int)a + 1 : pops;
}

_Static_assert(sizeof(prog_instr) == 8, "prog_instr has no padding");
_Static_assert(sizeof(prog_item) == 12, "prog_item has no padding");
_Static_assert(sizeof(prog_rewrite) == 28, "prog_rewrite has no padding");

typedef struct table {
	char tag[5];
	const char *fmt;   /* one char per field */
	size_t size;       /* sizeof the C record */
	size_t off_ptr;    /* offsetof(program, <array>) */
	size_t off_n;      /* offsetof(program, <count>) */
} table;

#define TABLE(tag, fmt, type, arr, n) \
	{tag, fmt, sizeof(type), offsetof(program, arr), offsetof(program, n)}

/* STRS is special (variable-length records) and comes first. */
static const table tables[] = {
	TABLE("KINT", "q", int64_t, kint, nkint),
	TABLE("PARM", "uui", prog_param, params, nparams),
	TABLE("PITM", "uuu", prog_item, items, nitems),
	TABLE("PATS", "uuu", prog_pattern, pats, npats),
	TABLE("RWRT", "uiiiiuu", prog_rewrite, rewrites, nrewrites),
	TABLE("SKIP", "uiuu", prog_rule, skips, nskips),
	TABLE("RULE", "uiuu", prog_rule, rules, nrules),
	TABLE("GRPS", "iuuuu", prog_group, groups, ngroups),
	TABLE("GMEM", "u", uint32_t, members, nmembers),
	TABLE("REQS", "iuuu", prog_require, requires, nrequires),
	TABLE("QUNT", "uuuu", prog_quant, quants, nquants),
	TABLE("CODE", "bbhi", prog_instr, code, ncode),
};
#define NTABLES (sizeof tables / sizeof tables[0])
#define NSECTIONS (NTABLES + 1)
#define HEADER_LEN (16 + 12 * NSECTIONS)

static size_t field_size(char f)
{
	return f == 'q' ? 8 : f == 'b' ? 1 : f == 'h' ? 2 : 4;
}

static size_t wire_size(const char *fmt)
{
	size_t n = 0;

	while (*fmt)
		n += field_size(*fmt++);
	return n;
}

static void **arr_of(const program *p, const table *t)
{
	return (void **)((char *)p + t->off_ptr);
}

static uint32_t *count_of(const program *p, const table *t)
{
	return (uint32_t *)((char *)p + t->off_n);
}

void prog_free(program *p)
{
	uint32_t i;
	size_t k;

	for (i = 0; p->strs && i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->str_len);
	for (k = 0; k < NTABLES; k++)
		free(*arr_of(p, &tables[k]));
	memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- writing */

typedef struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
} wbuf;

/* Appends the n low bytes of v, least significant first (n <= 8); with
 * v = 0, any n zero bytes. */
static void put(wbuf *w, uint64_t v, size_t n)
{
	size_t i;

	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		unsigned char *np;

		while (cap < w->len + n)
			cap *= 2;
		np = realloc(w->p, cap);
		if (!np) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	for (i = 0; i < n; i++)
		w->p[w->len++] = i < 8 ? (unsigned char)(v >> (8 * i)) : 0;
}

static void put_record(wbuf *w, const char *fmt, const unsigned char *rec)
{
	for (; *fmt; fmt++) {
		size_t n = field_size(*fmt);
		uint64_t v = 0;

		memcpy(&v, rec, n); /* little-endian host assumed, checked below */
		put(w, v, n);
		rec += n;
	}
}

static void put_strings(wbuf *w, const program *p)
{
	uint32_t i;

	put(w, p->nstrs, 4);
	for (i = 0; i < p->nstrs; i++)
		put(w, p->str_len[i], 4);
	for (i = 0; i < p->nstrs; i++) {
		size_t k;

		for (k = 0; k < p->str_len[i]; k++)
			put(w, (unsigned char)p->strs[i][k], 1);
	}
}

static void put_table(wbuf *w, const program *p, const table *t)
{
	const unsigned char *arr = *arr_of(p, t);
	uint32_t i, n = *count_of(p, t);

	put(w, n, 4);
	for (i = 0; i < n; i++)
		put_record(w, t->fmt, arr + i * t->size);
}

static int little_endian_host(void)
{
	const uint16_t one = 1;

	return *(const unsigned char *)&one == 1;
}

int prog_write(const program *p, const char *path, td_err *err)
{
	wbuf w = {0};
	size_t dir, k, start;
	FILE *f;
	int rc = 0;

	if (!little_endian_host())
		return td_errf(err, "%s: big-endian hosts are not supported", path);
	put(&w, 0, HEADER_LEN);
	memcpy(w.p, PROG_MAGIC, 8);
	w.p[8] = PROG_VERSION;
	w.p[12] = NSECTIONS;
	for (k = 0, dir = 16; k < NSECTIONS; k++, dir += 12) {
		start = w.len;
		if (k == 0)
			put_strings(&w, p);
		else
			put_table(&w, p, &tables[k - 1]);
		if (w.oom)
			break;
		memcpy(w.p + dir, k ? tables[k - 1].tag : "STRS", 4);
		for (size_t b = 0; b < 4; b++) {
			w.p[dir + 4 + b] = (unsigned char)(start >> (8 * b));
			w.p[dir + 8 + b] = (unsigned char)((w.len - start) >> (8 * b));
		}
	}
	f = w.oom ? NULL : fopen(path, "wb");
	if (w.oom)
		rc = td_errf(err, "%s: out of memory", path);
	else if (!f || fwrite(w.p, 1, w.len, f) != w.len || fclose(f) != 0)
		rc = td_errf(err, "%s: cannot write", path);
	free(w.p);
	return rc;
}

/* ---------------------------------------------------------------- reading */

typedef struct rbuf {
	const unsigned char *p;
	size_t len;
	const char *name;
	td_err *err;
} rbuf;

/* Section k of the directory: its [off, off+size), checked. */
static int section(const rbuf *r, size_t k, const char *tag, size_t *off,
		   size_t *size)
{
	const unsigned char *d = r->p + 16 + 12 * k;

	if (memcmp(d, tag, 4) != 0)
		return td_errf(r->err, "%s: section %zu is not %s", r->name, k, tag);
	*off = (size_t)td_le(d + 4, 4);
	*size = (size_t)td_le(d + 8, 4);
	if (!td_range_ok(*off, *size, r->len) || *size < 4)
		return td_errf(r->err, "%s: section %s lies outside the file",
			       r->name, tag);
	return 0;
}

static int read_strings(const rbuf *r, program *p)
{
	size_t off, size, pos, i;
	uint32_t n;

	if (section(r, 0, "STRS", &off, &size) != 0)
		return -1;
	n = (uint32_t)td_le(r->p + off, 4);
	if (n > (size - 4) / 4)
		return td_errf(r->err, "%s: string count exceeds its section",
			       r->name);
	p->strs = calloc(n ? n : 1, sizeof *p->strs);
	p->str_len = calloc(n ? n : 1, sizeof *p->str_len);
	if (!p->strs || !p->str_len)
		return td_errf(r->err, "%s: out of memory", r->name);
	pos = off + 4 + 4 * (size_t)n;
	for (i = 0; i < n; i++) {
		uint32_t len = (uint32_t)td_le(r->p + off + 4 + 4 * i, 4);

		if (len > off + size - pos)
			return td_errf(r->err, "%s: string %zu runs past its "
				       "section", r->name, i);
		p->strs[i] = strndup((const char *)r->p + pos, len);
		if (!p->strs[i])
			return td_errf(r->err, "%s: out of memory", r->name);
		p->nstrs++; /* owned from here, freed by prog_free */
		if (strlen(p->strs[i]) != len)
			return td_errf(r->err, "%s: string %zu holds a NUL byte",
				       r->name, i);
		p->str_len[i] = len;
		pos += len;
	}
	return 0;
}

static int read_table(const rbuf *r, program *p, size_t k)
{
	const table *t = &tables[k - 1];
	size_t off, size, rec = wire_size(t->fmt), i;
	unsigned char *arr;
	uint32_t n;

	if (section(r, k, t->tag, &off, &size) != 0)
		return -1;
	n = (uint32_t)td_le(r->p + off, 4);
	if ((size - 4) / rec != n || (size - 4) % rec)
		return td_errf(r->err, "%s: section %s has %u records but %zu "
			       "bytes", r->name, t->tag, n, size);
	arr = calloc(n ? n : 1, t->size);
	if (!arr)
		return td_errf(r->err, "%s: out of memory", r->name);
	*arr_of(p, t) = arr;
	*count_of(p, t) = n;
	for (i = 0; i < (size_t)n * rec;) {
		const char *f;
		unsigned char *dst = arr + (i / rec) * t->size;

		for (f = t->fmt; *f; f++) {
			uint64_t v = td_le(r->p + off + 4 + i, field_size(*f));

			memcpy(dst, &v, field_size(*f));
			dst += field_size(*f);
			i += field_size(*f);
		}
	}
	return 0;
}

int prog_read_buffer(const unsigned char *buf, size_t len, const char *name,
		     program *p, td_err *err)
{
	rbuf r = {buf, len, name, err};
	size_t k;

	memset(p, 0, sizeof *p);
	if (len < 16 || memcmp(buf, PROG_MAGIC, 8) != 0)
		return td_errf(err, "%s: not a td2hf rules bytecode file (bad "
			       "magic); compile a .map file with mapc", name);
	if (td_le(buf + 8, 4) != PROG_VERSION)
		return td_errf(err, "%s: bytecode version %u, but this td2hf "
			       "reads version %d; recompile it with this mapc",
			       name, (unsigned)td_le(buf + 8, 4), PROG_VERSION);
	if (td_le(buf + 12, 4) != NSECTIONS || len < HEADER_LEN)
		return td_errf(err, "%s: truncated or corrupt header", name);
	for (k = 0; k < NSECTIONS; k++)
		if ((k == 0 ? read_strings(&r, p) : read_table(&r, p, k)) != 0)
			break;
	if (k < NSECTIONS || prog_validate(p, err) != 0) {
		if (k == NSECTIONS)
			td_err_prefix(err, "%s", name);
		prog_free(p);
		return -1;
	}
	return 0;
}

int prog_read(const char *path, program *p, td_err *err)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if (td_slurp(path, (uint64_t)256 << 20, &buf, &len, err) != 0)
		return -1;
	rc = prog_read_buffer(buf, len, path, p, err);
	free(buf);
	return rc;
}
