/* units.h — byte sizes for people: parsing what they type, printing what
 * they read. */
#ifndef TD_UNITS_H
#define TD_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "4096", "512M", "5G", "5GiB", "5GB", "1.5G" -> bytes.  K, M, G, T and
 * KiB ... TiB are powers of 1024; KB ... TB powers of 1000; "B" alone
 * means bytes; suffixes in any case.  A fraction is allowed with a
 * suffix and rounds down to whole bytes.  Refuses empty, negative, zero
 * and overflowing sizes: returns -1 and leaves *out alone. */
int td_parse_size(const char *s, uint64_t *out);

/* "2.1 GiB", "512 B" */
void td_human_bytes(uint64_t n, char *buf, size_t size);

#endif
