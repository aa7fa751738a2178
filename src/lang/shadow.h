/* shadow.h — rules that overlap or never fire (compile-time checks). */
#ifndef TD_SHADOW_H
#define TD_SHADOW_H

#include <stdint.h>

#include "program.h"

/* 1 if every key pattern b matches is matched by one of patterns
 * a[0..na); 0 if not, or if that could not be decided; -1 out of
 * memory. */
int patterns_cover(const program *p, const uint32_t *a, int na, uint32_t b);

/* 1 if some key matches both patterns; 0 if none, or undecided; -1
 * out of memory. */
int patterns_overlap(const program *p, uint32_t a, uint32_t b);

#endif
