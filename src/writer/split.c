/* split.c — a large output's bytes as pieces for several threads. */
#define _GNU_SOURCE
#include "split.h"
#include "verify.h"
#include "../common/crc32.h"
#include "../common/grow.h"
#include "../common/phase.h"

#include <stdatomic.h>
#include <stdlib.h>

/* A piece: [from, from + len) of a file read; the part [wfrom, wfrom +
 * wlen) of it written at out_off. */
typedef struct split_piece {
	uint32_t file;          /* catalog index */
	int32_t item;           /* its item in the job; -1: nothing to check */
	uint64_t from, len;
	uint64_t wfrom, wlen, out_off;
	uint32_t crc;           /* of [from, from + len), once read */
} split_piece;

/* A stored item checked from its pieces' CRCs: pieces [first, first + n). */
typedef struct split_item {
	dcp_key *key;           /* its chunk is marked verified */
	size_t chunk;
	torchsave_tensor t;
	size_t first, n;
	_Atomic size_t left;    /* its pieces not yet read */
} split_item;

struct split_job {
	int fd;
	split_piece *p;
	size_t np, pcap;
	split_item *it;
	size_t nit, itcap;
	_Atomic size_t left;    /* pieces not yet done */
};

size_t split_npieces(const split_job *job)
{
	return job->np;
}

void split_free(split_job *job)
{
	if (!job)
		return;
	free(job->p);
	free(job->it);
	free(job);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Appends pieces of about `piece` bytes covering file range [from, end),
 * each writing its part of [wfrom, wfrom + wlen) (at out_off). */
static int add_pieces(split_job *j, uint32_t file, int32_t item, uint64_t from,
		      uint64_t end, uint64_t wfrom, uint64_t wlen,
		      uint64_t out_off, uint64_t piece, td_err *err)
{
	uint64_t k, q, x;

	if (end <= from)
		return 0;
	k = (end - from + piece - 1) / piece;
	q = (end - from + k - 1) / k; /* k pieces of equal size */

	if (q >= ((uint64_t)1 << 20)) /* page multiples, but the tests' */
		q = (q + 4095) & ~(uint64_t)4095; /* small pieces cut anywhere */
	for (x = from; x < end; x += q) {
		split_piece *p;
		uint64_t a, b;

		p = td_grow(j->p, j->np, &j->pcap, sizeof *j->p, 16);
		if (!p)
			return td_errf(err, "out of memory");
		j->p = p;
		p = &j->p[j->np++];
		a = x > wfrom ? x : wfrom;
		b = min64(min64(x + q, end), wfrom + wlen);
		*p = (split_piece){.file = file, .item = item, .from = x,
			     .len = min64(q, end - x), .wfrom = a,
			     .wlen = b > a ? b - a : 0,
			     .out_off = out_off + (b > a ? a - wfrom : 0)};
	}
	return 0;
}

/* The pieces of segment s's part [a, b) of the entry. */
static int cut_segment(split_job *j, const direct_seg *s, uint64_t a, uint64_t b,
		       uint64_t out_off, uint64_t piece, td_err *err)
{
	uint64_t wfrom = s->file_off + (a - s->entry_off);
	split_item *it;

	if (!s->key || s->key->chunks[s->chunk].verified)
		return add_pieces(j, s->file, -1, wfrom, wfrom + (b - a), wfrom,
				  b - a, out_off, piece, err);
	it = td_grow(j->it, j->nit, &j->itcap, sizeof *j->it, 4);
	if (!it)
		return td_errf(err, "out of memory");
	j->it = it;
	it = &j->it[j->nit];
	it->key = s->key;
	it->chunk = s->chunk;
	it->t = s->t;
	it->first = j->np;
	if (add_pieces(j, s->file, (int32_t)j->nit, s->t.storage_off,
		       s->t.storage_off + s->t.storage_nbytes, wfrom, b - a,
		       out_off, piece, err) != 0)
		return -1;
	it->n = j->np - it->first;
	atomic_init(&it->left, it->n);
	j->nit++;
	return 0;
}

int split_cut(const direct_seg *segs, size_t n, uint64_t off, uint64_t len, int fd,
	      uint64_t out_off, uint64_t piece, split_job **job, td_err *err)
{
	split_job *j = calloc(1, sizeof *j);
	size_t i;

	if (!j)
		return td_errf(err, "out of memory");
	j->fd = fd;
	for (i = 0; i < n; i++) {
		const direct_seg *s = &segs[i];
		uint64_t a = off > s->entry_off ? off : s->entry_off;
		uint64_t b = min64(off + len, s->entry_off + s->len);

		if (b > a && cut_segment(j, s, a, b, out_off + (a - off),
					 piece, err) != 0) {
			split_free(j);
			return -1;
		}
	}
	if (j->np < 2) {
		split_free(j);
		return 0;
	}
	atomic_init(&j->left, j->np);
	*job = j;
	return 1;
}

/* The item's CRC-32, combined from its pieces' in order, checked. */
static int check_item(const split_item *it, const split_piece *p, const td_file *f,
		      td_err *err)
{
	uint32_t crc = 0;
	size_t i;

	for (i = 0; i < it->n; i++)
		crc = td_crc32_combine(crc, p[i].crc, p[i].len);
	return verify_check(it->key, it->chunk, &it->t, f, crc, err);
}

/* A piece with nothing to check: file to file in the kernel. */
static int copy_unchecked(const split_job *j, const split_piece *p, const td_file *f,
			  td_err *err)
{
	struct timespec t0 = td_phase_start();
	int rc = td_copy_range(f->fd, p->wfrom, j->fd, p->out_off, p->wlen,
			       err);

	if (rc == 0)
		td_write_behind(j->fd, p->out_off, p->wlen);
	td_phase_end(TD_PH_COPY, &t0);
	return rc != 0 ? (td_err_prefix(err, "%s", f->path), DR_COPY_FAILED)
		       : 0;
}

int split_copy(split_job *j, size_t i, const dcp_catalog *cat, dcp_handles *hs,
	       td_err *err)
{
	split_piece *p = &j->p[i];
	const td_file *f = dcp_handles_get(hs, cat, p->file, err);
	verify_copy cp = {p->wfrom, p->wlen, j->fd, p->out_off};
	int rc;

	if (!f)
		return DR_BAD_SOURCE;
	if (p->item < 0) {
		rc = copy_unchecked(j, p, f, err);
	} else {
		split_item *it = &j->it[p->item];

		p->crc = 0;
		rc = verify_range(f, p->from, p->len, &p->crc, &cp, err);
		if (rc == VF_WRITE_FAILED)
			return DR_COPY_FAILED;
		if (rc != 0)
			return DR_BAD_SOURCE;
		/* the last piece of the item read sees every piece's CRC */
		if (atomic_fetch_sub(&it->left, 1) == 1 &&
		    check_item(it, &j->p[it->first], f, err) != 0)
			return DR_BAD_SOURCE;
	}
	if (rc != 0)
		return rc;
	return atomic_fetch_sub(&j->left, 1) == 1;
}
