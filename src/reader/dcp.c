/* dcp.c — from the pickled torch.distributed.checkpoint Metadata to a
 * catalog.  The classes read here (all pickled dataclasses: NEWOBJ then
 * BUILD with a dict of fields, except TensorProperties whose state is a
 * tuple) are documented in docs/formats.md. */
#include "dcp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/map.h"
#include "pickle.h"

#define MAX_METADATA ((uint64_t)4 << 30)
#define MAX_OPEN_FILES 64
#define MOD_METADATA "torch.distributed.checkpoint.metadata"
#define MOD_FILESYSTEM "torch.distributed.checkpoint.filesystem"

typedef struct loader {
	dcp_catalog *cat;
	const char *path;   /* of .metadata, for messages */
	td_map *storage;    /* "fqn|o0,o1,..." -> index into infos */
	const pk_value **infos;
	td_map *files;      /* relative path -> index into cat->files */
	td_err *err;
} loader;

static int bad(const loader *ld, const char *key, const char *fmt, ...)
	TD_PRINTF(3, 4);

static int bad(const loader *ld, const char *key, const char *fmt, ...)
{
	char what[TD_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (key)
		return td_errf(ld->err, "%s: key '%s': %s", ld->path, key, what);
	return td_errf(ld->err, "%s: %s", ld->path, what);
}

const char *dcp_skip_reason(const char *name)
{
	if (strstr(name, "optimizer"))
		return "optimizer";
	if (strstr(name, "_state"))
		return "_state";
	return NULL;
}

/* ---------------------------------------------------------------- storage
 * index: MetadataIndex(fqn, offset) -> _StorageInfo */

/* "fqn" NUL "o0,o1,..." (or "-" for no offsets) into buf; its length. */
static size_t index_key(char *buf, size_t size, const char *fqn,
			const int64_t *off, int n)
{
	size_t len = strlen(fqn) + 1;
	int i;

	if (len >= size)
		return 0;
	memcpy(buf, fqn, len);
	if (n < 0)
		len += (size_t)snprintf(buf + len, size - len, "-");
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%" PRId64 ",",
					off[i]);
	return len < size ? len : 0;
}

static int add_storage_entry(loader *ld, const pk_value *idx,
			     const pk_value *info, size_t i)
{
	const char *fqn = pk_str(pk_attr(idx, "fqn"));
	const pk_value *offv = pk_attr(idx, "offset");
	int64_t off[TD_MAX_DIMS];
	char key[4096];
	size_t klen;
	int n = -1;

	if (!pk_is_instance(idx, MOD_METADATA, "MetadataIndex") || !fqn)
		return bad(ld, NULL, "storage_data has a malformed index");
	if (offv && offv->kind != PK_NONE &&
	    (n = pk_int_tuple(offv, off, TD_MAX_DIMS)) < 0)
		return bad(ld, fqn, "storage_data index has malformed offsets");
	klen = index_key(key, sizeof key, fqn, off, n);
	if (!klen)
		return bad(ld, fqn, "key name too long");
	ld->infos[i] = info;
	switch (td_map_put(ld->storage, key, klen, i, NULL)) {
	case 0:  return 0;
	case 1:  return bad(ld, fqn, "storage_data lists a chunk twice");
	default: return bad(ld, NULL, "out of memory");
	}
}

static int index_storage(loader *ld, const pk_value *sd)
{
	size_t i, n;

	if (!sd || sd->kind != PK_DICT)
		return bad(ld, NULL, "storage_data is missing or not a dict");
	n = sd->u.seq.n / 2;
	ld->storage = td_map_new();
	ld->infos = calloc(n ? n : 1, sizeof *ld->infos);
	if (!ld->storage || !ld->infos)
		return bad(ld, NULL, "out of memory");
	for (i = 0; i < n; i++)
		if (add_storage_entry(ld, sd->u.seq.v[2 * i],
				      sd->u.seq.v[2 * i + 1], i) != 0)
			return -1;
	return 0;
}

/* ---------------------------------------------------------------- files */

static int valid_relative_path(const char *p)
{
	return p[0] && !strchr(p, '/') && strcmp(p, ".") != 0 &&
	       strcmp(p, "..") != 0 && strcmp(p, ".metadata") != 0;
}

static int file_index(loader *ld, const char *key, const char *rel,
		      size_t *out)
{
	dcp_catalog *c = ld->cat;
	char **nf;

	if (!valid_relative_path(rel))
		return bad(ld, key, "storage file name '%s' is not a plain file "
			   "name in the checkpoint directory", rel);
	if (td_map_get(ld->files, rel, strlen(rel), out))
		return 0;
	nf = realloc(c->files, (c->nfiles + 1) * sizeof *nf);
	if (!nf)
		return bad(ld, NULL, "out of memory");
	c->files = nf;
	c->files[c->nfiles] = strdup(rel);
	if (!c->files[c->nfiles])
		return bad(ld, NULL, "out of memory");
	*out = c->nfiles++;   /* the catalog owns the copy from here on */
	if (td_map_put(ld->files, rel, strlen(rel), *out, NULL) < 0)
		return bad(ld, NULL, "out of memory");
	return 0;
}

/* Finds the _StorageInfo of (key, offsets) and fills file/offset/length. */
static int locate(loader *ld, const char *name, const int64_t *off, int n,
		  dcp_chunk *ch)
{
	const pk_value *info, *tds, *ofs, *len;
	char key[4096];
	size_t klen = index_key(key, sizeof key, name, off, n), i;
	const char *rel;

	if (!klen || !td_map_get(ld->storage, key, klen, &i))
		return bad(ld, name, "no storage_data entry for a chunk");
	info = ld->infos[i];
	if (!pk_is_instance(info, MOD_FILESYSTEM, "_StorageInfo"))
		return bad(ld, name, "storage entry is not a _StorageInfo");
	tds = pk_attr(info, "transform_descriptors");
	if (tds && tds->kind != PK_NONE && pk_len(tds) > 0)
		return bad(ld, name, "stored with transforms (e.g. compression),"
			   " which td2hf does not support yet");
	rel = pk_str(pk_attr(info, "relative_path"));
	ofs = pk_attr(info, "offset");
	len = pk_attr(info, "length");
	if (!rel || !ofs || ofs->kind != PK_INT || ofs->u.i < 0 || !len ||
	    len->kind != PK_INT || len->u.i < 0)
		return bad(ld, name, "malformed _StorageInfo");
	ch->item_off = (uint64_t)ofs->u.i;
	ch->item_len = (uint64_t)len->u.i;
	return file_index(ld, name, rel, &ch->file);
}

/* ---------------------------------------------------------------- keys */

static int parse_dtype(loader *ld, dcp_key *k, const pk_value *props)
{
	const pk_value *st, *dt;

	if (!pk_is_instance(props, MOD_METADATA, "TensorProperties"))
		return bad(ld, k->name, "missing TensorProperties");
	st = props->u.obj->state;
	/* __getstate__ gives (dtype, layout, requires_grad, memory_format,
	 * pin_memory); accept a plain field dict too. */
	dt = st && st->kind == PK_TUPLE ? pk_item(st, 0) : pk_attr(props, "dtype");
	if (!dt || dt->kind != PK_GLOBAL || strcmp(dt->u.glob.module, "torch"))
		return bad(ld, k->name, "tensor dtype is missing");
	k->dtype = td_dtype_from_torch(dt->u.glob.name);
	if (k->dtype == TD_DT_INVALID)
		return bad(ld, k->name, "unsupported dtype torch.%s",
			   dt->u.glob.name);
	return 0;
}

/* offsets + sizes inside the global shape, and the chunk's byte size. */
static int parse_chunk(loader *ld, dcp_key *k, const pk_value *cm,
		       dcp_chunk *ch)
{
	int no, ns, d;

	if (!pk_is_instance(cm, MOD_METADATA, "ChunkStorageMetadata"))
		return bad(ld, k->name, "malformed chunk list");
	no = pk_int_tuple(pk_attr(cm, "offsets"), ch->offsets, TD_MAX_DIMS);
	ns = pk_int_tuple(pk_attr(cm, "sizes"), ch->sizes, TD_MAX_DIMS);
	if (no != k->ndim || ns != k->ndim)
		return bad(ld, k->name, "chunk rank differs from the tensor's");
	for (d = 0; d < k->ndim; d++)
		if (ch->offsets[d] < 0 || ch->sizes[d] < 0 ||
		    ch->offsets[d] > k->shape[d] ||
		    ch->sizes[d] > k->shape[d] - ch->offsets[d])
			return bad(ld, k->name, "chunk lies outside the tensor's "
				   "shape (dimension %d)", d);
	if (td_shape_nbytes(ch->sizes, k->ndim, td_dtype_size(k->dtype),
			    &ch->nbytes) != 0)
		return bad(ld, k->name, "chunk size overflows");
	return locate(ld, k->name, ch->offsets, k->ndim, ch);
}

static int parse_tensor_key(loader *ld, dcp_key *k, const pk_value *md)
{
	const pk_value *chunks = pk_attr(md, "chunks");
	size_t i;

	k->kind = DCP_TENSOR;
	if (parse_dtype(ld, k, pk_attr(md, "properties")) != 0)
		return -1;
	k->ndim = pk_int_tuple(pk_attr(md, "size"), k->shape, TD_MAX_DIMS);
	if (k->ndim < 0)
		return bad(ld, k->name, "size is missing or has more than %d "
			   "dimensions", TD_MAX_DIMS);
	if (td_shape_nbytes(k->shape, k->ndim, td_dtype_size(k->dtype),
			    &k->nbytes) != 0)
		return bad(ld, k->name, "shape is negative or too large");
	if (!chunks || chunks->kind != PK_LIST)
		return bad(ld, k->name, "chunk list is missing");
	k->chunks = calloc(chunks->u.seq.n ? chunks->u.seq.n : 1,
			   sizeof *k->chunks);
	if (!k->chunks)
		return bad(ld, NULL, "out of memory");
	for (i = 0; i < chunks->u.seq.n; i++, k->nchunks++)
		if (parse_chunk(ld, k, chunks->u.seq.v[i], &k->chunks[i]) != 0)
			return -1;
	return 0;
}

static int parse_bytes_key(loader *ld, dcp_key *k)
{
	k->kind = DCP_BYTES;
	k->dtype = TD_DT_U8;
	k->chunks = calloc(1, sizeof *k->chunks);
	if (!k->chunks)
		return bad(ld, NULL, "out of memory");
	k->nchunks = 1;
	if (locate(ld, k->name, NULL, -1, &k->chunks[0]) != 0)
		return -1;
	k->nbytes = k->chunks[0].item_len;
	return 0;
}

static int parse_key(loader *ld, dcp_key *k, const pk_value *name,
		     const pk_value *md)
{
	if (!pk_str(name))
		return bad(ld, NULL, "state_dict_metadata has a non-string key");
	k->name = strdup(pk_str(name));
	if (!k->name)
		return bad(ld, NULL, "out of memory");
	if (pk_is_instance(md, MOD_METADATA, "TensorStorageMetadata"))
		return parse_tensor_key(ld, k, md);
	if (pk_is_instance(md, MOD_METADATA, "BytesStorageMetadata"))
		return parse_bytes_key(ld, k);
	return bad(ld, k->name, "unknown storage metadata class");
}

static int parse_keys(loader *ld, const pk_value *sdm)
{
	dcp_catalog *c = ld->cat;
	td_map *seen = td_map_new();
	size_t i, n;
	int rc = 0;

	if (!sdm || sdm->kind != PK_DICT) {
		td_map_free(seen);
		return bad(ld, NULL, "state_dict_metadata is missing");
	}
	n = sdm->u.seq.n / 2;
	c->keys = calloc(n ? n : 1, sizeof *c->keys);
	if (!seen || !c->keys)
		rc = bad(ld, NULL, "out of memory");
	for (i = 0; rc == 0 && i < n; i++, c->nkeys++) {
		dcp_key *k = &c->keys[i];

		rc = parse_key(ld, k, sdm->u.seq.v[2 * i], sdm->u.seq.v[2 * i + 1]);
		if (rc == 0)
			switch (td_map_put(seen, k->name, strlen(k->name), i, NULL)) {
			case 0:  break;
			case 1:  rc = bad(ld, k->name, "key listed twice"); break;
			default: rc = bad(ld, NULL, "out of memory"); break;
			}
	}
	td_map_free(seen);
	return rc;
}

/* ---------------------------------------------------------------- load */

static int parse_metadata(loader *ld, const pk_value *root)
{
	if (!pk_is_instance(root, MOD_METADATA, "Metadata"))
		return bad(ld, NULL, "not a torch.distributed.checkpoint "
			   "Metadata pickle");
	if (index_storage(ld, pk_attr(root, "storage_data")) != 0)
		return -1;
	return parse_keys(ld, pk_attr(root, "state_dict_metadata"));
}

int dcp_load_buffer(const char *dir, const unsigned char *buf, size_t len,
		    dcp_catalog *cat, td_err *err)
{
	loader ld = {.cat = cat, .err = err};
	char *path = td_path_join(dir, ".metadata");
	pk_doc *doc = NULL;
	int rc = -1;

	memset(cat, 0, sizeof *cat);
	cat->dir = strdup(dir);
	ld.path = path;
	ld.files = td_map_new();
	if (!path || !cat->dir || !ld.files)
		td_errf(err, "%s: out of memory", dir);
	else if (!(doc = pk_parse(buf, len, NULL, err)))
		td_err_prefix(err, "%s", path);
	else
		rc = parse_metadata(&ld, pk_root(doc));
	if (rc == 0) {
		cat->open = calloc(cat->nfiles ? cat->nfiles : 1,
				   sizeof *cat->open);
		if (!cat->open)
			rc = td_errf(err, "%s: out of memory", dir);
	}
	pk_doc_free(doc);
	td_map_free(ld.storage);
	td_map_free(ld.files);
	free(ld.infos);
	free(path);
	if (rc != 0)
		dcp_free(cat);
	return rc;
}

int dcp_load(const char *dir, dcp_catalog *cat, td_err *err)
{
	char *path = td_path_join(dir, ".metadata");
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	memset(cat, 0, sizeof *cat);
	if (!path)
		return td_errf(err, "%s: out of memory", dir);
	rc = td_slurp(path, MAX_METADATA, &buf, &len, err);
	free(path);
	if (rc == 0)
		rc = dcp_load_buffer(dir, buf, len, cat, err);
	free(buf);
	return rc;
}

void dcp_free(dcp_catalog *cat)
{
	size_t i;

	for (i = 0; i < cat->nkeys; i++) {
		free(cat->keys[i].name);
		free(cat->keys[i].chunks);
	}
	for (i = 0; i < cat->nfiles; i++) {
		if (cat->open && cat->open[i].path)
			td_file_close(&cat->open[i]);
		free(cat->files[i]);
	}
	free(cat->open);
	free(cat->files);
	free(cat->keys);
	free(cat->dir);
	memset(cat, 0, sizeof *cat);
}

/* ---------------------------------------------------------------- chunks */

static void close_all(dcp_catalog *cat)
{
	size_t i;

	for (i = 0; i < cat->nfiles; i++)
		if (cat->open[i].path)
			td_file_close(&cat->open[i]);
	cat->nopen = 0;
}

const td_file *dcp_file(dcp_catalog *cat, size_t i, td_err *err)
{
	char *path;
	int rc;

	if (i >= cat->nfiles)
		return td_errf(err, "%s: no file %zu", cat->dir, i), NULL;
	if (cat->open[i].path)
		return &cat->open[i];
	if (cat->nopen >= (cat->max_open ? cat->max_open : MAX_OPEN_FILES))
		close_all(cat);
	path = td_path_join(cat->dir, cat->files[i]);
	if (!path)
		return td_errf(err, "%s: out of memory", cat->dir), NULL;
	rc = td_file_open(&cat->open[i], path, err);
	free(path);
	if (rc != 0)
		return NULL;
	cat->nopen++;
	return &cat->open[i];
}

/* Shapes equal once every size-1 dimension is dropped from both. */
static int same_squeezed(const int64_t *a, int na, const int64_t *b, int nb)
{
	int i = 0, j = 0;

	for (;;) {
		while (i < na && a[i] == 1)
			i++;
		while (j < nb && b[j] == 1)
			j++;
		if (i == na || j == nb)
			return i == na && j == nb;
		if (a[i++] != b[j++])
			return 0;
	}
}

static int check_match(const dcp_key *k, const dcp_chunk *ch,
		       const ts_tensor *t, td_err *err)
{
	char want[128], got[128];

	if (t->dtype != k->dtype)
		return td_errf(err, "stored dtype %s differs from the metadata's "
			       "%s", td_dtype_st_name(t->dtype),
			       td_dtype_st_name(k->dtype));
	if (t->nbytes != ch->nbytes ||
	    !same_squeezed(t->shape, t->ndim, ch->sizes, k->ndim)) {
		td_shape_str(ch->sizes, k->ndim, want, sizeof want);
		td_shape_str(t->shape, t->ndim, got, sizeof got);
		return td_errf(err, "stored tensor has shape %s, the metadata "
			       "says %s", got, want);
	}
	return 0;
}

/* A chunk resolved before: its tensor as the archive described it. */
static int chunk_from_cache(const dcp_key *k, const dcp_chunk *ch,
			    ts_tensor *out)
{
	memset(out, 0, sizeof *out);
	out->dtype = k->dtype;
	out->ndim = k->ndim;
	memcpy(out->shape, ch->sizes, sizeof out->shape);
	td_shape_strides(out->shape, out->ndim, out->stride);
	out->nbytes = ch->nbytes;
	out->data_off = ch->data_off;
	out->storage_off = ch->storage_off;
	out->storage_nbytes = ch->storage_nbytes;
	out->storage_crc32 = ch->storage_crc32;
	out->storage_offset = (int64_t)((ch->data_off - ch->storage_off) /
					td_dtype_size(k->dtype));
	return 0;
}

/* DCP's SAFETENSORS serialization (torch >= 2.7) writes raw tensor bytes
 * and a safetensors header instead of torch.save archives. */
static int looks_like_safetensors(const td_file *f)
{
	unsigned char head[10];

	return td_file_pread(f, 0, head, sizeof head, NULL) == 0 &&
	       head[8] == '{' && head[9] == '"';
}

int dcp_read_chunk(dcp_catalog *cat, const dcp_key *key, size_t i,
		   ts_tensor *out, td_err *err)
{
	dcp_chunk *ch;
	const td_file *f;
	int rc;

	if (key->kind != DCP_TENSOR || i >= key->nchunks)
		return td_errf(err, "%s: key '%s' has no tensor chunk %zu",
			       cat->dir, key->name, i);
	ch = &key->chunks[i];
	if (ch->resolved)
		return chunk_from_cache(key, ch, out);
	f = dcp_file(cat, ch->file, err);
	if (!f)
		return -1;
	rc = ts_read_tensor(f, ch->item_off, ch->item_len, out, err);
	if (rc != 0 && looks_like_safetensors(f))
		return td_errf(err, "%s: written with DCP's SAFETENSORS "
			       "serialization format, which td2hf does not read "
			       "(only torch.save items)", f->path);
	if (rc == 0)
		rc = check_match(key, ch, out, err);
	if (rc != 0)
		return td_err_context(err, f->path, "key '%s' chunk %zu",
				      key->name, i);
	ch->data_off = out->data_off;
	ch->storage_off = out->storage_off;
	ch->storage_nbytes = out->storage_nbytes;
	ch->storage_crc32 = out->storage_crc32;
	ch->resolved = 1;
	return 0;
}
