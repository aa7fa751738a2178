#include "intops.h"

#include <errno.h>
#include <stdlib.h>

int td_i64_add(int64_t a, int64_t b, int64_t *r)
{
	if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
		return -1;
	*r = a + b;
	return 0;
}

int td_i64_sub(int64_t a, int64_t b, int64_t *r)
{
	if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b))
		return -1;
	*r = a - b;
	return 0;
}

int td_i64_mul(int64_t a, int64_t b, int64_t *r)
{
	int64_t p;

	if (__builtin_mul_overflow(a, b, &p))
		return -1;
	*r = p;
	return 0;
}

int td_i64_floordiv(int64_t a, int64_t b, int64_t *r)
{
	int64_t q;

	if (b == 0 || (a == INT64_MIN && b == -1))
		return -1;
	q = a / b;
	*r = (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
	return 0;
}

int td_i64_floormod(int64_t a, int64_t b, int64_t *r)
{
	int64_t m;

	if (b == 0)
		return -1;
	if (b == -1) { /* a % -1 is 0, but INT64_MIN % -1 traps in C */
		*r = 0;
		return 0;
	}
	m = a % b;
	*r = (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
	return 0;
}

int td_i64_neg(int64_t a, int64_t *r)
{
	if (a == INT64_MIN)
		return -1;
	*r = -a;
	return 0;
}

int td_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *r)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return -1;
	*r = (int64_t)v;
	return 0;
}
