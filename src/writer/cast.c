#include "cast.h"

#include <math.h>
#include <string.h>

static float bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

static uint16_t f32_to_bf16(float f)
{
	uint32_t bits;

	memcpy(&bits, &f, 4);
	if ((bits & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
		return (uint16_t)((bits >> 16) | 0x40);
	bits += 0x7fffu + ((bits >> 16) & 1);   /* round to nearest even */
	return (uint16_t)(bits >> 16);
}

static float f16_to_f32(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	float v;

	if (e == 0)
		v = ldexpf((float)m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexpf((float)(m | 0x400), e - 25);
	return (h & 0x8000) ? -v : v;
}

static uint16_t f32_to_f16(float f)
{
	uint32_t bits, sign, mant;
	int e;

	memcpy(&bits, &f, 4);
	sign = (bits >> 16) & 0x8000;
	e = (int)((bits >> 23) & 0xff) - 127 + 15;
	mant = bits & 0x7fffff;
	if (((bits >> 23) & 0xff) == 0xff)
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0) { /* subnormal or zero */
		uint32_t m = mant | 0x800000, shift = (uint32_t)(14 - e);
		uint32_t half, rest, r;

		if (e < -10)
			return (uint16_t)sign;
		half = 1u << (shift - 1);
		rest = m & ((1u << shift) - 1);
		r = m >> shift;
		if (rest > half || (rest == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	{
		uint32_t r = ((uint32_t)e << 10) | (mant >> 13), rest = mant & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
			r++; /* may carry into the exponent: still correct */
		return (uint16_t)(sign | r);
	}
}

static int get(const unsigned char *p, td_dtype t, double *v)
{
	uint16_t h;
	float f;

	switch (t) {
	case TD_DT_BF16: memcpy(&h, p, 2); *v = bf16_to_f32(h); return 0;
	case TD_DT_F16:  memcpy(&h, p, 2); *v = f16_to_f32(h); return 0;
	case TD_DT_F32:  memcpy(&f, p, 4); *v = f; return 0;
	case TD_DT_F64:  memcpy(v, p, 8); return 0;
	default:         return -1;
	}
}

static int put(unsigned char *p, td_dtype t, double v, td_dtype from)
{
	uint16_t h;
	float f = (float)v; /* exact when from is not f64 */

	(void)from;
	switch (t) {
	case TD_DT_BF16: h = f32_to_bf16(f); memcpy(p, &h, 2); return 0;
	case TD_DT_F16:  h = f32_to_f16(f); memcpy(p, &h, 2); return 0;
	case TD_DT_F32:  memcpy(p, &f, 4); return 0;
	case TD_DT_F64:  memcpy(p, &v, 8); return 0;
	default:         return -1;
	}
}

int cast_elements(const unsigned char *src, td_dtype from,
		  unsigned char *dst, td_dtype to, uint64_t n, td_err *err)
{
	size_t si = td_dtype_size(from), di = td_dtype_size(to);
	uint64_t i;
	double v;

	if (from == to) {
		memcpy(dst, src, (size_t)(n * si));
		return 0;
	}
	if (from == TD_DT_F64 && to != TD_DT_F32)
		return td_errf(err, "cast from F64 to %s is not supported "
			       "(double rounding)", td_dtype_st_name(to));
	for (i = 0; i < n; i++)
		if (get(src + i * si, from, &v) != 0 ||
		    put(dst + i * di, to, v, from) != 0)
			return td_errf(err, "cast from %s to %s is not supported",
				       td_dtype_st_name(from), td_dtype_st_name(to));
	return 0;
}
