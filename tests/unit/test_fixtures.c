/* The real checkpoints in tests/fixtures/ckpt, written by PyTorch from
 * several gloo ranks, read by td2hf and compared with what torch itself
 * reported about them (torch_view.json, written by the generator from
 * FileSystemReader.read_metadata() and from tensors loaded back through
 * torch.distributed.checkpoint).  Ours is `td2hf inspect --json`: the
 * program, run as users run it ($TD2HF, as make check sets it, else the
 * build tree's). */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/crc32.h"
#include "../../src/reader/checkpoint.h"
#include "helpers.h"
#include "suites.h"

typedef struct fixture {
	td_checkpoint ck;
	cJSON *torch;  /* torch_view.json */
	cJSON *ours;   /* td2hf inspect --json */
} fixture;

/* `td2hf inspect --json dir`, parsed; NULL (and why, on stderr) if it
 * fails. */
static cJSON *inspect_json(const char *dir)
{
	const char *td2hf = getenv("TD2HF");
	char cmd[8192], *buf = NULL;
	size_t len = 0, cap = 0, n;
	cJSON *j = NULL;
	FILE *p;

	snprintf(cmd, sizeof cmd, "'%s' inspect --json '%s'",
		 td2hf ? td2hf : TD_BUILDDIR "/td2hf", dir);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	do {
		char *nb = len + 4096 > cap ? realloc(buf, cap = 2 * cap + 4096)
					    : buf;

		if (!nb)
			break;
		buf = nb;
		n = fread(buf + len, 1, cap - len, p);
		len += n;
	} while (n > 0);
	if (pclose(p) == 0 && buf)
		j = cJSON_ParseWithLength(buf, len);
	else
		fprintf(stderr, "\n  %s failed\n", cmd);
	free(buf);
	return j;
}

static void open_fixture(fixture *fx, const char *name)
{
	char rel[256];
	unsigned char *buf;
	size_t len;
	td_err err;

	snprintf(rel, sizeof rel, "tests/fixtures/ckpt/%s/torch_view.json",
		 name);
	buf = read_all(src_path(rel), &len);
	fx->torch = cJSON_ParseWithLength((char *)buf, len);
	free(buf);
	snprintf(rel, sizeof rel, "tests/fixtures/ckpt/%s", name);
	if (ckpt_open(src_path(rel), &fx->ck, &err) != 0)
		fprintf(stderr, "\n  %s\n", err.msg);
	fx->ours = inspect_json(src_path(rel));
}

static void close_fixture(fixture *fx)
{
	cJSON_Delete(fx->torch);
	cJSON_Delete(fx->ours);
	ckpt_close(&fx->ck);
}

static cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int same_number(const cJSON *a, const cJSON *b)
{
	return cJSON_IsNumber(a) && cJSON_IsNumber(b) &&
	       a->valuedouble == b->valuedouble;
}

static int same_field(const cJSON *a, const cJSON *b, const char *k)
{
	int ok = cJSON_Compare(get(a, k), get(b, k), 1);

	if (!ok)
		fprintf(stderr, "\n  field %s differs for %s\n", k,
			cJSON_GetStringValue(get(b, "name")));
	return ok;
}

/* Reads the chunk's raw bytes at the offset td2hf found and hashes them. */
static uint32_t crc_of_bytes(const fixture *fx, const cJSON *chunk)
{
	char path[4096];
	size_t n = (size_t)get(chunk, "nbytes")->valuedouble;
	unsigned char *buf = malloc(n ? n : 1);
	td_file f;
	uint32_t crc = 0;

	snprintf(path, sizeof path, "%s/%s", fx->ck.iter_dir,
		 cJSON_GetStringValue(get(chunk, "file")));
	CU_ASSERT_FATAL(buf && td_file_open(&f, path, NULL) == 0);
	if (td_file_pread(&f, (uint64_t)get(chunk, "data_offset")->valuedouble,
			  buf, n, NULL) == 0)
		crc = td_crc32(0, buf, n);
	td_file_close(&f);
	free(buf);
	return crc;
}

/* torch_view lists a bytes entry's file/offset/length on the key itself. */
static void compare_bytes_entry(const cJSON *mine, const cJSON *theirs)
{
	const cJSON *a = get(mine, "chunks");

	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(a), 1);
	CU_ASSERT(same_field(cJSON_GetArrayItem(a, 0), theirs, "file"));
	CU_ASSERT(same_field(cJSON_GetArrayItem(a, 0), theirs, "offset"));
	CU_ASSERT(same_field(cJSON_GetArrayItem(a, 0), theirs, "length"));
}

static void compare_chunks(const fixture *fx, const cJSON *mine,
			   const cJSON *theirs)
{
	const cJSON *a = get(mine, "chunks"), *b = get(theirs, "chunks");
	int i, n = cJSON_GetArraySize(b);

	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(a), n);
	for (i = 0; i < n; i++) {
		const cJSON *x = cJSON_GetArrayItem(a, i);
		const cJSON *y = cJSON_GetArrayItem(b, i);

		CU_ASSERT(same_field(x, y, "file"));
		CU_ASSERT(same_field(x, y, "offset"));
		CU_ASSERT(same_field(x, y, "length"));
		CU_ASSERT(same_field(x, y, "offsets"));
		CU_ASSERT(same_field(x, y, "sizes"));
		CU_ASSERT(same_field(x, y, "nbytes"));
		CU_ASSERT(same_field(x, y, "crc32"));
		CU_ASSERT_EQUAL(crc_of_bytes(fx, x),
				(uint32_t)get(y, "crc32")->valuedouble);
	}
}

static void compare_key(const fixture *fx, const cJSON *mine,
			const cJSON *theirs)
{
	const char *dt = cJSON_GetStringValue(get(theirs, "dtype"));
	char want[64];

	CU_ASSERT(same_field(mine, theirs, "name"));
	CU_ASSERT(same_field(mine, theirs, "kind"));
	if (dt) {
		snprintf(want, sizeof want, "torch.%s", td_dtype_torch_name(
			 td_dtype_from_st(cJSON_GetStringValue(get(mine,
								  "dtype")))));
		CU_ASSERT_STRING_EQUAL(want, dt);
		CU_ASSERT(same_field(mine, theirs, "shape"));
		compare_chunks(fx, mine, theirs);
	} else {
		compare_bytes_entry(mine, theirs);
	}
}

static void compare_args(const cJSON *mine, const cJSON *theirs)
{
	const cJSON *a = mine->child, *b = theirs->child;

	CU_ASSERT_EQUAL(cJSON_GetArraySize(mine), cJSON_GetArraySize(theirs));
	for (; a && b; a = a->next, b = b->next) {
		CU_ASSERT_STRING_EQUAL(a->string, b->string);
		CU_ASSERT(same_field(a, b, "type"));
		if (strcmp(cJSON_GetStringValue(get(b, "type")), "other") != 0)
			CU_ASSERT(cJSON_Compare(get(a, "value"), get(b, "value"),
						1));
	}
}

static void check_fixture(const char *name)
{
	fixture fx = {0};
	const cJSON *a, *b;

	open_fixture(&fx, name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.torch);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.ours);
	a = get(fx.ours, "keys");
	b = get(fx.torch, "keys");
	CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(a), cJSON_GetArraySize(b));
	for (a = a->child, b = b->child; a && b; a = a->next, b = b->next)
		compare_key(&fx, a, b);
	compare_args(get(fx.ours, "args"), get(fx.torch, "args"));
	CU_ASSERT(same_number(get(fx.ours, "iteration"),
			      get(fx.torch, "iteration")));
	CU_ASSERT(same_number(get(fx.ours, "checkpoint_version"),
			      get(fx.torch, "checkpoint_version")));
	close_fixture(&fx);
}

static void test_stacked(void)
{
	check_fixture("stacked");
}

static void test_perlayer(void)
{
	check_fixture("perlayer");
}

int register_fixture_tests(void)
{
	CU_pSuite s = CU_add_suite("real checkpoints vs torch", NULL, NULL);

	return !s || !CU_add_test(s, "stacked layers", test_stacked) ||
	       !CU_add_test(s, "per-layer keys", test_perlayer);
}
