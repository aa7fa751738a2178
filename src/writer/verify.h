/* verify.h — CRC-32 of each chunk's stored bytes against its zip entry,
 * once per chunk, before its bytes are used: a flipped bit in a .distcp
 * is an error naming the file, key and chunk, never a wrong weight. */
#ifndef TD_VERIFY_H
#define TD_VERIFY_H

#include "../reader/dcp.h"

/* Checks chunk ci of k (t from dcp_read_chunk, f its file) unless it was
 * checked already.  Thread-safe; reads the storage member in blocks. */
int vf_chunk(const dcp_key *k, size_t ci, const ts_tensor *t,
	     const td_file *f, td_err *err);

/* The same check on the member's bytes already in memory (bytes holds
 * t->storage_nbytes bytes). */
int vf_bytes(const dcp_key *k, size_t ci, const ts_tensor *t,
	     const td_file *f, const unsigned char *bytes, td_err *err);

#endif
