/* zip.c — central directory first, then each local header, all offsets
 * relative to the start of the archive's range and checked against it. */
#include "zip.h"

#include "../common/bytes.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SIG_EOCD      0x06054b50u
#define SIG_EOCD64    0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define SIG_CENTRAL   0x02014b50u
#define SIG_LOCAL     0x04034b50u
#define EOCD_LEN      22
#define LOCATOR_LEN   20
#define EOCD64_LEN    56
#define CENTRAL_LEN   46
#define LOCAL_LEN     30
#define MAX_COMMENT   0xffff
#define MAX_CDIR      ((uint64_t)64 << 20)

typedef struct range {
	const td_file *f;
	uint64_t off, len;
	td_err *err;
} range;

typedef struct cdir_info {
	uint64_t count, size, off;
} cdir_info;

static int bad(const range *r, const char *what)
{
	return td_errf(r->err, "%s: torch.save archive at [%" PRIu64 ", +%" PRIu64
		       "): %s", r->f->path, r->off, r->len, what);
}

/* Reads [rel, rel+n) of the range. */
static int rread(const range *r, uint64_t rel, void *buf, size_t n)
{
	if (!td_range_ok(rel, n, r->len))
		return bad(r, "truncated (a record runs past the end)");
	return td_file_pread(r->f, r->off + rel, buf, n, r->err);
}

/* Looks for the end-of-central-directory record in the last `tail` bytes:
 * torch.save writes no comment, but any comment that ends exactly at the
 * range's end is accepted.  Returns 1 when found, 0 when not, -1 on error. */
static int scan_tail(const range *r, uint64_t tail, unsigned char *eocd,
		     uint64_t *at)
{
	unsigned char *buf = malloc((size_t)tail);
	uint64_t i;
	int found = 0;

	if (!buf)
		return bad(r, "out of memory");
	if (rread(r, r->len - tail, buf, (size_t)tail) != 0) {
		free(buf);
		return -1;
	}
	for (i = tail - EOCD_LEN + 1; i-- > 0 && !found;) {
		if (td_le(buf + i, 4) == SIG_EOCD &&
		    i + EOCD_LEN + td_le(buf + i + 20, 2) == tail) {
			memcpy(eocd, buf + i, EOCD_LEN);
			*at = r->len - tail + i;
			found = 1;
		}
	}
	free(buf);
	return found;
}

/* A short tail first (the usual case, no comment), then the longest
 * tail a comment allows. */
static int find_eocd(const range *r, unsigned char *eocd, uint64_t *at)
{
	static const uint64_t tails[2] = {512, EOCD_LEN + MAX_COMMENT};
	int k, rc;

	if (r->len < EOCD_LEN)
		return bad(r, "too short to be a zip archive");
	for (k = 0; k < 2; k++) {
		uint64_t tail = tails[k] < r->len ? tails[k] : r->len;

		rc = scan_tail(r, tail, eocd, at);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		if (tail == r->len)
			break;
	}
	return bad(r, "no end-of-central-directory record (not a zip archive, "
		   "or truncated)");
}

static int read_zip64_eocd(const range *r, uint64_t eocd_at, cdir_info *ci)
{
	unsigned char loc[LOCATOR_LEN], rec[EOCD64_LEN];
	uint64_t rec_at;

	if (eocd_at < LOCATOR_LEN || rread(r, eocd_at - LOCATOR_LEN, loc,
					   LOCATOR_LEN) != 0)
		return bad(r, "ZIP64 fields without a ZIP64 locator");
	if (td_le(loc, 4) != SIG_LOCATOR64)
		return bad(r, "ZIP64 fields without a ZIP64 locator");
	rec_at = td_le(loc + 8, 8);
	if (rread(r, rec_at, rec, EOCD64_LEN) != 0)
		return -1;
	if (td_le(rec, 4) != SIG_EOCD64)
		return bad(r, "bad ZIP64 end-of-central-directory signature");
	ci->count = td_le(rec + 32, 8);
	ci->size = td_le(rec + 40, 8);
	ci->off = td_le(rec + 48, 8);
	return 0;
}

static int read_cdir_info(const range *r, cdir_info *ci)
{
	unsigned char eocd[EOCD_LEN];
	uint64_t at = 0;

	if (find_eocd(r, eocd, &at) != 0)
		return -1;
	if (td_le(eocd + 4, 2) != 0 || td_le(eocd + 6, 2) != 0)
		return bad(r, "multi-disk archives are not supported");
	ci->count = td_le(eocd + 10, 2);
	ci->size = td_le(eocd + 12, 4);
	ci->off = td_le(eocd + 16, 4);
	if (ci->count == 0xffff || ci->size == 0xffffffffu ||
	    ci->off == 0xffffffffu)
		if (read_zip64_eocd(r, at, ci) != 0)
			return -1;
	if (!td_range_ok(ci->off, ci->size, r->len))
		return bad(r, "central directory lies outside the archive");
	if (ci->size > MAX_CDIR || ci->count > ci->size / CENTRAL_LEN)
		return bad(r, "implausible central directory size or entry count");
	return 0;
}

/* Applies the ZIP64 extra field (id 1) to the fields that overflowed. */
static int apply_zip64_extra(const range *r, const unsigned char *x, size_t n,
			     uint64_t *usize, uint64_t *csize, uint64_t *loff)
{
	uint64_t *fields[3] = {usize, csize, loff};
	size_t pos = 0;

	while (pos + 4 <= n) {
		size_t id = (size_t)td_le(x + pos, 2), len = (size_t)td_le(x + pos + 2, 2);
		size_t at = pos + 4;
		int k;

		if (len > n - at)
			return bad(r, "extra field runs past its entry");
		for (k = 0; id == 1 && k < 3; k++) {
			if (*fields[k] != 0xffffffffu)
				continue;
			if (at + 8 > pos + 4 + len)
				return bad(r, "short ZIP64 extra field");
			*fields[k] = td_le(x + at, 8);
			at += 8;
		}
		pos += 4 + len;
	}
	return 0;
}

/* Finds the member's data after its local header. */
static int locate_data(const range *r, zip_member *m, uint64_t loff)
{
	unsigned char lh[LOCAL_LEN];
	uint64_t start;

	if (rread(r, loff, lh, LOCAL_LEN) != 0)
		return -1;
	if (td_le(lh, 4) != SIG_LOCAL)
		return bad(r, "bad local file header signature");
	if (td_le(lh + 26, 2) != strlen(m->name))
		return bad(r, "local header name differs from the central "
			   "directory");
	start = loff + LOCAL_LEN + td_le(lh + 26, 2) + td_le(lh + 28, 2);
	if (!td_range_ok(start, m->size, r->len))
		return bad(r, "member data runs past the end of the archive");
	m->data_off = r->off + start;
	return 0;
}

/* Parses one central directory entry at cd[*pos]; advances *pos. */
static int parse_entry(const range *r, const unsigned char *cd, size_t cdlen,
		       size_t *pos, zip_member *m)
{
	const unsigned char *e = cd + *pos;
	size_t nlen, xlen, clen;
	uint64_t csize, usize, loff;

	if (cdlen - *pos < CENTRAL_LEN || td_le(e, 4) != SIG_CENTRAL)
		return bad(r, "bad central directory entry");
	nlen = (size_t)td_le(e + 28, 2);
	xlen = (size_t)td_le(e + 30, 2);
	clen = (size_t)td_le(e + 32, 2);
	if (nlen + xlen + clen > cdlen - *pos - CENTRAL_LEN)
		return bad(r, "central directory entry runs past its end");
	if (td_le(e + 8, 2) & 1)
		return bad(r, "encrypted members are not supported");
	if (td_le(e + 10, 2) != 0)
		return bad(r, "compressed members are not supported (torch.save "
			   "stores them uncompressed)");
	m->crc32 = (uint32_t)td_le(e + 16, 4);
	csize = td_le(e + 20, 4);
	usize = td_le(e + 24, 4);
	loff = td_le(e + 42, 4);
	if (apply_zip64_extra(r, e + CENTRAL_LEN + nlen, xlen, &usize, &csize,
			      &loff) != 0)
		return -1;
	if (csize != usize)
		return bad(r, "stored member with differing sizes");
	m->size = usize;
	m->name = strndup((const char *)e + CENTRAL_LEN, nlen);
	if (!m->name)
		return bad(r, "out of memory");
	*pos += CENTRAL_LEN + nlen + xlen + clen;
	return locate_data(r, m, loff);
}

static int parse_cdir(const range *r, const cdir_info *ci, zip_dir *out)
{
	unsigned char *cd = malloc(ci->size ? (size_t)ci->size : 1);
	size_t pos = 0;

	if (!cd)
		return bad(r, "out of memory");
	out->m = calloc(ci->count ? (size_t)ci->count : 1, sizeof *out->m);
	if (!out->m || rread(r, ci->off, cd, (size_t)ci->size) != 0) {
		free(cd);
		return out->m ? -1 : bad(r, "out of memory");
	}
	for (out->n = 0; out->n < ci->count; out->n++)
		if (parse_entry(r, cd, (size_t)ci->size, &pos,
				&out->m[out->n]) != 0) {
			out->n++; /* free the partly-filled entry too */
			free(cd);
			return -1;
		}
	free(cd);
	return 0;
}

int zip_read_dir(const td_file *f, uint64_t off, uint64_t len, zip_dir *out,
		 td_err *err)
{
	range r = {f, off, len, err};
	cdir_info ci = {0, 0, 0};

	memset(out, 0, sizeof *out);
	if (!td_range_ok(off, len, f->size))
		return bad(&r, "range is past the end of the file");
	if (read_cdir_info(&r, &ci) != 0)
		return -1;
	if (parse_cdir(&r, &ci, out) != 0) {
		zip_dir_free(out);
		return -1;
	}
	return 0;
}

void zip_dir_free(zip_dir *d)
{
	size_t i;

	if (!d->m)
		return;
	for (i = 0; i < d->n; i++)
		free(d->m[i].name);
	free(d->m);
	d->m = NULL;
	d->n = 0;
}

const zip_member *zip_find(const zip_dir *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->m[i].name, name) == 0)
			return &d->m[i];
	return NULL;
}
