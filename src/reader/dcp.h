/* dcp.h — the catalog of a PyTorch Distributed Checkpoint directory.
 *
 * dcp_load reads `.metadata` (a pickled torch Metadata) into, per key in
 * stored order (streaming: the pickle's big dicts are read item by item
 * and never kept as a tree; `all_local_plans` is skipped the same way): kind, dtype, global shape, and chunks, each mapped through
 * `storage_data` to the torch.save archive (file, offset, length) that
 * holds it.  dcp_read_chunk then opens that archive and says where the
 * chunk's raw bytes are.  Nothing here reads tensor data. */
#ifndef TD_DCP_H
#define TD_DCP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/file.h"
#include "../common/shape.h"
#include "../common/dtype.h"
#include "torchsave.h"
#include "xform.h"

typedef struct dcp_chunk {
	int64_t *offsets;   /* ndim values each, in the key's dims */
	int64_t *sizes;
	uint64_t item_off;  /* the torch.save archive in file `file` */
	uint64_t item_len;
	uint64_t nbytes;    /* numel(sizes) * element size */
	/* Where its bytes are, once dcp_read_chunk has read its archive: */
	uint64_t data_off, storage_off, storage_nbytes;
	uint32_t storage_crc32;
	uint32_t file;      /* index into dcp_catalog.files of the file
			     * data_off lies in: item_file, or for a
			     * transformed item the catalog's scratch file */
	uint32_t item_file; /* the file holding the item as stored */
	uint32_t xi;        /* transformed items: 1 + the index in
			     * dcp_catalog.xitems of where the archive went
			     * (kept aside: 10^6-chunk catalogs have none) */
	_Atomic int verified; /* CRC-32 checked (writer threads set it) */
	_Atomic unsigned char resolved; /* CHUNK_*: the fields above */
	unsigned char located; /* storage_data named its archive */
	unsigned char xform; /* XF_NONE, XF_ZSTD */
} dcp_chunk;

enum { CHUNK_UNRESOLVED, CHUNK_RESOLVING, CHUNK_RESOLVED };

typedef enum dcp_kind { DCP_TENSOR, DCP_BYTES } dcp_kind;

typedef struct dcp_key {
	char *name;
	dcp_kind kind;
	td_dtype dtype;     /* tensors only */
	int ndim;
	int ordered;        /* order is filled */
	int64_t shape[TD_MAX_DIMS];
	uint64_t nbytes;    /* tensor: numel(shape) * element size */
	dcp_chunk *chunks;  /* bytes entries: one chunk, ndim 0 */
	size_t nchunks;
	int64_t *dims;      /* the chunks' offsets and sizes (in the block
			     * chunks points to, as order is) */
	uint32_t *order;    /* chunk indexes sorted by offsets, if ordered */
	int64_t span0;      /* the largest chunk size along axis 0 */
} dcp_key;

typedef struct dcp_catalog {
	char *dir;
	struct td_arena *names; /* the keys' names */
	char **files;       /* relative paths, in order of first use */
	size_t nfiles;
	dcp_key *keys;
	size_t nkeys;
	td_file *open;      /* lazily opened files, one per entry of files */
	uint64_t *used;     /* per file: tick of its last dcp_file */
	uint64_t tick;
	size_t nopen;
	size_t max_open;    /* beyond this many, the least recently used is
			     * closed, per dcp_handles and in dcp_file
			     * (dcp_load and dcp_set_open_budget set it) */
	uint64_t meta_size;     /* .metadata's bytes and their CRC-32: */
	uint32_t meta_crc32;    /* tell one checkpoint's catalog from another */
	char *version;          /* Metadata.version (torch >= 2.9), or NULL */
	size_t nzstd;           /* items stored as zstd frames */
	size_t nitem_files;     /* files[0, nitem_files): real files; then,
				 * when nzstd, the scratch file's name */
	xform_scratch *scratch;    /* decompressed items (when nzstd) */
	xform_item *xitems;        /* per transformed chunk (dcp_chunk.xi) */
	size_t nxitems, xitems_cap;
} dcp_catalog;

/* Reads dir/.metadata.  Errors name the file and the key concerned. */
int dcp_load(const char *dir, dcp_catalog *cat, td_err *err);

/* The same from .metadata's bytes already in memory (fuzzing, tests). */
int dcp_load_buffer(const char *dir, const unsigned char *buf, size_t len,
		    dcp_catalog *cat, td_err *err);
void dcp_free(dcp_catalog *cat);

/* Opens (once) and returns file i of the catalog.  Not thread-safe;
 * callers serialize it, and pread on the result is safe. */
const td_file *dcp_file(dcp_catalog *cat, size_t i, td_err *err);

/* The chunks of k that can hold index i of its first axis: positions
 * [*from, *to) of k->order (every chunk when k has no order).  Entries
 * that fix the first axis (one layer, one expert) look at these only. */
void dcp_chunks_along0(const dcp_key *k, int64_t i, size_t *from,
		       size_t *to);

/* Chunk index at position j of dcp_chunks_along0's range. */
static inline size_t dcp_chunk_at(const dcp_key *k, size_t j)
{
	return k->ordered ? k->order[j] : j;
}

/* Descriptors a thread opens for itself on a shared catalog's files (the
 * catalog's own, dcp_file, serve only its archive lookups).  At most
 * `limit` stay open (0: the catalog's max_open); the least recently used
 * is closed first, but never one used since the last dcp_handles_mark,
 * so every descriptor a unit of work (one entry) got stays valid until it
 * marks the next.  Zero-initialise; dcp_handles_free closes them all. */
typedef struct dcp_handle {
	size_t file;
	td_file f;
	uint64_t used;      /* tick of the last use */
} dcp_handle;

typedef struct dcp_handles {
	dcp_handle **h;     /* each allocated once: its td_file never moves */
	size_t n, cap, limit;
	uint64_t tick, mark;
} dcp_handles;

const td_file *dcp_handles_get(dcp_handles *hs, const dcp_catalog *cat,
			       size_t file, td_err *err);
void dcp_handles_mark(dcp_handles *hs);
void dcp_handles_free(dcp_handles *hs);

/* Sizes the catalog's descriptor caches for `threads` users at once,
 * each with its own dcp_handles: each may keep open what the process's
 * limit (RLIMIT_NOFILE) leaves after `reserved` (the caller's own files),
 * shared, within 2..64.  dcp_load sizes it for one user. */
void dcp_set_open_budget(dcp_catalog *cat, size_t threads, size_t reserved);

/* Locates the raw bytes of one chunk: reads its archive's directory and
 * data.pkl and checks that the stored tensor matches the chunk (dtype,
 * element count, shape up to size-1 dimensions).  The result is recorded
 * in the chunk (key is one of cat's keys; a zstd item is decompressed
 * into cat's scratch file), so later calls read nothing; then out's shape
 * is the chunk's sizes.  Reads through the catalog's own descriptors
 * (dcp_file): one thread at a time. */
int dcp_read_chunk(dcp_catalog *cat, dcp_key *key, size_t chunk,
		   torchsave_tensor *out, td_err *err);

/* The same for threads sharing the catalog: the archive is read through
 * the thread's own descriptors, and the first thread to resolve a chunk
 * records it (atomically) for the others; the scratch file takes its own
 * lock.  Callers hold no lock. */
int dcp_read_chunk_shared(dcp_catalog *cat, dcp_key *key, size_t chunk,
			  dcp_handles *hs, torchsave_tensor *out, td_err *err);

/* Whether tensor key `key`'s chunks tile it: pairwise disjoint and
 * adding up to the whole (each inside it: dcp_load checks that).  Run it
 * before using a key's chunks; errors name the directory and the key. */
int dcp_check_tiling(const dcp_catalog *cat, size_t key, td_err *err);


#endif
