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

#endif
