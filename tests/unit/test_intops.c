/* Checked 64-bit arithmetic (src/common/intops.c): Python's // and %,
 * and every case C leaves undefined refused instead of trapping. */
#include <CUnit/CUnit.h>
#include <stdint.h>

#include "../../src/common/intops.h"
#include "suites.h"

typedef int (*binop)(int64_t, int64_t, int64_t *);

static void ok(binop f, int64_t a, int64_t b, int64_t want)
{
	int64_t r = 12345;

	CU_ASSERT_EQUAL(f(a, b, &r), 0);
	CU_ASSERT_EQUAL(r, want);
}

static void refused(binop f, int64_t a, int64_t b)
{
	int64_t r = 12345;

	CU_ASSERT_EQUAL(f(a, b, &r), -1);
	CU_ASSERT_EQUAL(r, 12345);
}

static void test_floor(void)
{
	ok(td_i64_floordiv, 7, 2, 3);
	ok(td_i64_floordiv, -7, 2, -4);
	ok(td_i64_floordiv, 7, -2, -4);
	ok(td_i64_floordiv, -7, -2, 3);
	ok(td_i64_floormod, 7, 3, 1);
	ok(td_i64_floormod, -7, 3, 2);
	ok(td_i64_floormod, 7, -3, -2);
	ok(td_i64_floormod, -7, -3, -1);
	ok(td_i64_floordiv, INT64_MIN, 1, INT64_MIN);
	ok(td_i64_floormod, INT64_MIN, -1, 0);    /* traps in C */
	ok(td_i64_floormod, INT64_MIN, INT64_MAX, INT64_MAX - 1);
}

static void test_refused(void)
{
	int64_t r = 1;

	refused(td_i64_floordiv, INT64_MIN, -1);  /* SIGFPE in C */
	refused(td_i64_floordiv, 1, 0);
	refused(td_i64_floormod, 1, 0);
	refused(td_i64_add, INT64_MAX, 1);
	refused(td_i64_add, INT64_MIN, -1);
	refused(td_i64_sub, INT64_MIN, 1);
	refused(td_i64_sub, 0, INT64_MIN);
	refused(td_i64_mul, INT64_MIN, -1);
	refused(td_i64_mul, (int64_t)1 << 32, (int64_t)1 << 31);
	ok(td_i64_mul, (int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 62);
	ok(td_i64_add, INT64_MAX, INT64_MIN, -1);
	ok(td_i64_sub, -1, INT64_MAX, INT64_MIN);
	CU_ASSERT_EQUAL(td_i64_neg(INT64_MIN, &r), -1);
	CU_ASSERT_EQUAL(td_i64_neg(INT64_MAX, &r), 0);
	CU_ASSERT_EQUAL(r, -INT64_MAX);
}

int register_intops_tests(void)
{
	CU_pSuite s = CU_add_suite("checked integers", NULL, NULL);

	return !s || !CU_add_test(s, "floor division and modulo", test_floor) ||
	       !CU_add_test(s, "undefined cases refused", test_refused);
}
