/* ops.c — view operations on shapes: the checks and shape arithmetic of
 * torch's view, permute, narrow, slice, select, split, chunk, cat and
 * casts, without data. */
#include <inttypes.h>
#include <string.h>

#include "vm_int.h"

static vm_node *node(td_arena *a, vm_node_kind kind, vm_node *in, td_err *err)
{
	vm_node *n = td_arena_alloc(a, sizeof *n);

	if (!n || (in && !(n->in = td_arena_alloc(a, sizeof *n->in)))) {
		td_errf(err, "out of memory");
		return NULL;
	}
	n->kind = kind;
	if (in) {
		n->in[0] = in;
		n->nin = 1;
		n->shape = in->shape;
	}
	return n;
}

/* Normalizes a possibly negative dimension; -1 if out of range. */
static int norm_dim(int64_t d, int ndim)
{
	if (d < 0)
		d += ndim;
	return d >= 0 && d < ndim ? (int)d : -1;
}

static vm_node *bad_dim(int64_t d, const vm_shape *s, td_err *err)
{
	td_errf(err, "dimension %" PRId64 " does not exist in a %d-d tensor", d,
		s->ndim);
	return NULL;
}

vm_node *view_entry(td_arena *a, const vm_shape *shape, td_err *err)
{
	vm_node *n = node(a, VN_ENTRY, NULL, err);

	if (n)
		n->shape = *shape;
	return n;
}

/* The product of the sizes in dims[0..n) other than dims[skip], into
 * *out; -1 when it exceeds TD_MAX_TENSOR_BYTES (no real tensor has that
 * many elements), so a product can never wrap around to a small one. */
static int known_product(const int64_t *dims, int n, int skip, uint64_t *out)
{
	uint64_t p = 1;
	int i;

	for (i = 0; i < n; i++) {
		if (i == skip)
			continue;
		if (dims[i] != 0 &&
		    p > TD_MAX_TENSOR_BYTES / (uint64_t)dims[i])
			return -1;
		p *= (uint64_t)dims[i];
	}
	*out = p;
	return 0;
}

static vm_node *cannot_view(const vm_shape *from, const int64_t *dims, int n,
			    td_err *err)
{
	char a[128], b[128];

	td_shape_str(from->dims, from->ndim, a, sizeof a);
	td_shape_str(dims, n, b, sizeof b);
	td_errf(err, "cannot view a %s tensor as %s", a, b);
	return NULL;
}

vm_node *view_reshape(td_arena *a, vm_node *in, const int64_t *dims, int n,
		      td_err *err)
{
	uint64_t have = td_shape_numel(in->shape.dims, in->shape.ndim), known;
	vm_node *out;
	int i, infer = -1;

	if (n > TD_MAX_DIMS)
		return td_errf(err, "view with more than %d dimensions",
			       TD_MAX_DIMS), NULL;
	for (i = 0; i < n; i++) {
		if (dims[i] == -1 && infer < 0)
			infer = i;
		else if (dims[i] < 0) {
			char from[128];

			td_shape_str(in->shape.dims, in->shape.ndim, from,
				     sizeof from);
			return td_errf(err, "view of %s: size %" PRId64
				       " is invalid", from, dims[i]), NULL;
		}
	}
	if (known_product(dims, n, infer, &known) != 0 ||
	    (infer >= 0 ? known == 0 || have % known != 0 : known != have))
		return cannot_view(&in->shape, dims, n, err);
	out = node(a, VN_RESHAPE, in, err);
	if (!out)
		return NULL;
	memcpy(out->shape.dims, dims, (size_t)n * sizeof *dims);
	out->shape.ndim = n;
	if (infer >= 0)
		out->shape.dims[infer] = (int64_t)(have / known);
	return out;
}

vm_node *view_permute(td_arena *a, vm_node *in, const int64_t *order, int n,
		      td_err *err)
{
	int seen[TD_MAX_DIMS] = {0}, i, d;
	vm_node *out;

	if (n != in->shape.ndim)
		return td_errf(err, "permute of a %d-d tensor needs %d dims, got "
			       "%d", in->shape.ndim, in->shape.ndim, n), NULL;
	out = node(a, VN_PERMUTE, in, err);
	for (i = 0; out && i < n; i++) {
		d = norm_dim(order[i], n);
		if (d < 0 || seen[d]++)
			return td_errf(err, "permute order is not a permutation of "
				       "the %d dims", n), NULL;
		out->a[i] = d;
		out->shape.dims[i] = in->shape.dims[d];
	}
	return out;
}

vm_node *view_narrow(td_arena *a, vm_node *in, int64_t dim, int64_t start,
		     int64_t len, td_err *err)
{
	int d = norm_dim(dim, in->shape.ndim);
	vm_node *out;

	if (d < 0)
		return bad_dim(dim, &in->shape, err);
	if (start < 0 || len < 0 || start > in->shape.dims[d] ||
	    len > in->shape.dims[d] - start)
		return td_errf(err, "%" PRId64 " elements from %" PRId64 " are "
			       "outside dimension %d of size %" PRId64, len, start,
			       d, in->shape.dims[d]), NULL;
	out = node(a, VN_NARROW, in, err);
	if (out) {
		out->a[0] = d;
		out->a[1] = start;
		out->a[2] = len;
		out->shape.dims[d] = len;
	}
	return out;
}

/* Python's slice.indices() for step 1. */
static int64_t clamp_index(const vm_value *v, int64_t size, int64_t dflt)
{
	int64_t i;

	if (v->none)
		return dflt;
	i = v->v < 0 ? v->v + size : v->v;
	return i < 0 ? 0 : i > size ? size : i;
}

vm_node *view_slice(td_arena *a, vm_node *in, int64_t dim, const vm_value *start,
		    const vm_value *end, td_err *err)
{
	int d = norm_dim(dim, in->shape.ndim);
	int64_t size, b, e;

	if (d < 0)
		return bad_dim(dim, &in->shape, err);
	size = in->shape.dims[d];
	b = clamp_index(start, size, 0);
	e = clamp_index(end, size, size);
	return view_narrow(a, in, d, b, e > b ? e - b : 0, err);
}

vm_node *view_select(td_arena *a, vm_node *in, int64_t dim, int64_t index,
		     td_err *err)
{
	int d = norm_dim(dim, in->shape.ndim);
	vm_node *out;

	if (d < 0)
		return bad_dim(dim, &in->shape, err);
	if (index < 0)
		index += in->shape.dims[d];
	if (index < 0 || index >= in->shape.dims[d])
		return td_errf(err, "index %" PRId64 " is outside dimension %d "
			       "of size %" PRId64, index, d, in->shape.dims[d]),
		       NULL;
	out = node(a, VN_SELECT, in, err);
	if (out) {
		out->a[0] = d;
		out->a[1] = index;
		out->shape.ndim--;
		memmove(out->shape.dims + d, out->shape.dims + d + 1,
			(size_t)(out->shape.ndim - d) * sizeof out->shape.dims[0]);
	}
	return out;
}

int view_split(td_arena *a, vm_node *in, int64_t dim, const int64_t *sizes, int n,
	       vm_node **out, td_err *err)
{
	int d = norm_dim(dim, in->shape.ndim), i, infer = -1;
	int64_t total = 0, start = 0, sz[64];

	if (d < 0)
		return bad_dim(dim, &in->shape, err) ? 0 : -1;
	for (i = 0; i < n; i++) {
		sz[i] = sizes[i];
		if (sizes[i] == -1 && infer < 0)
			infer = i;
		else if (sizes[i] < 0 || sizes[i] > in->shape.dims[d] - total)
			return td_errf(err, "split size %" PRId64 " does not fit "
				       "in dimension %d of size %" PRId64, sizes[i],
				       d, in->shape.dims[d]);
		else
			total += sizes[i];
	}
	if (infer >= 0)
		sz[infer] = in->shape.dims[d] - total;
	if ((infer >= 0 ? sz[infer] < 0 : total != in->shape.dims[d]))
		return td_errf(err, "split sizes add up to %" PRId64 " but "
			       "dimension %d has %" PRId64, total, d,
			       in->shape.dims[d]);
	for (i = 0; i < n; i++) {
		out[i] = view_narrow(a, in, d, start, sz[i], err);
		if (!out[i])
			return -1;
		start += sz[i];
	}
	return 0;
}

int view_chunk(td_arena *a, vm_node *in, int64_t dim, int n, vm_node **out,
	       td_err *err)
{
	int d = norm_dim(dim, in->shape.ndim), i;
	int64_t size, step;

	if (d < 0)
		return bad_dim(dim, &in->shape, err) ? 0 : -1;
	size = in->shape.dims[d];
	step = (size + n - 1) / n; /* torch.chunk: ceil(size / n) each */
	if (size == 0 || (size + step - 1) / step != n)
		return td_errf(err, "chunk(%d) of dimension %d (size %" PRId64
			       ") does not give %d pieces", n, d, size, n);
	for (i = 0; i < n; i++) {
		int64_t b = i * step, len = size - b < step ? size - b : step;

		out[i] = view_narrow(a, in, d, b, len, err);
		if (!out[i])
			return -1;
	}
	return 0;
}

vm_node *view_cat(td_arena *a, vm_node **in, int n, int64_t dim, td_err *err)
{
	vm_node *out = node(a, VN_CAT, NULL, err);
	int d = norm_dim(dim, in[0]->shape.ndim), i, k;

	if (!out)
		return NULL;
	if (d < 0)
		return bad_dim(dim, &in[0]->shape, err);
	out->in = td_arena_alloc(a, (size_t)n * sizeof *out->in);
	if (!out->in)
		return td_errf(err, "out of memory"), NULL;
	out->shape = in[0]->shape;
	out->shape.dims[d] = 0;
	out->a[0] = d;
	for (i = 0; i < n; i++) {
		const vm_shape *s = &in[i]->shape;

		for (k = 0; k < s->ndim && s->ndim == out->shape.ndim; k++)
			if (k != d && s->dims[k] != out->shape.dims[k])
				break;
		if (s->ndim != out->shape.ndim || s->dtype != out->shape.dtype ||
		    k < s->ndim)
			return td_errf(err, "cat: tensor %d does not match "
				       "the others outside dimension %d",
				       i, d), NULL;
		if ((uint64_t)s->dims[d] > TD_MAX_TENSOR_BYTES -
		    (uint64_t)out->shape.dims[d])
			return td_errf(err, "cat: dimension %d would be larger "
				       "than any tensor", d), NULL;
		out->shape.dims[d] += s->dims[d];
		out->in[i] = in[i];
	}
	out->nin = n;
	return out;
}

vm_node *view_cast(td_arena *a, vm_node *in, td_dtype to, td_err *err)
{
	vm_node *out = node(a, VN_CAST, in, err);

	if (out)
		out->shape.dtype = to;
	return out;
}
