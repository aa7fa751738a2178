/* arena.h — bump allocator with a hard cap, freed all at once.
 *
 * Parsers allocate their value trees here so that one free releases a
 * whole document and so that the total size is bounded by `cap`. */
#ifndef TD_ARENA_H
#define TD_ARENA_H

#include <stddef.h>

typedef struct td_arena td_arena;

td_arena *td_arena_new(size_t cap);
void td_arena_free(td_arena *a);

/* Zeroed, 8-byte aligned (enough for every pointer, int64_t and
 * double); NULL when the cap would be exceeded. */
void *td_arena_alloc(td_arena *a, size_t n);

/* Copy of s[0..n) with a NUL appended. */
char *td_arena_strndup(td_arena *a, const char *s, size_t n);

size_t td_arena_used(const td_arena *a);

#endif
