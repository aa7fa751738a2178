#include "shape.h"

#include <inttypes.h>
#include <stdio.h>

int td_shape_nbytes(const int64_t *dims, int ndim, size_t itemsize,
		    uint64_t *nbytes)
{
	uint64_t n = itemsize;
	int i;

	if (ndim < 0 || ndim > TD_MAX_DIMS || itemsize == 0)
		return -1;
	for (i = 0; i < ndim; i++) {
		if (dims[i] < 0)
			return -1;
		if (dims[i] != 0 && n > TD_MAX_TENSOR_BYTES / (uint64_t)dims[i])
			return -1;
		n *= (uint64_t)dims[i];
	}
	*nbytes = n;
	return 0;
}

uint64_t td_shape_numel(const int64_t *dims, int ndim)
{
	uint64_t n = 1;
	int d;

	for (d = 0; d < ndim; d++)
		n *= (uint64_t)dims[d];
	return n;
}

void td_shape_strides(const int64_t *dims, int ndim, int64_t *strides)
{
	int64_t s = 1;
	int d;

	for (d = ndim - 1; d >= 0; d--) {
		strides[d] = s;
		s *= dims[d];
	}
}

int td_shape_contiguous(const int64_t *dims, const int64_t *strides, int ndim)
{
	int64_t s = 1;
	int d;

	for (d = ndim - 1; d >= 0; d--) {
		if (dims[d] != 1 && strides[d] != s)
			return 0;
		s *= dims[d];
	}
	return 1;
}

void td_shape_walk(const int64_t *dims, int ndim, const int64_t *ds,
		   const int64_t *ss, td_run_fn fn, void *ctx)
{
	int64_t idx[TD_MAX_DIMS] = {0}, inner = ndim ? dims[ndim - 1] : 1;
	int d, outer = ndim - 1;

	for (d = 0; d < ndim; d++)
		if (dims[d] == 0)
			return;
	for (;;) {
		int64_t doff = 0, soff = 0;

		for (d = 0; d < outer; d++) {
			doff += idx[d] * ds[d];
			soff += idx[d] * ss[d];
		}
		fn(ctx, doff, soff, inner);
		for (d = outer - 1; d >= 0; d--) {
			if (++idx[d] < dims[d])
				break;
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

void td_shape_str(const int64_t *dims, int ndim, char *buf, size_t size)
{
	size_t len = 0;
	int i, n;

	if (!size)
		return;
	buf[0] = '\0';
	for (i = 0; i < ndim && len < size; i++) {
		n = snprintf(buf + len, size - len, "%s%" PRId64,
			     i ? ", " : "[", dims[i]);
		if (n < 0)
			return;
		len += (size_t)n;
	}
	if (len < size)
		snprintf(buf + len, size - len, ndim ? "]" : "[]");
}

int td_box_intersect(const int64_t *alo, const int64_t *asz,
		     const int64_t *blo, const int64_t *bsz, int ndim,
		     int64_t *lo, int64_t *sz)
{
	int d;

	for (d = 0; d < ndim; d++) {
		int64_t a = alo[d] > blo[d] ? alo[d] : blo[d];
		int64_t ha = alo[d] + asz[d], hb = blo[d] + bsz[d];
		int64_t b = ha < hb ? ha : hb;

		if (b <= a)
			return 0;
		lo[d] = a;
		sz[d] = b - a;
	}
	return 1;
}
