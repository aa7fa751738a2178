/* cast_elements (src/writer/cast.c) against torch: every pair of bf16,
 * f16, f32 and f64, on special values (NaN, +-inf, ties to even,
 * subnormals, overflow, -0) and random bit patterns, with the results
 * torch 2.6 computed (tests/fixtures/ops/cast_vectors.txt, written by
 * tests/fixtures/gen/gen_ops_fixtures.py).
 *
 * Where td2hf knowingly differs from torch, tests/fixtures/ops/
 * cast_known_differences.txt says so, with why: "FROM TO *" (td2hf
 * refuses the pair), "FROM TO nan" (NaN inputs: td2hf still writes a NaN,
 * with other bits), or "FROM TO INPUT" (one value).  Any other difference
 * fails, and so does an entry that no longer differs (remove it). */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/writer/cast.h"
#include "helpers.h"
#include "suites.h"

#define NDT 4
static const char *const dt_name[NDT] = {"bf16", "f16", "f32", "f64"};
static const td_dtype dt_enum[NDT] = {TD_DT_BF16, TD_DT_F16, TD_DT_F32,
				      TD_DT_F64};

typedef struct vec {
	int from, to;
	uint64_t in, out;
} vec;

typedef struct known {
	int from, to;
	int kind;          /* 0: one input, 1: every NaN input, 2: refused */
	uint64_t in;
	int used;
	int line;
} known;

static int dt_index(const char *s)
{
	int i;

	for (i = 0; i < NDT; i++)
		if (strcmp(s, dt_name[i]) == 0)
			return i;
	return -1;
}

static size_t dt_size(int i)
{
	return td_dtype_size(dt_enum[i]);
}

static void put_bits(unsigned char *p, int dt, uint64_t v)
{
	size_t k;

	for (k = 0; k < dt_size(dt); k++)  /* little-endian, as stored */
		p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_bits(const unsigned char *p, int dt)
{
	uint64_t v = 0;
	size_t k;

	for (k = 0; k < dt_size(dt); k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static int is_nan(int dt, uint64_t b)
{
	switch (dt) {
	case 0:  return (b & 0x7f80) == 0x7f80 && (b & 0x7f);
	case 1:  return (b & 0x7c00) == 0x7c00 && (b & 0x3ff);
	case 2:  return (b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu);
	default: return (b & 0x7ff0000000000000u) == 0x7ff0000000000000u &&
			(b & 0xfffffffffffffu);
	}
}

/* The lines of a text file, comments and blank lines dropped; each
 * callback gets the line and its number. */
static char *next_line(char **p, int *lineno)
{
	char *s, *e;

	while (**p) {
		s = *p;
		e = strchr(s, '\n');
		if (e) {
			*e = '\0';
			*p = e + 1;
		} else {
			*p = s + strlen(s);
		}
		++*lineno;
		if (*s && *s != '#')
			return s;
	}
	return NULL;
}

static vec *load_vectors(size_t *n)
{
	size_t len, cap = 4096;
	char *buf = (char *)read_all(src_path("tests/fixtures/ops/cast_vectors.txt"), &len);
	char *p = buf, *line, a[8], b[8];
	vec *v = malloc(cap * sizeof *v);
	int lineno = 0;

	*n = 0;
	while ((line = next_line(&p, &lineno)) != NULL) {
		vec x;

		if (sscanf(line, "%7s %7s %" SCNx64 " %" SCNx64, a, b, &x.in,
			   &x.out) != 4 || (x.from = dt_index(a)) < 0 ||
		    (x.to = dt_index(b)) < 0) {
			CU_FAIL("cast_vectors.txt: malformed line");
			continue;
		}
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof *v);
		v[(*n)++] = x;
	}
	free(buf);
	return v;
}

static known *load_known(size_t *n)
{
	size_t len;
	char *buf = (char *)read_all(src_path("tests/fixtures/ops/cast_known_differences.txt"), &len);
	char *p = buf, *line, a[8], b[8], what[24];
	known *k = calloc(len / 8 + 1, sizeof *k);
	int lineno = 0;

	*n = 0;
	while ((line = next_line(&p, &lineno)) != NULL) {
		known x = {0};

		x.line = lineno;
		if (sscanf(line, "%7s %7s %23s", a, b, what) != 3 ||
		    (x.from = dt_index(a)) < 0 || (x.to = dt_index(b)) < 0) {
			CU_FAIL("cast_known_differences.txt: malformed line");
			continue;
		}
		if (strcmp(what, "*") == 0)
			x.kind = 2;
		else if (strcmp(what, "nan") == 0)
			x.kind = 1;
		else if (sscanf(what, "%" SCNx64, &x.in) != 1)
			CU_FAIL("cast_known_differences.txt: bad input value");
		k[(*n)++] = x;
	}
	free(buf);
	return k;
}

static known *find_known(known *k, size_t nk, const vec *v, int refused)
{
	size_t i;

	for (i = 0; i < nk; i++) {
		if (k[i].from != v->from || k[i].to != v->to)
			continue;
		if ((refused && k[i].kind == 2) ||
		    (!refused && k[i].kind == 1 && is_nan(v->from, v->in)) ||
		    (!refused && k[i].kind == 0 && k[i].in == v->in))
			return &k[i];
	}
	return NULL;
}

/* Every vector, one value at a time: torch's bits, or a listed
 * difference. */
static void test_cast_vectors(void)
{
	size_t nv, nk, i, bad = 0, pairs[NDT][NDT] = {{0}};
	vec *v = load_vectors(&nv);
	known *k = load_known(&nk);
	unsigned char src[8], dst[8];

	CU_ASSERT_FATAL(nv > 1000);
	for (i = 0; i < nv; i++) {
		td_err err = {0};
		int refused;
		uint64_t got = 0;
		known *kn;

		pairs[v[i].from][v[i].to]++;
		put_bits(src, v[i].from, v[i].in);
		refused = cast_elements(src, dt_enum[v[i].from], dst,
				     dt_enum[v[i].to], 1, &err) != 0;
		if (!refused) {
			got = get_bits(dst, v[i].to);
			if (got == v[i].out)
				continue;
		}
		kn = find_known(k, nk, &v[i], refused);
		if (kn) {
			kn->used++;
			/* a NaN stays a NaN, whatever its bits */
			if (kn->kind == 1 && !is_nan(v[i].to, got)) {
				printf("\n  %s -> %s %" PRIx64 ": not a NaN: %" PRIx64,
				       dt_name[v[i].from], dt_name[v[i].to],
				       v[i].in, got);
				bad++;
			}
			continue;
		}
		if (bad++ < 30 || getenv("TD2HF_TEST_VERBOSE"))
			printf("\n  %s -> %s %" PRIx64 ": torch %" PRIx64 ", td2hf %s%" PRIx64,
			       dt_name[v[i].from], dt_name[v[i].to], v[i].in,
			       v[i].out, refused ? "refused " : "", got);
	}
	for (i = 0; i < nk; i++)
		if (!k[i].used) {
			printf("\n  cast_known_differences.txt:%d: td2hf now agrees "
			       "with torch: remove the entry", k[i].line);
			bad++;
		}
	if (bad)
		printf("\n  %zu cast results differ from torch's\n", bad);
	CU_ASSERT_EQUAL(bad, 0);
	for (i = 0; i < NDT * NDT; i++)
		if (i / NDT != i % NDT)
			CU_ASSERT(pairs[i / NDT][i % NDT] >= 100);
	free(v);
	free(k);
}

/* A whole vector at once gives what one value at a time gives, and a
 * cast to the same type copies the bits, NaN payloads included. */
static void test_cast_blocks(void)
{
	size_t nv, i, j;
	vec *v = load_vectors(&nv);

	for (i = 0; i < nv; i = j) {
		int f = v[i].from, t = v[i].to;
		size_t m, fs = dt_size(f), ts = dt_size(t);
		unsigned char *src, *all, *one, *same;
		td_err err = {0};
		int rc;

		for (j = i; j < nv && v[j].from == f && v[j].to == t; j++)
			;
		m = j - i;
		src = malloc(m * fs);
		all = calloc(m, ts);
		one = calloc(m, ts);
		same = malloc(m * fs);
		for (size_t q = 0; q < m; q++)
			put_bits(src + q * fs, f, v[i + q].in);
		rc = cast_elements(src, dt_enum[f], all, dt_enum[t], m, &err);
		for (size_t q = 0; q < m && rc == 0; q++)
			CU_ASSERT_EQUAL(cast_elements(src + q * fs, dt_enum[f],
						   one + q * ts, dt_enum[t], 1,
						   &err), 0);
		if (rc == 0)
			CU_ASSERT(memcmp(all, one, m * ts) == 0);
		CU_ASSERT_EQUAL(cast_elements(src, dt_enum[f], same, dt_enum[f], m,
					   &err), 0);
		CU_ASSERT(memcmp(src, same, m * fs) == 0);
		free(src);
		free(all);
		free(one);
		free(same);
	}
	free(v);
}

/* Types cast() does not offer are refused with a message. */
static void test_cast_unsupported(void)
{
	unsigned char src[8] = {0}, dst[8];
	td_err err = {0};

	CU_ASSERT_NOT_EQUAL(cast_elements(src, TD_DT_I32, dst, TD_DT_F32, 1, &err), 0);
	CU_ASSERT_NOT_EQUAL(cast_elements(src, TD_DT_F32, dst, TD_DT_I64, 1, &err), 0);
}

int register_convert_tests(void)
{
	CU_pSuite s = CU_add_suite("casts against torch", NULL, NULL);

	return !s ||
	       !CU_add_test(s, "every pair, value by value", test_cast_vectors) ||
	       !CU_add_test(s, "whole vectors, same-type copies", test_cast_blocks) ||
	       !CU_add_test(s, "unsupported types", test_cast_unsupported);
}
