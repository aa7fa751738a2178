/* intops.h — checked 64-bit integer arithmetic for values that come from
 * files, the command line or bytecode.  Division and remainder follow
 * Python (// floors, % takes the sign of the divisor), as the rule
 * language does.  Each returns 0 with the result in *r, or -1 (and leaves
 * *r alone) when the result is undefined (division by zero) or does not
 * fit in an int64_t (INT64_MIN // -1, -INT64_MIN, overflow). */
#ifndef TD_INTOPS_H
#define TD_INTOPS_H

#include <stdint.h>

int td_i64_add(int64_t a, int64_t b, int64_t *r);
int td_i64_sub(int64_t a, int64_t b, int64_t *r);
int td_i64_mul(int64_t a, int64_t b, int64_t *r);
int td_i64_floordiv(int64_t a, int64_t b, int64_t *r);
int td_i64_floormod(int64_t a, int64_t b, int64_t *r);
int td_i64_neg(int64_t a, int64_t *r);

/* The whole of s as a decimal integer in [lo, hi] (an optional sign, then
 * digits, nothing after): 0 with the value in *r, or -1 (and *r alone)
 * for anything else, a value out of range included. */
int td_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *r);

#endif
