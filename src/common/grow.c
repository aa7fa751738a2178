/* grow.c — room for one more element in a doubling array. */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *td_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first)
{
	size_t want = *cap ? *cap : first;
	void *na;

	if (n < *cap)
		return arr;
	if (*cap && want > SIZE_MAX / 2)
		return NULL;
	want = *cap ? *cap * 2 : want;
	if (elem && want > SIZE_MAX / elem)
		return NULL;
	na = realloc(arr, want * elem);
	if (na)
		*cap = want;
	return na;
}
