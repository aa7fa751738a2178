/* bytes.h — fixed-width little-endian integers in byte buffers. */
#ifndef TD_BYTES_H
#define TD_BYTES_H

#include <stdint.h>

/* The n-byte (n <= 8) little-endian unsigned integer at b. */
static inline uint64_t td_le(const unsigned char *b, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | b[n];
	return v;
}

#endif
