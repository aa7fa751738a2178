#include "config.h"
#include "crc32.h"

#include <pthread.h>
#include <string.h>

#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#endif

#define POLY 0xedb88320u

/* The slice-by-16 tables, computed once (pthread_once) at first use and
 * only read after that, from any number of threads. */
static uint32_t table[16][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
	uint32_t i, c;
	int k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 16; k++)
			table[k][i] = (table[k - 1][i] >> 8) ^
				      table[0][table[k - 1][i] & 0xff];
}

static uint32_t load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t td_crc32_portable(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&table_once, init_tables);
	crc = ~crc;
	while (len >= 16) { /* slice-by-16 */
		uint32_t a = load_le32(p) ^ crc, b = load_le32(p + 4);
		uint32_t c = load_le32(p + 8), d = load_le32(p + 12);

		crc = table[15][a & 0xff] ^ table[14][(a >> 8) & 0xff] ^
		      table[13][(a >> 16) & 0xff] ^ table[12][a >> 24] ^
		      table[11][b & 0xff] ^ table[10][(b >> 8) & 0xff] ^
		      table[9][(b >> 16) & 0xff] ^ table[8][b >> 24] ^
		      table[7][c & 0xff] ^ table[6][(c >> 8) & 0xff] ^
		      table[5][(c >> 16) & 0xff] ^ table[4][c >> 24] ^
		      table[3][d & 0xff] ^ table[2][(d >> 8) & 0xff] ^
		      table[1][(d >> 16) & 0xff] ^ table[0][d >> 24];
		p += 16;
		len -= 16;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

uint32_t td_crc32(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_ISAL
	return crc32_gzip_refl(crc, buf, (uint64_t)len);
#else
	return td_crc32_portable(crc, buf, len);
#endif
}

/* ---------------------------------------------------------------- combine
 * Polynomials over GF(2) in the reflected bit order of the CRC (bit 31 is
 * x^0), reduced modulo the CRC polynomial, as zlib 1.2.12+ does it. */

/* a × b mod p. */
static uint32_t mult_mod_p(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, prod = 0;

	for (; m != 0 && a != 0; m >>= 1) {
		if (a & m) {
			prod ^= b;
			a &= ~m;
		}
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return prod;
}

/* x^(8 × n) mod p: n zero bytes appended to a message shift its CRC
 * register by this factor. */
static uint32_t x_8n_mod_p(uint64_t n)
{
	uint32_t p = 1u << 31, sq = 1u << 30; /* x^0, x^1 */
	int k;

	for (k = 0; k < 3; k++) /* x^8 */
		sq = mult_mod_p(sq, sq);
	for (; n != 0; n >>= 1) {
		if (n & 1)
			p = mult_mod_p(sq, p);
		sq = mult_mod_p(sq, sq);
	}
	return p;
}

uint32_t td_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return mult_mod_p(x_8n_mod_p(len_b), crc_a) ^ crc_b;
}
