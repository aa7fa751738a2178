/* crc32.h — CRC-32 (ISO-HDLC, as zip and zlib use), slice-by-16. */
#ifndef TD_CRC32_H
#define TD_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over buf[0..len); start with crc = 0. */
uint32_t td_crc32(uint32_t crc, const void *buf, size_t len);

#endif
