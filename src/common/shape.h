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

/* Elements in dims (no overflow check: callers checked the bytes). */
uint64_t td_shape_numel(const int64_t *dims, int ndim);

/* Row-major strides (in elements) of dims. */
void td_shape_strides(const int64_t *dims, int ndim, int64_t *strides);

/* Whether strides are row-major for dims (size-1 dimensions excepted). */
int td_shape_contiguous(const int64_t *dims, const int64_t *strides, int ndim);

/* Calls fn(ctx, dst, src, n) for each innermost run of a walk over dims:
 * dst and src are element offsets in two strided layouts of the same
 * shape (strides ds and ss), n the length of the last dimension. */
typedef void (*td_run_fn)(void *ctx, int64_t dst, int64_t src, int64_t n);
void td_shape_walk(const int64_t *dims, int ndim, const int64_t *ds,
		   const int64_t *ss, td_run_fn fn, void *ctx);

/* The intersection of two boxes of ndim dimensions, each a corner and
 * sizes ((alo, asz) and (blo, bsz); corner + size must not overflow),
 * into (lo, sz); 0 when it is empty. */
int td_box_intersect(const int64_t *alo, const int64_t *asz,
		     const int64_t *blo, const int64_t *bsz, int ndim,
		     int64_t *lo, int64_t *sz);

/* "[2, 96, 32]" into buf. */
void td_shape_str(const int64_t *dims, int ndim, char *buf, size_t size);

#endif
