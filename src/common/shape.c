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
