/* crc32.h — CRC-32 (ISO-HDLC, as zip and zlib use): ISA-L's, with
 * hardware acceleration, when configure found it; else our slice-by-16
 * (docs/performance.md compares them). */
#ifndef TD_CRC32_H
#define TD_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over buf[0..len); start with crc = 0. */
uint32_t td_crc32(uint32_t crc, const void *buf, size_t len);

/* The same with td2hf's own slice-by-16, whatever configure found (the
 * fallback, and a second opinion for the tests). */
uint32_t td_crc32_portable(uint32_t crc, const void *buf, size_t len);

/* The CRC-32 of A followed by B from crc_a = CRC-32 of A, crc_b = CRC-32
 * of B and len_b = B's length in bytes (zlib's crc32_combine): lets
 * pieces of one stored item be checked by different threads. */
uint32_t td_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
