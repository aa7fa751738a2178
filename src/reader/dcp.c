/* dcp.c — from the pickled torch.distributed.checkpoint Metadata to a
 * catalog.  The classes read here (all pickled dataclasses: NEWOBJ then
 * BUILD with a dict of fields, except TensorProperties whose state is a
 * tuple) are documented in docs/formats.md. */
#include "dcp.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/crc32.h"
#include "../common/grow.h"
#include "../common/arena.h"
#include "../common/map.h"
#include "pickle.h"

#define MAX_METADATA ((uint64_t)4 << 30)
#define MAX_OPEN_FILES 64
#define MOD_METADATA "torch.distributed.checkpoint.metadata"
#define MOD_FILESYSTEM "torch.distributed.checkpoint.filesystem"
#define MOD_PLANNER "torch.distributed.checkpoint.planner"

/* The classes the streaming callback tells apart, by their kept value
 * once one matched (string compares only the first time). */
enum { CLS_TENSOR_MD, CLS_BYTES_MD, CLS_INDEX, CLS_WRITE_ITEM, CLS_N };

static const char *const cls_module[CLS_N] = {
	MOD_METADATA, MOD_METADATA, MOD_METADATA, MOD_PLANNER
};
static const char *const cls_name[CLS_N] = {
	"TensorStorageMetadata", "BytesStorageMetadata", "MetadataIndex",
	"WriteItem"
};

/* Key names to key indexes without copying the names: open addressing
 * over slots holding the name's hash (high half) and index + 1 (low
 * half; 0: empty), compared with the names the catalog holds.  A slot's
 * place comes from the stored half, so growing never hashes a name. */
typedef struct name_index {
	uint64_t *slot;
	size_t cap, n;      /* cap: a power of two */
} name_index;

#define SLOT_KEY(s) ((uint32_t)((s) & 0xffffffffu))
#define SLOT_TAG(s) ((uint32_t)((s) >> 32))

/* Eight bytes at a time (names are long and share long prefixes). */
static uint64_t name_hash(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = n * UINT64_C(0x9e3779b97f4a7c15), w;

	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
		h ^= h >> 31;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
	return h ^ (h >> 29);
}

/* The slot of name (hash h): its entry, or the empty slot where it
 * would go. */
static uint64_t *name_slot(const name_index *ix, const dcp_key *keys,
			   const char *name, uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = tag & (ix->cap - 1);

	while (ix->slot[i] &&
	       (SLOT_TAG(ix->slot[i]) != tag ||
		strcmp(keys[SLOT_KEY(ix->slot[i]) - 1].name, name) != 0))
		i = (i + 1) & (ix->cap - 1);
	return &ix->slot[i];
}

static int name_grow(name_index *ix)
{
	name_index big = {NULL, ix->cap ? ix->cap * 2 : 1024, ix->n};
	size_t i;

	big.slot = calloc(big.cap, sizeof *big.slot);
	if (!big.slot)
		return -1;
	for (i = 0; i < ix->cap; i++)
		if (ix->slot[i]) {
			size_t j = SLOT_TAG(ix->slot[i]) & (big.cap - 1);

			while (big.slot[j]) /* names are distinct: no compare */
				j = (j + 1) & (big.cap - 1);
			big.slot[j] = ix->slot[i];
		}
	free(ix->slot);
	*ix = big;
	return 0;
}

/* 0 added, 1 already there, -1 out of memory. */
static int name_add(name_index *ix, const dcp_key *keys, uint32_t k)
{
	uint64_t *s, h;

	if ((ix->n + 1) * 2 > ix->cap && name_grow(ix) != 0)
		return -1;
	h = name_hash(keys[k].name);
	s = name_slot(ix, keys, keys[k].name, h);
	if (*s)
		return 1;
	*s = (h >> 32 << 32) | (uint64_t)(k + 1);
	ix->n++;
	return 0;
}

/* 1 and *k when the catalog has a key of that name. */
static int name_find(const name_index *ix, const dcp_key *keys,
		     const char *name, size_t *k)
{
	uint64_t *s;

	if (!ix->cap)
		return 0;
	s = name_slot(ix, keys, name, name_hash(name));
	if (*s)
		*k = SLOT_KEY(*s) - 1;
	return *s != 0;
}

/* Where a storage_data entry's item is, and how it is stored. */
typedef struct item_loc {
	uint32_t file;
	uint64_t off, len;
	unsigned char xform;     /* XF_NONE, XF_ZSTD */
} item_loc;

/* A storage_data entry met before its key (kept until the keys are in). */
typedef struct pending {
	char *fqn;
	int n;                   /* offsets, -1 for none (bytes entries) */
	int64_t off[TD_MAX_DIMS];
	item_loc loc;
} pending;

typedef struct loader {
	dcp_catalog *cat;
	const char *path;   /* of .metadata, for messages */
	name_index names;   /* key name -> index into cat->keys */
	size_t keys_cap;
	pending *pend;
	size_t npend, pend_cap;
	td_map *files;      /* relative path -> index into cat->files */
	int failed;         /* a callback set err (it names the file) */
	const pickle_value *cls[CLS_N]; /* kept class values seen to match */
	const pickle_value *last_rel;   /* the last kept relative_path value */
	uint32_t last_file;         /* and its file index */
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

/* v is an instance of class c (an object whose callable is it). */
static int is_class(loader *ld, const pickle_value *v, int c)
{
	const pickle_value *cl;

	if (!v || v->kind != PK_OBJECT)
		return 0;
	cl = v->u.obj->callable;
	if (cl && cl == ld->cls[c])
		return 1;
	if (!pickle_is_instance(v, cls_module[c], cls_name[c]))
		return 0;
	if (cl && !cl->scratch) /* kept: its address stays its own */
		ld->cls[c] = cl;
	return 1;
}

/* ---------------------------------------------------------------- files */

static int valid_relative_path(const char *p)
{
	return p[0] && !strchr(p, '/') && strcmp(p, ".") != 0 &&
	       strcmp(p, "..") != 0 && strcmp(p, ".metadata") != 0;
}

/* Appends a copy of name to the catalog's files (which owns it then). */
static int add_file(loader *ld, const char *name)
{
	dcp_catalog *c = ld->cat;
	char **nf = realloc(c->files, (c->nfiles + 1) * sizeof *nf);

	if (!nf)
		return bad(ld, NULL, "out of memory");
	c->files = nf;
	c->files[c->nfiles] = strdup(name);
	if (!c->files[c->nfiles])
		return bad(ld, NULL, "out of memory");
	c->nfiles++;
	return 0;
}

static int file_index(loader *ld, const char *key, const char *rel,
		      uint32_t *out)
{
	dcp_catalog *c = ld->cat;
	size_t i;

	if (!valid_relative_path(rel))
		return bad(ld, key, "storage file name '%s' is not a plain file "
			   "name in the checkpoint directory", rel);
	if (td_map_get(ld->files, rel, strlen(rel), &i)) {
		*out = (uint32_t)i;
		return 0;
	}
	if (c->nfiles >= UINT32_MAX)
		return bad(ld, key, "too many storage files");
	if (add_file(ld, rel) != 0)
		return -1;
	*out = (uint32_t)(c->nfiles - 1);
	if (td_map_put(ld->files, rel, strlen(rel), *out, NULL) < 0)
		return bad(ld, NULL, "out of memory");
	return 0;
}

/* ---------------------------------------------------------------- keys */

static int parse_dtype(loader *ld, dcp_key *k, const pickle_value *props)
{
	const pickle_value *st, *dt;

	if (!pickle_is_instance(props, MOD_METADATA, "TensorProperties"))
		return bad(ld, k->name, "missing TensorProperties");
	st = props->u.obj->state;
	/* __getstate__ gives (dtype, layout, requires_grad, memory_format,
	 * pin_memory); accept a plain field dict too. */
	dt = st && st->kind == PK_TUPLE ? pickle_item(st, 0) : pickle_attr(props, "dtype");
	if (!dt || dt->kind != PK_GLOBAL || strcmp(dt->u.glob.module, "torch"))
		return bad(ld, k->name, "tensor dtype is missing");
	k->dtype = td_dtype_from_torch(dt->u.glob.name);
	if (k->dtype == TD_DT_INVALID)
		return bad(ld, k->name, "unsupported dtype torch.%s",
			   dt->u.glob.name);
	return 0;
}

/* offsets + sizes inside the global shape, and the chunk's byte size. */
static int parse_chunk(loader *ld, dcp_key *k, const pickle_value *cm,
		       dcp_chunk *ch)
{
	int no, ns, d;

	if (!pickle_is_instance(cm, MOD_METADATA, "ChunkStorageMetadata"))
		return bad(ld, k->name, "malformed chunk list");
	no = pickle_int_tuple(pickle_attr(cm, "offsets"), ch->offsets, k->ndim);
	ns = pickle_int_tuple(pickle_attr(cm, "sizes"), ch->sizes, k->ndim);
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
	return 0;
}

/* One block: the chunk array, every chunk's offsets and sizes, and the
 * order (filled by build_order). */
static int alloc_chunks(loader *ld, dcp_key *k, size_t n)
{
	size_t i, per = 2 * (size_t)k->ndim;
	size_t each = sizeof *k->chunks + per * sizeof *k->dims +
		      sizeof *k->order;
	unsigned char *block;

	if (n > UINT32_MAX || n > SIZE_MAX / each - 1)
		return bad(ld, k->name, "too many chunks");
	block = calloc(n ? n : 1, each);
	if (!block)
		return bad(ld, NULL, "out of memory");
	k->chunks = (dcp_chunk *)block;
	k->dims = (int64_t *)(block + n * sizeof *k->chunks);
	k->order = (uint32_t *)(block + n * (sizeof *k->chunks +
					     per * sizeof *k->dims));
	for (i = 0; i < n && per; i++) {
		k->chunks[i].offsets = k->dims + i * per;
		k->chunks[i].sizes = k->dims + i * per + k->ndim;
	}
	return 0;
}

static int parse_tensor_key(loader *ld, dcp_key *k, const pickle_value *md)
{
	const pickle_value *chunks = pickle_attr(md, "chunks");
	size_t i;

	k->kind = DCP_TENSOR;
	if (parse_dtype(ld, k, pickle_attr(md, "properties")) != 0)
		return -1;
	k->ndim = pickle_int_tuple(pickle_attr(md, "size"), k->shape, TD_MAX_DIMS);
	if (k->ndim < 0)
		return bad(ld, k->name, "size is missing or has more than %d "
			   "dimensions", TD_MAX_DIMS);
	if (td_shape_nbytes(k->shape, k->ndim, td_dtype_size(k->dtype),
			    &k->nbytes) != 0)
		return bad(ld, k->name, "shape is negative or too large");
	if (!chunks || chunks->kind != PK_LIST)
		return bad(ld, k->name, "chunk list is missing");
	if (alloc_chunks(ld, k, chunks->u.seq.n) != 0)
		return -1;
	for (i = 0; i < chunks->u.seq.n; i++, k->nchunks++)
		if (parse_chunk(ld, k, chunks->u.seq.v[i], &k->chunks[i]) != 0)
			return -1;
	return 0;
}

static int parse_bytes_key(loader *ld, dcp_key *k)
{
	k->kind = DCP_BYTES;
	k->dtype = TD_DT_U8;
	k->ndim = 0;
	if (alloc_chunks(ld, k, 1) != 0)
		return -1;
	k->nchunks = 1;
	return 0;
}

static int grow_keys(loader *ld)
{
	dcp_catalog *c = ld->cat;
	size_t old = ld->keys_cap;
	dcp_key *nk = td_grow(c->keys, c->nkeys, &ld->keys_cap, sizeof *nk, 256);

	if (!nk)
		return bad(ld, NULL, "out of memory");
	c->keys = nk;
	memset(c->keys + old, 0, (ld->keys_cap - old) * sizeof *nk);
	return 0;
}

/* One (name, TensorStorageMetadata | BytesStorageMetadata) pair. */
static int add_key(loader *ld, const pickle_value *name, const pickle_value *md)
{
	dcp_catalog *c = ld->cat;
	dcp_key *k;
	int rc;

	if (!pickle_str(name))
		return bad(ld, NULL, "state_dict_metadata has a non-string key");
	if (grow_keys(ld) != 0)
		return -1;
	k = &c->keys[c->nkeys++];
	k->name = td_arena_strndup(c->names, pickle_str(name), name->u.s.n);
	if (!k->name)
		return bad(ld, NULL, "out of memory");
	if (c->nkeys > UINT32_MAX - 1)
		return bad(ld, NULL, "too many keys");
	switch (name_add(&ld->names, c->keys, (uint32_t)(c->nkeys - 1))) {
	case 0:  break;
	case 1:  return bad(ld, k->name, "key listed twice");
	default: return bad(ld, NULL, "out of memory");
	}
	if (is_class(ld, md, CLS_TENSOR_MD))
		rc = parse_tensor_key(ld, k, md);
	else if (is_class(ld, md, CLS_BYTES_MD))
		rc = parse_bytes_key(ld, k);
	else
		rc = bad(ld, k->name, "unknown storage metadata class");
	return rc;
}

/* ---------------------------------------------------------------- storage
 * entries: MetadataIndex(fqn, offset) -> _StorageInfo, matched to chunks */

static int cmp_offsets(const int64_t *a, const int64_t *b, int n)
{
	int d;

	for (d = 0; d < n; d++)
		if (a[d] != b[d])
			return a[d] < b[d] ? -1 : 1;
	return 0;
}

/* Insertion of each chunk index into its sorted place would be n^2:
 * sort (index, offsets) records instead, then keep the indexes. */
typedef struct chunk_pos {
	const int64_t *off;
	int ndim;
	uint32_t i;
} chunk_pos;

static int cmp_pos(const void *x, const void *y)
{
	const chunk_pos *a = x, *b = y;

	return cmp_offsets(a->off, b->off, a->ndim);
}

static int build_order(loader *ld, size_t ki)
{
	dcp_key *k = &ld->cat->keys[ki];
	chunk_pos *pos;
	size_t i;

	if (k->nchunks > UINT32_MAX)
		return bad(ld, k->name, "too many chunks");
	pos = malloc((k->nchunks ? k->nchunks : 1) * sizeof *pos);
	if (!pos)
		return bad(ld, NULL, "out of memory");
	for (i = 0; i < k->nchunks; i++)
		pos[i] = (chunk_pos){k->chunks[i].offsets, k->ndim, (uint32_t)i};
	qsort(pos, k->nchunks, sizeof *pos, cmp_pos);
	for (i = 0; i < k->nchunks; i++) {
		k->order[i] = pos[i].i;
		if (k->ndim && k->chunks[i].sizes[0] > k->span0)
			k->span0 = k->chunks[i].sizes[0];
	}
	k->ordered = 1;
	free(pos);
	return 0;
}

/* Position h of k->order is the first chunk at offsets off. */
static int first_at(const dcp_key *k, size_t h, const int64_t *off, int n)
{
	return h < k->nchunks &&
	       cmp_offsets(k->chunks[k->order[h]].offsets, off, n) == 0 &&
	       (h == 0 ||
		cmp_offsets(k->chunks[k->order[h - 1]].offsets, off, n) != 0);
}

/* Where off would be if the key's chunks were a regular grid of pieces
 * the size of its first one (experts, TP cuts, layers: the usual case),
 * or nchunks; the caller checks the guess. */
static size_t grid_guess(const dcp_key *k, const int64_t *off, int n)
{
	const int64_t *step;
	size_t idx = 0;
	int d;

	if (k->nchunks == 0)
		return 0;
	step = k->chunks[k->order[0]].sizes;
	for (d = 0; d < n; d++) {
		int64_t g;

		if (step[d] <= 0 || off[d] < 0 || off[d] % step[d] != 0)
			return k->nchunks;
		g = (k->shape[d] + step[d] - 1) / step[d];
		if (g <= 0 || idx > (k->nchunks - 1) / (size_t)g)
			return k->nchunks;
		idx = idx * (size_t)g + (size_t)(off[d] / step[d]);
	}
	return idx;
}

/* The first of key ki's chunks at offsets off[0..n) (n -1: a bytes
 * entry) in k->order, or nchunks when none: the regular-grid position,
 * else a binary search (each step of which is a cache miss).  Storage
 * entries come in the order of the files' write buckets, not the key's,
 * so "the chunk after the last one placed" almost never hits. */
static size_t find_chunk(const loader *ld, size_t ki, const int64_t *off,
			 int n)
{
	const dcp_key *k = &ld->cat->keys[ki];
	size_t lo = 0, hi = k->nchunks, h;

	if (k->kind == DCP_BYTES)
		return n < 0 ? 0 : k->nchunks;
	if (n != k->ndim)
		return k->nchunks;
	h = grid_guess(k, off, n);
	if (first_at(k, h, off, n))
		return h;
	while (lo < hi) { /* the first position not below off */
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_offsets(k->chunks[k->order[mid]].offsets, off, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < k->nchunks &&
	    cmp_offsets(k->chunks[k->order[lo]].offsets, off, n) == 0)
		return lo;
	return k->nchunks;
}

static int set_item(loader *ld, dcp_chunk *c, const item_loc *loc)
{
	dcp_catalog *cat = ld->cat;

	c->file = c->item_file = loc->file;
	c->item_off = loc->off;
	c->item_len = loc->len;
	c->xform = loc->xform;
	c->located = 1;
	if (loc->xform == XF_NONE)
		return 0;
	if (cat->nxitems >= UINT32_MAX - 1)
		return bad(ld, NULL, "too many transformed items");
	if (cat->nxitems == cat->xitems_cap) {
		xform_item *nx = td_grow(cat->xitems, cat->nxitems,
					 &cat->xitems_cap, sizeof *nx, 64);

		if (!nx)
			return bad(ld, NULL, "out of memory");
		cat->xitems = nx;
	}
	memset(&cat->xitems[cat->nxitems], 0, sizeof *cat->xitems);
	c->xi = (uint32_t)++cat->nxitems;
	return 0;
}

/* Records the archive of (fqn, off) in its chunk (in every chunk at those
 * offsets: the tiling check reports duplicates): 1 done (or not a chunk
 * of the key), 0 key unknown yet, -1 error. */
static int place(loader *ld, const char *fqn, const int64_t *off, int n,
		 const item_loc *loc)
{
	size_t ki, i;
	dcp_key *k;

	if (!name_find(&ld->names, ld->cat->keys, fqn, &ki))
		return 0;
	k = &ld->cat->keys[ki];
	if (k->kind == DCP_BYTES) {
		if (n >= 0)
			return 1; /* names no chunk: unused, as torch leaves it */
		if (k->chunks[0].located)
			return bad(ld, fqn, "storage_data lists a chunk twice");
		if (set_item(ld, &k->chunks[0], loc) != 0)
			return -1;
		k->nbytes = loc->len;
		return 1;
	}
	if (!k->ordered && build_order(ld, ki) != 0)
		return -1;
	i = find_chunk(ld, ki, off, n);
	if (i < k->nchunks && k->chunks[k->order[i]].located)
		return bad(ld, fqn, "storage_data lists a chunk twice");
	for (; i < k->nchunks &&
	       cmp_offsets(k->chunks[k->order[i]].offsets, off, n) == 0; i++)
		if (set_item(ld, &k->chunks[k->order[i]], loc) != 0)
			return -1;
	return 1;
}

static int add_pending(loader *ld, const char *fqn, const int64_t *off,
		       int n, const item_loc *loc)
{
	pending *pd;

	pd = td_grow(ld->pend, ld->npend, &ld->pend_cap, sizeof *pd, 64);
	if (!pd)
		return bad(ld, NULL, "out of memory");
	ld->pend = pd;
	pd = &ld->pend[ld->npend];
	memset(pd, 0, sizeof *pd);
	pd->fqn = strdup(fqn);
	if (!pd->fqn)
		return bad(ld, NULL, "out of memory");
	pd->n = n;
	if (n > 0)
		memcpy(pd->off, off, (size_t)n * sizeof *off);
	pd->loc = *loc;
	ld->npend++;
	return 0;
}

/* _StorageInfo.transform_descriptors (torch >= 2.7; absent or empty
 * when the item is stored as is): XF_NONE, XF_ZSTD, or -1 (refused by
 * name). */
static int parse_transforms(loader *ld, const char *fqn, const pickle_value *tds)
{
	const char *name;

	if (!tds || tds->kind == PK_NONE || pickle_len(tds) == 0)
		return XF_NONE;
	if (tds->kind != PK_LIST && tds->kind != PK_TUPLE)
		return bad(ld, fqn, "transform_descriptors is not a list");
	name = pickle_str(pickle_item(tds, 0));
	if (!name)
		return bad(ld, fqn, "transform_descriptors holds a non-string");
	if (pickle_len(tds) > 1)
		return bad(ld, fqn, "stored through %zu transforms ('%s', ...); "
			   "td2hf reads only '" XF_ZSTD_NAME "' alone",
			   pickle_len(tds), name);
	if (strcmp(name, XF_ZSTD_NAME) != 0)
		return bad(ld, fqn, "stored with transform '%s', which td2hf "
			   "does not read (only '" XF_ZSTD_NAME "')", name);
	ld->cat->nzstd++;
	return XF_ZSTD;
}

static int add_storage_entry(loader *ld, const pickle_value *idx,
			     const pickle_value *info)
{
	const char *fqn = pickle_str(pickle_attr(idx, "fqn"));
	const pickle_value *offv = pickle_attr(idx, "offset"), *ofs, *len, *relv;
	int64_t off[TD_MAX_DIMS];
	const char *rel;
	item_loc loc = {0, 0, 0, XF_NONE};
	int n = -1, rc, xf;

	if (!is_class(ld, idx, CLS_INDEX) || !fqn)
		return bad(ld, NULL, "storage_data has a malformed index");
	if (offv && offv->kind != PK_NONE &&
	    (n = pickle_int_tuple(offv, off, TD_MAX_DIMS)) < 0)
		return bad(ld, fqn, "storage_data index has malformed offsets");
	if (!pickle_is_instance(info, MOD_FILESYSTEM, "_StorageInfo"))
		return bad(ld, fqn, "storage entry is not a _StorageInfo");
	xf = parse_transforms(ld, fqn, pickle_attr(info, "transform_descriptors"));
	if (xf < 0)
		return -1;
	loc.xform = (unsigned char)xf;
	relv = pickle_attr(info, "relative_path");
	rel = pickle_str(relv);
	ofs = pickle_attr(info, "offset");
	len = pickle_attr(info, "length");
	if (!rel || !ofs || ofs->kind != PK_INT || ofs->u.i < 0 || !len ||
	    len->kind != PK_INT || len->u.i < 0)
		return bad(ld, fqn, "malformed _StorageInfo");
	if (relv && relv == ld->last_rel) { /* the same kept string */
		loc.file = ld->last_file;
	} else {
		if (file_index(ld, fqn, rel, &loc.file) != 0)
			return -1;
		if (relv && !relv->scratch) {
			ld->last_rel = relv;
			ld->last_file = loc.file;
		}
	}
	loc.off = (uint64_t)ofs->u.i;
	loc.len = (uint64_t)len->u.i;
	rc = place(ld, fqn, off, n, &loc);
	if (rc == 0)
		rc = add_pending(ld, fqn, off, n, &loc);
	return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- streaming */

static int is_storage_md(loader *ld, const pickle_value *v)
{
	return is_class(ld, v, CLS_TENSOR_MD) || is_class(ld, v, CLS_BYTES_MD);
}

/* The big parts of the pickle, consumed item by item: state_dict_metadata
 * pairs, storage_data pairs, and all_local_plans' WriteItems (dropped). */
static int on_items(void *ctx, const pickle_value *target,
		    pickle_value *const *items, size_t n, int is_dict, td_err *err)
{
	loader *ld = ctx;
	size_t i;
	int rc = 0;

	(void)target;
	(void)err;
	if (is_dict && n >= 2 && is_storage_md(ld, items[1])) {
		for (i = 0; rc == 0 && i + 1 < n; i += 2)
			rc = add_key(ld, items[i], items[i + 1]);
	} else if (is_dict && n >= 2 && is_class(ld, items[0], CLS_INDEX)) {
		for (i = 0; rc == 0 && i + 1 < n; i += 2)
			rc = add_storage_entry(ld, items[i], items[i + 1]);
	} else if (!is_dict && n >= 1 &&
		   is_class(ld, items[0], CLS_WRITE_ITEM)) {
		return 1;
	} else {
		return 0;
	}
	if (rc != 0)
		ld->failed = 1;
	return rc != 0 ? -1 : 1;
}

/* The scratch file of decompressed items becomes file nitem_files (its
 * name only shows in messages), where the transformed chunks' data lie. */
static int add_scratch(loader *ld)
{
	dcp_catalog *c = ld->cat;
	char name[4096];
	size_t i, j;

	snprintf(name, sizeof name, "%s (zstd items, decompressed)", c->dir);
	if (add_file(ld, name) != 0)
		return -1;
	c->scratch = xform_scratch_new(name);
	if (!c->scratch)
		return bad(ld, NULL, "out of memory");
	for (i = 0; i < c->nkeys; i++)
		for (j = 0; j < c->keys[i].nchunks; j++)
			if (c->keys[i].chunks[j].xform != XF_NONE)
				c->keys[i].chunks[j].file =
					(uint32_t)(c->nfiles - 1);
	return 0;
}

/* Entries met before their keys, then every chunk must have its archive. */
static int finish(loader *ld)
{
	dcp_catalog *c = ld->cat;
	size_t i, j;
	int rc;

	for (i = 0; i < ld->npend; i++) {
		pending *pd = &ld->pend[i];

		rc = place(ld, pd->fqn, pd->off, pd->n, &pd->loc);
		if (rc < 0) /* rc 0: an entry of no key is unused */
			return -1;
	}
	for (i = 0; i < c->nkeys; i++)
		for (j = 0; j < c->keys[i].nchunks; j++)
			if (!c->keys[i].chunks[j].located)
				return bad(ld, c->keys[i].name,
					   "no storage_data entry for a chunk");
	c->nitem_files = c->nfiles;
	return c->nzstd ? add_scratch(ld) : 0;
}

static int parse_metadata(loader *ld, const pickle_value *root)
{
	const pickle_value *sdm, *sd;

	if (!pickle_is_instance(root, MOD_METADATA, "Metadata"))
		return bad(ld, NULL, "not a torch.distributed.checkpoint "
			   "Metadata pickle");
	sd = pickle_attr(root, "storage_data");
	if (!sd || sd->kind != PK_DICT)
		return bad(ld, NULL, "storage_data is missing or not a dict");
	sdm = pickle_attr(root, "state_dict_metadata");
	if (!sdm || sdm->kind != PK_DICT)
		return bad(ld, NULL, "state_dict_metadata is missing");
	/* a dict the callback did not consume holds something else */
	if (sdm->u.seq.n || sd->u.seq.n)
		return bad(ld, NULL, "state_dict_metadata or storage_data holds "
			   "an entry of an unexpected class");
	if (pickle_str(pickle_attr(root, "version")) &&
	    !(ld->cat->version = strdup(pickle_str(pickle_attr(root, "version")))))
		return bad(ld, NULL, "out of memory");
	return finish(ld);
}

static void loader_free(loader *ld)
{
	size_t i;

	for (i = 0; i < ld->npend; i++)
		free(ld->pend[i].fqn);
	free(ld->pend);
	free(ld->names.slot);
	td_map_free(ld->files);
}

int dcp_load_buffer(const char *dir, const unsigned char *buf, size_t len,
		    dcp_catalog *cat, td_err *err)
{
	loader ld = {.cat = cat, .err = err};
	char *path = td_path_join(dir, ".metadata");
	pickle_doc *doc = NULL;
	int rc = -1;

	memset(cat, 0, sizeof *cat);
	cat->meta_size = len;
	cat->meta_crc32 = td_crc32(0, buf, len);
	cat->dir = strdup(dir);
	ld.path = path;
	ld.files = td_map_new();
	cat->names = td_arena_new(MAX_METADATA);
	if (!path || !cat->dir || !ld.files || !cat->names)
		td_errf(err, "%s: out of memory", dir);
	else if (!(doc = pickle_parse_stream(buf, len, NULL, on_items, &ld,
					   "all_local_plans", err))) {
		if (!ld.failed)
			td_err_prefix(err, "%s", path);
	} else
		rc = parse_metadata(&ld, pickle_root(doc));
	pickle_doc_free(doc);
	if (rc == 0) {
		dcp_set_open_budget(cat, 1, 16);
		cat->open = calloc(cat->nfiles ? cat->nfiles : 1,
				   sizeof *cat->open);
		cat->used = calloc(cat->nfiles ? cat->nfiles : 1,
				   sizeof *cat->used);
		if (!cat->open || !cat->used)
			rc = td_errf(err, "%s: out of memory", dir);
	}
	loader_free(&ld);
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
		free(cat->keys[i].chunks); /* with its dims and order */
	}
	for (i = 0; i < cat->nfiles; i++) {
		if (cat->open && cat->open[i].path)
			td_file_close(&cat->open[i]);
		free(cat->files[i]);
	}
	free(cat->open);
	free(cat->used);
	free(cat->files);
	free(cat->version);
	xform_scratch_free(cat->scratch);
	free(cat->xitems);
	free(cat->keys);
	td_arena_free(cat->names);
	free(cat->dir);
	memset(cat, 0, sizeof *cat);
}

/* ---------------------------------------------------------------- chunks */

/* File i is the scratch file of decompressed items. */
static int is_scratch(const dcp_catalog *cat, size_t i)
{
	return cat->scratch && i >= cat->nitem_files;
}

/* Closes the least recently used open file. */
static void close_lru(dcp_catalog *cat)
{
	size_t i, v = cat->nfiles;

	for (i = 0; i < cat->nfiles; i++)
		if (cat->open[i].path &&
		    (v == cat->nfiles || cat->used[i] < cat->used[v]))
			v = i;
	if (v < cat->nfiles) {
		td_file_close(&cat->open[v]);
		cat->nopen--;
	}
}

const td_file *dcp_file(dcp_catalog *cat, size_t i, td_err *err)
{
	char *path;
	int rc;

	if (i >= cat->nfiles)
		return td_errf(err, "%s: no file %zu", cat->dir, i), NULL;
	cat->used[i] = ++cat->tick;
	if (cat->open[i].path) {
		if (is_scratch(cat, i))
			xform_refresh(cat->scratch, &cat->open[i]);
		return &cat->open[i];
	}
	if (cat->nopen >= (cat->max_open ? cat->max_open : MAX_OPEN_FILES))
		close_lru(cat);
	if (is_scratch(cat, i)) {
		rc = xform_open(cat->scratch, &cat->open[i], err);
		path = NULL;
	} else {
		path = td_path_join(cat->dir, cat->files[i]);
		if (!path)
			return td_errf(err, "%s: out of memory", cat->dir), NULL;
		rc = td_file_open(&cat->open[i], path, err);
	}
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
		       const torchsave_tensor *t, td_err *err)
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
			    torchsave_tensor *out)
{
	memset(out, 0, sizeof *out);
	out->dtype = k->dtype;
	out->ndim = k->ndim;
	memcpy(out->shape, ch->sizes, (size_t)k->ndim * sizeof *ch->sizes);
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

/* Chunk i's tensor from the archive [off, off+len) of f, checked
 * against the metadata; messages name no file. */
static int read_tensor(const dcp_key *key, size_t i, const td_file *f,
		       uint64_t off, uint64_t len, torchsave_tensor *out, td_err *err)
{
	if (torchsave_read_tensor(f, off, len, out, err) != 0) {
		/* drop the file name: the caller says which item this is */
		size_t n = strlen(f->path);

		if (strncmp(err->msg, f->path, n) == 0 &&
		    strncmp(err->msg + n, ": ", 2) == 0)
			memmove(err->msg, err->msg + n + 2,
				strlen(err->msg + n + 2) + 1);
		return -1;
	}
	return check_match(key, &key->chunks[i], out, err);
}

/* Reads and checks chunk i's archive, [off, off+len) of f, into out;
 * writes nothing. */
static int read_archive(const dcp_key *key, size_t i, const td_file *f,
			uint64_t off, uint64_t len, torchsave_tensor *out,
			td_err *err)
{
	const dcp_chunk *ch = &key->chunks[i];
	int rc;

	rc = torchsave_read_tensor(f, off, len, out, err);
	if (rc != 0 && looks_like_safetensors(f))
		return td_errf(err, "%s: written with DCP's SAFETENSORS "
			       "serialization format, which td2hf does not read "
			       "(only torch.save items)", f->path);
	if (rc == 0)
		rc = check_match(key, ch, out, err);
	if (rc != 0)
		return td_err_context(err, f->path, "key '%s' chunk %zu",
				      key->name, i);
	return 0;
}

/* Records where the chunk's bytes are, then marks it resolved. */
static void remember(dcp_chunk *ch, const torchsave_tensor *t)
{
	ch->data_off = t->data_off;
	ch->storage_off = t->storage_off;
	ch->storage_nbytes = t->storage_nbytes;
	ch->storage_crc32 = t->storage_crc32;
	atomic_store_explicit(&ch->resolved, CHUNK_RESOLVED,
			      memory_order_release);
}

static int check_chunk_index(const dcp_catalog *cat, const dcp_key *key,
			     size_t i, td_err *err)
{
	if (key->kind != DCP_TENSOR || i >= key->nchunks)
		return td_errf(err, "%s: key '%s' has no tensor chunk %zu",
			       cat->dir, key->name, i);
	return 0;
}

/* 1 with out filled when chunk i's location is known already, 0 when its
 * archive must be read, -1 for a bad index. */
static int cached_chunk(const dcp_catalog *cat, const dcp_key *key, size_t i,
			torchsave_tensor *out, td_err *err)
{
	const dcp_chunk *ch;

	if (check_chunk_index(cat, key, i, err) != 0)
		return -1;
	ch = &key->chunks[i];
	if (atomic_load_explicit(&ch->resolved, memory_order_acquire) !=
	    CHUNK_RESOLVED)
		return 0;
	chunk_from_cache(key, ch, out);
	return 1;
}

/* Where chunk files come from: the catalog's own descriptors (dcp_file,
 * one thread) or a thread's (hs). */
typedef struct file_src {
	dcp_catalog *cat;
	dcp_handles *hs;
} file_src;

static const td_file *get_file(const file_src *fs, size_t i, td_err *err)
{
	return fs->hs ? dcp_handles_get(fs->hs, fs->cat, i, err)
		      : dcp_file(fs->cat, i, err);
}

/* Room for the archive around a chunk's bytes: torch.save's records, the
 * pickle, alignment, the zip directory (a few KiB in practice). */
#define ARCHIVE_SLACK ((uint64_t)1 << 20)

/* Chunk i's archive: the item as stored, or decompressed (once) into the
 * scratch file; *off and *len say where in the file returned. */
static const td_file *archive_of(const file_src *fs, dcp_key *key, size_t i,
				 uint64_t *off, uint64_t *len, td_err *err)
{
	dcp_catalog *cat = fs->cat;
	dcp_chunk *ch = &key->chunks[i];
	const td_file *src = get_file(fs, ch->item_file, err);
	xform_item *x;

	*off = ch->item_off;
	*len = ch->item_len;
	if (!src || ch->xform == XF_NONE)
		return src;
	x = &cat->xitems[ch->xi - 1];
	if (xform_expand(cat->scratch, src, ch->item_off, ch->item_len,
			 ch->nbytes + ARCHIVE_SLACK, x, err) != 0) {
		td_err_context(err, src->path, "key '%s' chunk %zu", key->name,
			       i);
		return NULL;
	}
	*off = x->off;
	*len = x->len;
	return get_file(fs, ch->file, err);
}

/* A decompressed chunk's storage against its member's CRC-32 (here, so
 * that a mismatch names the .distcp file, not the scratch file); the
 * writer then does not check it again. */
static int check_decompressed(dcp_chunk *ch, const td_file *f,
			      const torchsave_tensor *t, td_err *err)
{
	enum { BLOCK = 1 << 20 };
	unsigned char *buf = malloc(BLOCK);
	uint64_t off;
	uint32_t crc = 0;

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
	if (crc != t->storage_crc32)
		return td_errf(err, "data does not match its CRC-32 (stored "
			       "%08" PRIx32 ", computed %08" PRIx32 "): the "
			       "file is corrupt", t->storage_crc32, crc);
	ch->verified = 1;
	return 0;
}

/* Reads chunk i's archive.  The first reader to finish records the
 * location; another thread resolving the same chunk meanwhile just uses
 * its own reading. */
static int read_and_record(const file_src *fs, dcp_key *key, size_t i,
			   torchsave_tensor *out, td_err *err)
{
	const dcp_catalog *cat = fs->cat;
	unsigned char none = CHUNK_UNRESOLVED;
	dcp_chunk *ch = &key->chunks[i];
	uint64_t off, len;
	const td_file *f = archive_of(fs, key, i, &off, &len, err);

	if (!f)
		return -1;
	if (ch->xform == XF_NONE) {
		if (read_archive(key, i, f, off, len, out, err) != 0)
			return -1;
	} else if (read_tensor(key, i, f, off, len, out, err) != 0 ||
		   check_decompressed(ch, f, out, err) != 0) {
		return td_err_prefix(err, "%s/%s: key '%s' chunk %zu: zstd "
				     "item at offset %llu, decompressed",
				     cat->dir, cat->files[ch->item_file],
				     key->name, i,
				     (unsigned long long)ch->item_off);
	}
	if (atomic_compare_exchange_strong(&ch->resolved, &none,
					   CHUNK_RESOLVING))
		remember(ch, out);
	return 0;
}

/* Chunk i's location: recorded already, or read from its archive. */
static int read_chunk(const file_src *fs, dcp_key *key, size_t i,
		      torchsave_tensor *out, td_err *err)
{
	int rc = cached_chunk(fs->cat, key, i, out, err);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	return read_and_record(fs, key, i, out, err);
}

int dcp_read_chunk(dcp_catalog *cat, dcp_key *key, size_t i,
		   torchsave_tensor *out, td_err *err)
{
	file_src fs = {cat, NULL};

	return read_chunk(&fs, key, i, out, err);
}

int dcp_read_chunk_shared(dcp_catalog *cat, dcp_key *key, size_t i,
			  dcp_handles *hs, torchsave_tensor *out, td_err *err)
{
	file_src fs = {cat, hs};

	return read_chunk(&fs, key, i, out, err);
}

/* ---------------------------------------------------------------- handles */

static size_t handle_budget(size_t users, size_t reserved)
{
	struct rlimit rl;
	size_t lim = 1024, per;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		lim = (size_t)rl.rlim_cur;
	per = lim > reserved ? (lim - reserved) / (users ? users : 1) : 0;
	return per < 2 ? 2 : per > MAX_OPEN_FILES ? MAX_OPEN_FILES : per;
}

void dcp_set_open_budget(dcp_catalog *cat, size_t threads, size_t reserved)
{
	cat->max_open = handle_budget(threads, reserved);
}

/* The least recently used handle not used since the mark, or n. */
static size_t victim(const dcp_handles *hs)
{
	size_t i, v = hs->n;

	for (i = 0; i < hs->n; i++)
		if (hs->h[i]->used < hs->mark &&
		    (v == hs->n || hs->h[i]->used < hs->h[v]->used))
			v = i;
	return v;
}

/* A handle for a new file: the victim's (closed), or a new one. */
static dcp_handle *handle_slot(dcp_handles *hs, const dcp_catalog *cat,
			       td_err *err)
{
	size_t limit = hs->limit ? hs->limit
				 : cat->max_open ? cat->max_open : MAX_OPEN_FILES;
	size_t v = hs->n >= limit ? victim(hs) : hs->n;
	dcp_handle *h, **nh;

	if (v < hs->n) {
		td_file_close(&hs->h[v]->f);
		return hs->h[v];
	}
	nh = td_grow(hs->h, hs->n, &hs->cap, sizeof *nh, 8);
	if (!nh)
		return td_errf(err, "out of memory"), NULL;
	hs->h = nh;
	h = calloc(1, sizeof *h);
	if (!h)
		return td_errf(err, "out of memory"), NULL;
	hs->h[hs->n++] = h;
	return h;
}

/* Drops handle h (its file failed to open). */
static void drop_handle(dcp_handles *hs, dcp_handle *h)
{
	size_t i;

	for (i = 0; i < hs->n && hs->h[i] != h; i++)
		;
	if (i == hs->n)
		return;
	free(h);
	hs->h[i] = hs->h[--hs->n];
}

const td_file *dcp_handles_get(dcp_handles *hs, const dcp_catalog *cat,
			       size_t file, td_err *err)
{
	dcp_handle *h;
	char *path;
	size_t i;
	int rc;

	for (i = 0; i < hs->n; i++)
		if (hs->h[i]->file == file && hs->h[i]->f.path) {
			hs->h[i]->used = ++hs->tick;
			if (is_scratch(cat, file))
				xform_refresh(cat->scratch, &hs->h[i]->f);
			return &hs->h[i]->f;
		}
	if (file >= cat->nfiles)
		return td_errf(err, "%s: no file %zu", cat->dir, file), NULL;
	h = handle_slot(hs, cat, err);
	if (!h)
		return NULL;
	path = is_scratch(cat, file) ? NULL
					 : td_path_join(cat->dir, cat->files[file]);
	if (is_scratch(cat, file))
		rc = xform_open(cat->scratch, &h->f, err);
	else
		rc = path ? td_file_open(&h->f, path, err)
			  : td_errf(err, "%s: out of memory", cat->dir);
	free(path);
	if (rc != 0) {
		memset(&h->f, 0, sizeof h->f);
		drop_handle(hs, h);
		return NULL;
	}
	h->file = file;
	h->used = ++hs->tick;
	return &h->f;
}

void dcp_handles_mark(dcp_handles *hs)
{
	hs->mark = hs->tick + 1;
}

void dcp_handles_free(dcp_handles *hs)
{
	size_t i;

	for (i = 0; i < hs->n; i++) {
		if (hs->h[i]->f.path)
			td_file_close(&hs->h[i]->f);
		free(hs->h[i]);
	}
	free(hs->h);
	memset(hs, 0, sizeof *hs);
}

/* ---------------------------------------------------------------- lookups */

/* The first position of k->order whose chunk starts beyond index v of
 * axis 0. */
static size_t upper0(const dcp_key *k, int64_t v)
{
	size_t lo = 0, hi = k->nchunks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->chunks[k->order[mid]].offsets[0] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void dcp_chunks_along0(const dcp_key *k, int64_t i, size_t *from,
		       size_t *to)
{
	*from = 0;
	*to = k->nchunks;
	if (!k->ordered || k->ndim < 1 || k->span0 < 1)
		return;
	/* a chunk holding i starts in (i - span0, i] */
	*from = upper0(k, i - k->span0);
	*to = upper0(k, i);
}
