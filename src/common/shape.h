/* shape.h — tensor shapes: bounded rank, overflow-checked sizes. */
#ifndef TD_SHAPE_H
#define TD_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#define TD_MAX_DIMS 8

/* Largest byte size td2hf accepts for one tensor (2^60): far beyond any
 * real tensor, small enough that offsets + sizes never overflow. */
#define TD_MAX_TENSOR_BYTES ((uint64_t)1 << 60)

/* numel * itemsize into *nbytes; -1 if a dim is negative or the product
 * exceeds TD_MAX_TENSOR_BYTES. */
int td_shape_nbytes(const int64_t *dims, int ndim, size_t itemsize,
		    uint64_t *nbytes);

/* "[2, 96, 32]" into buf. */
void td_shape_str(const int64_t *dims, int ndim, char *buf, size_t size);

#endif
