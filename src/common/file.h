/* file.h — read-only files with their real size, and bounded reads.
 *
 * Every offset and length read from a checkpoint is checked here against
 * the file's real size before any byte is read or any buffer allocated. */
#ifndef TD_FILE_H
#define TD_FILE_H

#include <stdint.h>
#include <stddef.h>

#include "err.h"

typedef struct td_file {
	int fd;
	uint64_t size;
	char *path;
} td_file;

int td_file_open(td_file *f, const char *path, td_err *err);
void td_file_close(td_file *f);

/* Reads exactly len bytes at off into buf; an error if [off, off+len)
 * is not inside the file. */
int td_file_pread(const td_file *f, uint64_t off, void *buf, size_t len,
		  td_err *err);

/* Writes exactly n bytes of buf at off of fd ("write failed: <why>" in
 * err otherwise; the caller names the file). */
int td_pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		  td_err *err);

/* Copies len bytes between file descriptors at the given offsets:
 * copy_file_range (the kernel copies, page cache to page cache), or
 * pread/pwrite where it cannot. */
int td_copy_range(int in, uint64_t in_off, int out, uint64_t out_off,
		  uint64_t len, td_err *err);

/* Gives a new file its full size with its blocks reserved (fallocate),
 * or, where the filesystem cannot, as a sparse file (ftruncate).  A
 * full disk is then an error here, before any byte is written; and the
 * filesystem allocates the file in one go rather than piece by piece
 * as the writes come (on ext4 that made a 2.2 GB shard written by two
 * threads much faster: docs/performance.md). */
int td_preallocate(int fd, uint64_t size, td_err *err);

/* Starts writing [off, off + len) of fd back to disk without waiting
 * (ranges under 256 KiB: nothing), so that dirty pages do not pile up
 * for the final fdatasync.  Advisory: errors surface at fdatasync. */
void td_write_behind(int fd, uint64_t off, uint64_t len);

/* Checks that [off, off+len) lies inside [0, limit). */
int td_range_ok(uint64_t off, uint64_t len, uint64_t limit);

/* Reads [off, off+len) into a new malloc'd buffer; refuses len > max. */
int td_file_read_alloc(const td_file *f, uint64_t off, uint64_t len,
		       uint64_t max, unsigned char **out, td_err *err);

/* Whole small file (e.g. .metadata) into memory; refuses files > max. */
int td_slurp(const char *path, uint64_t max, unsigned char **out,
	     size_t *len, td_err *err);

/* Whether name ends with suffix (".map", ".safetensors"). */
int td_ends_with(const char *name, const char *suffix);

/* "dir/name" in a new malloc'd string. */
char *td_path_join(const char *dir, const char *name);

#endif
