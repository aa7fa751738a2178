/* fp8.c — see fp8.h.  The e4m3fn rounding is written from the format's
 * definition (4 exponent bits, bias 7, 3 mantissa bits, no infinities,
 * S.1111.111 the only NaN) and checked against torch on
 * tests/fixtures/fp8/cast_vectors.txt. */
#include "fp8.h"

#include "cast.h"

#include <stdlib.h>

#include "../common/file.h"
#include "../common/phase.h"

#include <math.h>
#include <string.h>

#define FP8_MAX 448.0f

static inline uint8_t e4m3fn(float f)
{
	uint32_t b, a;
	uint8_t sign;
	float x;

	memcpy(&b, &f, 4);
	sign = (uint8_t)((b >> 24) & 0x80);
	a = b & 0x7fffffffu;
	if (a >= 0x43f00000u)           /* >= 480, inf, NaN: NaN */
		return sign | 0x7f;
	if (a < 0x3c800000u) {          /* below 2^-6: multiples of 2^-9 */
		memcpy(&x, &a, 4);
		return sign | (uint8_t)rintf(x * 0x1p9f);  /* exact, RNE; 8 is 2^-6 */
	}
	/* keep 3 of the 23 mantissa bits, ties to even; a carry moves into
	 * the exponent, which is rebiased from 127 to 7.  From 464 up this
	 * gives 0x7f, NaN, as torch does. */
	a += 0x7ffffu + ((a >> 20) & 1);
	return sign | (uint8_t)((a >> 20) - (120u << 3));
}

uint8_t fp8_e4m3fn(float f)
{
	return e4m3fn(f);
}

static inline float bits_f32(uint32_t b)
{
	float f;

	memcpy(&f, &b, 4);
	return f;
}

static inline float ld_bf16(const unsigned char *p, int64_t i)
{
	uint16_t h;

	memcpy(&h, p + 2 * i, 2);
	return bits_f32((uint32_t)h << 16);
}

static inline float ld_f32(const unsigned char *p, int64_t i)
{
	float f;

	memcpy(&f, p + 4 * i, 4);
	return f;
}

static float ld_f16(const unsigned char *p, int64_t i)
{
	uint16_t h;
	int ex, mt;
	float f;

	memcpy(&h, p + 2 * i, 2);
	ex = (h >> 10) & 0x1f;
	mt = h & 0x3ff;
	f = ex == 0 ? ldexpf((float)mt, -24)
	  : ex == 31 ? (mt ? NAN : INFINITY)
	  : ldexpf((float)(mt | 0x400), ex - 25);
	return (h & 0x8000) ? -f : f;
}

/* torch's clamp(min=1e-12) in the weight's dtype: the bound rounded to
 * that dtype (bf16: 0x2b8d, 1.0004e-12; f16: 0, its subnormals stop at
 * 6e-8).  NaN passes through. */
static float clamp_min(float m, td_dtype t)
{
	float lo = t == TD_DT_BF16 ? bits_f32(0x2b8d0000u)
		 : t == TD_DT_F16 ? 0.0f : 1e-12f;

	return m < lo ? lo : m;
}

/* The NaN torch's whole-tensor max() gives (its vectorised reduction
 * sets every bit), in the weight's dtype and then float32. */
static float whole_nan(td_dtype t)
{
	return bits_f32(t == TD_DT_F32 ? 0xffffffffu : 0x7fc00000u);
}

/* absmax of row r's columns [c0, c1) into *m; 1 when a NaN was met (then
 * *m is that NaN, fabs'd). */
#define ABSMAX_LOOP(LD) \
	for (c = c0; c < c1; c++) { \
		float a = fabsf(LD(src, base + c)); \
		if (a != a) { \
			*m = a; \
			return 1; \
		} \
		mx = a > mx ? a : mx; \
	}

static int absmax_run(const unsigned char *src, td_dtype t, int64_t base,
		      int64_t c0, int64_t c1, float *m)
{
	float mx = *m;
	int64_t c;

	if (t == TD_DT_BF16) {
		ABSMAX_LOOP(ld_bf16)
	} else if (t == TD_DT_F32) {
		ABSMAX_LOOP(ld_f32)
	} else {
		ABSMAX_LOOP(ld_f16)
	}
	*m = mx;
	return 0;
}

void fp8_tile_scales(const unsigned char *src, td_dtype t, int64_t n,
		     int64_t cols, int64_t bk, int whole, float *scales)
{
	int64_t k, r, ntiles = (cols + bk - 1) / bk;

	for (k = 0; k < ntiles; k++) {
		int64_t c1 = (k + 1) * bk < cols ? (k + 1) * bk : cols;
		float m = 0.0f;   /* padding is zero: absmax >= 0 */

		for (r = 0; r < n; r++)
			if (absmax_run(src, t, r * cols, k * bk, c1, &m)) {
				if (whole)   /* torch.max propagates it */
					m = whole_nan(t);
				break;
			}
		scales[k] = clamp_min(m, t) / FP8_MAX;
	}
}

/* v rounded to t (bf16 or f16) and back, as torch's division by a 0-dim
 * scale rounds its quotient to the weight's dtype; a NaN comes out with
 * the sign bit set, as torch's vectorised float->bf16 conversion makes it. */
static float round_to(float v, td_dtype t)
{
	unsigned char h[2];
	uint32_t b;
	td_err err;
	float r;

	if (isnan(v))
		return -NAN;
	if (t == TD_DT_BF16) {
		memcpy(&b, &v, 4);
		b += 0x7fffu + ((b >> 16) & 1);
		return bits_f32(b & 0xffff0000u);
	}
	if (cast_elements((const unsigned char *)&v, TD_DT_F32, h, t, 1,
			  &err) != 0 ||
	    cast_elements(h, t, (unsigned char *)&r, TD_DT_F32, 1, &err) != 0)
		return v;   /* not reached: both pairs are supported */
	return r;
}

static inline uint8_t clamp_cast(float v)
{
	v = v < -FP8_MAX ? -FP8_MAX : v > FP8_MAX ? FP8_MAX : v; /* NaN stays */
	return e4m3fn(v);
}

/* Rows [0, n) of a tile row: x / scale in float32, clamp, cast; whole
 * (a 0-dim scale) rounds the quotient to the weight's dtype first. */
#define QUANT_LOOP(LD, ROUND) \
	for (r = 0; r < n; r++) \
		for (k = 0; k * bk < cols; k++) { \
			int64_t c1 = (k + 1) * bk < cols ? (k + 1) * bk : cols; \
			const float sc = scales[k]; \
			uint8_t *out = q + r * cols; \
			for (c = k * bk; c < c1; c++) \
				out[c] = clamp_cast(ROUND(LD(src, r * cols + c) / sc)); \
		}

#define AS_IS(v) (v)
#define TO_T(v) round_to((v), t)

void fp8_quantize_rows(const unsigned char *src, td_dtype t, int64_t n,
		       int64_t cols, int64_t bk, int whole,
		       const float *scales, uint8_t *q)
{
	int64_t r, k, c;

	if (whole && t != TD_DT_F32) {
		if (t == TD_DT_BF16)
			QUANT_LOOP(ld_bf16, TO_T)
		else
			QUANT_LOOP(ld_f16, TO_T)
	} else if (t == TD_DT_BF16) {
		QUANT_LOOP(ld_bf16, AS_IS)
	} else if (t == TD_DT_F32) {
		QUANT_LOOP(ld_f32, AS_IS)
	} else {
		QUANT_LOOP(ld_f16, AS_IS)
	}
}

/* Rows of output gathered before one pwrite. */
#define FP8_WRITE_BYTES ((int64_t)1 << 20)

typedef struct qbuf {
	int fd;
	uint8_t *p;
	int64_t cap, used, cols;   /* in rows */
	uint64_t off;              /* file offset of row 0 of p */
} qbuf;

static int flush(qbuf *b, td_err *err)
{
	struct timespec t0 = td_phase_start();
	int rc = td_pwrite_all(b->fd, b->p, (size_t)(b->used * b->cols), b->off,
			       err);

	td_phase_end(TD_PH_WRITE, &t0);
	b->off += (uint64_t)(b->used * b->cols);
	b->used = 0;
	return rc;
}

int fp8_write(int fd, fp8_rows_fn rows_fn, void *ctx, td_dtype t,
	      int64_t rows, int64_t cols, int64_t th, int64_t tw, int whole,
	      uint64_t woff, uint64_t soff, td_err *err)
{
	int64_t kt = (cols + tw - 1) / tw, nt = (rows + th - 1) / th, r0;
	size_t esz = td_dtype_size(t);
	qbuf b = {fd, NULL, FP8_WRITE_BYTES / cols, 0, cols, woff};
	float *scales;
	int rc = 0;

	if (b.cap < 1)
		b.cap = 1;
	if (b.cap > rows)
		b.cap = rows;
	scales = malloc((size_t)(nt * kt) * sizeof *scales);
	b.p = malloc((size_t)(b.cap * cols));
	if (!scales || !b.p) {
		free(scales);
		free(b.p);
		return td_errf(err, "out of memory");
	}
	for (r0 = 0; rc == 0 && r0 < rows; r0 += th) {
		int64_t n = rows - r0 < th ? rows - r0 : th, done = 0;
		const unsigned char *tile = rows_fn(ctx, r0, n, err);
		float *s = scales + (r0 / th) * kt;
		struct timespec t0 = td_phase_start();

		if (!tile) {
			rc = FP8_BAD_SOURCE;
			break;
		}
		fp8_tile_scales(tile, t, n, cols, tw, whole, s);
		td_phase_end(TD_PH_COMPUTE, &t0);
		while (rc == 0 && done < n) {
			int64_t m = n - done < b.cap - b.used ? n - done
							      : b.cap - b.used;

			t0 = td_phase_start();
			fp8_quantize_rows(tile + (size_t)(done * cols) * esz, t,
					  m, cols, tw, whole, s,
					  b.p + b.used * cols);
			td_phase_end(TD_PH_COMPUTE, &t0);
			b.used += m;
			done += m;
			if (b.used == b.cap)
				rc = flush(&b, err);
		}
	}
	if (rc == 0 && b.used)
		rc = flush(&b, err);
	if (rc == 0)   /* little-endian hosts only, as the rest of td2hf */
		rc = td_pwrite_all(fd, scales, (size_t)(nt * kt) * sizeof *scales,
				   soff, err);
	free(scales);
	free(b.p);
	return rc;
}
