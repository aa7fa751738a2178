/* grow.h — room for one more element in a doubling array. */
#ifndef TD_GROW_H
#define TD_GROW_H

#include <stddef.h>

/* arr holds n elements of elem bytes in room for *cap.  Returns arr when
 * there is room for one more; else arr reallocated to twice *cap (first
 * when *cap is 0) with *cap updated; NULL (arr and *cap untouched) when
 * out of memory or the size would overflow. */
void *td_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first);

#endif
