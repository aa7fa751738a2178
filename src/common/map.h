/* map.h — string-keyed hash map to size_t, open addressing.  Keys are
 * copied.  Used for lookups that must stay O(1) on checkpoints with
 * hundreds of thousands of chunks. */
#ifndef TD_MAP_H
#define TD_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct td_map td_map;

td_map *td_map_new(void);
void td_map_free(td_map *m);

/* Inserts key -> value.  Returns 0 if inserted, 1 if the key was already
 * present (its value is left unchanged and stored in *old if old is not
 * NULL), -1 when out of memory. */
int td_map_put(td_map *m, const char *key, size_t klen, size_t value,
	       size_t *old);

/* 1 and *value when found, else 0. */
int td_map_get(const td_map *m, const char *key, size_t klen, size_t *value);

size_t td_map_count(const td_map *m);

/* FNV-1a, continued over p[0..n) from h; start with TD_HASH_INIT.  Not
 * cryptographic: it tells apart what honest inputs make different. */
#define TD_HASH_INIT 1469598103934665603ull
uint64_t td_hash(uint64_t h, const void *p, size_t n);

#endif
