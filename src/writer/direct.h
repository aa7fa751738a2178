/* direct.h — copying unchanged bytes straight from chunks to shards. */
#ifndef TD_DIRECT_H
#define TD_DIRECT_H

#include <pthread.h>
#include <stdint.h>

#include "../reader/dcp.h"
#include "../vm/vm.h"

/* A run of an entry's row-major bytes stored contiguously in a file;
 * key non-NULL when its chunk's CRC-32 is to be checked on the way. */
typedef struct direct_seg {
	uint64_t entry_off, len;
	const td_file *f;
	uint32_t file;          /* f's index in the catalog's files */
	uint64_t file_off;
	dcp_key *key;
	size_t chunk;
	torchsave_tensor t;
} direct_seg;

/* direct_copy's errors: the source (err names the chunk's file) or the copy
 * (the caller adds the output's name). */
enum { DR_BAD_SOURCE = -1, DR_COPY_FAILED = -2 };

/* 1 and the output's byte offset in its entry when node is a contiguous
 * range of the entry's bytes (no copy or conversion needed); else 0. */
int direct_node_range(const vm_node *node, uint64_t *byte_off);

/* 1 and the entry's segments (sorted) when every chunk's part of the
 * entry is contiguous both in the entry and in the chunk; 0 when not;
 * -1 on error.  Lock-free; the segments' files are hs's, valid until its
 * next mark. */
int direct_segments(dcp_catalog *cat, const vm_entry *e, dcp_handles *hs,
		    int verify, direct_seg **segs, size_t *n, td_err *err);

/* Copies entry bytes [off, off+len) to out_fd at out_off, checking the
 * CRC-32 of segments that ask for it on the way (each byte read once).
 * 0, DR_BAD_SOURCE or DR_COPY_FAILED. */
int direct_copy(const direct_seg *segs, size_t n, uint64_t off, uint64_t len,
		int out_fd, uint64_t out_off, td_err *err);

/* Reads entry bytes [off, off+len) into buf (pread), for a computation
 * that streams through an entry instead of gathering it (--quantize).
 * A segment whose chunk's CRC-32 is to be checked is checked first, whole
 * (verify_chunk, in 1 MiB blocks), once.  0 or DR_BAD_SOURCE (err names the
 * chunk's file). */
int direct_read(const direct_seg *segs, size_t n, uint64_t off, uint64_t len,
		unsigned char *buf, td_err *err);

#endif
