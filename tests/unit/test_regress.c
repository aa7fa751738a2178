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
#include "helpers.h"
#include "suites.h"

typedef int (*replay_fn)(const unsigned char *buf, size_t len);

static int replay_pickle(const unsigned char *buf, size_t len)
{
	td_err err;
	pk_doc *doc = pk_parse(buf, len, NULL, &err);

	pk_doc_free(doc);
	return doc ? 0 : -1;
}

static int replay_file(const unsigned char *buf, size_t len, int tensor)
{
	char *dir = make_temp_dir(), path[4096];
	pk_doc *doc = NULL;
	td_file f;
	ts_tensor t;
	td_err err;
	int rc = -1;

	write_file(dir, "in", buf, len);
	snprintf(path, sizeof path, "%s/in", dir);
	if (td_file_open(&f, path, &err) == 0) {
		rc = tensor ? ts_read_tensor(&f, 0, len, &t, &err)
			    : ts_read_pickle(&f, 0, len, &doc, &err);
		pk_doc_free(doc);
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
	mp_program p;
	td_err err;
	int rc = mp_read_buffer(buf, len, "regress", &p, &err);

	if (rc == 0) {
		mp_disasm(&p, null);
		mp_free(&p);
	}
	fclose(null);
	return rc;
}

static int replay_mapc(const unsigned char *buf, size_t len)
{
	char *dir = make_temp_dir(), path[4096];
	mc_options o = {NULL, 0, NULL, 0};
	mp_program p;
	int n;

	write_file(dir, "in.map", buf, len);
	snprintf(path, sizeof path, "%s/in.map", dir);
	n = mc_compile(path, &o, &p);
	mp_free(&p);
	rm_rf(dir);
	free(dir);
	return n ? -1 : 0;
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
		CU_ASSERT_EQUAL(fn(buf, len), -1);
		free(buf);
	}
	closedir(d);
}

static void test_pickle(void) { replay_dir("pickle", replay_pickle); }
static void test_torchsave(void) { replay_dir("torchsave", replay_torchsave); }
static void test_metadata(void) { replay_dir("metadata", replay_metadata); }
static void test_mapbc(void) { replay_dir("mapbc", replay_mapbc); }
static void test_mapc(void) { replay_dir("mapc", replay_mapc); }

int register_regress_tests(void)
{
	CU_pSuite s = CU_add_suite("fuzzer-found inputs", NULL, NULL);

	return !s || !CU_add_test(s, "pickle", test_pickle) ||
	       !CU_add_test(s, "torchsave", test_torchsave) ||
	       !CU_add_test(s, "metadata", test_metadata) ||
	       !CU_add_test(s, "mapbc", test_mapbc) ||
	       !CU_add_test(s, "mapc", test_mapc);
}
