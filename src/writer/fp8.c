/* fp8.c — see fp8.h.  The e4m3fn rounding is written from the format's
 * definition (4 exponent bits, bias 7, 3 mantissa bits, no infinities,
 * S.1111.111 the only NaN) and checked against torch on
 * tests/fixtures/fp8/cast_vectors.txt. */
#include "fp8.h"

#include "convert.h"

#include <stdlib.h>

#include "../common/file.h"
#include "../common/phase.h"

#include <math.h>
#include <string.h>

#define FP8_MAX 448.0f

uint8_t fp8_e4m3fn(float f)
{
	uint8_t sign = signbit(f) ? 0x80 : 0;
	float a = fabsf(f), m;
	int e;

	if (!(a < 480.0f))              /* NaN, inf, out of range: NaN */
		return sign | 0x7f;
	if (a < 0x1p-6f) {              /* subnormal: multiples of 2^-9 */
		m = rintf(a * 0x1p9f);  /* exact scaling, then RNE; 8 = 2^-6 */
		return sign | (uint8_t)m;
	}
	frexpf(a, &e);                  /* a = [0.5, 1) * 2^e */
	e -= 1;                         /* a = [1, 2) * 2^e, e in -6 .. 8 */
	m = rintf((ldexpf(a, -e) - 1.0f) * 8.0f);   /* exact, then RNE */
	if (m == 8.0f) {                /* rounded up into the next binade */
		m = 0.0f;
		e++;
	}
	/* e = 8 with m = 7 (from 464 up) is 0x7f, NaN: as torch */
	return sign | (uint8_t)((e + 7) << 3) | (uint8_t)m;
}

static float load(const unsigned char *p, td_dtype t, int64_t i)
{
	uint32_t bits;
	uint16_t h;
	float f;

	switch (t) {
	case TD_DT_F32:
		memcpy(&f, p + 4 * i, 4);
		return f;
	case TD_DT_BF16:
		memcpy(&h, p + 2 * i, 2);
		bits = (uint32_t)h << 16;
		memcpy(&f, &bits, 4);
		return f;
	default: {   /* f16 */
		int ex, mt;

		memcpy(&h, p + 2 * i, 2);
		ex = (h >> 10) & 0x1f;
		mt = h & 0x3ff;
		f = ex == 0 ? ldexpf((float)mt, -24)
		  : ex == 31 ? (mt ? NAN : INFINITY)
		  : ldexpf((float)(mt | 0x400), ex - 25);
		return (h & 0x8000) ? -f : f;
	}
	}
}

/* torch's clamp(min=1e-12) in the weight's dtype: the bound rounded to
 * that dtype (bf16: 0x2b8d, 1.0004e-12; f16: 0, its subnormals stop at
 * 6e-8).  NaN passes through. */
static float clamp_min(float m, td_dtype t)
{
	static const uint32_t bf16_bits = 0x2b8d0000u; /* bf16(1e-12) */
	float lo;

	if (t == TD_DT_BF16)
		memcpy(&lo, &bf16_bits, 4);
	else if (t == TD_DT_F16)
		lo = 0.0f;
	else
		lo = 1e-12f;
	return m < lo ? lo : m;
}

/* The NaN torch's whole-tensor max() gives (its vectorised reduction
 * sets every bit), in the weight's dtype and then float32. */
static float whole_nan(td_dtype t)
{
	uint32_t bits = t == TD_DT_F32 ? 0xffffffffu : 0x7fc00000u;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

void fp8_tile_scales(const unsigned char *src, td_dtype t, int64_t n,
		     int64_t cols, int64_t bk, int whole, float *scales)
{
	int64_t k, r, c, ntiles = (cols + bk - 1) / bk;

	for (k = 0; k < ntiles; k++) {
		int64_t c1 = (k + 1) * bk < cols ? (k + 1) * bk : cols;
		float m = 0.0f;   /* padding is zero: absmax >= 0 */
		int nan = 0;

		for (r = 0; r < n && !nan; r++)
			for (c = k * bk; c < c1; c++) {
				float a = fabsf(load(src, t, r * cols + c));

				if (isnan(a)) {   /* torch.max propagates it */
					m = whole ? whole_nan(t) : a;
					nan = 1;
					break;
				}
				if (a > m)
					m = a;
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
	td_err err;
	float r;

	if (isnan(v))
		return -NAN;
	if (cv_convert((const unsigned char *)&v, TD_DT_F32, h, t, 1, &err) != 0 ||
	    cv_convert(h, t, (unsigned char *)&r, TD_DT_F32, 1, &err) != 0)
		return v;   /* not reached: both pairs are supported */
	return r;
}

void fp8_quantize_rows(const unsigned char *src, td_dtype t, int64_t n,
		       int64_t cols, int64_t bk, int whole,
		       const float *scales, uint8_t *q)
{
	int64_t r, c;

	for (r = 0; r < n; r++)
		for (c = 0; c < cols; c++) {
			float v = load(src, t, r * cols + c) / scales[c / bk];

			if (whole && t != TD_DT_F32)
				v = round_to(v, t);

			if (v < -FP8_MAX)       /* clamp; NaN stays NaN */
				v = -FP8_MAX;
			else if (v > FP8_MAX)
				v = FP8_MAX;
			q[r * cols + c] = fp8_e4m3fn(v);
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

int fp8_write(int fd, const unsigned char *src, td_dtype t, int64_t rows,
	      int64_t cols, int64_t th, int64_t tw, int whole, uint64_t woff,
	      uint64_t soff, td_err *err)
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
		const unsigned char *tile = src + (size_t)(r0 * cols) * esz;
		float *s = scales + (r0 / th) * kt;
		struct timespec t0 = td_phase_start();

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
