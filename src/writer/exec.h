/* exec.h — replays a plan entry's view trees on real data: gathers the
 * entry's bytes from the chunks that hold them, then evaluates each
 * output's tree into bytes in safetensors (row-major) order. */
#ifndef TD_EXEC_H
#define TD_EXEC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../reader/dcp.h"
#include "../vm/vm.h"

typedef struct ex_view {
	unsigned char *base;
	td_dtype dtype;
	int ndim;
	int64_t dims[TD_MAX_DIMS];
	int64_t strides[TD_MAX_DIMS];  /* in elements */
} ex_view;

/* Buffers made while evaluating one entry's outputs; freed together. */
/* A buffer and its size. */
typedef struct ex_buf {
	unsigned char *p;
	uint64_t n;
} ex_buf;

#define EX_SPARES 4

/* A thread's working buffers.  A reset keeps a few for the next entries
 * (never more bytes than were in use at once), and an allocation none of
 * them fits frees them first, so the memory stays what it was without
 * them; but entries of the same shapes reuse their buffers: big buffers
 * come from mmap, and fresh pages cost a fault and a clearing each. */
typedef struct ex_pool {
	ex_buf *bufs;
	int n, cap;
	ex_buf spare[EX_SPARES];
	int nspare;
	uint64_t bytes;        /* currently allocated */
	uint64_t peak;         /* high-water mark, for the memory bound */
	dcp_handles files;     /* this thread's descriptors */
} ex_pool;

/* Reads entry e of the catalog into a new pool buffer (row-major).
 * Threads may share the catalog: archive lookups are lock-free
 * (dcp_read_chunk_shared) and reads go through the pool's descriptors. */
int ex_load_entry(dcp_catalog *cat, const vm_entry *e, ex_pool *pool,
		  int verify, ex_view *out, td_err *err);

/* Chunk ci's tensor data and file (one of hs), its CRC checked first
 * when verify is set.  No lock needed. */
const td_file *ex_locate(dcp_catalog *cat, dcp_key *k, size_t ci,
			 dcp_handles *hs, int verify, ts_tensor *t, td_err *err);

/* Evaluates node n over the loaded entry view. */
int ex_eval(const vm_node *n, const ex_view *entry, ex_pool *pool,
	    ex_view *out, td_err *err);

/* Row-major bytes of v: v's own memory when contiguous, else a copy. */
int ex_contiguous(const ex_view *v, ex_pool *pool, const unsigned char **out,
		  td_err *err);

/* Frees the buffers; the descriptors stay open for the next entry (but
 * may now be closed to open others). */
void ex_pool_reset(ex_pool *pool);
/* Frees everything, closes the descriptors. */
void ex_pool_free(ex_pool *pool);

/* The strided-view arithmetic of VN_PERMUTE, VN_NARROW and VN_SELECT
 * (off: elements); shared with direct.c.  -1 for any other kind (those
 * need data: reshape of a strided view, cat, cast). */
int ex_apply_view(const vm_node *n, int *ndim, int64_t *dims,
		   int64_t *strides, int64_t *off);
unsigned char *ex_pool_alloc(ex_pool *pool, uint64_t n, td_err *err);

#endif
