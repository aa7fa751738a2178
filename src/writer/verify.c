#include "verify.h"

#include <inttypes.h>
#include <stdlib.h>

#include "../common/crc32.h"

#define BLOCK (4u << 20)

static int compare(const dcp_key *k, size_t ci, const ts_tensor *t,
		   const td_file *f, uint32_t crc, td_err *err)
{
	if (crc != t->storage_crc32)
		return td_errf(err, "%s: key '%s' chunk %zu: data does not match "
			       "its CRC-32 (stored %08" PRIx32 ", computed %08"
			       PRIx32 "): the file is corrupt", f->path, k->name,
			       ci, t->storage_crc32, crc);
	k->chunks[ci].verified = 1;
	return 0;
}

int vf_bytes(const dcp_key *k, size_t ci, const ts_tensor *t,
	     const td_file *f, const unsigned char *bytes, td_err *err)
{
	if (k->chunks[ci].verified)
		return 0;
	return compare(k, ci, t, f, td_crc32(0, bytes, t->storage_nbytes), err);
}

int vf_chunk(const dcp_key *k, size_t ci, const ts_tensor *t,
	     const td_file *f, td_err *err)
{
	dcp_chunk *c = &k->chunks[ci];
	unsigned char *buf;
	uint64_t off;
	uint32_t crc = 0;

	if (c->verified)
		return 0;
	buf = malloc(BLOCK);
	if (!buf)
		return td_errf(err, "out of memory");
	for (off = 0; off < t->storage_nbytes; off += BLOCK) {
		size_t n = t->storage_nbytes - off < BLOCK
			   ? (size_t)(t->storage_nbytes - off) : BLOCK;

		if (td_file_pread(f, t->storage_off + off, buf, n, err) != 0) {
			free(buf);
			return -1;
		}
		crc = td_crc32(crc, buf, n);
	}
	free(buf);
	return compare(k, ci, t, f, crc, err);
}
