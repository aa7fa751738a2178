#include "verify.h"

#include <inttypes.h>
#include <stdlib.h>

#include "../common/crc32.h"
#include "../common/phase.h"

#define BLOCK (1u << 20) /* stays in the L2 cache between read, CRC and write */

int verify_check(dcp_key *k, size_t ci, const torchsave_tensor *t,
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

int verify_bytes(dcp_key *k, size_t ci, const torchsave_tensor *t,
		 const td_file *f, const unsigned char *bytes, td_err *err)
{
	struct timespec t0;
	uint32_t crc;

	if (k->chunks[ci].verified)
		return 0;
	t0 = td_phase_start();
	crc = td_crc32(0, bytes, t->storage_nbytes);
	td_phase_end(TD_PH_CRC, &t0);
	return verify_check(k, ci, t, f, crc, err);
}

/* The part of block [at, at + n) of the file that cp wants, written
 * (from the block just read: a kernel copy of the same range measured
 * no faster here). */
static int copy_part(const verify_copy *cp, const unsigned char *buf,
		     uint64_t at, size_t n, td_err *err)
{
	uint64_t a = at > cp->from ? at : cp->from;
	uint64_t b = at + n < cp->from + cp->len ? at + n : cp->from + cp->len;
	struct timespec t0 = td_phase_start();
	int rc;

	if (b <= a)
		return 0;
	rc = td_pwrite_all(cp->fd, buf + (a - at), (size_t)(b - a),
			   cp->out_off + (a - cp->from), err);
	if (rc == 0)
		td_write_behind(cp->fd, cp->out_off + (a - cp->from), b - a);
	td_phase_end(TD_PH_WRITE, &t0);
	return rc != 0 ? VF_WRITE_FAILED : 0;
}

int verify_range(const td_file *f, uint64_t from, uint64_t len, uint32_t *crc,
		 const verify_copy *cp, td_err *err)
{
	unsigned char *buf = malloc(BLOCK);
	uint64_t off;
	int rc = 0;

	if (!buf)
		return td_errf(err, "out of memory");
	for (off = 0; rc == 0 && off < len; off += BLOCK) {
		size_t n = len - off < BLOCK ? (size_t)(len - off) : BLOCK;
		struct timespec t0 = td_phase_start();

		rc = td_file_pread(f, from + off, buf, n, err);
		td_phase_end(TD_PH_READ, &t0);
		if (rc == 0 && crc) {
			t0 = td_phase_start();
			*crc = td_crc32(*crc, buf, n);
			td_phase_end(TD_PH_CRC, &t0);
		}
		if (rc == 0 && cp)
			rc = copy_part(cp, buf, from + off, n, err);
	}
	free(buf);
	return rc;
}

int verify_chunk(dcp_key *k, size_t ci, const torchsave_tensor *t,
		 const td_file *f, const verify_copy *cp, td_err *err)
{
	uint32_t crc = 0;
	int rc;

	if (k->chunks[ci].verified) /* only the copy's range to read */
		return cp ? verify_range(f, cp->from, cp->len, NULL, cp, err) : 0;
	rc = verify_range(f, t->storage_off, t->storage_nbytes, &crc, cp, err);
	if (rc != 0)
		return rc;
	return verify_check(k, ci, t, f, crc, err);
}
