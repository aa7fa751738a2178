/* bench/crc.c — CRC-32 throughput against memcpy of the same buffer, in
 * one run.  Built and run by hand:
 *   cc -O2 -I. bench/crc.c src/common/crc32.c -o /tmp/crc && /tmp/crc
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/common/crc32.h"

#define SIZE ((size_t)256 << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	unsigned char *a = malloc(SIZE), *b = malloc(SIZE);
	double t0, tc = 1e9, tm = 1e9;
	unsigned crc = 0;
	size_t i;
	int r;

	if (!a || !b)
		return 1;
	for (i = 0; i < SIZE; i++)
		a[i] = (unsigned char)(i * 2654435761u >> 13);
	memcpy(b, a, SIZE);
	for (r = 0; r < 5; r++) {
		t0 = now();
		memcpy(b, a, SIZE);
		if (now() - t0 < tm)
			tm = now() - t0;
		t0 = now();
		crc ^= td_crc32(0, a, SIZE);
		if (now() - t0 < tc)
			tc = now() - t0;
	}
	printf("memcpy %.2f GB/s, crc32 %.2f GB/s: crc32 = %.2f x memcpy (%08x)\n",
	       SIZE / tm / 1e9, SIZE / tc / 1e9, tm / tc, crc ^ b[7]);
	return 0;
}
