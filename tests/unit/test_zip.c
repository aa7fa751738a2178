/* Zip reader: archives written by CPython's zipfile (stored, ZIP64,
 * deflated, embedded in a larger file), and damaged copies of them. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/crc32.h"
#include "../../src/reader/zip.h"
#include "helpers.h"
#include "suites.h"

/* Checks the three members gen_format_vectors.py writes. */
static void check_members(const td_file *f, const zip_dir *d)
{
	const zip_member *m = zip_find(d, "archive/data/0");
	unsigned char buf[1024];
	int i;

	CU_ASSERT_EQUAL_FATAL(d->n, 3);
	CU_ASSERT_PTR_NOT_NULL(zip_find(d, "archive/data.pkl"));
	CU_ASSERT_PTR_NOT_NULL(zip_find(d, "archive/byteorder"));
	CU_ASSERT_PTR_NULL(zip_find(d, "archive/data"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL_FATAL(m->size, 1024);
	CU_ASSERT_EQUAL_FATAL(td_file_pread(f, m->data_off, buf, 1024, NULL), 0);
	for (i = 0; i < 1024; i++)
		CU_ASSERT_EQUAL(buf[i], (unsigned char)i);
	CU_ASSERT_EQUAL(td_crc32(0, buf, 1024), m->crc32);
}

static void read_ok(const char *rel, uint64_t head, uint64_t tail)
{
	td_file f;
	zip_dir d;
	td_err err;

	CU_ASSERT_EQUAL_FATAL(td_file_open(&f, src_path(rel), &err), 0);
	if (zip_read_dir(&f, head, f.size - head - tail, &d, &err) != 0)
		fprintf(stderr, "\n  %s\n", err.msg);
	else
		check_members(&f, &d);
	zip_dir_free(&d);
	td_file_close(&f);
}

static void test_stored(void)
{
	read_ok("tests/fixtures/zip/stored.zip", 0, 0);
}

static void test_zip64(void)
{
	read_ok("tests/fixtures/zip/zip64.zip", 0, 0);
}

static void test_embedded(void)
{
	read_ok("tests/fixtures/zip/embedded.bin", 1000, 777);
}

static void expect_fail(const char *path, uint64_t off, uint64_t len,
			const char *needle)
{
	td_file f;
	zip_dir d;
	td_err err = {{0}};

	CU_ASSERT_EQUAL_FATAL(td_file_open(&f, path, &err), 0);
	CU_ASSERT_EQUAL(zip_read_dir(&f, off, len, &d, &err), -1);
	if (needle && !strstr(err.msg, needle))
		fprintf(stderr, "\n  wanted '%s', got '%s'\n", needle, err.msg);
	CU_ASSERT(!needle || strstr(err.msg, needle));
	CU_ASSERT(strncmp(err.msg, path, strlen(path)) == 0);
	td_file_close(&f);
}

static void test_deflated(void)
{
	expect_fail(src_path("tests/fixtures/zip/deflated.zip"), 0, 651,
		    "compressed members are not supported");
}

/* Any shorter range of a real archive is an error, never a crash. */
static void test_truncated(void)
{
	char path[4096];
	uint64_t cut;
	size_t len;
	unsigned char *buf;

	snprintf(path, sizeof path, "%s",
		 src_path("tests/fixtures/zip/zip64.zip"));
	buf = read_all(path, &len);
	free(buf);
	for (cut = 0; cut < len; cut++)
		expect_fail(path, 0, cut, NULL);
	expect_fail(path, 0, len + 1, "past the end of the file");
}

/* Flips the 4-byte signature found at the first match of sig. */
static void flip_signature(const char *sig, const char *needle)
{
	size_t len, i;
	unsigned char *buf = read_all(src_path("tests/fixtures/zip/stored.zip"),
				      &len);
	char *dir = make_temp_dir(), path[4096];

	for (i = 0; i + 4 <= len && memcmp(buf + i, sig, 4) != 0; i++)
		;
	CU_ASSERT_FATAL(i + 4 <= len);
	buf[i] ^= 0xff;
	write_file(dir, "bad.zip", buf, len);
	snprintf(path, sizeof path, "%s/bad.zip", dir);
	expect_fail(path, 0, len, needle);
	rm_rf(dir);
	free(dir);
	free(buf);
}

static void test_bad_signatures(void)
{
	flip_signature("PK\x01\x02", "bad central directory entry");
	flip_signature("PK\x03\x04", "bad local file header signature");
	flip_signature("PK\x05\x06", "no end-of-central-directory record");
}

static void test_crc32(void)
{
	CU_ASSERT_EQUAL(td_crc32(0, "123456789", 9), 0xcbf43926u);
	CU_ASSERT_EQUAL(td_crc32(0, "", 0), 0);
	/* split computation equals one pass */
	CU_ASSERT_EQUAL(td_crc32(td_crc32(0, "12345", 5), "6789", 4),
			0xcbf43926u);
	CU_ASSERT_EQUAL(td_crc32_portable(0, "123456789", 9), 0xcbf43926u);
}

/* td_crc32 (ISA-L's when built with it) and our slice-by-16 agree at
 * every length and alignment around their block sizes, and continued
 * over pieces. */
static void test_crc32_agree(void)
{
	size_t n = (1u << 20) + 77, len, off;
	unsigned char *buf = malloc(n);
	uint32_t x = 2463534242u;
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (len = 0; len < n; len++) { /* xorshift32 */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[len] = (unsigned char)x;
	}
	for (off = 0; off < 16; off++)
		for (len = 0; len <= 1100; len++)
			bad += td_crc32(0, buf + off, len) !=
			       td_crc32_portable(0, buf + off, len);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(td_crc32(0, buf, n), td_crc32_portable(0, buf, n));
	CU_ASSERT_EQUAL(td_crc32(td_crc32(0, buf, 1000), buf + 1000, n - 1000),
			td_crc32_portable(0, buf, n));
	free(buf);
}

/* The CRC-32 of two pieces combined equals the CRC-32 of both in one
 * pass, wherever the cut is (one of them empty included). */
static void test_crc32_combine(void)
{
	size_t n = (3u << 20) + 5, cuts[] = {0, 1, 7, 4096, 1u << 20, n - 1, n};
	unsigned char *buf = malloc(n);
	uint32_t x = 88675123u, whole;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	whole = td_crc32(0, buf, n);
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
		CU_ASSERT_EQUAL(td_crc32_combine(td_crc32(0, buf, cuts[i]),
						 td_crc32(0, buf + cuts[i],
							  n - cuts[i]),
						 n - cuts[i]),
				whole);
	/* three pieces, combined left to right */
	CU_ASSERT_EQUAL(td_crc32_combine(td_crc32_combine(td_crc32(0, buf, 10),
							  td_crc32(0, buf + 10, 990),
							  990),
					 td_crc32(0, buf + 1000, n - 1000),
					 n - 1000),
			whole);
	CU_ASSERT_EQUAL(td_crc32_combine(0xcbf43926u, 0, 0), 0xcbf43926u);
	CU_ASSERT_NOT_EQUAL(td_crc32_combine(td_crc32(0, "12345", 5),
					     td_crc32(0, "6798", 4), 4),
			    0xcbf43926u);
	free(buf);
}

int register_zip_tests(void)
{
	CU_pSuite s = CU_add_suite("zip", NULL, NULL);

	return !s || !CU_add_test(s, "stored", test_stored) ||
	       !CU_add_test(s, "zip64", test_zip64) ||
	       !CU_add_test(s, "embedded in a larger file", test_embedded) ||
	       !CU_add_test(s, "deflated is rejected", test_deflated) ||
	       !CU_add_test(s, "every truncation fails", test_truncated) ||
	       !CU_add_test(s, "bad signatures", test_bad_signatures) ||
	       !CU_add_test(s, "crc32 of pieces combined", test_crc32_combine) ||
	       !CU_add_test(s, "crc32", test_crc32) ||
	       !CU_add_test(s, "crc32: ISA-L and ours agree", test_crc32_agree);
}
