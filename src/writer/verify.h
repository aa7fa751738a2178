/* verify.h — CRC-32 of each chunk's stored bytes against its zip entry,
 * once per chunk, before its bytes are used: a flipped bit in a .distcp
 * is an error naming the file, key and chunk, never a wrong weight. */
#ifndef TD_VERIFY_H
#define TD_VERIFY_H

#include "../reader/dcp.h"

/* Where the bytes being checked go too: [from, from + len) of f (inside
 * the storage member) written to fd at out_off. */
typedef struct verify_copy {
	uint64_t from, len;
	int fd;
	uint64_t out_off;
} verify_copy;

enum { VF_WRITE_FAILED = -2 };

/* Checks chunk ci of k (t from dcp_read_chunk, f its file) unless it was
 * checked already.  Thread-safe; reads the storage member in blocks and,
 * with cp, writes cp's range of them on the way, so that each byte is
 * read once (done even when the chunk was checked already).  0, -1 (the
 * chunk is unreadable or corrupt; err names its file) or VF_WRITE_FAILED
 * (err says why; the caller names the output). */
int verify_chunk(dcp_key *k, size_t ci, const torchsave_tensor *t,
		 const td_file *f, const verify_copy *cp, td_err *err);

/* The same check on the member's bytes already in memory (bytes holds
 * t->storage_nbytes bytes). */
int verify_bytes(dcp_key *k, size_t ci, const torchsave_tensor *t,
		 const td_file *f, const unsigned char *bytes, td_err *err);

/* Reads [from, from + len) of f in 1 MiB blocks; with crc, continues
 * *crc over them; with cp, writes cp's range of them on the way.  0, -1
 * (err names the file) or VF_WRITE_FAILED. */
int verify_range(const td_file *f, uint64_t from, uint64_t len, uint32_t *crc,
		 const verify_copy *cp, td_err *err);

/* crc, the CRC-32 of chunk ci's whole stored member, against its zip
 * entry's: 0 (and the chunk is marked checked), or -1 with the message
 * naming f, the key and the chunk. */
int verify_check(dcp_key *k, size_t ci, const torchsave_tensor *t,
		 const td_file *f, uint32_t crc, td_err *err);

#endif
