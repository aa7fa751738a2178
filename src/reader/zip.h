/* zip.h — the members of a zip archive stored inside a byte range of a
 * file, as torch.save writes them (stored entries, data descriptors,
 * ZIP64).  Each item of a .distcp file is such an archive; common.pt is
 * one that fills its whole file. */
#ifndef TD_ZIP_H
#define TD_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/file.h"

typedef struct zip_member {
	char *name;
	uint64_t data_off;  /* absolute offset of the member's bytes in the file */
	uint64_t size;      /* bytes (stored: compressed == uncompressed) */
	uint32_t crc32;     /* from the central directory */
} zip_member;

typedef struct zip_dir {
	zip_member *m;
	size_t n;
} zip_dir;

/* Reads the central directory of the archive occupying [off, off+len) of
 * f and locates every member's data.  Compressed or encrypted members are
 * an error.  Errors are prefixed with the file name and the range. */
int zip_read_dir(const td_file *f, uint64_t off, uint64_t len, zip_dir *out,
		 td_err *err);
void zip_dir_free(zip_dir *d);

/* Exact-name lookup; NULL when absent. */
const zip_member *zip_find(const zip_dir *d, const char *name);

#endif
