/* origin.c — --add-missing-from-origin: tensors of the original HF
 * checkpoint that the conversion did not produce are appended, as slime's
 * converter appends them: files in directory order (readdir, as Python's
 * os.listdir), names sorted within a file (safe_open's keys()), the same
 * shard rule, and its total_size arithmetic, which adds the size of the
 * last tensor handled for every name of a file, added or not. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bytes.h"
#include "../common/file.h"
#include "../common/map.h"
#include "origin.h"

#define MAX_HEADER ((uint64_t)100 << 20)

typedef struct st_entry {
	const char *name;
	td_dtype dtype;
	int ndim;
	int64_t dims[TD_MAX_DIMS];
	uint64_t begin, end;   /* absolute file offsets */
} st_entry;

static int by_name(const void *a, const void *b)
{
	return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

/* One header entry, checked against the data section's size. */
static int parse_entry(const td_file *f, const cJSON *j, uint64_t data0,
		       st_entry *e, td_err *err)
{
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
	const cJSON *x;
	uint64_t nbytes;

	e->name = j->string;
	e->dtype = cJSON_IsString(dt) ? td_dtype_from_st(dt->valuestring)
				      : TD_DT_INVALID;
	if (e->dtype == TD_DT_INVALID || !cJSON_IsArray(sh) ||
	    cJSON_GetArraySize(sh) > TD_MAX_DIMS || !cJSON_IsArray(off) ||
	    cJSON_GetArraySize(off) != 2)
		return td_errf(err, "%s: tensor '%s': malformed header entry",
			       f->path, j->string);
	e->ndim = 0;
	cJSON_ArrayForEach(x, sh) {
		if (!cJSON_IsNumber(x) || x->valuedouble < 0)
			return td_errf(err, "%s: tensor '%s': bad shape", f->path,
				       j->string);
		e->dims[e->ndim++] = (int64_t)x->valuedouble;
	}
	e->begin = data0 + (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble;
	e->end = data0 + (uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble;
	if (td_shape_nbytes(e->dims, e->ndim, td_dtype_size(e->dtype), &nbytes) ||
	    e->end < e->begin || e->end - e->begin != nbytes || e->end > f->size)
		return td_errf(err, "%s: tensor '%s': offsets do not match its "
			       "shape or the file", f->path, j->string);
	return 0;
}

/* The entries of a safetensors file, sorted by name. */
static int read_header(const td_file *f, cJSON **json, st_entry **out,
		       int *n, td_err *err)
{
	unsigned char len8[8], *buf = NULL;
	uint64_t hlen;
	const cJSON *j;

	*json = NULL;
	*out = NULL;
	*n = 0;
	if (td_file_pread(f, 0, len8, 8, err) != 0)
		return -1;
	hlen = td_le(len8, 8);
	if (hlen > MAX_HEADER || hlen > f->size - 8)
		return td_errf(err, "%s: header length %llu does not fit the "
			       "file", f->path, (unsigned long long)hlen);
	if (td_file_read_alloc(f, 8, hlen, MAX_HEADER, &buf, err) != 0)
		return -1;
	*json = cJSON_ParseWithLength((char *)buf, (size_t)hlen);
	free(buf);
	if (!cJSON_IsObject(*json))
		return td_errf(err, "%s: header is not a JSON object", f->path);
	*out = calloc((size_t)cJSON_GetArraySize(*json) + 1, sizeof **out);
	if (!*out)
		return td_errf(err, "out of memory");
	cJSON_ArrayForEach(j, *json) {
		if (strcmp(j->string, "__metadata__") == 0)
			continue;
		if (parse_entry(f, j, 8 + hlen, &(*out)[*n], err) != 0)
			return -1;
		(*n)++;
	}
	qsort(*out, (size_t)*n, sizeof **out, by_name);
	return 0;
}

static int add_file(origin_ctx *o, const char *path, td_err *err)
{
	td_file *f = o->add_file(o->ctx, path, err);
	st_entry *es;
	cJSON *json;
	int i, n, rc;

	if (!f)
		return -1;
	rc = read_header(f, &json, &es, &n, err);
	for (i = 0; rc == 0 && i < n; i++) {
		const st_entry *e = &es[i];
		vm_shape sh = {e->dtype, e->ndim, {0}};

		memcpy(sh.dims, e->dims, sizeof sh.dims);
		if (o->produced(o->ctx, e->name)) {
			o->extra_total += o->last_size; /* slime's stale size */
			continue;
		}
		rc = o->add_tensor(o->ctx, e->name, &sh, f, e->begin, err);
		o->last_size = e->end - e->begin;
	}
	cJSON_Delete(json);
	free(es);
	return rc;
}

int origin_add_missing(origin_ctx *o, const char *hf_dir, td_err *err)
{
	DIR *d = opendir(hf_dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return td_errf(err, "%s: cannot read: %s", hf_dir, "no such directory");
	while (rc == 0 && (e = readdir(d))) {
		char *path;

		if (!td_ends_with(e->d_name, ".safetensors"))
			continue;
		path = td_path_join(hf_dir, e->d_name);
		rc = path ? add_file(o, path, err) : td_errf(err, "out of memory");
		free(path);
	}
	closedir(d);
	return rc;
}
