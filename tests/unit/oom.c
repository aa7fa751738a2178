/* Allocation failure: the compiler (compile_rules), the loader (prog_read) and
 * the plan (plan_build) run with the N-th allocation failing, for N = 1,
 * 2, ... until a run needs fewer than N allocations.  Each failing run
 * must end in one clean error saying "out of memory" (never "defined
 * twice" or a silently skipped include), and, under the sanitizers of
 * `make check`, without a crash or a leak.
 *
 * The seam is the link: this program is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,... (Makefile.am), so every allocation
 * libtd2hf.a makes goes through the __wrap_ functions below, which count
 * and fail only while armed.  Production code has no hook. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lang/compile.h"
#include "../../src/lang/program.h"
#include "../../src/plan/plan.h"
#include "../../src/reader/checkpoint.h"
#include "helpers.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

/* The test's own state: which allocation fails (0: none) and how many
 * have been made since arming. */
static unsigned long fail_at, count;
static int armed;

/* OOM_TRACE=N (a debugging aid): abort at the N-th allocation of each
 * sweep instead of failing it, so the sanitizer shows where it is made;
 * OOM_ONLY=TEXT runs only the sweeps whose name contains TEXT. */
static int fails(void)
{
	static long trace = -1;

	if (!armed || ++count != fail_at)
		return 0;
	if (trace < 0)
		trace = getenv("OOM_TRACE") ? atol(getenv("OOM_TRACE")) : 0;
	if (trace > 0 && (unsigned long)trace == fail_at)
		abort();
	return 1;
}

void *__wrap_malloc(size_t n) { return fails() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size)
{
	return fails() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
	return fails() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s) { return fails() ? NULL : __real_strdup(s); }
char *__wrap_strndup(const char *s, size_t n)
{
	return fails() ? NULL : __real_strndup(s, n);
}

static void arm(unsigned long n)
{
	fail_at = n;
	count = 0;
	armed = 1;
}

/* Disarms; 1 if the N-th allocation was reached (and so failed). */
static int disarm(void)
{
	armed = 0;
	return count >= fail_at;
}

/* Runs fn with allocation N failing for every N until one run completes
 * without reaching N; fn returns 0 on success, else fills msg. */
typedef int (*run_fn)(void *ctx, char *msg, size_t size);

static void sweep(const char *what, run_fn fn, void *ctx)
{
	char msg[2048];
	unsigned long n, bad = 0;

	if (getenv("OOM_ONLY") && !strstr(what, getenv("OOM_ONLY")))
		return;
	for (n = 1;; n++) {
		int rc, hit;

		msg[0] = '\0';
		arm(n);
		rc = fn(ctx, msg, sizeof msg);
		hit = disarm();
		if (!hit) {
			CU_ASSERT_EQUAL(rc, 0);
			break;
		}
		if (rc == 0 || !strstr(msg, "out of memory")) {
			if (bad++ < 20)
				fprintf(stderr, "\n  %s, allocation %lu fails: %s",
					what, n, rc ? msg : "succeeded");
		}
	}
	fprintf(stderr, "\n  %s: %lu allocations, each failed once", what, n - 1);
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---------------------------------------------------------------- compiler */

static int run_compile(void *ctx, char *msg, size_t size)
{
	const char *inc[] = {ctx};
	compile_options o = {inc, 1, NULL, 0};
	FILE *diag = tmpfile();
	program p;
	int errors;

	armed = 0;   /* tmpfile's own allocation is not under test */
	o.diag = diag;
	armed = 1;
	errors = compile_rules(src_path("rules/deepseek_v3.map"), &o, &p);
	armed = 0;
	rewind(diag);
	if (!fgets(msg, (int)size, diag))
		msg[0] = '\0';
	fclose(diag);
	armed = 1;
	if (errors == 0)
		prog_free(&p);
	return errors;
}

static void test_compile(void)
{
	char *rules = strdup(src_path("rules"));

	sweep("mapc rules/deepseek_v3.map", run_compile, rules);
	free(rules);
}

/* ---------------------------------------------------------------- loader */

static int run_read(void *ctx, char *msg, size_t size)
{
	program p;
	td_err err;

	if (prog_read(ctx, &p, &err) != 0) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	prog_free(&p);
	return 0;
}

/* The compiled rules, written to a file (allocations not under test). */
static char *compiled(char **dir)
{
	const char *inc[] = {NULL};
	compile_options o = {inc, 1, NULL, 0};
	static char path[4096];
	program p;
	td_err err;

	inc[0] = strdup(src_path("rules"));
	*dir = make_temp_dir();
	CU_ASSERT_EQUAL_FATAL(compile_rules(src_path("rules/qwen3.map"), &o, &p), 0);
	snprintf(path, sizeof path, "%s/r.mapbc", *dir);
	CU_ASSERT_EQUAL_FATAL(prog_write(&p, path, &err), 0);
	prog_free(&p);
	free((char *)inc[0]);
	return path;
}

static void test_read(void)
{
	char *dir, *path = compiled(&dir);

	sweep("prog_read qwen3.mapbc", run_read, path);
	rm_rf(dir);
	free(dir);
}

/* ---------------------------------------------------------------- reader */

static int run_ckpt(void *ctx, char *msg, size_t size)
{
	td_checkpoint ck;
	td_err err;

	if (ckpt_open(ctx, &ck, &err) != 0) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	ckpt_close(&ck);
	return 0;
}

static void test_ckpt(void)
{
	char *path = strdup(src_path("tests/fixtures/e2e/qwen3/ckpt"));

	sweep("ckpt_open qwen3", run_ckpt, path);
	free(path);
}

/* ---------------------------------------------------------------- plan */

typedef struct plan_ctx {
	td_checkpoint ck;
	program prog;
	const plan_override *ov;
	int nov;
} plan_ctx;

static int run_plan(void *ctx, char *msg, size_t size)
{
	plan_ctx *pc = ctx;
	plan_options o = {(uint64_t)5 << 30, pc->ov, pc->nov, NULL, NULL};
	td_err err;
	plan pl;

	if (plan_build(&pc->ck, &pc->prog, &o, &pl, &err) != 0) {
		snprintf(msg, size, "%s", err.msg);
		return -1;
	}
	plan_free(&pl);
	return 0;
}

static void plan_sweep(const char *family, const char *what,
		       const plan_override *ov, int nov)
{
	const char *inc[] = {NULL};
	compile_options o = {inc, 1, NULL, 0};
	char ck[256];
	plan_ctx pc;
	td_err err;

	snprintf(ck, sizeof ck, "tests/fixtures/e2e/%s/ckpt", family);
	CU_ASSERT_EQUAL_FATAL(ckpt_open(src_path(ck), &pc.ck, &err), 0);
	inc[0] = strdup(src_path("rules"));
	CU_ASSERT_EQUAL_FATAL(compile_rules(src_path("rules/deepseek_v3.map"), &o,
					    &pc.prog), 0);
	free((char *)inc[0]);
	pc.ov = ov;
	pc.nov = nov;
	sweep(what, run_plan, &pc);
	prog_free(&pc.prog);
	ckpt_close(&pc.ck);
}

static void test_plan(void)
{
	/* glm5 with its groups (q_a_proj with kv_a_proj_with_mqa) active */
	plan_sweep("glm5", "plan_build glm5", NULL, 0);
}

int main(void)
{
	CU_pSuite s;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("allocation failure", NULL, NULL);
	if (!s || !CU_add_test(s, "compiler", test_compile) ||
	    !CU_add_test(s, "loader", test_read) ||
	    !CU_add_test(s, "checkpoint reader", test_ckpt) ||
	    !CU_add_test(s, "plan", test_plan)) {
		CU_cleanup_registry();
		return 99;
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	printf("\n%u passed, %u failed\n",
	       CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	       CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
