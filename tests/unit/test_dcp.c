/* DCP catalog and checkpoint discovery on damaged copies of the real
 * fixtures: each must fail with one message naming the file. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/reader/checkpoint.h"
#include "helpers.h"
#include "suites.h"

#define STACKED "tests/fixtures/ckpt/stacked/iter_0000100"

static char *copy_stacked(void)
{
	char *dir = make_temp_dir();

	copy_dir(src_path(STACKED), dir);
	return dir;
}

static void expect_open_error(const char *dir, const char *file,
			      const char *needle)
{
	td_checkpoint ck;
	td_err err = {{0}};
	int rc = ckpt_open(dir, &ck, &err);

	if (rc == 0)
		ckpt_close(&ck);
	CU_ASSERT_EQUAL(rc, -1);
	if (!strstr(err.msg, needle) || (file && !strstr(err.msg, file)))
		fprintf(stderr, "\n  wanted '%s' naming %s, got '%s'\n", needle,
			file ? file : "-", err.msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
	CU_ASSERT(!file || strstr(err.msg, file));
}

static void test_save_dir(void)
{
	td_checkpoint ck;
	td_err err;

	CU_ASSERT_EQUAL_FATAL(ckpt_open(src_path("tests/fixtures/ckpt/stacked"),
					&ck, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(ck.iter_dir, "iter_0000100"));
	CU_ASSERT_STRING_EQUAL(ck.backend, "torch_dist");
	CU_ASSERT_FATAL(ck.has_args);
	CU_ASSERT_PTR_NOT_NULL_FATAL(args_find(&ck.args, "num_layers"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(args_find(&ck.args, "kv_channels"));
	CU_ASSERT_EQUAL(args_find(&ck.args, "num_layers")->i, 2);
	CU_ASSERT_EQUAL(args_find(&ck.args, "kv_channels")->type, ARG_NONE);
	CU_ASSERT_PTR_NULL(args_find(&ck.args, "no_such_arg"));
	ckpt_close(&ck);
}

static void test_not_a_checkpoint(void)
{
	char *dir = make_temp_dir();

	expect_open_error(dir, dir, "not a torch_dist checkpoint");
	write_file(dir, "latest_checkpointed_iteration.txt", "abc\n", 4);
	expect_open_error(dir, "latest_checkpointed_iteration.txt",
			  "expected an iteration number");
	write_file(dir, "latest_checkpointed_iteration.txt", "7\n", 2);
	expect_open_error(dir, "iter_0000007", "which does not exist");
	expect_open_error("/nonexistent/td2hf", "/nonexistent/td2hf",
			  "No such file");
	rm_rf(dir);
	free(dir);
}

/* Every truncation of .metadata fails cleanly, naming .metadata. */
static void test_truncated_metadata(void)
{
	char *dir = copy_stacked(), path[4096];
	size_t len, cut, step;
	unsigned char *buf;

	snprintf(path, sizeof path, "%s/.metadata", dir);
	buf = read_all(path, &len);
	step = len / 200 + 1;
	for (cut = 0; cut < len; cut += step) {
		write_file(dir, ".metadata", buf, cut);
		expect_open_error(dir, ".metadata", "pickle: ");
	}
	free(buf);
	rm_rf(dir);
	free(dir);
}

static void test_bad_backend(void)
{
	char *dir = copy_stacked();
	static const char zarr[] = "{\"sharded_backend\": \"zarr\"}";

	write_file(dir, "metadata.json", zarr, sizeof zarr - 1);
	expect_open_error(dir, "metadata.json", "sharded backend 'zarr' is not "
			  "supported");
	write_file(dir, "metadata.json", "{", 1);
	expect_open_error(dir, "metadata.json", "not valid JSON");
	rm_rf(dir);
	free(dir);
}

static void test_bad_common(void)
{
	char *dir = copy_stacked();

	write_file(dir, "common.pt", "PK\x03\x04junk", 8);
	expect_open_error(dir, "common.pt", "zip archive");
	rm_rf(dir);
	free(dir);
}

/* A .distcp cut short: the catalog loads, reading the chunk fails with a
 * message naming the file, the key and the chunk. */
static void test_truncated_distcp(void)
{
	char *dir = copy_stacked(), path[4096];
	td_checkpoint ck;
	td_err err = {{0}};
	torchsave_tensor t;
	size_t len, i, k, failures = 0, total = 0;
	unsigned char *buf;

	snprintf(path, sizeof path, "%s/__0_1.distcp", dir);
	buf = read_all(path, &len);
	write_file(dir, "__0_1.distcp", buf, len / 2);
	CU_ASSERT_EQUAL_FATAL(ckpt_open(dir, &ck, &err), 0);
	for (k = 0; k < ck.cat.nkeys; k++) {
		dcp_key *key = &ck.cat.keys[k];

		for (i = 0; key->kind == DCP_TENSOR && i < key->nchunks; i++) {
			if (strcmp(ck.cat.files[key->chunks[i].file],
				   "__0_1.distcp") != 0)
				continue;
			total++;
			if (key->chunks[i].item_off + key->chunks[i].item_len <=
			    len / 2)
				continue;
			failures++;
			CU_ASSERT_EQUAL(dcp_read_chunk(&ck.cat, key, i, &t,
						       &err), -1);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "__0_1.distcp"));
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, key->name));
		}
	}
	CU_ASSERT(failures > 0 && total > failures);
	ckpt_close(&ck);
	free(buf);
	rm_rf(dir);
	free(dir);
}

static void test_missing_distcp(void)
{
	char *dir = copy_stacked(), path[4096];
	td_checkpoint ck;
	td_err err = {{0}};
	torchsave_tensor t;

	snprintf(path, sizeof path, "%s/%s", dir, "__0_0.distcp");
	CU_ASSERT_EQUAL_FATAL(ckpt_open(dir, &ck, &err), 0);
	remove(path);
	CU_ASSERT_EQUAL(dcp_read_chunk(&ck.cat, &ck.cat.keys[0], 0, &t, &err),
			strcmp(ck.cat.files[ck.cat.keys[0].chunks[0].file],
			       "__0_0.distcp") == 0 ? -1 : 0);
	ckpt_close(&ck);
	rm_rf(dir);
	free(dir);
}

/* The llama fixture's catalog with .metadata from tests/corrupt/<name>
 * (NULL: its own): how many tensor keys fail dcp_check_tiling, the last
 * message in msg. */
static size_t untiled_keys(const char *name, char *msg, size_t size)
{
	const char *dir = src_path("tests/fixtures/e2e/llama/ckpt/iter_0000100");
	char rel[256], *d = strdup(dir);
	unsigned char *buf;
	size_t len, i, bad = 0;
	dcp_catalog cat;
	td_err err = {{0}};

	snprintf(rel, sizeof rel, "tests/corrupt/%s.metadata", name);
	if (!name)
		snprintf(rel, sizeof rel, "%s/.metadata", dir);
	buf = read_all(name ? src_path(rel) : rel, &len);
	memset(&cat, 0, sizeof cat);
	CU_ASSERT_EQUAL_FATAL(dcp_load_buffer(d, buf, len, &cat, &err), 0);
	for (i = 0; i < cat.nkeys; i++)
		if (cat.keys[i].kind == DCP_TENSOR &&
		    dcp_check_tiling(&cat, i, &err) != 0) {
			bad++;
			snprintf(msg, size, "%s", err.msg);
		}
	CU_ASSERT_EQUAL(dcp_check_tiling(&cat, cat.nkeys, &err), -1);
	dcp_free(&cat);
	free(buf);
	free(d);
	return bad;
}

static void test_tiling(void)
{
	char msg[TD_ERR_MAX] = "";

	CU_ASSERT_EQUAL(untiled_keys(NULL, msg, sizeof msg), 0);
	CU_ASSERT_EQUAL(untiled_keys("chunk_overlap", msg, sizeof msg), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "iter_0000100: key '"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "': chunks 0 and 1 overlap"));
	CU_ASSERT_EQUAL(untiled_keys("chunk_gap", msg, sizeof msg), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "its chunks cover 4064 of 4096 "
				      "elements"));
}

int register_dcp_tests(void)
{
	CU_pSuite s = CU_add_suite("dcp catalog", NULL, NULL);

	return !s || !CU_add_test(s, "save dir and args", test_save_dir) ||
	       !CU_add_test(s, "not a checkpoint", test_not_a_checkpoint) ||
	       !CU_add_test(s, "truncated .metadata", test_truncated_metadata) ||
	       !CU_add_test(s, "bad metadata.json", test_bad_backend) ||
	       !CU_add_test(s, "bad common.pt", test_bad_common) ||
	       !CU_add_test(s, "truncated .distcp", test_truncated_distcp) ||
	       !CU_add_test(s, "missing .distcp", test_missing_distcp) ||
	       !CU_add_test(s, "chunks tile their tensor", test_tiling);
}
