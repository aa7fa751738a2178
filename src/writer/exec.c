/* exec.c — data movement for the view operations of src/vm/ops.c. */
#include "exec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cast.h"

#pragma GCC diagnostic error "-Wswitch-enum"

/* ---------------------------------------------------------------- pool */

/* The smallest spare of at least n bytes, taken out; {NULL, 0} if none. */
static exec_buf take_spare(exec_pool *p, uint64_t n)
{
	int i, best = -1;
	exec_buf b = {NULL, 0};

	for (i = 0; i < p->nspare; i++)
		if (p->spare[i].n >= n &&
		    (best < 0 || p->spare[i].n < p->spare[best].n))
			best = i;
	if (best >= 0) {
		b = p->spare[best];
		p->spare[best] = p->spare[--p->nspare];
	}
	return b;
}

static void drop_spares(exec_pool *p)
{
	while (p->nspare > 0)
		free(p->spare[--p->nspare].p);
}

unsigned char *exec_pool_alloc(exec_pool *p, uint64_t n, td_err *err)
{
	exec_buf b;

	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 16;
		exec_buf *nb = realloc(p->bufs, (size_t)cap * sizeof *nb);

		if (!nb)
			return td_errf(err, "out of memory"), NULL;
		p->bufs = nb;
		p->cap = cap;
	}
	b = take_spare(p, n);
	if (!b.p) { /* the spares are all too small: they go first */
		drop_spares(p);
		b.n = n ? n : 1;
		b.p = malloc((size_t)b.n);
		if (!b.p)
			return td_errf(err, "out of memory (%" PRIu64 " bytes)",
				       n), NULL;
	}
	p->bufs[p->n++] = b;
	p->bytes += b.n;
	if (p->bytes > p->peak)
		p->peak = p->bytes;
	return b.p;
}

/* Keeps b as a spare when that keeps the spares within the peak bytes in
 * use (they are reused before anything new is allocated); frees it, or
 * the smallest spare it replaces, otherwise. */
static void keep_spare(exec_pool *p, exec_buf b)
{
	uint64_t kept = 0;
	int i, small = 0;

	for (i = 0; i < p->nspare; i++) {
		kept += p->spare[i].n;
		if (p->spare[i].n < p->spare[small].n)
			small = i;
	}
	if (p->nspare == EX_SPARES && p->spare[small].n < b.n) {
		kept -= p->spare[small].n;
		free(p->spare[small].p);
		p->spare[small] = p->spare[--p->nspare];
	}
	if (p->nspare < EX_SPARES && kept + b.n <= p->peak)
		p->spare[p->nspare++] = b;
	else
		free(b.p);
}

void exec_pool_reset(exec_pool *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		keep_spare(p, p->bufs[i]);
	p->n = 0;
	p->bytes = 0;
	dcp_handles_mark(&p->files);
}

void exec_pool_free(exec_pool *p)
{
	exec_pool_reset(p);
	drop_spares(p);
	free(p->bufs);
	dcp_handles_free(&p->files);
	memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- views */

static void contiguous_strides(exec_view *v)
{
	td_shape_strides(v->dims, v->ndim, v->strides);
}

static int is_contiguous(const exec_view *v)
{
	return td_shape_contiguous(v->dims, v->strides, v->ndim);
}

static uint64_t view_numel(const exec_view *v)
{
	return td_shape_numel(v->dims, v->ndim);
}

typedef struct copy_ctx {
	unsigned char *dst;
	const unsigned char *src;
	int64_t dstep, sstep;   /* innermost strides */
	size_t isz;
} copy_ctx;

static void copy_run(void *ctx, int64_t d, int64_t s, int64_t n)
{
	copy_ctx *c = ctx;
	int64_t i;

	if (c->dstep == 1 && c->sstep == 1) {
		memcpy(c->dst + d * (int64_t)c->isz, c->src + s * (int64_t)c->isz,
		       (size_t)n * c->isz);
		return;
	}
	for (i = 0; i < n; i++)
		memcpy(c->dst + (d + i * c->dstep) * (int64_t)c->isz,
		       c->src + (s + i * c->sstep) * (int64_t)c->isz, c->isz);
}

/* dst[...] = src[...], same shape and dtype. */
static void copy_view(const exec_view *dst, const exec_view *src)
{
	copy_ctx c = {dst->base, src->base, 1, 1, td_dtype_size(src->dtype)};

	if (src->ndim) {
		c.dstep = dst->strides[dst->ndim - 1];
		c.sstep = src->strides[src->ndim - 1];
	}
	td_shape_walk(src->dims, src->ndim, dst->strides, src->strides,
		      copy_run, &c);
}

static int materialize(const exec_view *v, exec_pool *pool, exec_view *out,
		       td_err *err)
{
	*out = *v;
	contiguous_strides(out);
	out->base = exec_pool_alloc(pool, view_numel(v) * td_dtype_size(v->dtype), err);
	if (!out->base)
		return -1;
	copy_view(out, v);
	return 0;
}

int exec_contiguous(const exec_view *v, exec_pool *pool, const unsigned char **out,
		    td_err *err)
{
	exec_view c;

	if (is_contiguous(v)) {
		*out = v->base;
		return 0;
	}
	if (materialize(v, pool, &c, err) != 0)
		return -1;
	*out = c.base;
	return 0;
}

/* ---------------------------------------------------------------- nodes */

static int eval_cat(const vm_node *n, const exec_view *entry, exec_pool *pool,
		    exec_view *out, td_err *err)
{
	int d = (int)n->a[0], i;
	int64_t at = 0;

	out->dtype = n->shape.dtype;
	out->ndim = n->shape.ndim;
	memcpy(out->dims, n->shape.dims, sizeof out->dims);
	contiguous_strides(out);
	out->base = exec_pool_alloc(pool, view_numel(out) * td_dtype_size(out->dtype),
			       err);
	if (!out->base)
		return -1;
	for (i = 0; i < n->nin; i++) {
		exec_view part, slot = *out;

		if (exec_eval(n->in[i], entry, pool, &part, err) != 0)
			return -1;
		slot.dims[d] = part.dims[d];
		slot.base += at * slot.strides[d] * (int64_t)td_dtype_size(slot.dtype);
		copy_view(&slot, &part);
		at += part.dims[d];
	}
	return 0;
}

static int eval_reshape(const vm_node *n, const exec_view *in, exec_pool *pool,
			exec_view *out, td_err *err)
{
	if (!is_contiguous(in)) {
		if (materialize(in, pool, out, err) != 0)
			return -1;
	} else {
		*out = *in;
	}
	out->ndim = n->shape.ndim;
	memcpy(out->dims, n->shape.dims, sizeof out->dims);
	contiguous_strides(out);
	return 0;
}

static void apply_select(const vm_node *n, int *ndim, int64_t *dims,
			 int64_t *strides, int64_t *off)
{
	int d = (int)n->a[0], k;

	*off += n->a[1] * strides[d];
	(*ndim)--;
	for (k = d; k < *ndim; k++) {
		dims[k] = dims[k + 1];
		strides[k] = strides[k + 1];
	}
}

static void apply_permute(const vm_node *n, int ndim, int64_t *dims,
			  int64_t *strides)
{
	int64_t d0[TD_MAX_DIMS], s0[TD_MAX_DIMS];
	int k;

	memcpy(d0, dims, sizeof d0);
	memcpy(s0, strides, sizeof s0);
	for (k = 0; k < ndim; k++) {
		dims[k] = d0[n->a[k]];
		strides[k] = s0[n->a[k]];
	}
}

int exec_apply_view(const vm_node *n, int *ndim, int64_t *dims,
		    int64_t *strides, int64_t *off)
{
	switch (n->kind) {
	case VN_PERMUTE:
		apply_permute(n, *ndim, dims, strides);
		return 0;
	case VN_NARROW:
		*off += n->a[1] * strides[n->a[0]];
		dims[n->a[0]] = n->a[2];
		return 0;
	case VN_SELECT:
		apply_select(n, ndim, dims, strides, off);
		return 0;
	case VN_ENTRY: case VN_RESHAPE: case VN_CAT: case VN_CAST:
		break;
	}
	return -1;
}

static int eval_view(const vm_node *n, const exec_view *in, exec_view *out,
		     td_err *err)
{
	int64_t off = 0;

	*out = *in;
	if (exec_apply_view(n, &out->ndim, out->dims, out->strides, &off) != 0)
		return td_errf(err, "view kind %d is not a strided view", n->kind);
	out->base += off * (int64_t)td_dtype_size(in->dtype);
	return 0;
}

static int eval_cast(const vm_node *n, const exec_view *in, exec_pool *pool,
		     exec_view *out, td_err *err)
{
	exec_view src;
	const unsigned char *bytes;

	if (exec_contiguous(in, pool, &bytes, err) != 0)
		return -1;
	src = *in;
	*out = *in;
	out->dtype = n->shape.dtype;
	contiguous_strides(out);
	out->base = exec_pool_alloc(pool, view_numel(in) * td_dtype_size(out->dtype),
			       err);
	if (!out->base)
		return -1;
	return cast_elements(bytes, src.dtype, out->base, out->dtype,
			     view_numel(in), err);
}

int exec_eval(const vm_node *n, const exec_view *entry, exec_pool *pool,
	      exec_view *out, td_err *err)
{
	exec_view in;

	switch (n->kind) {
	case VN_ENTRY:
		*out = *entry;
		return 0;
	case VN_CAT:
		return eval_cat(n, entry, pool, out, err);
	case VN_RESHAPE: case VN_CAST: case VN_PERMUTE: case VN_NARROW:
	case VN_SELECT:
		break;
	}
	if (exec_eval(n->in[0], entry, pool, &in, err) != 0)
		return -1;
	switch (n->kind) {
	case VN_RESHAPE: return eval_reshape(n, &in, pool, out, err);
	case VN_CAST:    return eval_cast(n, &in, pool, out, err);
	case VN_PERMUTE: case VN_NARROW: case VN_SELECT:
		return eval_view(n, &in, out, err);
	case VN_ENTRY: case VN_CAT:
		break;
	}
	return td_errf(err, "view kind %d is unknown", n->kind); /* unreachable */
}
