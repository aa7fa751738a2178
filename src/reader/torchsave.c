/* torchsave.c — one archive: <prefix>/data.pkl, <prefix>/byteorder and
 * <prefix>/data/<key>, where <prefix> is the archive's single top-level
 * directory (torch names it after the file, "archive" for streams). */
#include "torchsave.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zip.h"

#define MAX_PKL ((uint64_t)256 << 20)
#define MAX_NAME 512

typedef struct archive {
	const td_file *f;
	uint64_t off, len;
	zip_dir dir;
	char prefix[MAX_NAME];
	td_err *err;
} archive;

static int bad(const archive *a, const char *fmt, ...) TD_PRINTF(2, 3);

static int bad(const archive *a, const char *fmt, ...)
{
	char what[TD_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return td_errf(a->err, "%s: torch.save archive at [%" PRIu64 ", +%"
		       PRIu64 "): %s", a->f->path, a->off, a->len, what);
}

/* Finds "<prefix>/data.pkl" with a one-level prefix. */
static const zip_member *find_data_pkl(archive *a)
{
	size_t i;

	for (i = 0; i < a->dir.n; i++) {
		const char *name = a->dir.m[i].name, *slash = strchr(name, '/');

		if (slash && strcmp(slash, "/data.pkl") == 0 &&
		    (size_t)(slash - name) < sizeof a->prefix) {
			memcpy(a->prefix, name, (size_t)(slash - name));
			a->prefix[slash - name] = '\0';
			return &a->dir.m[i];
		}
	}
	return NULL;
}

static const zip_member *member(const archive *a, const char *suffix)
{
	char name[3 * MAX_NAME];

	snprintf(name, sizeof name, "%s/%s", a->prefix, suffix);
	return zip_find(&a->dir, name);
}

static int check_byteorder(const archive *a)
{
	const zip_member *m = member(a, "byteorder");
	char buf[16] = {0};

	if (!m) /* written since torch 1.x; absent means little-endian */
		return 0;
	if (m->size >= sizeof buf)
		return bad(a, "%s", "unreadable byteorder record");
	if (td_file_pread(a->f, m->data_off, buf, (size_t)m->size, a->err) != 0)
		return -1;
	if (strcmp(buf, "little") != 0)
		return bad(a, "byte order '%s' is not supported (only little)",
			   buf);
	return 0;
}

static int open_archive(archive *a, pickle_doc **doc)
{
	const zip_member *pkl;
	unsigned char *buf;

	*doc = NULL;
	if (zip_read_dir(a->f, a->off, a->len, &a->dir, a->err) != 0)
		return -1;
	pkl = find_data_pkl(a);
	if (!pkl)
		return bad(a, "%s", "no <name>/data.pkl member");
	if (check_byteorder(a) != 0)
		return -1;
	if (td_file_read_alloc(a->f, pkl->data_off, pkl->size, MAX_PKL, &buf,
			       a->err) != 0)
		return -1;
	*doc = pickle_parse(buf, (size_t)pkl->size, NULL, a->err);
	free(buf);
	if (!*doc) {
		char inner[TD_ERR_MAX];

		memcpy(inner, a->err->msg, sizeof inner);
		return bad(a, "data.pkl: %s", inner);
	}
	return 0;
}

int torchsave_read_pickle(const td_file *f, uint64_t off, uint64_t len,
			  pickle_doc **doc, td_err *err)
{
	archive a = {.f = f, .off = off, .len = len, .err = err};
	int rc = open_archive(&a, doc);

	zip_dir_free(&a.dir);
	return rc;
}

/* ('storage', torch.<X>Storage, key, location, numel) */
static int parse_storage(const archive *a, const pickle_value *pid,
			 torchsave_tensor *t, const char **key)
{
	const pickle_value *cls = pickle_item(pid, 1);

	if (pickle_len(pid) != 5 || !pickle_str(pickle_item(pid, 0)) ||
	    strcmp(pickle_str(pickle_item(pid, 0)), "storage") != 0 ||
	    !cls || cls->kind != PK_GLOBAL || !pickle_str(pickle_item(pid, 2)))
		return bad(a, "%s", "tensor storage reference is malformed");
	if (strcmp(cls->u.glob.module, "torch") != 0 ||
	    (t->dtype = td_dtype_from_storage(cls->u.glob.name)) ==
	    TD_DT_INVALID)
		return bad(a, "unsupported storage type %s", cls->u.glob.name);
	*key = pickle_str(pickle_item(pid, 2));
	return 0;
}

/* Row-major strides are required, except along dimensions of size 1. */
static int check_contiguous(const archive *a, const torchsave_tensor *t)
{
	if (!td_shape_contiguous(t->shape, t->stride, t->ndim))
		return bad(a, "%s", "non-contiguous tensor (its strides are not "
			   "row-major); not supported");
	return 0;
}

static int place_data(const archive *a, torchsave_tensor *t, const char *key)
{
	char name[MAX_NAME + 8];
	const zip_member *m;
	size_t isz = td_dtype_size(t->dtype);
	uint64_t skip;

	snprintf(name, sizeof name, "data/%s", key);
	m = member(a, name);
	if (!m)
		return bad(a, "storage member data/%s is missing", key);
	if (td_shape_nbytes(t->shape, t->ndim, isz, &t->nbytes) != 0)
		return bad(a, "%s", "tensor shape is negative or too large");
	if (t->storage_offset < 0 ||
	    (uint64_t)t->storage_offset > m->size / isz)
		return bad(a, "%s", "storage offset is past the storage");
	skip = (uint64_t)t->storage_offset * isz;
	if (t->nbytes > m->size - skip)
		return bad(a, "%s", "tensor is larger than its storage");
	t->storage_off = m->data_off;
	t->storage_nbytes = m->size;
	t->storage_crc32 = m->crc32;
	t->data_off = m->data_off + skip;
	return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) */
static int parse_tensor(const archive *a, const pickle_value *root, torchsave_tensor *t)
{
	const pickle_value *args, *storage, *off;
	const char *key = NULL;
	int n;

	if (!pickle_is_instance(root, "torch._utils", "_rebuild_tensor_v2"))
		return bad(a, "%s", "data.pkl does not hold a plain tensor "
			   "(torch._utils._rebuild_tensor_v2)");
	args = root->u.obj->args;
	storage = pickle_item(args, 0);
	off = pickle_item(args, 1);
	if (!storage || storage->kind != PK_PERSID || !off ||
	    off->kind != PK_INT)
		return bad(a, "%s", "malformed _rebuild_tensor_v2 arguments");
	if (parse_storage(a, storage->u.pid, t, &key) != 0)
		return -1;
	t->storage_offset = off->u.i;
	t->ndim = pickle_int_tuple(pickle_item(args, 2), t->shape, TD_MAX_DIMS);
	n = pickle_int_tuple(pickle_item(args, 3), t->stride, TD_MAX_DIMS);
	if (t->ndim < 0 || n != t->ndim)
		return bad(a, "%s", "tensor size/stride are malformed or have "
			   "more than 8 dimensions");
	if (check_contiguous(a, t) != 0)
		return -1;
	return place_data(a, t, key);
}

int torchsave_read_tensor(const td_file *f, uint64_t off, uint64_t len,
			  torchsave_tensor *out, td_err *err)
{
	archive a = {.f = f, .off = off, .len = len, .err = err};
	pickle_doc *doc;
	int rc;

	memset(out, 0, sizeof *out);
	rc = open_archive(&a, &doc);
	if (rc == 0)
		rc = parse_tensor(&a, pickle_root(doc), out);
	pickle_doc_free(doc);
	zip_dir_free(&a.dir);
	return rc;
}
