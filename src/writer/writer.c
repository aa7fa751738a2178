/* writer.c — the only module that creates files.  Output appears under
 * its final name only once every byte is written and synced. */
#include "writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/file.h"
#include "direct.h"
#include "fp8.h"
#include "exec.h"
#include "outdir.h"
#include "split.h"

#define WR_MAX_JOBS 256

/* Outputs copied unchanged are cut into pieces of about this size that
 * every writer thread takes (split.h); TD2HF_TEST_PIECE_BYTES sets it. */
#define WR_PIECE ((uint64_t)16 << 20)

/* Set by the signal handler, read by the write loop: the one piece of
 * mutable state this module keeps outside a call. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Test seam: with TD2HF_TEST_PAUSE=<point> in the environment, the
 * process stops itself (SIGSTOP) on reaching that point, so that tests
 * can signal or kill it exactly there.  Points: staged, written,
 * moved-aside, and shard-done (a part's shard renamed into place). */
static void pause_at(const char *point)
{
	const char *p = getenv("TD2HF_TEST_PAUSE");

	if (p && strcmp(p, point) == 0)
		raise(SIGSTOP);
}

typedef struct wctx {
	td_checkpoint *ck;
	const plan *pl;
	const writer_options *o;
	char tmp[PATH_MAX];       /* the directory written into */
	const writer_part *part;      /* NULL: every shard, into a new directory */
	_Atomic uint32_t *pending; /* part: per shard, tensors left to write */
	int *fds;                 /* per shard; -1: not written by this run */
	writer_stats *st;
	struct timespec last;
	td_err cleanup;           /* a failed cleanup; the first error wins */
	uint64_t total;           /* bytes this run writes (for progress) */
	int replace_extras;       /* index and assets may exist (a finish
				   * run again): replace them */
	td_err *err;
} wctx;

/* ---------------------------------------------------------------- files */

/* "out/file": how messages name a file being written, whatever the
 * temporary directory it is in. */
static const char *shown(const wctx *w, const char *file, char *buf,
			 size_t size)
{
	snprintf(buf, size, "%s/%s", w->o->out_dir, file);
	return buf;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		      const char *what, td_err *err)
{
	if (td_pwrite_all(fd, buf, n, off, err) != 0)
		return td_err_prefix(err, "%s", what);
	return 0;
}

/* Whether this run writes shard s (a part writes its own shards, less
 * those a previous run of it completed). */
static int writes_shard(const wctx *w, uint32_t s)
{
	return !w->part || (w->part->mine[s] && !w->part->done[s]);
}

/* Where shard s is written: its own name in a new directory; in a
 * part's staging directory, a temporary name renamed when complete. */
static int shard_path(const wctx *w, uint32_t s, int final, char *buf,
		      size_t size, td_err *err)
{
	const char *file = w->pl->shards[s].file;
	int n = w->part && !final
		? snprintf(buf, size, "%s/.%s.%s", w->tmp, file, w->part->suffix)
		: snprintf(buf, size, "%s/%s", w->tmp, file);

	return n < 0 || (size_t)n >= size ? td_errf(err, "%s: path too long",
						    w->o->out_dir) : 0;
}

static int open_shard(wctx *w, uint32_t s)
{
	const plan_shard *sh = &w->pl->shards[s];
	char path[PATH_MAX], name[PATH_MAX];

	shown(w, sh->file, name, sizeof name);
	if (shard_path(w, s, 0, path, sizeof path, w->err) != 0)
		return -1;
	w->fds[s] = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fds[s] < 0)
		return td_errf(w->err, "%s: %s", name, strerror(errno));
	if (pwrite_all(w->fds[s], sh->header, sh->header_len, 0, name,
		       w->err) != 0)
		return -1;
	if (td_preallocate(w->fds[s], sh->size, w->err) != 0)
		return td_err_prefix(w->err, "%s", name);
	return 0;
}

static int open_shards(wctx *w)
{
	uint32_t s;

	w->fds = malloc((w->pl->nshards ? w->pl->nshards : 1) * sizeof *w->fds);
	if (!w->fds)
		return td_errf(w->err, "out of memory");
	for (s = 0; s < w->pl->nshards; s++)
		w->fds[s] = -1;
	for (s = 0; s < w->pl->nshards; s++)
		if (writes_shard(w, s) && open_shard(w, s) != 0)
			return -1;
	return 0;
}

static int close_shards(wctx *w, int sync)
{
	char path[PATH_MAX];
	struct timespec t0;
	uint32_t s;
	int rc = 0;

	for (s = 0; w->fds && s < w->pl->nshards; s++) {
		if (w->fds[s] < 0)
			continue;
		t0 = td_phase_start();
		if (sync && rc == 0 && fdatasync(w->fds[s]) != 0)
			rc = td_errf(w->err, "%s/%s: %s", w->o->out_dir,
				     w->pl->shards[s].file, strerror(errno));
		td_phase_end(TD_PH_SYNC, &t0);
		if (close(w->fds[s]) != 0 && rc == 0 && sync)
			rc = td_errf(w->err, "%s/%s: %s", w->o->out_dir,
				     w->pl->shards[s].file, strerror(errno));
		/* A part's unfinished shard is not left for a resume. */
		if (w->part &&
		    shard_path(w, s, 0, path, sizeof path, &w->cleanup) == 0)
			unlink(path);
	}
	free(w->fds);
	w->fds = NULL;
	return rc;
}

/* A part's shard s is complete: synced, closed, renamed to its name. */
static int finish_shard(wctx *w, uint32_t s, td_err *err)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd = w->fds[s], ok;
	struct timespec t0;

	if (shard_path(w, s, 0, tmp, sizeof tmp, err) != 0 ||
	    shard_path(w, s, 1, final, sizeof final, err) != 0)
		return -1;
	w->fds[s] = -1;
	t0 = td_phase_start();
	ok = fdatasync(fd) == 0;
	td_phase_end(TD_PH_SYNC, &t0);
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, final) != 0) {
		td_errf(err, "%s/%s: %s", w->o->out_dir, w->pl->shards[s].file,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	pause_at("shard-done");
	return 0;
}

/* One more tensor of shard s written; the last one finishes it. */
static int tensor_written(wctx *w, uint32_t s, td_err *err)
{
	if (!w->part || atomic_fetch_sub(&w->pending[s], 1) != 1)
		return 0;
	return finish_shard(w, s, err);
}

/* ---------------------------------------------------------------- progress */

static void progress(wctx *w, const struct timespec *start, int final)
{
	double el, rate, mib;

	if (!w->o->progress || (!final && td_seconds_since(&w->last) < 0.5))
		return;
	clock_gettime(CLOCK_MONOTONIC, &w->last);
	el = td_seconds_since(start);
	mib = (double)w->st->bytes / (1 << 20);
	rate = el > 0 ? mib / el : 0;
	fprintf(stderr, "\r%.0f / %.0f MiB  %.0f MiB/s  ETA %.0fs   %s", mib,
		(double)w->total / (1 << 20), rate,
		rate > 0 ? ((double)w->total / (1 << 20) - mib) / rate : 0,
		final ? "\n" : "");
}

/* ---------------------------------------------------------------- data */

/* An output cut into pieces (split.h), taken one at a time by any
 * thread; the thread that finishes the last one finishes the tensor. */
typedef struct split {
	split_job *job;
	uint32_t shard;           /* the tensor's */
	uint32_t at;              /* its entry's position in the work order */
	size_t next;              /* next piece to take */
	struct split *queue;      /* next split with pieces left to take */
	struct split *all;        /* every split, freed at the end */
} split;

/* Work shared by the writer threads; everything below `mu` is guarded
 * (the catalog's chunk lookups are lock-free: dcp_read_chunk_shared). */
typedef struct shared {
	wctx *w;
	uint64_t piece;           /* piece size; 0: no output is cut */
	pthread_mutex_t mu;       /* the fields below */
	pthread_cond_t more;      /* pieces to take, or no thread busy */
	split *head, *tail;       /* splits with pieces left, oldest first */
	split *all;
	int busy;                 /* threads writing entries */
	uint32_t next;            /* next position in order to take */
	uint32_t batch;           /* entries taken per lock round trip */
	uint32_t *order;          /* entries by the file and offset of their
				   * first chunk: few files open at a time,
				   * sequential reads within each */
	int rc;
	td_err err;               /* the error first in the work order */
	uint32_t err_at;          /* its position there */
	struct timespec start;
} shared;

/* The entry's segments for file-to-file copies, computed once per entry
 * (*state: 0 not yet, 1 available, -1 unavailable): 1, 0 or -1. */
static int entry_segments(wctx *w, const plan_entry *pe, dcp_handles *hs,
			  direct_seg **segs, size_t *nsegs, int *state, td_err *err)
{
	if (*state == 0) {
		int rc = direct_segments(&w->ck->cat, &pe->e, hs, w->o->verify,
					 segs, nsegs, err);

		if (rc < 0)
			return -1;
		*state = rc ? 1 : -1;
	}
	return *state > 0;
}

/* direct_copy's or split_copy's result as 0 or -1, the output's shard named
 * when writing failed (a bad source's message names the chunk's file). */
static int copy_result(const wctx *w, uint32_t shard, int rc, td_err *err)
{
	if (rc == DR_COPY_FAILED)
		td_err_prefix(err, "%s/%s", w->o->out_dir,
			      w->pl->shards[shard].file);
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- pieces */

/* Takes the next piece of split `only` (of the oldest split with pieces
 * left when NULL): 1 and *sp, *i; 0 when there is none to take.  Called
 * with sh->mu held. */
static int take_piece(shared *sh, split *only, split **sp, size_t *i)
{
	split *s = only;

	while (sh->head && sh->head->next >= split_npieces(sh->head->job))
		sh->head = sh->head->queue; /* all taken: out of the queue */
	if (!sh->head)
		sh->tail = NULL;
	if (!s)
		s = sh->head;
	/* after an error, only pieces of entries before it in the work order
	 * (whose errors would be reported instead) are still worth copying */
	if (!s || (sh->rc && s->at >= sh->err_at) || interrupted ||
	    s->next >= split_npieces(s->job))
		return 0;
	*sp = s;
	*i = s->next++;
	return 1;
}

/* Copies piece i of s, without the lock; the last one to finish finishes
 * the tensor.  0 or -1. */
static int copy_piece(shared *sh, split *s, size_t i, exec_pool *pool,
		      td_err *err)
{
	int rc = split_copy(s->job, i, &sh->w->ck->cat, &pool->files, err);

	if (rc < 0)
		return copy_result(sh->w, s->shard, rc, err);
	return rc == 1 ? tensor_written(sh->w, s->shard, err) : 0;
}

/* Copies pieces of `only` while some are left to take.  0 or -1. */
static int copy_pieces(shared *sh, split *only, exec_pool *pool, td_err *err)
{
	split *s;
	size_t i;
	int rc = 0, got = 1;

	while (rc == 0 && got) {
		pthread_mutex_lock(&sh->mu);
		got = take_piece(sh, only, &s, &i);
		pthread_mutex_unlock(&sh->mu);
		if (got)
			rc = copy_piece(sh, s, i, pool, err);
	}
	return rc;
}

/* Output t (entry bytes from off) cut into pieces that every thread may
 * take, this one first: 1 when cut (and its pieces all taken), 0 when it
 * is too small to cut, -1 on error. */
static int write_split(shared *sh, uint32_t at, const plan_tensor *t,
		       const direct_seg *segs, size_t nsegs, uint64_t off,
		       exec_pool *pool, td_err *err)
{
	split *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return td_errf(err, "out of memory");
	rc = split_cut(segs, nsegs, off, t->out.nbytes, sh->w->fds[t->shard],
		       t->offset, sh->piece, &s->job, err);
	if (rc <= 0) {
		free(s);
		return rc;
	}
	s->shard = t->shard;
	s->at = at;
	pthread_mutex_lock(&sh->mu);
	s->all = sh->all;
	sh->all = s;
	if (sh->tail)
		sh->tail->queue = s;
	else
		sh->head = s;
	sh->tail = s;
	pthread_cond_broadcast(&sh->more);
	pthread_mutex_unlock(&sh->mu);
	return copy_pieces(sh, s, pool, err) != 0 ? -1 : 1;
}

/* Tries to write output t straight from the chunk files: 1 done, 2 cut
 * into pieces (the thread finishing the last one finishes the tensor), 0
 * not possible, -1 error.  *segs is computed once per entry (*state: 0 not
 * yet, 1 available, -1 unavailable). */
static int write_direct(shared *sh, uint32_t at, const plan_entry *pe,
			const plan_tensor *t, exec_pool *pool, direct_seg **segs,
			size_t *nsegs, int *state, td_err *err)
{
	wctx *w = sh->w;
	uint64_t off;
	int rc;

	if (!w->o->direct || !direct_node_range(t->out.node, &off))
		return 0;
	rc = entry_segments(w, pe, &pool->files, segs, nsegs, state, err);
	if (rc <= 0)
		return rc;
	if (sh->piece && t->out.nbytes >= 2 * sh->piece &&
	    (rc = write_split(sh, at, t, *segs, *nsegs, off, pool, err)) != 0)
		return rc < 0 ? -1 : 2;
	rc = direct_copy(*segs, *nsegs, off, t->out.nbytes, w->fds[t->shard],
			 t->offset, err);
	return copy_result(w, t->shard, rc, err) != 0 ? -1 : 1;
}

/* Output t computed in memory from the gathered entry. */
static int write_computed(wctx *w, const plan_entry *pe, const plan_tensor *t,
			  exec_pool *pool, exec_view *entry, int *loaded,
			  td_err *err)
{
	const unsigned char *data;
	struct timespec t0;
	exec_view v;
	int rc;

	if (!*loaded) {
		if (exec_load_entry(&w->ck->cat, &pe->e, pool, w->o->verify,
				    entry, err) != 0)
			return -1;
		*loaded = 1;
	}
	t0 = td_phase_start();
	rc = exec_eval(t->out.node, entry, pool, &v, err) != 0 ||
	     exec_contiguous(&v, pool, &data, err) != 0;
	td_phase_end(TD_PH_COMPUTE, &t0);
	if (rc)
		return td_err_prefix(err, "output '%s'", t->out.name);
	t0 = td_phase_start();
	rc = td_pwrite_all(w->fds[t->shard], data, (size_t)t->out.nbytes,
			   t->offset, err);
	if (rc == 0)
		td_write_behind(w->fds[t->shard], t->offset, t->out.nbytes);
	td_phase_end(TD_PH_WRITE, &t0);
	if (rc != 0)
		return td_err_prefix(err, "%s/%s", w->o->out_dir,
				     w->pl->shards[t->shard].file);
	return 0;
}

/* --quantize: where a weight's rows come from.  In memory: the output
 * computed from the gathered entry.  Streamed: a window of rows read from
 * the chunk files (the output is a contiguous range of an entry whose
 * chunks are contiguous runs of it, as for direct copies), so that only
 * a tile row or about 1 MiB of the weight is in memory at a time. */
typedef struct row_src {
	const unsigned char *data;      /* in memory: all rows */
	const direct_seg *segs;             /* streamed: the entry's segments */
	size_t nsegs;
	uint64_t base;                  /* the weight's byte offset in the entry */
	uint64_t row_bytes;
	int64_t rows, cap, r0, n;       /* window: rows [r0, r0 + n) in buf */
	unsigned char *buf;
} row_src;

static const unsigned char *rows_in_memory(void *ctx, int64_t r0, int64_t n,
					   td_err *err)
{
	const row_src *rs = ctx;

	(void)n;
	(void)err;
	return rs->data + (uint64_t)r0 * rs->row_bytes;
}

static const unsigned char *rows_streamed(void *ctx, int64_t r0, int64_t n,
					  td_err *err)
{
	row_src *rs = ctx;

	if (r0 < rs->r0 || r0 + n > rs->r0 + rs->n) {
		int64_t m = rs->rows - r0 < rs->cap ? rs->rows - r0 : rs->cap;

		if (direct_read(rs->segs, rs->nsegs, rs->base + (uint64_t)r0 * rs->row_bytes,
				(uint64_t)m * rs->row_bytes, rs->buf, err) != 0)
			return NULL;
		rs->r0 = r0;
		rs->n = m;
	}
	return rs->buf + (uint64_t)(r0 - rs->r0) * rs->row_bytes;
}

/* Whether t can be streamed; *segs computed once per entry as for direct
 * copies (*state: 0 not yet, 1 available, -1 unavailable).  1, 0 or -1. */
static int can_stream(wctx *w, const plan_entry *pe, const plan_tensor *t,
		      dcp_handles *hs, direct_seg **segs, size_t *nsegs,
		      int *state, uint64_t *off, td_err *err)
{
	if (!w->o->direct || w->pl->quant.strategy == PQ_TENSOR ||
	    !direct_node_range(t->out.node, off))
		return 0;
	return entry_segments(w, pe, hs, segs, nsegs, state, err);
}

/* Quantized weight t and its scale (--quantize), a tile row at a time,
 * streamed from the chunk files when it can be, else computed from the
 * gathered entry. */
static int write_quantized(wctx *w, const plan_entry *pe, const plan_tensor *t,
			   exec_pool *pool, exec_view *entry, int *loaded,
			   direct_seg **segs, size_t *nsegs, int *state,
			   td_err *err)
{
	const vm_shape *s = &t->out.node->shape;
	const plan_tensor *sc = &w->pl->tensors[t->partner];
	int64_t cols = s->dims[s->ndim - 1], rows, th, tw;
	row_src rs;
	struct timespec t0;
	fp8_rows_fn fn = rows_in_memory;
	exec_view v;
	int rc;

	memset(&rs, 0, sizeof rs);
	rows = (int64_t)(td_shape_numel(s->dims, s->ndim) / (uint64_t)cols);
	quant_tile(&w->pl->quant, rows, cols, &th, &tw);
	rs.rows = rows;
	rs.row_bytes = (uint64_t)cols * td_dtype_size(s->dtype);
	rc = can_stream(w, pe, t, &pool->files, segs, nsegs, state, &rs.base,
			err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		rs.segs = *segs;
		rs.nsegs = *nsegs;
		rs.cap = (int64_t)(((uint64_t)1 << 20) / rs.row_bytes);
		rs.cap = rs.cap < th ? th : rs.cap;
		rs.cap = rs.cap > rows ? rows : rs.cap;
		rs.buf = exec_pool_alloc(pool, (uint64_t)rs.cap * rs.row_bytes, err);
		if (!rs.buf)
			return -1;
		fn = rows_streamed;
	} else {
		if (!*loaded) {
			if (exec_load_entry(&w->ck->cat, &pe->e, pool,
					    w->o->verify, entry, err) != 0)
				return -1;
			*loaded = 1;
		}
		t0 = td_phase_start();
		rc = exec_eval(t->out.node, entry, pool, &v, err) != 0 ||
		     exec_contiguous(&v, pool, &rs.data, err) != 0;
		td_phase_end(TD_PH_COMPUTE, &t0);
		if (rc)
			return td_err_prefix(err, "output '%s'", t->out.name);
	}
	rc = fp8_write(w->fds[t->shard], fn, &rs, s->dtype, rows, cols, th, tw,
		       w->pl->quant.strategy == PQ_TENSOR, t->offset,
		       sc->offset, err);
	if (rc == FP8_BAD_SOURCE)  /* the message names the chunk's file */
		return -1;
	if (rc != 0)
		return td_err_prefix(err, "%s/%s", w->o->out_dir,
				     w->pl->shards[t->shard].file);
	return tensor_written(w, sc->shard, err);
}

/* The entry at position `at` of the work order. */
static int write_entry(shared *sh, uint32_t at, exec_pool *pool,
		       uint64_t *bytes, uint64_t *direct, td_err *err)
{
	wctx *w = sh->w;
	const plan_entry *pe = &w->pl->entries[sh->order[at]];
	direct_seg *segs = NULL;
	size_t nsegs = 0;
	exec_view entry;
	int state = 0, loaded = 0, rc = 0;
	uint32_t i;

	if (pe->origin) { /* --add-missing: bytes of the original file */
		const plan_tensor *t = &w->pl->tensors[pe->first];
		direct_seg seg = {.len = t->out.nbytes, .f = pe->origin,
			      .file_off = pe->origin_off};

		if (w->fds[t->shard] < 0)
			return 0;
		*bytes += t->out.nbytes;
		if (direct_copy(&seg, 1, 0, t->out.nbytes, w->fds[t->shard],
				t->offset, err) != 0)
			return -1;
		return tensor_written(w, t->shard, err);
	}
	for (i = pe->first; rc >= 0 && i < pe->first + pe->n; i++) {
		const plan_tensor *t = &w->pl->tensors[i];

		if (t->dropped || w->fds[t->shard] < 0)
			continue;
		if (t->quant == PT_FP8) {
			rc = write_quantized(w, pe, t, pool, &entry, &loaded,
					     &segs, &nsegs, &state, err);
			if (rc >= 0 && tensor_written(w, t->shard, err) != 0)
				rc = -1;
			*bytes += t->out.nbytes + w->pl->tensors[t->partner].out.nbytes;
			continue;
		}
		rc = write_direct(sh, at, pe, t, pool, &segs, &nsegs, &state,
				  err);
		if (rc > 0)
			*direct += t->out.nbytes;
		if (rc == 0)
			rc = write_computed(w, pe, t, pool, &entry, &loaded,
					    err);
		if (rc >= 0 && rc != 2 && tensor_written(w, t->shard, err) != 0)
			rc = -1;
		*bytes += t->out.nbytes;
	}
	free(segs);
	return rc < 0 ? -1 : 0;
}

/* Claims the next run of entries, [*first, *end): 0 when none is left,
 * an error occurred or a signal came.  Called with sh->mu held. */
static int claim(shared *sh, uint32_t *first, uint32_t *end)
{
	uint32_t n = sh->w->pl->nentries;

	if (sh->rc || interrupted || sh->next >= n)
		return 0;
	*first = sh->next;
	*end = n - sh->next > sh->batch ? sh->next + sh->batch : n;
	sh->next = *end;
	return 1;
}

/* Writes the entries at positions [i, end) of the order without the
 * lock; stops at the first error, its position in *at. */
static int write_run(shared *sh, uint32_t i, uint32_t end, exec_pool *pool,
		     uint64_t *bytes, uint64_t *direct, uint32_t *at,
		     td_err *err)
{
	int rc = 0;

	for (; rc == 0 && i < end && !interrupted; i++) {
		rc = write_entry(sh, i, pool, bytes, direct, err);
		exec_pool_reset(pool);
		*at = i;
	}
	return rc;
}

/* Where an entry's bytes start: its first overlapping chunk's file and
 * archive offset (entries copied from an HF file go last). */
typedef struct entry_pos {
	uint32_t file, entry;
	uint64_t off;
} entry_pos;

static entry_pos place_of(const dcp_catalog *cat, const plan_entry *pe,
			  uint32_t ei)
{
	entry_pos p = {UINT32_MAX, ei, 0};
	const dcp_key *k;
	size_t i, j, from, to;
	int d;

	if (pe->origin || pe->e.key >= cat->nkeys)
		return p;
	k = &cat->keys[pe->e.key];
	from = 0;
	to = k->nchunks;
	if (pe->e.nfixed > 0)
		dcp_chunks_along0(k, pe->e.fixed[0], &from, &to);
	for (j = from; j < to; j++) {
		i = dcp_chunk_at(k, j);
		for (d = 0; d < pe->e.nfixed && d < k->ndim; d++)
			if (pe->e.fixed[d] < k->chunks[i].offsets[d] ||
			    pe->e.fixed[d] >= k->chunks[i].offsets[d] +
					      k->chunks[i].sizes[d])
				break;
		if (d == pe->e.nfixed || d == k->ndim) {
			p.file = k->chunks[i].file;
			p.off = k->chunks[i].item_off;
			return p;
		}
	}
	return p;
}

static int by_place(const void *x, const void *y)
{
	const entry_pos *a = x, *b = y;

	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	return a->entry < b->entry ? -1 : a->entry > b->entry;
}

/* Output bytes per entry, on average (0 for no entry). */
static uint64_t mean_entry_bytes(const plan *pl)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < pl->ntensors; i++)
		total += pl->tensors[i].out.nbytes;
	return pl->nentries ? total / pl->nentries : 0;
}

/* Where entry i's first output goes: shard and offset. */
static entry_pos output_place(const plan *pl, uint32_t i)
{
	const plan_entry *pe = &pl->entries[i];
	entry_pos p = {.file = 0, .entry = i, .off = 0};

	if (pe->n > 0) {
		p.file = pl->tensors[pe->first].shard;
		p.off = pl->tensors[pe->first].offset;
	}
	return p;
}

/* Big tensors are taken in the order they lie in the shards: writing a
 * file out of order costs ext4 more than anything else here (measured on
 * a 2.2 GB checkpoint: 0.53 -> 0.69 x cp stacked, 0.65 -> 0.74 x
 * per-layer; docs/performance.md).  Small ones (under 1 MiB of output per
 * entry on average) are taken in the order their chunks lie in the
 * .distcp files instead: there the reads of many small archives are the
 * cost, and reading each file front to back suits parallel filesystems. */
static int by_output(const wctx *w)
{
	return mean_entry_bytes(w->pl) >= ((uint64_t)1 << 20);
}

/* The order in which the threads take the entries. */
static uint32_t *work_order(const wctx *w)
{
	uint32_t i, n = w->pl->nentries;
	entry_pos *pos = malloc((n ? n : 1) * sizeof *pos);
	uint32_t *order = malloc((n ? n : 1) * sizeof *order);
	int out;

	if (!pos || !order) {
		free(pos);
		free(order);
		return NULL;
	}
	out = by_output(w);
	for (i = 0; i < n; i++)
		pos[i] = out ? output_place(w->pl, i)
			     : place_of(&w->ck->cat, &w->pl->entries[i], i);
	qsort(pos, n, sizeof *pos, by_place);
	for (i = 0; i < n; i++)
		order[i] = pos[i].entry;
	free(pos);
	return order;
}

/* A thread's run of work done: its error (at position `at` of the work
 * order), bytes, times and peak memory added to the totals.  The error
 * kept is the one first in the work order, not the first in time: runs
 * are claimed in order and each runs to its own first error, so that is
 * the same whichever thread is faster.  Called with sh->mu held. */
static void account(shared *sh, int rc, uint32_t at, const td_err *err,
		    uint64_t bytes, uint64_t direct, const exec_pool *pool)
{
	wctx *w = sh->w;

	if (rc && (!sh->rc || at < sh->err_at)) {
		sh->rc = rc;
		sh->err = *err;
		sh->err_at = at;
	}
	w->st->bytes += bytes;
	w->st->direct_bytes += direct;
	td_phases_take(&w->st->phases);
	if (pool->peak > w->st->peak_buffers)
		w->st->peak_buffers = pool->peak;
	progress(w, &sh->start, 0);
}

/* Takes pieces of cut outputs first, then runs of entries (one lock
 * round trip per run, not per entry); with neither left, waits while
 * another thread may still cut an output.  Never holds the lock while it
 * reads or writes tensor bytes. */
static void *worker(void *arg)
{
	shared *sh = arg;
	exec_pool pool = {0};
	td_err err;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		uint64_t bytes = 0, direct = 0;
		uint32_t e = 0, end = 0, at = 0;
		split *s;
		size_t i;
		int rc;

		if (take_piece(sh, NULL, &s, &i)) {
			pthread_mutex_unlock(&sh->mu);
			rc = copy_piece(sh, s, i, &pool, &err);
			at = s->at;
			dcp_handles_mark(&pool.files);
			pthread_mutex_lock(&sh->mu);
		} else if (claim(sh, &e, &end)) {
			sh->busy++;
			pthread_mutex_unlock(&sh->mu);
			rc = write_run(sh, e, end, &pool, &bytes, &direct, &at,
				       &err);
			pthread_mutex_lock(&sh->mu);
			if (--sh->busy == 0)
				pthread_cond_broadcast(&sh->more);
		} else if (sh->busy > 0 && !sh->rc && !interrupted) {
			pthread_cond_wait(&sh->more, &sh->mu);
			continue;
		} else {
			break;
		}
		account(sh, rc, at, &err, bytes, direct, &pool);
	}
	pthread_mutex_unlock(&sh->mu);
	exec_pool_free(&pool);
	return NULL;
}

/* Entries per claim: about 64 KiB of output per run, at most 1/8 of each
 * thread's share so the threads still balance, at least 1. */
static uint32_t batch_size(const plan *pl, int jobs)
{
	uint64_t b;

	if (pl->nentries == 0)
		return 1;
	b = ((uint64_t)64 << 10) / (mean_entry_bytes(pl) + 1);
	if (b > pl->nentries / ((uint64_t)jobs * 8))
		b = pl->nentries / ((uint64_t)jobs * 8);
	return b < 1 ? 1 : b > 4096 ? 4096 : (uint32_t)b;
}

/* The size of the pieces outputs are cut into for `jobs` threads (0: none
 * cut); TD2HF_TEST_PIECE_BYTES=N sets it, so that the tests cut the
 * small tensors of their fixtures. */
static uint64_t piece_size(int jobs)
{
	const char *env = getenv("TD2HF_TEST_PIECE_BYTES");
	char *end;
	unsigned long long v;

	if (jobs < 2)
		return 0;
	if (!env || !*env)
		return WR_PIECE;
	v = strtoull(env, &end, 10);
	return *end == '\0' && v > 0 ? (uint64_t)v : WR_PIECE;
}

/* Frees every split made. */
static void free_splits(shared *sh)
{
	while (sh->all) {
		split *s = sh->all;

		sh->all = s->all;
		split_free(s->job);
		free(s);
	}
}

static int write_data(wctx *w)
{
	shared sh;
	pthread_t tid[WR_MAX_JOBS];
	int j, n = w->o->jobs < 1 ? 1 : w->o->jobs > WR_MAX_JOBS ? WR_MAX_JOBS
								     : w->o->jobs;

	memset(&sh, 0, sizeof sh);
	sh.w = w;
	sh.batch = batch_size(w->pl, n);
	sh.piece = piece_size(n);
	sh.order = work_order(w);
	if (!sh.order)
		return td_errf(w->err, "out of memory");
	pthread_mutex_init(&sh.mu, NULL);
	pthread_cond_init(&sh.more, NULL);
	clock_gettime(CLOCK_MONOTONIC, &sh.start);
	w->last = sh.start;
	/* each thread keeps its own descriptors, all within the process's
	 * limit (the catalog's own are not used while writing) */
	dcp_set_open_budget(&w->ck->cat, (size_t)n, w->pl->nshards + 16);
	for (j = 1; j < n; j++)
		if (pthread_create(&tid[j], NULL, worker, &sh) != 0)
			break;
	n = j;
	worker(&sh);
	for (j = 1; j < n; j++)
		pthread_join(tid[j], NULL);
	pthread_cond_destroy(&sh.more);
	pthread_mutex_destroy(&sh.mu);
	free_splits(&sh);
	free(sh.order);
	if (sh.rc) {
		*w->err = sh.err;
		return -1;
	}
	if (interrupted)
		return 130;
	progress(w, &sh.start, 1);
	return 0;
}

/* ---------------------------------------------------------------- extras */

static int write_index(wctx *w)
{
	char *json = plan_index_json(w->pl), name[PATH_MAX];
	char *path = td_path_join(w->tmp, "model.safetensors.index.json");
	int fd, rc;

	if (path && w->replace_extras)
		unlink(path);
	fd = path && json ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				 0644) : -1;

	shown(w, "model.safetensors.index.json", name, sizeof name);
	rc = fd < 0 ? td_errf(w->err, "%s: %s", name, path && json ?
			      strerror(errno) : "out of memory")
		    : pwrite_all(fd, json, strlen(json), 0, name, w->err);
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = td_errf(w->err, "%s: %s", name, strerror(errno));
	free(json);
	free(path);
	return rc;
}

static int copy_file(const char *from, const char *to, const char *name,
		     td_err *err)
{
	td_file f;
	int fd, rc;

	if (td_file_open(&f, from, err) != 0)
		return -1;
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = td_errf(err, "%s: %s", name, strerror(errno));
	else if (td_copy_range(f.fd, 0, fd, 0, f.size, err) != 0)
		rc = td_err_prefix(err, "copying %s to %s", from, name);
	else
		rc = 0;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = td_errf(err, "%s: %s", name, strerror(errno));
	td_file_close(&f);
	return rc;
}

/* --quantize: config.json with slime's quantization_config. */
static int write_config(wctx *w, const char *from, const char *to,
			const char *name)
{
	unsigned char *text = NULL;
	char *json = NULL;
	size_t len = 0;
	int fd, rc = -1;

	if (td_slurp(from, (uint64_t)64 << 20, &text, &len, w->err) != 0 ||
	    !(json = plan_config_json(w->pl, (const char *)text, len, from,
				      w->err)))
		goto out;
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = td_errf(w->err, "%s: %s", name, strerror(errno));
		goto out;
	}
	rc = pwrite_all(fd, json, strlen(json), 0, name, w->err);
	if (close(fd) != 0 && rc == 0)
		rc = td_errf(w->err, "%s: %s", name, strerror(errno));
out:
	free(text);
	free(json);
	return rc;
}

/* Every regular file of the HF dir but weights and their index. */
static int copy_assets(wctx *w)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (!w->o->hf_dir)
		return 0;
	d = opendir(w->o->hf_dir);
	if (!d)
		return td_errf(w->err, "%s: %s", w->o->hf_dir, strerror(errno));
	while (rc == 0 && (e = readdir(d))) {
		char *from = td_path_join(w->o->hf_dir, e->d_name);
		char *to = td_path_join(w->tmp, e->d_name), name[PATH_MAX];

		if (!from || !to)
			rc = td_errf(w->err, "out of memory");
		else if (outdir_is_asset(e->d_name, w->o->hf_dir)) {
			if (w->replace_extras)
				unlink(to);
			shown(w, e->d_name, name, sizeof name);
			rc = w->pl->quant.strategy != PQ_NONE &&
			     strcmp(e->d_name, "config.json") == 0 ?
			     write_config(w, from, to, name) :
			     copy_file(from, to, name, w->err);
		}
		free(from);
		free(to);
	}
	closedir(d);
	return rc;
}

/* ---------------------------------------------------------------- commit */

static int make_tmp(wctx *w)
{
	const char *out = w->o->out_dir;

	if (outdir_make_parents(out, w->err) != 0 ||
	    outdir_stage_name(out, "tmp", w->tmp, sizeof w->tmp, w->err) != 0)
		return -1;
	if (mkdir(w->tmp, 0755) != 0)
		return td_errf(w->err, "%s: cannot create a directory beside "
			       "it: %s", out, strerror(errno));
	return 0;
}

/* Renames the finished directory into place.  An existing output is
 * checked again (it may have changed since the run began), moved aside,
 * and emptied of what td2hf wrote; anything else keeps it, with a
 * warning. */
static int commit(wctx *w)
{
	const char *out = w->o->out_dir;
	char old[PATH_MAX];
	struct stat st;
	td_err warn;
	int replace;

	if (outdir_check_replace(out, w->o->hf_dir, w->o->force, w->err) != 0)
		return -1;
	replace = lstat(out, &st) == 0;
	if (replace && outdir_stage_name(out, "old", old, sizeof old, w->err) != 0)
		return -1;
	if (replace && rename(out, old) != 0)
		return td_errf(w->err, "%s: cannot move aside: %s", out,
			       strerror(errno));
	if (replace)
		pause_at("moved-aside");
	if (rename(w->tmp, out) != 0) {
		td_errf(w->err, "%s: cannot rename into place: %s", out,
			strerror(errno));
		if (replace)
			rename(old, out);
		return -1;
	}
	if (replace && outdir_remove_ours(old, w->o->hf_dir, &warn) != 0 &&
	    w->o->log)
		fprintf(w->o->log, "td2hf: warning: the previous output was "
			"replaced, but %s\n", warn.msg);
	return 0;
}

/* SIGINT and SIGTERM set `interrupted` while a directory is being
 * written; the previous handlers come back afterwards. */
typedef struct sigsave {
	struct sigaction intr, term;
} sigsave;

static void catch_signals(sigsave *old)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	interrupted = 0;
	sigaction(SIGINT, &sa, &old->intr);
	sigaction(SIGTERM, &sa, &old->term);
}

static void restore_signals(const sigsave *old)
{
	sigaction(SIGINT, &old->intr, NULL);
	sigaction(SIGTERM, &old->term, NULL);
}

static void init_ctx(wctx *w, td_checkpoint *ck, const plan *pl,
		     const writer_options *o, writer_stats *st, td_err *err)
{
	memset(w, 0, sizeof *w);
	memset(st, 0, sizeof *st);
	w->ck = ck;
	w->pl = pl;
	w->o = o;
	w->st = st;
	w->err = err;
	w->total = pl->total_size;
}

/* Shards, then (unless a part) index and assets, all into w->tmp. */
static int write_all(wctx *w)
{
	int rc = open_shards(w);

	if (rc == 0)
		rc = write_data(w);
	if (rc == 0)
		pause_at("written");
	if (close_shards(w, rc == 0) != 0 && rc == 0)
		rc = -1;
	td_phases_take(&w->st->phases); /* this thread's syncs */
	if (rc == 0 && !w->part)
		rc = write_index(w);
	if (rc == 0 && !w->part)
		rc = copy_assets(w);
	return rc == 0 && interrupted ? 130 : rc;
}

int writer_convert(td_checkpoint *ck, const plan *pl, const writer_options *o,
		   writer_stats *st, td_err *err)
{
	sigsave old;
	wctx w;
	int rc;

	init_ctx(&w, ck, pl, o, st, err);
	/* The handlers go first: from the moment the temporary directory
	 * exists, a signal must lead to its removal. */
	catch_signals(&old);
	rc = make_tmp(&w);
	if (rc == 0) {
		pause_at("staged");
		rc = write_all(&w);
		if (rc == 0)
			rc = commit(&w);
		if (rc != 0)
			outdir_remove_ours(w.tmp, "*", &w.cleanup);
	}
	if (rc == 130)
		td_errf(err, "interrupted; nothing was written to %s", o->out_dir);
	restore_signals(&old);
	return rc;
}

/* Tensors left to write per shard of the part (0 for others). */
static int count_pending(wctx *w)
{
	uint32_t i, s;

	w->pending = calloc(w->pl->nshards ? w->pl->nshards : 1,
			    sizeof *w->pending);
	if (!w->pending)
		return td_errf(w->err, "out of memory");
	w->total = 0;
	for (s = 0; s < w->pl->nshards; s++)
		if (writes_shard(w, s))
			w->total += w->pl->shards[s].size;
	for (i = 0; i < w->pl->ntensors; i++)
		if (!w->pl->tensors[i].dropped &&
		    writes_shard(w, w->pl->tensors[i].shard))
			w->pending[w->pl->tensors[i].shard]++;
	return 0;
}

/* A part's shards that hold no tensor (an empty first shard) are
 * complete once their header is written. */
static int finish_empty(wctx *w)
{
	for (uint32_t s = 0; s < w->pl->nshards; s++)
		if (w->fds[s] >= 0 && w->pending[s] == 0 &&
		    finish_shard(w, s, w->err) != 0)
			return -1;
	return 0;
}

int writer_write_part(td_checkpoint *ck, const plan *pl, const writer_options *o,
		      const writer_part *part, writer_stats *st, td_err *err)
{
	sigsave old;
	wctx w;
	int rc;

	init_ctx(&w, ck, pl, o, st, err);
	w.part = part;
	if (snprintf(w.tmp, sizeof w.tmp, "%s", part->stage) >= (int)sizeof w.tmp)
		return td_errf(err, "%s: path too long", part->stage);
	catch_signals(&old);
	rc = count_pending(&w);
	if (rc == 0)
		rc = open_shards(&w);
	if (rc == 0)
		rc = finish_empty(&w);
	if (rc == 0) {
		pause_at("staged");
		rc = write_data(&w);
	}
	if (close_shards(&w, 0) != 0 && rc == 0)
		rc = -1;
	rc = rc == 0 && interrupted ? 130 : rc;
	if (rc == 130)
		td_errf(err, "interrupted");
	free(w.pending);
	restore_signals(&old);
	return rc;
}

int writer_finish(const plan *pl, const writer_options *o, const char *stage,
		  td_err *err)
{
	writer_stats st;
	wctx w;
	int rc;

	init_ctx(&w, NULL, pl, o, &st, err);
	if (snprintf(w.tmp, sizeof w.tmp, "%s", stage) >= (int)sizeof w.tmp)
		return td_errf(err, "%s: path too long", stage);
	w.replace_extras = 1;
	rc = write_index(&w);
	if (rc == 0)
		rc = copy_assets(&w);
	if (rc == 0)
		rc = commit(&w);
	return rc;
}
