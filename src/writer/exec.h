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

typedef struct exec_view {
	unsigned char *base;
	td_dtype dtype;
	int ndim;
	int64_t dims[TD_MAX_DIMS];
	int64_t strides[TD_MAX_DIMS];  /* in elements */
} exec_view;

/* Buffers made while evaluating one entry's outputs; freed together. */
/* A buffer and its size. */
typedef struct exec_buf {
	unsigned char *p;
	uint64_t n;
} exec_buf;

#define EX_SPARES 4

/* A thread's working buffers.  A reset keeps a few for the next entries
 * (never more bytes than were in use at once), and an allocation none of
 * them fits frees them first, so the memory stays what it was without
 * them; but entries of the same shapes reuse their buffers: big buffers
 * come from mmap, and fresh pages cost a fault and a clearing each. */
typedef struct exec_pool {
	exec_buf *bufs;
	int n, cap;
	exec_buf spare[EX_SPARES];
	int nspare;
	uint64_t bytes;        /* currently allocated */
	uint64_t peak;         /* high-water mark, for the memory bound */
	dcp_handles files;     /* this thread's descriptors */
} exec_pool;

/* Reads entry e of the catalog into a new pool buffer (row-major).
 * Threads may share the catalog: archive lookups are lock-free
 * (dcp_read_chunk_shared) and reads go through the pool's descriptors. */
int exec_load_entry(dcp_catalog *cat, const vm_entry *e, exec_pool *pool,
		    int verify, exec_view *out, td_err *err);

/* Chunk ci's tensor data and file (one of hs), its CRC checked first
 * when verify is set.  No lock needed. */
const td_file *exec_locate(dcp_catalog *cat, dcp_key *k, size_t ci,
			   dcp_handles *hs, int verify, torchsave_tensor *t, td_err *err);

/* Evaluates node n over the loaded entry view. */
int exec_eval(const vm_node *n, const exec_view *entry, exec_pool *pool,
	      exec_view *out, td_err *err);

/* Row-major bytes of v: v's own memory when contiguous, else a copy. */
int exec_contiguous(const exec_view *v, exec_pool *pool, const unsigned char **out,
		    td_err *err);

/* Frees the buffers; the descriptors stay open for the next entry (but
 * may now be closed to open others). */
void exec_pool_reset(exec_pool *pool);
/* Frees everything, closes the descriptors. */
void exec_pool_free(exec_pool *pool);

/* The strided-view arithmetic of VN_PERMUTE, VN_NARROW and VN_SELECT
 * (off: elements); shared with direct.c.  -1 for any other kind (those
 * need data: reshape of a strided view, cat, cast). */
int exec_apply_view(const vm_node *n, int *ndim, int64_t *dims,
		   int64_t *strides, int64_t *off);
unsigned char *exec_pool_alloc(exec_pool *pool, uint64_t n, td_err *err);

#endif
