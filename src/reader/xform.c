/* xform.c — zstd items decompressed, streaming, into a scratch file. */
#include "xform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

struct xform_scratch {
	pthread_mutex_t lock;
	int fd;                 /* -1 until the first item */
	_Atomic uint64_t size;  /* bytes of decompressed items written */
	char *name;             /* for messages */
	ZSTD_DCtx *dctx;
	unsigned char *in, *out;
	size_t in_cap, out_cap;
};

xform_scratch *xform_scratch_new(const char *name)
{
	xform_scratch *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->fd = -1;
	s->name = strdup(name);
	if (!s->name || pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->name);
		free(s);
		return NULL;
	}
	return s;
}

void xform_scratch_free(xform_scratch *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	ZSTD_freeDCtx(s->dctx);
	free(s->in);
	free(s->out);
	free(s->name);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The unlinked temporary file and the decompression state, once. */
static int scratch_setup(xform_scratch *s, td_err *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (s->fd >= 0)
		return 0;
	if (!dir || !*dir)
		dir = "/tmp";
	if (snprintf(path, sizeof path, "%s/td2hf-zstd-XXXXXX", dir) >=
	    (int)sizeof path)
		return td_errf(err, "TMPDIR is too long");
	s->in_cap = ZSTD_DStreamInSize();
	s->out_cap = ZSTD_DStreamOutSize();
	s->in = malloc(s->in_cap);
	s->out = malloc(s->out_cap);
	if (!s->dctx)
		s->dctx = ZSTD_createDCtx();
	if (!s->in || !s->out || !s->dctx)
		return td_errf(err, "out of memory");
	s->fd = mkstemp(path);
	if (s->fd < 0)
		return td_errf(err, "%s: cannot create a temporary file for "
			       "decompressed items: %s", path, strerror(errno));
	unlink(path);
	(void)fcntl(s->fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n, uint64_t at)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		at += (uint64_t)w;
	}
	return 0;
}

/* Decompresses one input buffer into the scratch file at *at. */
static int feed(xform_scratch *s, ZSTD_inBuffer *in, uint64_t start,
		uint64_t *at, uint64_t max, size_t *left, td_err *err)
{
	ZSTD_outBuffer out;

	do {
		out = (ZSTD_outBuffer){s->out, s->out_cap, 0};
		*left = ZSTD_decompressStream(s->dctx, &out, in);
		if (ZSTD_isError(*left))
			return td_errf(err, "corrupt zstd frame (%s)",
				       ZSTD_getErrorName(*left));
		if (out.pos > max - (*at - start))
			return td_errf(err, "decompresses to more than the %llu "
				       "bytes its chunk can need",
				       (unsigned long long)max);
		if (write_all(s->fd, s->out, out.pos, *at) != 0)
			return td_errf(err, "cannot write decompressed data to "
				       "%s: %s", s->name, strerror(errno));
		*at += out.pos;
	} while (in->pos < in->size || out.pos == out.size);
	return 0;
}

static int decompress(xform_scratch *s, const td_file *src, uint64_t off,
		      uint64_t len, uint64_t max, xform_item *it, td_err *err)
{
	uint64_t start = atomic_load(&s->size), at = start, pos = 0;
	size_t left = 1;

	if (len == 0)
		return td_errf(err, "empty zstd item");
	ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only);
	while (pos < len) {
		size_t n = len - pos < s->in_cap ? (size_t)(len - pos) : s->in_cap;
		ZSTD_inBuffer in = {s->in, n, 0};

		if (td_file_pread(src, off + pos, s->in, n, err) != 0)
			return -1;
		if (feed(s, &in, start, &at, max, &left, err) != 0)
			return -1;
		pos += n;
	}
	if (left != 0)
		return td_errf(err, "truncated zstd frame");
	it->off = start;
	it->len = at - start;
	it->done = 1;
	atomic_store(&s->size, at);
	return 0;
}

int xform_expand(xform_scratch *s, const td_file *src, uint64_t off, uint64_t len,
		 uint64_t max, xform_item *it, td_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!it->done) {
		if (!td_range_ok(off, len, src->size))
			rc = td_errf(err, "item [%llu, +%llu) lies beyond the "
				     "end of the file (%llu bytes)",
				     (unsigned long long)off,
				     (unsigned long long)len,
				     (unsigned long long)src->size);
		else
			rc = scratch_setup(s, err);
		if (rc == 0)
			rc = decompress(s, src, off, len, max, it, err);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc != 0)
		return td_err_context(err, src->path, "zstd item at offset %llu "
				      "(%llu bytes)", (unsigned long long)off,
				      (unsigned long long)len);
	return 0;
}

int xform_open(xform_scratch *s, td_file *f, td_err *err)
{
	int fd;

	memset(f, 0, sizeof *f);
	f->fd = -1;
	pthread_mutex_lock(&s->lock);
	fd = s->fd >= 0 ? fcntl(s->fd, F_DUPFD_CLOEXEC, 0) : -1;
	pthread_mutex_unlock(&s->lock);
	if (fd < 0)
		return td_errf(err, "%s: %s", s->name,
			       s->fd < 0 ? "no item decompressed yet"
					 : strerror(errno));
	f->path = strdup(s->name);
	if (!f->path) {
		close(fd);
		return td_errf(err, "%s: out of memory", s->name);
	}
	f->fd = fd;
	f->size = atomic_load(&s->size);
	return 0;
}

void xform_refresh(xform_scratch *s, td_file *f)
{
	f->size = atomic_load(&s->size);
}
