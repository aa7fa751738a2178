#include "checkpoint.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/file.h"

#define SMALL_FILE_MAX 65536

/* 1 when dir/name exists, 0 when it does not, -1 (err set) when that
 * cannot be told, e.g. the directory is not readable. */
static int exists(const char *dir, const char *name, td_err *err)
{
	char *p = td_path_join(dir, name);
	struct stat st;
	int rc;

	if (!p)
		return td_errf(err, "out of memory");
	rc = stat(p, &st) == 0 ? 1 : errno == ENOENT || errno == ENOTDIR ? 0
	     : td_errf(err, "%s: %s", p, strerror(errno));
	free(p);
	return rc;
}

/* latest_checkpointed_iteration.txt holds an integer or "release". */
static int latest_iteration_dir(const char *save, char **out, td_err *err)
{
	char *path = td_path_join(save, "latest_checkpointed_iteration.txt");
	unsigned char *buf = NULL;
	char name[64], text[16];
	size_t len = 0, i;
	int rc = -1, found;

	if (!path)
		return td_errf(err, "out of memory");
	if (td_slurp(path, 64, &buf, &len, err) == 0) {
		while (len > 0 && isspace(buf[len - 1]))
			len--;
		for (i = 0; i < len && isdigit(buf[i]); i++)
			;
		memcpy(text, buf, len < sizeof text ? len : sizeof text - 1);
		text[len < sizeof text ? len : sizeof text - 1] = '\0';
		if (len == 7 && memcmp(buf, "release", 7) == 0)
			snprintf(name, sizeof name, "release");
		else if (len > 0 && len <= 12 && i == len)
			snprintf(name, sizeof name, "iter_%07ld",
				 strtol(text, NULL, 10));
		else
			name[0] = '\0';
		if (!name[0])
			td_errf(err, "%s: expected an iteration number", path);
		else if (!(*out = td_path_join(save, name)))
			td_errf(err, "%s: out of memory", path);
		else if ((found = exists(save, name, err)) != 1) {
			if (found == 0)
				td_errf(err, "%s: names iteration directory %s, "
					"which does not exist", path, *out);
			free(*out);
			*out = NULL;
		} else {
			rc = 0;
		}
	}
	free(buf);
	free(path);
	return rc;
}

static int find_iter_dir(const char *path, char **out, td_err *err)
{
	struct stat st;
	int found;

	if (stat(path, &st) != 0)
		return td_errf(err, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return td_errf(err, "%s: not a directory", path);
	if ((found = exists(path, ".metadata", err)) != 0)
		return found < 0 ? -1 : (*out = strdup(path)) ? 0
		       : td_errf(err, "out of memory");
	if ((found = exists(path, "latest_checkpointed_iteration.txt", err)) != 0)
		return found < 0 ? -1 : latest_iteration_dir(path, out, err);
	return td_errf(err, "%s: not a torch_dist checkpoint (no .metadata and "
		       "no latest_checkpointed_iteration.txt)", path);
}

/* metadata.json: {"sharded_backend": "torch_dist", ...}; optional. */
static int check_backend(td_checkpoint *c, td_err *err)
{
	char *path = td_path_join(c->iter_dir, "metadata.json");
	unsigned char *buf = NULL;
	cJSON *j = NULL, *b, *v;
	size_t len;
	int rc = 0;

	if (!path)
		return td_errf(err, "out of memory");
	rc = exists(c->iter_dir, "metadata.json", err);
	if (rc <= 0)
		goto done;
	rc = 0;
	rc = td_slurp(path, SMALL_FILE_MAX, &buf, &len, err);
	if (rc == 0 && !(j = cJSON_ParseWithLength((char *)buf, len)))
		rc = td_errf(err, "%s: not valid JSON", path);
	b = j ? cJSON_GetObjectItemCaseSensitive(j, "sharded_backend") : NULL;
	v = j ? cJSON_GetObjectItemCaseSensitive(j, "sharded_backend_version")
	      : NULL;
	if (rc == 0 && !cJSON_IsString(b))
		rc = td_errf(err, "%s: no sharded_backend", path);
	else if (rc == 0 && strcmp(b->valuestring, "torch_dist") != 0)
		rc = td_errf(err, "%s: sharded backend '%s' is not supported "
			     "(only torch_dist)", path, b->valuestring);
	if (rc == 0) {
		snprintf(c->backend, sizeof c->backend, "%s", b->valuestring);
		c->backend_version = cJSON_IsNumber(v) ? v->valueint : 0;
	}
done:
	cJSON_Delete(j);
	free(buf);
	free(path);
	return rc;
}

int ckpt_open(const char *path, td_checkpoint *c, td_err *err)
{
	char *common;
	int rc;

	memset(c, 0, sizeof *c);
	if (find_iter_dir(path, &c->iter_dir, err) != 0)
		return -1;
	if ((rc = exists(c->iter_dir, ".metadata", err)) != 1) {
		if (rc == 0)
			td_errf(err, "%s: no .metadata (incomplete or not a "
				"torch_dist checkpoint)", c->iter_dir);
		rc = -1;
		ckpt_close(c);
		return rc;
	}
	rc = check_backend(c, err);
	if (rc == 0)
		rc = dcp_load(c->iter_dir, &c->cat, err);
	common = td_path_join(c->iter_dir, "common.pt");
	if (rc == 0 && !common)
		rc = td_errf(err, "out of memory");
	if (rc == 0 && (rc = exists(c->iter_dir, "common.pt", err)) == 1) {
		rc = args_load(common, &c->args, err);
		c->has_args = rc == 0;
	}
	free(common);
	if (rc != 0)
		ckpt_close(c);
	return rc;
}

void ckpt_close(td_checkpoint *c)
{
	if (c->has_args)
		args_free(&c->args);
	if (c->cat.dir)
		dcp_free(&c->cat);
	free(c->iter_dir);
	memset(c, 0, sizeof *c);
}
