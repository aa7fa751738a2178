/* FP8 quantization (src/writer/fp8.c) against torch: the e4m3fn rounding
 * on tests/fixtures/fp8/cast_vectors.txt, and slime's block_fp8 /
 * channel_fp8 / tensor_fp8 on tests/fixtures/fp8/quant_vectors.txt (both
 * written by tests/fixtures/gen/gen_fp8_vectors.py with torch 2.6):
 * all-zero and partial tiles, subnormals, ties, values rounding into the
 * next binade, tiny maxima (clamp(min=1e-12)), +-inf and NaN. */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/writer/fp8.h"
#include "helpers.h"
#include "suites.h"

static void test_cast_vectors(void)
{
	size_t len;
	char *buf = (char *)read_all(src_path("tests/fixtures/fp8/cast_vectors.txt"), &len);
	char *line, *save = NULL;
	unsigned n = 0, bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		uint32_t in, out;
		float f;

		if (*line == '#')
			continue;
		if (sscanf(line, "%" SCNx32 " %" SCNx32, &in, &out) != 2) {
			CU_FAIL("cast_vectors.txt: malformed line");
			continue;
		}
		memcpy(&f, &in, 4);
		n++;
		if (fp8_e4m3fn(f) != out && bad++ < 10)
			fprintf(stderr, "\nfp8 %08" PRIx32 ": torch %02" PRIx32
				", td2hf %02x", in, out, fp8_e4m3fn(f));
	}
	CU_ASSERT(n > 10000);
	CU_ASSERT_EQUAL(bad, 0);
	free(buf);
}

/* A second opinion, written another way (frexp and rintf): td2hf's
 * bit-twiddling conversion must agree with it on every sign, exponent
 * and top 3 mantissa bits combined with the low 20 bits around the
 * rounding point (0x80000 is the tie) and on 4 million random floats. */
static uint8_t reference_e4m3fn(float f)
{
	uint8_t sign = signbit(f) ? 0x80 : 0;
	float a = fabsf(f), m;
	int e;

	if (!(a < 480.0f))
		return sign | 0x7f;
	if (a < 0x1p-6f)
		return sign | (uint8_t)rintf(a * 0x1p9f);
	frexpf(a, &e);
	e -= 1;
	m = rintf((ldexpf(a, -e) - 1.0f) * 8.0f);
	if (m == 8.0f) {
		m = 0.0f;
		e++;
	}
	return sign | (uint8_t)((e + 7) << 3) | (uint8_t)m;
}

static void test_cast_reference(void)
{
	static const uint32_t low[] = {0, 1, 0x7fffe, 0x7ffff, 0x80000,
				       0x80001, 0xffffe, 0xfffff};
	uint64_t x = 15;
	uint32_t i, bad = 0, n = 4096 * 8 + (1u << 22);

	for (i = 0; i < n; i++) {
		uint32_t b;
		float f;

		if (i < 4096 * 8) {
			b = ((i / 8) << 20) | low[i % 8];
		} else {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			b = (uint32_t)(x >> 32);
		}
		memcpy(&f, &b, 4);
		if (fp8_e4m3fn(f) != reference_e4m3fn(f) && bad++ < 5)
			fprintf(stderr, "\nfp8 %08" PRIx32 ": %02x, reference %02x",
				b, fp8_e4m3fn(f), reference_e4m3fn(f));
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* Reads count hex numbers after the word at *p into out (as uint32). */
static int hex_list(char **p, const char *word, uint32_t *out, size_t count)
{
	size_t i, wl = strlen(word);
	char *end;

	if (strncmp(*p, word, wl) != 0 || (*p)[wl] != ' ')
		return -1;
	*p += wl;
	for (i = 0; i < count; i++) {
		out[i] = (uint32_t)strtoul(*p, &end, 16);
		if (end == *p)
			return -1;
		*p = end;
	}
	while (**p == ' ' || **p == '\n')
		(*p)++;
	return 0;
}

/* One case: the tile scales and quantized bytes, tile row by tile row,
 * as the writer runs them. */
static int run_case(const char *strategy, int64_t bn, int64_t bk,
		    td_dtype dt, int64_t rows, int64_t cols, const uint32_t *in,
		    uint8_t *q, float *s, int64_t *ns)
{
	size_t esz = td_dtype_size(dt);
	unsigned char *src = malloc((size_t)(rows * cols) * esz);
	int64_t i, r0, kt;
	int whole = strcmp(strategy, "tensor") == 0;

	if (!src)
		return -1;
	for (i = 0; i < rows * cols; i++) {
		uint16_t h = (uint16_t)in[i];

		if (esz == 2)
			memcpy(src + 2 * i, &h, 2);
		else
			memcpy(src + 4 * i, &in[i], 4);
	}
	if (strcmp(strategy, "channel") == 0)
		bn = 1, bk = cols;
	else if (strcmp(strategy, "tensor") == 0)
		bn = rows, bk = cols;
	kt = (cols + bk - 1) / bk;
	*ns = 0;
	for (r0 = 0; r0 < rows; r0 += bn) {
		int64_t n = rows - r0 < bn ? rows - r0 : bn;
		const unsigned char *p = src + (size_t)(r0 * cols) * esz;

		fp8_tile_scales(p, dt, n, cols, bk, whole, s + *ns);
		fp8_quantize_rows(p, dt, n, cols, bk, whole, s + *ns,
				  q + r0 * cols);
		*ns += kt;
	}
	free(src);
	return 0;
}

static void test_quant_vectors(void)
{
	size_t len;
	char *buf = (char *)read_all(src_path("tests/fixtures/fp8/quant_vectors.txt"), &len);
	char *p = buf;
	unsigned cases = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	while (*p) {
		char name[64], strat[16], dts[8];
		int64_t bn, bk, rows, cols, ns, i;
		long srows = 0, scols = 0;
		uint32_t *in, *qx, *sx;
		uint8_t *q;
		float *s;
		int used = 0, bad = 0;

		if (*p == '#') {
			p = strchr(p, '\n');
			p = p ? p + 1 : buf + len;
			continue;
		}
		if (sscanf(p, "case %63s %15s %" SCNd64 " %" SCNd64 " %7s %"
			   SCNd64 " %" SCNd64 "%n", name, strat, &bn, &bk, dts,
			   &rows, &cols, &used) != 7) {
			CU_FAIL("quant_vectors.txt: malformed case");
			break;
		}
		p += used + 1;
		in = calloc((size_t)(rows * cols), 4);
		qx = calloc((size_t)(rows * cols), 4);
		sx = calloc((size_t)(rows * cols) + 1, 4);
		q = calloc((size_t)(rows * cols), 1);
		s = calloc((size_t)(rows * cols) + 1, 4);
		CU_ASSERT_FATAL(in && qx && sx && q && s);
		CU_ASSERT_FATAL(hex_list(&p, "in", in, (size_t)(rows * cols)) == 0);
		CU_ASSERT_FATAL(hex_list(&p, "q", qx, (size_t)(rows * cols)) == 0);
		CU_ASSERT_FATAL(sscanf(p, "s %ld %ld%n", &srows, &scols, &used) == 2);
		p += used;
		CU_ASSERT_FATAL(hex_list(&p, "", sx, (size_t)(srows * scols)) == 0);
		CU_ASSERT_FATAL(run_case(strat, bn, bk, strcmp(dts, "bf16") == 0 ?
					 TD_DT_BF16 : strcmp(dts, "f16") == 0 ?
					 TD_DT_F16 : TD_DT_F32, rows, cols, in,
					 q, s, &ns) == 0);
		CU_ASSERT_EQUAL(ns, srows * scols);
		for (i = 0; i < ns && i < srows * scols; i++) {
			uint32_t b;

			memcpy(&b, &s[i], 4);
			if (b != sx[i] && bad++ < 4)
				fprintf(stderr, "\n%s %s %s: scale %" PRId64
					": torch %08" PRIx32 ", td2hf %08" PRIx32,
					name, strat, dts, i, sx[i], b);
		}
		for (i = 0; i < rows * cols; i++)
			if (q[i] != qx[i] && bad++ < 8)
				fprintf(stderr, "\n%s %s %s: [%" PRId64 "] in %08"
					PRIx32 ": torch %02" PRIx32 ", td2hf %02x",
					name, strat, dts, i, in[i], qx[i], q[i]);
		CU_ASSERT_EQUAL(bad, 0);
		cases++;
		free(in);
		free(qx);
		free(sx);
		free(q);
		free(s);
	}
	CU_ASSERT(cases >= 30);
	free(buf);
}

int register_fp8_tests(void)
{
	CU_pSuite s = CU_add_suite("fp8 quantization against torch", NULL, NULL);

	return !s ||
	       !CU_add_test(s, "e4m3fn rounding, value by value", test_cast_vectors) ||
	       !CU_add_test(s, "e4m3fn rounding, a second opinion", test_cast_reference) ||
	       !CU_add_test(s, "slime's block, channel, tensor scaling", test_quant_vectors);
}
