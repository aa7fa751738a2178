/* bench/crc.c — CRC-32 throughput of td2hf's own slice-by-16 against
 * libraries with hardware acceleration, and memcpy of the same buffer,
 * in one run (issue 13: keep our own only if it wins).  Built and run by
 * hand (Debian: libdeflate-dev, libisal-dev, zlib1g-dev):
 *   cc -O2 -I. bench/crc.c src/common/crc32.c -o /tmp/crc \
 *      -DWITH_LIBS -ldeflate -lisal -lz && /tmp/crc
 * Without -DWITH_LIBS (and the -l flags) it times ours and memcpy only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/common/crc32.h"

#ifdef WITH_LIBS
#include <isa-l/crc.h>
#include <libdeflate.h>
#include <zlib.h>
#endif

#define SIZE ((size_t)256 << 20)
#define REPS 5

typedef unsigned (*crc_fn)(const unsigned char *, size_t);

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned ours(const unsigned char *p, size_t n)
{
	return td_crc32(0, p, n);
}

#ifdef WITH_LIBS
static unsigned deflate_crc(const unsigned char *p, size_t n)
{
	return libdeflate_crc32(0, p, n);
}

static unsigned isal_crc(const unsigned char *p, size_t n)
{
	return crc32_gzip_refl(0, p, n);
}

static unsigned zlib_crc(const unsigned char *p, size_t n)
{
	return (unsigned)crc32(0, p, (uInt)n);
}
#endif

/* Best of REPS seconds for fn over n bytes (also in 1 MiB pieces, the
 * writer's block size, when piece is set). */
static double best(crc_fn fn, const unsigned char *a, size_t n, unsigned *out)
{
	double t0, b = 1e9;
	int r;

	for (r = 0; r < REPS; r++) {
		t0 = now();
		*out = fn(a, n);
		if (now() - t0 < b)
			b = now() - t0;
	}
	return b;
}

int main(void)
{
	static const struct { const char *name; crc_fn fn; } impl[] = {
		{"td2hf slice-by-16", ours},
#ifdef WITH_LIBS
		{"libdeflate_crc32", deflate_crc},
		{"ISA-L crc32_gzip_refl", isal_crc},
		{"zlib crc32", zlib_crc},
#endif
	};
	unsigned char *a = malloc(SIZE), *b = malloc(SIZE);
	double tm = 1e9, t0;
	unsigned want = 0, got;
	size_t i;
	int r;

	if (!a || !b)
		return 1;
	for (i = 0; i < SIZE; i++)
		a[i] = (unsigned char)(i * 2654435761u >> 13);
	memcpy(b, a, SIZE);
	for (r = 0; r < REPS; r++) {
		t0 = now();
		memcpy(b, a, SIZE);
		if (now() - t0 < tm)
			tm = now() - t0;
	}
	printf("%-24s %7.2f GB/s\n", "memcpy (baseline)", SIZE / tm / 1e9);
	for (i = 0; i < sizeof impl / sizeof *impl; i++) {
		double t = best(impl[i].fn, a, SIZE, &got);

		if (i == 0)
			want = got;
		printf("%-24s %7.2f GB/s = %5.2f x memcpy%s\n", impl[i].name,
		       SIZE / t / 1e9, tm / t,
		       got == want ? "" : "  (WRONG RESULT)");
	}
	return b[7] == 0xff; /* keep the copy */
}
