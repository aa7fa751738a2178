/* tiling.c — whether a tensor key's chunks tile it: pairwise disjoint
 * and covering every element (each lies inside the tensor: dcp_load
 * checks that). */
#include "dcp.h"

#include <inttypes.h>
#include <stdlib.h>

/* A chunk's offsets and rank, for a lexicographic sort (qsort has no
 * context argument in C11: the rank travels with each element). */
typedef struct chunk_ref {
	int ndim;
	const int64_t *off;
} chunk_ref;

static int cmp_offsets(const void *x, const void *y)
{
	const chunk_ref *a = x, *b = y;
	int d;

	for (d = 0; d < a->ndim; d++)
		if (a->off[d] != b->off[d])
			return a->off[d] < b->off[d] ? -1 : 1;
	return 0;
}

/* Every chunk the same size and at a multiple of it: the chunks are cells
 * of one lattice, disjoint exactly when their offsets differ, which a
 * sort finds in n log n.  1 disjoint, 0 two at the same offsets, -1 not
 * a lattice (the caller then checks pairwise), -2 out of memory. */
static int lattice_disjoint(const dcp_key *k)
{
	const int64_t *s0 = k->chunks[0].sizes;
	chunk_ref *r;
	size_t i;
	int d, rc = 1;

	for (i = 0; i < k->nchunks; i++)
		for (d = 0; d < k->ndim; d++)
			if (k->chunks[i].sizes[d] != s0[d] || s0[d] <= 0 ||
			    k->chunks[i].offsets[d] % s0[d])
				return -1;
	r = malloc(k->nchunks * sizeof *r);
	if (!r)
		return -2;
	for (i = 0; i < k->nchunks; i++)
		r[i] = (chunk_ref){k->ndim, k->chunks[i].offsets};
	qsort(r, k->nchunks, sizeof *r, cmp_offsets);
	for (i = 1; rc && i < k->nchunks; i++)
		if (cmp_offsets(&r[i - 1], &r[i]) == 0)
			rc = 0;
	free(r);
	return rc;
}

/* The first pair of overlapping non-empty chunks, pairwise. */
static int pairwise_disjoint(const dcp_key *k, size_t *first, size_t *second)
{
	size_t i, j;
	int d;

	for (i = 0; i < k->nchunks; i++)
		for (j = 0; j < i; j++) {
			const dcp_chunk *a = &k->chunks[i], *c = &k->chunks[j];

			for (d = 0; d < k->ndim; d++)
				if (a->offsets[d] >= c->offsets[d] + c->sizes[d] ||
				    c->offsets[d] >= a->offsets[d] + a->sizes[d])
					break;
			if (d == k->ndim && a->nbytes && c->nbytes) {
				*first = j;
				*second = i;
				return 0;
			}
		}
	return 1;
}

int dcp_check_tiling(const dcp_catalog *cat, size_t key, td_err *err)
{
	const dcp_key *k = key < cat->nkeys ? &cat->keys[key] : NULL;
	uint64_t sum = 0, total;
	size_t i, a = 0, b = 0;
	int fast;

	if (!k || k->kind != DCP_TENSOR)
		return td_errf(err, "%s: no tensor key %zu", cat->dir, key);
	total = k->nbytes / td_dtype_size(k->dtype);
	fast = k->nchunks > 1 && k->ndim > 0 && total > 0 ? lattice_disjoint(k)
							  : -1;
	if (fast == -2)
		return td_errf(err, "%s: key '%s': out of memory", cat->dir,
			       k->name);
	for (i = 0; i < k->nchunks; i++)
		sum += k->chunks[i].nbytes / td_dtype_size(k->dtype);
	/* pairwise only when the lattice test cannot decide, or to name the
	 * overlapping pair it found */
	if (fast != 1 && !pairwise_disjoint(k, &a, &b))
		return td_errf(err, "%s: key '%s': chunks %zu and %zu overlap",
			       cat->dir, k->name, a, b);
	if (sum != total)
		return td_errf(err, "%s: key '%s': its chunks cover %" PRIu64
			       " of %" PRIu64 " elements", cat->dir, k->name, sum,
			       total);
	return 0;
}
