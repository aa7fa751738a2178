/* direct.c — outputs whose bytes pass unchanged: when an output is one
 * contiguous byte range of its entry (a rename, a row slice, a chunk of
 * rows) and the chunks holding that range store it contiguously too, the
 * bytes go from the .distcp files to the shard with copy_file_range,
 * without passing through user memory. */
#define _GNU_SOURCE
#include "direct.h"
#include "exec.h"
#include "verify.h"
#include "../common/phase.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- views */

typedef struct sview {
	int ndim;
	int64_t dims[TD_MAX_DIMS], strides[TD_MAX_DIMS], off;
} sview;

static int contiguous(const sview *v)
{
	return td_shape_contiguous(v->dims, v->strides, v->ndim);
}

static void set_contiguous(sview *v, const vm_shape *sh)
{
	v->ndim = sh->ndim;
	memcpy(v->dims, sh->dims, sizeof v->dims);
	td_shape_strides(v->dims, v->ndim, v->strides);
}

/* The element view a node makes of its entry, without data; 0 when it
 * needs a copy (cat, cast, reshape of a strided view). */
static int node_view(const vm_node *n, sview *v)
{
	sview in;

	if (n->kind == VN_ENTRY) {
		set_contiguous(v, &n->shape);
		v->off = 0;
		return 1;
	}
	if (n->kind == VN_CAT || n->kind == VN_CAST || !node_view(n->in[0], &in))
		return 0;
	if (n->kind == VN_RESHAPE) {
		if (!contiguous(&in))
			return 0;
		*v = in;
		set_contiguous(v, &n->shape);
		return 1;
	}
	*v = in;
	return exec_apply_view(n, &v->ndim, v->dims, v->strides, &v->off) == 0;
}

int direct_node_range(const vm_node *n, uint64_t *byte_off)
{
	sview v;

	if (!node_view(n, &v) || !contiguous(&v))
		return 0;
	*byte_off = (uint64_t)v.off * td_dtype_size(n->shape.dtype);
	return 1;
}

/* ---------------------------------------------------------------- chunks */

/* Whether the sub-box (lo, size) of an array of shape full is one
 * contiguous run in row-major order; its first element's linear index. */
static int box_run(const int64_t *lo, const int64_t *size, const int64_t *full,
		   int n, int64_t *first)
{
	int d, k = 0;
	int64_t idx = 0;

	while (k < n - 1 && size[k] == 1)
		k++;
	for (d = k + 1; d < n; d++)
		if (size[d] != full[d])
			return 0;
	for (d = 0; d < n; d++)
		idx = idx * full[d] + lo[d];
	*first = idx;
	return 1;
}

static int by_entry_off(const void *a, const void *b)
{
	const direct_seg *x = a, *y = b;

	return x->entry_off < y->entry_off ? -1 : x->entry_off > y->entry_off;
}

/* The segment for chunk ci's part of the entry box; 0 if not contiguous. */
static int chunk_segment(dcp_catalog *cat, dcp_key *k, size_t ci,
			 const int64_t *elo, const int64_t *esz,
			 dcp_handles *hs, int verify, direct_seg *s, td_err *err)
{
	const dcp_chunk *c = &k->chunks[ci];
	int64_t lo[TD_MAX_DIMS], sz[TD_MAX_DIMS], rel[TD_MAX_DIMS];
	int64_t in_entry, in_chunk, numel = 1;
	size_t isz = td_dtype_size(k->dtype);
	torchsave_tensor t;
	int d;

	if (!td_box_intersect(c->offsets, c->sizes, elo, esz, k->ndim, lo, sz))
		return 2; /* no overlap: nothing to add */
	for (d = 0; d < k->ndim; d++) {
		rel[d] = lo[d] - c->offsets[d];
		lo[d] -= elo[d];
		numel *= sz[d];
	}
	if (!box_run(lo, sz, esz, k->ndim, &in_entry) ||
	    !box_run(rel, sz, c->sizes, k->ndim, &in_chunk))
		return 0;
	s->f = exec_locate(cat, k, ci, hs, 0, &t, err);
	if (!s->f)
		return -1;
	s->key = verify && !c->verified ? k : NULL; /* checked in direct_copy */
	s->chunk = ci;
	s->file = c->file;
	s->t = t;
	s->entry_off = (uint64_t)in_entry * isz;
	s->file_off = t.data_off + (uint64_t)in_chunk * isz;
	s->len = (uint64_t)numel * isz;
	return 1;
}

int direct_segments(dcp_catalog *cat, const vm_entry *e, dcp_handles *hs,
		    int verify, direct_seg **out, size_t *nout, td_err *err)
{
	dcp_key *k = &cat->keys[e->key];
	int64_t elo[TD_MAX_DIMS], esz[TD_MAX_DIMS];
	size_t j, n = 0, from = 0, to = k->nchunks;
	direct_seg *segs;
	int d, rc = 1;

	if (e->nfixed > 0) /* one layer or expert: only its chunks */
		dcp_chunks_along0(k, e->fixed[0], &from, &to);
	segs = calloc(to > from ? to - from : 1, sizeof *segs);
	if (!segs)
		return td_errf(err, "out of memory");
	for (d = 0; d < k->ndim; d++) {
		elo[d] = d < e->nfixed ? e->fixed[d] : 0;
		esz[d] = d < e->nfixed ? 1 : k->shape[d];
	}
	for (j = from; rc > 0 && j < to; j++) {
		rc = chunk_segment(cat, k, dcp_chunk_at(k, j), elo, esz, hs,
				   verify, &segs[n], err);
		n += rc == 1;
	}
	if (rc <= 0) {
		free(segs);
		return rc;
	}
	qsort(segs, n, sizeof *segs, by_entry_off);
	*out = segs;
	*nout = n;
	return 1;
}

/* ---------------------------------------------------------------- copy */

int direct_copy(const direct_seg *segs, size_t n, uint64_t off, uint64_t len,
		int out_fd, uint64_t out_off, td_err *err)
{
	size_t i;

	for (i = 0; i < n && len > 0; i++) {
		const direct_seg *s = &segs[i];
		uint64_t a, b;
		verify_copy cp;
		int rc;

		if (s->entry_off + s->len <= off || s->entry_off >= off + len)
			continue;
		a = off > s->entry_off ? off : s->entry_off;
		b = off + len < s->entry_off + s->len ? off + len
						      : s->entry_off + s->len;
		cp = (verify_copy){s->file_off + (a - s->entry_off), b - a, out_fd,
			       out_off + (a - off)};
		if (s->key && !s->key->chunks[s->chunk].verified) {
			rc = verify_chunk(s->key, s->chunk, &s->t, s->f, &cp, err);
			if (rc != 0)
				return rc == VF_WRITE_FAILED ? DR_COPY_FAILED
							     : DR_BAD_SOURCE;
		} else {
			struct timespec t0 = td_phase_start();

			rc = td_copy_range(s->f->fd, cp.from, out_fd, cp.out_off,
					   cp.len, err);
			if (rc == 0)
				td_write_behind(out_fd, cp.out_off, cp.len);
			td_phase_end(TD_PH_COPY, &t0);
			if (rc != 0)
				return td_err_prefix(err, "%s", s->f->path),
				       DR_COPY_FAILED;
		}
	}
	return 0;
}

int direct_read(const direct_seg *segs, size_t n, uint64_t off, uint64_t len,
		unsigned char *buf, td_err *err)
{
	size_t i;

	for (i = 0; i < n && len > 0; i++) {
		const direct_seg *s = &segs[i];
		uint64_t a, b;
		struct timespec t0;
		int rc;

		if (s->entry_off + s->len <= off || s->entry_off >= off + len)
			continue;
		if (s->key && !s->key->chunks[s->chunk].verified &&
		    verify_chunk(s->key, s->chunk, &s->t, s->f, NULL, err) != 0)
			return DR_BAD_SOURCE;
		a = off > s->entry_off ? off : s->entry_off;
		b = off + len < s->entry_off + s->len ? off + len
						      : s->entry_off + s->len;
		t0 = td_phase_start();
		rc = td_file_pread(s->f, s->file_off + (a - s->entry_off),
				   buf + (a - off), (size_t)(b - a), err);
		td_phase_end(TD_PH_READ, &t0);
		if (rc != 0)
			return DR_BAD_SOURCE;
	}
	return 0;
}
