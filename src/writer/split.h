/* split.h — one large output copied by several writer threads at once.
 * Its bytes are cut into pieces of about `piece` bytes; any thread may
 * copy any piece.  A stored item whose CRC-32 is still to be checked is
 * cut into pieces as a whole (its bytes outside the output included), so
 * that each byte is still read once; each piece takes the CRC-32 of what
 * it read, and the thread that finishes an item's last piece combines
 * them (td_crc32_combine) and checks the item, with verify_chunk's message. */
#ifndef TD_SPLIT_H
#define TD_SPLIT_H

#include "direct.h"

typedef struct split_job split_job;

/* Cuts entry bytes [off, off + len) of the segments (direct_segments), to be
 * written to fd at out_off, into pieces.  1 and *job when that makes two
 * pieces or more; 0 when not (copy it with direct_copy); -1 on error.  The job
 * keeps files by their catalog index, not segs' descriptors. */
int split_cut(const direct_seg *segs, size_t n, uint64_t off, uint64_t len, int fd,
	      uint64_t out_off, uint64_t piece, split_job **job, td_err *err);

size_t split_npieces(const split_job *job);

/* Copies piece i (each piece once, from any thread) through the thread's
 * descriptors hs.  1 when it was the job's last piece to finish (every
 * byte written, every item checked), 0 when not, DR_BAD_SOURCE (err names
 * the chunk's file) or DR_COPY_FAILED as direct_copy. */
int split_copy(split_job *job, size_t i, const dcp_catalog *cat, dcp_handles *hs,
	       td_err *err);

void split_free(split_job *job);

#endif
