/* Inputs the fuzzers found (tests/fuzz-regressions/<target>/), replayed
 * through the same entry points as fuzz/<target>.c.  Under the sanitizers
 * of `make check` a crash or leak fails the run; each input must also be
 * refused, as all were malformed. */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lang/compile.h"
#include "../../src/lang/program.h"
#include "../../src/reader/dcp.h"
#include "../../src/reader/pickle.h"
#include "../../src/reader/torchsave.h"
#include "../../fuzz/vmharness.h"
#include "helpers.h"
#include "suites.h"

typedef int (*replay_fn)(const unsigned char *buf, size_t len);

static int replay_pickle(const unsigned char *buf, size_t len)
{
	td_err err;
	pickle_doc *doc = pickle_parse(buf, len, NULL, &err);

	pickle_doc_free(doc);
	return doc ? 0 : -1;
}

static int replay_file(const unsigned char *buf, size_t len, int tensor)
{
	char *dir = make_temp_dir(), path[4096];
	pickle_doc *doc = NULL;
	td_file f;
	torchsave_tensor t;
	td_err err;
	int rc = -1;

	write_file(dir, "in", buf, len);
	snprintf(path, sizeof path, "%s/in", dir);
	if (td_file_open(&f, path, &err) == 0) {
		rc = tensor ? torchsave_read_tensor(&f, 0, len, &t, &err)
			    : torchsave_read_pickle(&f, 0, len, &doc, &err);
		pickle_doc_free(doc);
		td_file_close(&f);
	}
	rm_rf(dir);
	free(dir);
	return rc;
}

static int replay_torchsave(const unsigned char *buf, size_t len)
{
	int a = replay_file(buf, len, 1), b = replay_file(buf, len, 0);

	return a == 0 || b == 0 ? 0 : -1;
}

static int replay_metadata(const unsigned char *buf, size_t len)
{
	dcp_catalog cat;
	td_err err;

	if (dcp_load_buffer("regress", buf, len, &cat, &err) != 0)
		return -1;
	dcp_free(&cat);
	return 0;
}

static int replay_mapbc(const unsigned char *buf, size_t len)
{
	FILE *null = fopen("/dev/null", "w");
	program p;
	td_err err;
	int rc = prog_read_buffer(buf, len, "regress", &p, &err);

	if (rc == 0) {
		prog_disasm(&p, null);
		prog_free(&p);
	}
	fclose(null);
	return rc;
}

static int replay_mapc(const unsigned char *buf, size_t len)
{
	char *dir = make_temp_dir(), path[4096];
	compile_options o = {NULL, 0, NULL, 0};
	program p;
	int n;

	write_file(dir, "in.map", buf, len);
	snprintf(path, sizeof path, "%s/in.map", dir);
	n = compile_rules(path, &o, &p);
	prog_free(&p);
	rm_rf(dir);
	free(dir);
	return n ? -1 : 0;
}

/* The .mapbc fuzzer's VM harness: whatever the input, no crash (the
 * sanitizers watch); the result is not asserted (replay_dir's want: 0). */
static int replay_mapbc_vm(const unsigned char *buf, size_t len)
{
	fz_catalogs *c = fz_open(TD_SRCDIR);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fz_run_mapbc(c, buf, len);
	fz_close(c);
	return 0;
}

static void replay_dir(const char *target, replay_fn fn)
{
	char rel[256], path[4096];
	struct dirent *e;
	DIR *d;

	snprintf(rel, sizeof rel, "tests/fuzz-regressions/%s", target);
	d = opendir(src_path(rel));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d))) {
		unsigned char *buf;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s/%s", TD_SRCDIR, rel, e->d_name);
		buf = read_all(path, &len);
		if (fn(buf, len) != -1 && fn != replay_mapbc_vm) {
			fprintf(stderr, "\n  %s/%s was accepted\n", target,
				e->d_name);
			CU_FAIL("a malformed input was accepted");
		}
		free(buf);
	}
	closedir(d);
}

static void test_pickle(void) { replay_dir("pickle", replay_pickle); }
static void test_torchsave(void) { replay_dir("torchsave", replay_torchsave); }
static void test_metadata(void) { replay_dir("metadata", replay_metadata); }
static void test_mapbc(void) { replay_dir("mapbc", replay_mapbc); }
static void test_mapc(void) { replay_dir("mapc", replay_mapc); }
static void test_mapbc_vm(void) { replay_dir("mapbc-vm", replay_mapbc_vm); }

/* The harness itself: a real compiled rules file, as is and with
 * parameter records in front, is planned on the fixtures. */
static void test_harness(void)
{
	const char *inc[] = {NULL};
	compile_options o = {inc, 1, NULL, 0};
	char *dir = make_temp_dir(), path[4096];
	unsigned char *bc, *with;
	static const unsigned char sets[] = {   /* param 0 := its own value */
		1, 0, 2, 0, 0, 0, 0, 0, 0, 0,
	};
	fz_catalogs *c = fz_open(TD_SRCDIR);
	program p;
	size_t len;
	td_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	inc[0] = strdup(src_path("rules"));
	CU_ASSERT_EQUAL_FATAL(compile_rules(src_path("rules/qwen3.map"), &o, &p), 0);
	snprintf(path, sizeof path, "%s/q.mapbc", dir);
	CU_ASSERT_EQUAL_FATAL(prog_write(&p, path, &err), 0);
	bc = read_all(path, &len);
	CU_ASSERT_EQUAL(fz_run_mapbc(c, bc, len), 0);
	with = malloc(len + sizeof sets);
	CU_ASSERT_PTR_NOT_NULL_FATAL(with);
	memcpy(with, sets, sizeof sets);
	memcpy(with + sizeof sets, bc, len);
	CU_ASSERT_EQUAL(fz_run_mapbc(c, with, len + sizeof sets), 0);
	with[1] = 2;                            /* num_attention_heads := */
	memset(with + 2, 0, 7);                 /* INT64_MIN, that is none: */
	with[9] = 0x80;                         /* let Q is refused */
	CU_ASSERT_EQUAL(fz_run_mapbc(c, with, len + sizeof sets), -1);
	free(with);
	free(bc);
	prog_free(&p);
	free((char *)inc[0]);
	fz_close(c);
	rm_rf(dir);
	free(dir);
}

int register_regress_tests(void)
{
	CU_pSuite s = CU_add_suite("fuzzer-found inputs", NULL, NULL);

	return !s || !CU_add_test(s, "pickle", test_pickle) ||
	       !CU_add_test(s, "torchsave", test_torchsave) ||
	       !CU_add_test(s, "metadata", test_metadata) ||
	       !CU_add_test(s, "mapbc", test_mapbc) ||
	       !CU_add_test(s, "mapc", test_mapc) ||
	       !CU_add_test(s, "mapbc-vm", test_mapbc_vm) ||
	       !CU_add_test(s, "mapbc VM harness", test_harness);
}
