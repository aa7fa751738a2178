#define _GNU_SOURCE
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int td_file_open(td_file *f, const char *path, td_err *err)
{
	struct stat st;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return td_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(f->fd);
		f->fd = -1;
		return td_errf(err, "%s: not a regular file", path);
	}
	f->size = (uint64_t)st.st_size;
	f->path = strdup(path);
	if (!f->path) {
		close(f->fd);
		f->fd = -1;
		return td_errf(err, "%s: out of memory", path);
	}
	return 0;
}

void td_file_close(td_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	f->fd = -1;
	f->path = NULL;
}

int td_pwrite_all(int fd, const void *buf, size_t n, uint64_t off,
		  td_err *err)
{
	const unsigned char *p = buf;

	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) /* a short write: the next says why (ENOSPC...) */
			return td_errf(err, "write failed: %s", w < 0
				       ? strerror(errno) : "no progress");
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

int td_copy_range(int in, uint64_t in_off, int out, uint64_t out_off,
		  uint64_t len, td_err *err)
{
	loff_t ri = (loff_t)in_off, ro = (loff_t)out_off;
	char buf[1 << 16];

	while (len > 0) {
		ssize_t n = copy_file_range(in, &ri, out, &ro, (size_t)len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			len -= (uint64_t)n;
			continue;
		}
		if (n == 0)
			return td_errf(err, "copy_file_range made no progress");
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP)
			return td_errf(err, "copy_file_range: %s", strerror(errno));
		/* no kernel copy here: fall back to read and write */
		n = pread(in, buf, len < sizeof buf ? (size_t)len : sizeof buf, ri);
		if (n <= 0)
			return td_errf(err, "copying data: %s",
				       n < 0 ? strerror(errno) : "short read");
		if (td_pwrite_all(out, buf, (size_t)n, (uint64_t)ro, err) != 0)
			return -1;
		ri += n;
		ro += n;
		len -= (uint64_t)n;
	}
	return 0;
}

int td_preallocate(int fd, uint64_t size, td_err *err)
{
	int rc;

	if (size > (uint64_t)INT64_MAX)
		return td_errf(err, "file size %llu is too large",
			       (unsigned long long)size);
	do
		rc = fallocate(fd, 0, 0, (off_t)size);
	while (rc != 0 && errno == EINTR);
	if (rc == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return td_errf(err, "cannot reserve %llu bytes: %s",
			       (unsigned long long)size, strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0)
		return td_errf(err, "%s", strerror(errno));
	return 0;
}

void td_write_behind(int fd, uint64_t off, uint64_t len)
{
	if (len >= ((uint64_t)256 << 10))
		(void)sync_file_range(fd, (off_t)off, (off_t)len,
				      SYNC_FILE_RANGE_WRITE);
}

int td_range_ok(uint64_t off, uint64_t len, uint64_t limit)
{
	return off <= limit && len <= limit - off;
}

int td_file_pread(const td_file *f, uint64_t off, void *buf, size_t len,
		  td_err *err)
{
	unsigned char *p = buf;

	if (!td_range_ok(off, len, f->size))
		return td_errf(err, "%s: range [%llu, +%llu) is past the end of "
			       "the file (%llu bytes)", f->path,
			       (unsigned long long)off, (unsigned long long)len,
			       (unsigned long long)f->size);
	while (len > 0) {
		ssize_t n = pread(f->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return td_errf(err, "%s: read failed: %s", f->path,
				       strerror(errno));
		if (n == 0)
			return td_errf(err, "%s: file shrank while reading",
				       f->path);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int td_file_read_alloc(const td_file *f, uint64_t off, uint64_t len,
		       uint64_t max, unsigned char **out, td_err *err)
{
	unsigned char *buf;

	*out = NULL;
	if (len > max)
		return td_errf(err, "%s: a %llu-byte record at offset %llu is "
			       "larger than the %llu-byte limit", f->path,
			       (unsigned long long)len, (unsigned long long)off,
			       (unsigned long long)max);
	if (!td_range_ok(off, len, f->size))
		return td_file_pread(f, off, NULL, (size_t)len, err);
	buf = malloc(len ? (size_t)len : 1);
	if (!buf)
		return td_errf(err, "%s: out of memory", f->path);
	if (td_file_pread(f, off, buf, (size_t)len, err) != 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

int td_slurp(const char *path, uint64_t max, unsigned char **out,
	     size_t *len, td_err *err)
{
	td_file f;
	int rc;

	if (td_file_open(&f, path, err) != 0)
		return -1;
	rc = td_file_read_alloc(&f, 0, f.size, max, out, err);
	if (rc == 0)
		*len = (size_t)f.size;
	td_file_close(&f);
	return rc;
}

int td_ends_with(const char *name, const char *suffix)
{
	size_t a = strlen(name), b = strlen(suffix);

	return a >= b && strcmp(name + a - b, suffix) == 0;
}

char *td_path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}
