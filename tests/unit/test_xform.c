/* zstd items (xform.c): decompressed into the scratch file exactly, once;
 * corrupt, truncated, oversized and out-of-file frames refused with the
 * file named.  The frames are made here with libzstd. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "../../src/reader/xform.h"
#include "suites.h"

#define PLAIN_N (300 * 1000)

/* A file holding 7 junk bytes then the frame of PLAIN_N pattern bytes
 * (twice when `two`: concatenated frames), the plain bytes in *plain. */
static int make_item(td_file *f, char *path, int two, unsigned char **plain,
		     size_t *zlen)
{
	size_t cap = ZSTD_compressBound(PLAIN_N), n, i;
	unsigned char *z = malloc(2 * cap);
	FILE *fp;
	td_err err;
	int fd = mkstemp(path);

	*plain = malloc(2 * PLAIN_N);
	if (fd < 0 || !z || !*plain)
		return -1;
	close(fd);
	for (i = 0; i < 2 * PLAIN_N; i++)
		(*plain)[i] = (unsigned char)(i * 7 / 5);
	n = ZSTD_compress(z, cap, *plain, PLAIN_N, 3);
	if (two)
		n += ZSTD_compress(z + n, cap, *plain + PLAIN_N, PLAIN_N, 3);
	*zlen = n;
	fp = fopen(path, "wb");
	if (!fp)
		return -1;
	fwrite("1234567", 1, 7, fp);
	fwrite(z, 1, n, fp);
	fclose(fp);
	free(z);
	return td_file_open(f, path, &err);
}

static void check_scratch(xform_scratch *s, const xform_item *it,
			  const unsigned char *want, size_t n)
{
	unsigned char *got = malloc(n);
	td_file g;
	td_err err;

	CU_ASSERT_EQUAL_FATAL(xform_open(s, &g, &err), 0);
	CU_ASSERT_EQUAL(it->len, n);
	CU_ASSERT_EQUAL(td_file_pread(&g, it->off, got, n, &err), 0);
	CU_ASSERT(memcmp(got, want, n) == 0);
	td_file_close(&g);
	free(got);
}

static void expand_ok(int two)
{
	char path[] = "/tmp/td2hf-xf-XXXXXX";
	xform_scratch *s = xform_scratch_new("scratch");
	xform_item a = {0, 0, 0}, b = {0, 0, 0};
	unsigned char *plain = NULL;
	size_t zlen;
	td_file f;
	td_err err;
	size_t n = two ? 2 * PLAIN_N : PLAIN_N;

	CU_ASSERT_EQUAL_FATAL(make_item(&f, path, two, &plain, &zlen), 0);
	CU_ASSERT_EQUAL(xform_expand(s, &f, 7, zlen, n, &a, &err), 0);
	CU_ASSERT_EQUAL(a.off, 0);
	check_scratch(s, &a, plain, n);
	/* done: not again; another item goes after it */
	CU_ASSERT_EQUAL(xform_expand(s, &f, 7, zlen, n, &a, &err), 0);
	CU_ASSERT_EQUAL(a.off, 0);
	CU_ASSERT_EQUAL(xform_expand(s, &f, 7, zlen, n, &b, &err), 0);
	CU_ASSERT_EQUAL(b.off, n);
	check_scratch(s, &b, plain, n);
	xform_scratch_free(s);
	td_file_close(&f);
	unlink(path);
	free(plain);
}

static void test_one_frame(void)
{
	expand_ok(0);
}

static void test_two_frames(void)
{
	expand_ok(1);
}

/* expand fails with a message holding each of the words */
static void refused(uint64_t off, uint64_t len, uint64_t max, int flip,
		    const char *w1, const char *w2)
{
	char path[] = "/tmp/td2hf-xf-XXXXXX";
	xform_scratch *s = xform_scratch_new("scratch");
	xform_item a = {0, 0, 0};
	unsigned char *plain = NULL;
	size_t zlen;
	td_file f;
	td_err err;

	CU_ASSERT_EQUAL_FATAL(make_item(&f, path, 0, &plain, &zlen), 0);
	if (flip) { /* the frame's magic number */
		FILE *fp = fopen(path, "r+b");

		fseek(fp, 7, SEEK_SET);
		fputc(0x55, fp);
		fclose(fp);
	}
	if (len == 0)
		len = zlen;
	if (len == 1)
		len = zlen - 5;
	CU_ASSERT_EQUAL(xform_expand(s, &f, off, len, max, &a, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, w1));
	if (w2)
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, w2));
	CU_ASSERT_EQUAL(a.done, 0);
	xform_scratch_free(s);
	td_file_close(&f);
	unlink(path);
	free(plain);
}

static void test_refused(void)
{
	refused(7, 0, PLAIN_N, 1, "corrupt zstd frame", "offset 7");
	refused(7, 1, PLAIN_N, 0, "truncated zstd frame", NULL);
	refused(7, 0, PLAIN_N - 1, 0, "decompresses to more than", NULL);
	refused(7, 1000000, PLAIN_N, 0, "beyond the end of the file", NULL);
	refused(7, 0 + 2, PLAIN_N, 0, "zstd", NULL); /* 2 bytes: truncated */
}

int register_xform_tests(void)
{
	CU_pSuite s = CU_add_suite("zstd items", NULL, NULL);

	return !s || !CU_add_test(s, "one frame, once", test_one_frame) ||
	       !CU_add_test(s, "concatenated frames", test_two_frames) ||
	       !CU_add_test(s, "bad frames refused", test_refused);
}
