/* gather.c — an entry's bytes, assembled from the chunks that hold them.
 * Each chunk's part is read with one pread of the span it occupies in the
 * chunk, then scattered row by row into the entry's buffer. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/phase.h"
#include "exec.h"
#include "verify.h"

typedef struct box {
	int n;
	int64_t lo[TD_MAX_DIMS], size[TD_MAX_DIMS];
} box;

/* chunk ∩ entry box; 0 if empty. */
static int intersect(const dcp_chunk *c, const box *e, box *out)
{
	out->n = e->n;
	return td_box_intersect(c->offsets, c->sizes, e->lo, e->size, e->n,
				out->lo, out->size);
}

typedef struct scatter {
	unsigned char *dst;
	const unsigned char *span;
	size_t isz;
} scatter;

static void scatter_run(void *ctx, int64_t d, int64_t s, int64_t n)
{
	scatter *sc = ctx;

	memcpy(sc->dst + d * (int64_t)sc->isz, sc->span + s * (int64_t)sc->isz,
	       (size_t)n * sc->isz);
}

/* The chunk's tensor data and its file (one of hs's descriptors). */
const td_file *exec_locate(dcp_catalog *cat, dcp_key *k,
			   size_t ci, dcp_handles *hs, int verify, torchsave_tensor *t,
			   td_err *err)
{
	const td_file *f = NULL;

	if (dcp_read_chunk_shared(cat, k, ci, hs, t, err) == 0)
		f = dcp_handles_get(hs, cat, k->chunks[ci].file, err);
	if (f && verify && verify_chunk(k, ci, t, f, NULL, err) != 0)
		return NULL;
	return f;
}

static int copy_chunk(dcp_catalog *cat, dcp_key *k, size_t ci,
		      const box *e, const box *x, unsigned char *dst,
		      dcp_handles *hs, int verify, td_err *err)
{
	const dcp_chunk *c = &k->chunks[ci];
	int64_t cst[TD_MAX_DIMS], est[TD_MAX_DIMS], first = 0, last = 0;
	int64_t dst0 = 0;
	size_t isz = td_dtype_size(k->dtype);
	unsigned char *span;
	const td_file *f;
	torchsave_tensor t;
	scatter sc;
	struct timespec t0;
	int d, rc, whole;

	f = exec_locate(cat, k, ci, hs, 0, &t, err);
	if (!f)
		return -1;
	td_shape_strides(c->sizes, k->ndim, cst);
	td_shape_strides(e->size, k->ndim, est);
	for (d = 0; d < k->ndim; d++) {
		first += (x->lo[d] - c->offsets[d]) * cst[d];
		last += (x->lo[d] + x->size[d] - 1 - c->offsets[d]) * cst[d];
		dst0 += (x->lo[d] - e->lo[d]) * est[d];
	}
	/* The span is usually the whole stored member: check its CRC on the
	 * bytes just read rather than reading them twice. */
	whole = t.data_off + (uint64_t)first * isz == t.storage_off &&
		(uint64_t)(last - first + 1) * isz == t.storage_nbytes;
	if (verify && !whole && verify_chunk(k, ci, &t, f, NULL, err) != 0)
		return -1;
	span = malloc((size_t)(last - first + 1) * isz);
	if (!span)
		return td_errf(err, "out of memory");
	t0 = td_phase_start();
	rc = td_file_pread(f, t.data_off + (uint64_t)first * isz, span,
			   (size_t)(last - first + 1) * isz, err);
	td_phase_end(TD_PH_READ, &t0);
	if (rc == 0 && verify && whole)
		rc = verify_bytes(k, ci, &t, f, span, err);
	if (rc == 0) {
		sc.dst = dst + dst0 * (int64_t)isz;
		sc.span = span;
		sc.isz = isz;
		t0 = td_phase_start();
		td_shape_walk(x->size, x->n, est, cst, scatter_run, &sc);
		td_phase_end(TD_PH_COMPUTE, &t0);
	}
	free(span);
	return rc;
}

int exec_load_entry(dcp_catalog *cat, const vm_entry *e, exec_pool *pool,
		    int verify, exec_view *out, td_err *err)
{
	dcp_key *k = &cat->keys[e->key];
	uint64_t n = td_dtype_size(k->dtype);
	box eb, x;
	size_t j, from = 0, to = k->nchunks;
	int d;

	eb.n = k->ndim;
	for (d = 0; d < k->ndim; d++) {
		eb.lo[d] = d < e->nfixed ? e->fixed[d] : 0;
		eb.size[d] = d < e->nfixed ? 1 : k->shape[d];
		n *= (uint64_t)eb.size[d];
	}
	out->dtype = e->shape.dtype;
	out->ndim = e->shape.ndim;
	memcpy(out->dims, e->shape.dims, sizeof out->dims);
	td_shape_strides(out->dims, out->ndim, out->strides);
	out->base = exec_pool_alloc(pool, n, err);
	if (!out->base)
		return -1;
	if (e->nfixed > 0) /* one layer or expert: only its chunks */
		dcp_chunks_along0(k, e->fixed[0], &from, &to);
	for (j = from; j < to; j++) {
		size_t i = dcp_chunk_at(k, j);

		if (intersect(&k->chunks[i], &eb, &x) &&
		    copy_chunk(cat, k, i, &eb, &x, out->base, &pool->files,
			       verify, err) != 0)
			return -1;
	}
	return 0;
}
