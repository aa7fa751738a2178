/* The JSON td2hf writes, against files written by the real safetensors
 * library and Python's json.dump (tests/fixtures/gen/gen_st_vectors.py):
 * names that need escaping, non-ASCII, dtype ordering, empty and scalar
 * files, and the index. */
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/plan/header.h"
#include "helpers.h"
#include "suites.h"

/* A one-shard plan holding the tensors of case `name` in names.json. */
static void build(plan *pl, vm_node *nodes, const char *name)
{
	size_t len;
	unsigned char *buf = read_all(src_path("tests/fixtures/st/names.json"), &len);
	cJSON *j = cJSON_ParseWithLength((char *)buf, len), *c, *t;
	uint32_t i = 0;

	free(buf);
	c = cJSON_GetObjectItemCaseSensitive(j, name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	memset(pl, 0, sizeof *pl);
	pl->ntensors = (uint32_t)cJSON_GetArraySize(c);
	pl->nemitted = pl->ntensors;
	pl->tensors = calloc(pl->ntensors + 1, sizeof *pl->tensors);
	pl->emitted = calloc(pl->ntensors + 1, sizeof *pl->emitted);
	pl->shards = calloc(1, sizeof *pl->shards);
	pl->nshards = 1;
	strcpy(pl->shards[0].file, "model-00000-of-00001.safetensors");
	cJSON_ArrayForEach(t, c) {
		plan_tensor *pt = &pl->tensors[i];
		vm_shape *s = &nodes[i].shape;
		const cJSON *d;

		pt->out.name = strdup(cJSON_GetObjectItem(t, "name")->valuestring);
		s->dtype = td_dtype_from_torch(cJSON_GetObjectItem(t, "dtype")->valuestring);
		s->ndim = 0;
		cJSON_ArrayForEach(d, cJSON_GetObjectItem(t, "shape"))
			s->dims[s->ndim++] = (int64_t)d->valuedouble;
		td_shape_nbytes(s->dims, s->ndim, td_dtype_size(s->dtype),
				&pt->out.nbytes);
		pt->out.node = &nodes[i];
		pl->emitted[i] = i;
		i++;
	}
	cJSON_Delete(j);
}

static void release(plan *pl)
{
	uint32_t i;

	for (i = 0; i < pl->ntensors; i++)
		free((char *)pl->tensors[i].out.name);
	free(pl->tensors);
	free(pl->emitted);
	free(pl->shards[0].header);
	free(pl->shards);
}

static void check_header(const char *name)
{
	vm_node nodes[16];
	char path[256];
	size_t len;
	unsigned char *want;
	td_err err;
	plan pl;

	memset(nodes, 0, sizeof nodes);
	build(&pl, nodes, name);
	CU_ASSERT_EQUAL_FATAL(plan_headers(&pl, &err), 0);
	snprintf(path, sizeof path, "tests/fixtures/st/%s.safetensors", name);
	want = read_all(src_path(path), &len);
	CU_ASSERT_EQUAL(pl.shards[0].size, len);
	CU_ASSERT_FATAL(pl.shards[0].header_len <= len);
	if (memcmp(pl.shards[0].header, want, pl.shards[0].header_len) != 0)
		fprintf(stderr, "\n  %s: header differs:\n  ours:   %.*s\n  theirs: %.*s\n",
			name, (int)pl.shards[0].header_len - 8,
			pl.shards[0].header + 8, (int)pl.shards[0].header_len - 8,
			want + 8);
	CU_ASSERT(memcmp(pl.shards[0].header, want, pl.shards[0].header_len) == 0);
	free(want);
	release(&pl);
}

static void test_header_names(void) { check_header("names"); }
static void test_header_empty(void) { check_header("empty"); }
static void test_header_scalar(void) { check_header("scalar"); }

static void test_index(void)
{
	vm_node nodes[16];
	size_t len;
	unsigned char *want;
	char *got;
	td_err err;
	plan pl;

	memset(nodes, 0, sizeof nodes);
	build(&pl, nodes, "names");
	CU_ASSERT_EQUAL_FATAL(plan_headers(&pl, &err), 0);
	pl.total_size = 12345;
	got = plan_index_json(&pl);
	want = read_all(src_path("tests/fixtures/st/index.json"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	if (strcmp(got, (char *)want) != 0)
		fprintf(stderr, "\n  index differs:\n%s\n---\n%s\n", got, want);
	CU_ASSERT_STRING_EQUAL(got, (char *)want);
	free(got);
	free(want);
	release(&pl);
}

int register_plan_tests(void)
{
	CU_pSuite s = CU_add_suite("safetensors header and index JSON", NULL, NULL);

	return !s || !CU_add_test(s, "awkward names, dtype order", test_header_names) ||
	       !CU_add_test(s, "empty file", test_header_empty) ||
	       !CU_add_test(s, "scalar", test_header_scalar) ||
	       !CU_add_test(s, "index as json.dump(indent=2)", test_index);
}
