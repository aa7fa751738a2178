/* parts.c — one conversion written by several processes: the staging
 * directory's records, a part's run, --wait and --finish (see parts.h;
 * which part writes what, and the digests, are in parts_plan.c). */
#include "parts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/file.h"
#include "outdir.h"

#define PT_RECORD_MAX (64u << 20)
#define PT_RUN ".td2hf-run"
#define PT_LIST_MAX 8           /* parts named in one message */

/* ---------------------------------------------------------------- records */

/* Writes dir/name whole or not at all: a temporary file, synced, renamed. */
static int put_record(const char *dir, const char *name, const char *text,
		      td_err *err)
{
	char tmp[PATH_MAX], path[PATH_MAX], tag[96];
	size_t len = strlen(text);
	ssize_t w;
	int fd, rc = 0;

	outdir_process_tag(tag, sizeof tag);
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, tag) >= (int)sizeof tmp)
		return td_errf(err, "%s: path too long", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return td_errf(err, "%s: %s", tmp, strerror(errno));
	w = write(fd, text, len);
	if (w < 0 || (size_t)w != len || fsync(fd) != 0)
		rc = td_errf(err, "%s: %s", tmp, w < 0 || (size_t)w == len ?
			     strerror(errno) : "short write");
	if (close(fd) != 0 && rc == 0)
		rc = td_errf(err, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = td_errf(err, "%s: %s", path, strerror(errno));
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* dir/name into a new string: 1, 0 when there is no such file, -1. */
static int get_record(const char *dir, const char *name, char **text,
		      td_err *err)
{
	char *path = td_path_join(dir, name);
	unsigned char *buf = NULL;
	struct stat st;
	size_t len;
	int rc = 1;

	*text = NULL;
	if (!path)
		return td_errf(err, "out of memory");
	if (lstat(path, &st) != 0)
		rc = errno == ENOENT ? 0 : td_errf(err, "%s: %s", path,
						   strerror(errno));
	else if (td_slurp(path, PT_RECORD_MAX, &buf, &len, err) != 0)
		rc = -1;
	else if (!(*text = realloc(buf, len + 1)))
		rc = td_errf(err, "out of memory");
	else
		(*text)[len] = '\0';
	if (rc != 1)
		free(buf);
	free(path);
	return rc;
}

/* Removes dir/name if it is there. */
static int unlink_record(const char *dir, const char *name, td_err *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT)
		return td_errf(err, "%s: %s", path, strerror(errno));
	return 0;
}

static void record_name(char *buf, size_t size, uint32_t k, uint32_t n,
			const char *what)
{
	snprintf(buf, size, ".td2hf-part-%u-of-%u.%s", k, n, what);
}

/* "plan P\nargs A\n" from text; 0 when both are there. */
static int read_ident(const char *text, parts_ident *id)
{
	const char *p = strstr(text, "\nplan "), *a = strstr(text, "\nargs ");

	return p && a && sscanf(p + 6, "%" SCNx64, &id->plan) == 1 &&
	       sscanf(a + 6, "%" SCNx64, &id->args) == 1 ? 0 : -1;
}

static int ident_text(char *buf, size_t size, const char *head,
		      const parts_ident *id)
{
	return snprintf(buf, size, "%s\nplan %016" PRIx64 "\nargs %016" PRIx64
			"\n", head, id->plan, id->args);
}

/* The staging directory's .td2hf-run: written by the first part to come,
 * compared by every other, so that two conversions never mix. */
static int check_run(const char *stage, const parts_ident *id, int create,
		     td_err *err)
{
	char want[128], *text;
	parts_ident got;
	int found = get_record(stage, PT_RUN, &text, err);

	ident_text(want, sizeof want, "td2hf-run 1", id);
	if (found < 0)
		return -1;
	if (found == 0)
		return create ? put_record(stage, PT_RUN, want, err)
			      : td_errf(err, "%s: no %s record: not a td2hf "
					"staging directory", stage, PT_RUN);
	found = read_ident(text, &got);
	free(text);
	if (found != 0)
		return td_errf(err, "%s/%s: not a td2hf run record", stage,
			       PT_RUN);
	if (got.plan != id->plan || got.args != id->args)
		return td_errf(err, "%s: holds another conversion (plan %016"
			       PRIx64 ", arguments %016" PRIx64 "; these "
			       "arguments give %016" PRIx64 ", %016" PRIx64 "): "
			       "give every part the same arguments and "
			       "checkpoint, or remove %s", stage, got.plan,
			       got.args, id->plan, id->args, stage);
	return 0;
}

/* ---------------------------------------------------------------- a part */

/* Whether a shard lies complete in the staging directory: under its own
 * name, of its size, starting with its header. */
static int shard_complete(const char *stage, const plan_shard *sh)
{
	char path[PATH_MAX];
	unsigned char *buf;
	td_file f;
	td_err e;
	int ok;

	snprintf(path, sizeof path, "%s/%s", stage, sh->file);
	if (td_file_open(&f, path, &e) != 0)
		return 0;
	ok = f.size == sh->size && (buf = malloc(sh->header_len)) != NULL;
	if (ok) {
		ok = td_file_pread(&f, 0, buf, sh->header_len, &e) == 0 &&
		     memcmp(buf, sh->header, sh->header_len) == 0;
		free(buf);
	}
	td_file_close(&f);
	return ok;
}

/* The shard a temporary name ".<file>.tmp-<tag>" belongs to (nshards when
 * none), and where its tag starts. */
static uint32_t tmp_shard(const plan *pl, const char *name, const char **tag)
{
	const char *t = strstr(name, ".safetensors.tmp-");
	size_t flen;

	if (name[0] != '.' || !t)
		return pl->nshards;
	flen = (size_t)(t + strlen(".safetensors") - (name + 1));

	*tag = t + strlen(".safetensors.tmp-");
	for (uint32_t s = 0; s < pl->nshards; s++)
		if (strlen(pl->shards[s].file) == flen &&
		    strncmp(name + 1, pl->shards[s].file, flen) == 0)
			return s;
	return pl->nshards;
}

/* Temporary files of this part's shards whose writer is gone (a part
 * killed outright): removed, so a rerun starts clean.  With all = 1 (a
 * finish, every part done), every temporary file goes. */
static void remove_stale(const char *stage, const plan *pl,
			 const unsigned char *mine, int all)
{
	struct dirent **list;
	int n = outdir_list(stage, &list);
	char path[PATH_MAX];
	const char *tag;

	for (int i = 0; i < n; i++) {
		uint32_t s = tmp_shard(pl, list[i]->d_name, &tag);

		if (s < pl->nshards && (all || (mine[s] && outdir_tag_gone(tag))) &&
		    snprintf(path, sizeof path, "%s/%s", stage,
			     list[i]->d_name) < (int)sizeof path)
			unlink(path);
	}
	outdir_list_free(list, n);
}

static int make_stage(const char *out, char *stage, size_t size, td_err *err)
{
	struct stat st;

	if (outdir_stage_name(out, NULL, stage, size, err) != 0 ||
	    outdir_make_parents(out, err) != 0)
		return -1;
	if (mkdir(stage, 0755) != 0 && errno != EEXIST)
		return td_errf(err, "%s: cannot create %s: %s", out, stage,
			       strerror(errno));
	if (lstat(stage, &st) != 0 || !S_ISDIR(st.st_mode))
		return td_errf(err, "%s: exists and is not a directory", stage);
	return 0;
}

/* The done record: the part, the conversion, and every shard it owns. */
static char *done_text(const plan *pl, const parts_spec *sp, const parts_ident *id,
		       const unsigned char *mine)
{
	size_t cap = 256, len;
	char *text, head[64];

	for (uint32_t s = 0; s < pl->nshards; s++)
		cap += mine[s] ? strlen(pl->shards[s].file) + 32 : 0;
	text = malloc(cap);
	if (!text)
		return NULL;
	snprintf(head, sizeof head, "td2hf-part 1\npart %u %u", sp->k, sp->n);
	len = (size_t)ident_text(text, cap, head, id);
	for (uint32_t s = 0; s < pl->nshards && len < cap; s++)
		if (mine[s])
			len += (size_t)snprintf(text + len, cap - len,
						"shard %s %" PRIu64 "\n",
						pl->shards[s].file,
						pl->shards[s].size);
	return text;
}

/* Records how the part ended: done (its shards), or failed (why). */
static int record_end(const char *stage, const plan *pl, const parts_spec *sp,
		      const parts_ident *id, const unsigned char *mine, int rc,
		      const td_err *why, td_err *err)
{
	char done[96], failed[96], head[64], *text;
	size_t cap;
	int wrc;

	record_name(done, sizeof done, sp->k, sp->n, "done");
	record_name(failed, sizeof failed, sp->k, sp->n, "failed");
	if (rc == 0) {
		text = done_text(pl, sp, id, mine);
		wrc = text ? put_record(stage, done, text, err)
			   : td_errf(err, "out of memory");
		free(text);
		if (wrc == 0)
			wrc = unlink_record(stage, failed, err);
		return wrc;
	}
	cap = strlen(why->msg) + 256;
	text = malloc(cap);
	if (!text)
		return td_errf(err, "out of memory");
	snprintf(head, sizeof head, "td2hf-part 1\npart %u %u", sp->k, sp->n);
	cap -= (size_t)ident_text(text, cap, head, id);
	snprintf(text + strlen(text), cap, "error %s\n",
		 rc == 130 ? "interrupted" : why->msg);
	wrc = put_record(stage, failed, text, err);
	free(text);
	return wrc == 0 ? unlink_record(stage, done, err) : wrc;
}

static void say_part(FILE *log, const plan *pl, const parts_spec *sp,
		     const unsigned char *mine, const unsigned char *done)
{
	uint64_t bytes = 0;
	uint32_t s, n = 0, resumed = 0;

	if (!log)
		return;
	for (s = 0; s < pl->nshards; s++) {
		n += mine[s];
		resumed += done[s];
		bytes += mine[s] && !done[s] ? pl->shards[s].size : 0;
	}
	fprintf(log, "td2hf: part %u/%u (%s): %u of %u shards, %" PRIu64
		" bytes to write", sp->k, sp->n, sp->source, n, pl->nshards,
		bytes);
	if (resumed)
		fprintf(log, "; %u complete from an earlier run, kept", resumed);
	fputc('\n', log);
}

static int same_n(const char *stage, const parts_ident *id, uint32_t n,
		  td_err *err);

int parts_run(td_checkpoint *ck, const plan *pl, const writer_options *o,
	      const parts_spec *sp, const parts_ident *id, FILE *log, writer_stats *st,
	      td_err *err)
{
	char stage[PATH_MAX], suffix[128], tag[96];
	unsigned char *mine = NULL, *done = NULL;
	uint32_t *part = NULL, s;
	td_err why;
	int rc;

	memset(st, 0, sizeof *st);
	if (make_stage(o->out_dir, stage, sizeof stage, err) != 0 ||
	    check_run(stage, id, 1, err) != 0 ||
	    same_n(stage, id, sp->n, err) != 0 ||
	    !(part = parts_assign(pl, sp->n, err)))
		return -1;
	mine = calloc(pl->nshards + 1, 1);
	done = calloc(pl->nshards + 1, 1);
	rc = mine && done ? 0 : td_errf(err, "out of memory");
	for (s = 0; rc == 0 && s < pl->nshards; s++) {
		mine[s] = part[s] == sp->k;
		done[s] = mine[s] && shard_complete(stage, &pl->shards[s]);
	}
	if (rc == 0) {
		writer_part wp = {stage, mine, done, suffix};

		remove_stale(stage, pl, mine, 0);
		outdir_process_tag(tag, sizeof tag);
		snprintf(suffix, sizeof suffix, "tmp-%s", tag);
		say_part(log, pl, sp, mine, done);
		rc = writer_write_part(ck, pl, o, &wp, st, &why);
		if (record_end(stage, pl, sp, id, mine, rc, &why, err) != 0)
			rc = rc ? rc : -1;
		else if (rc != 0)
			*err = why;
	}
	free(part);
	free(mine);
	free(done);
	return rc;
}

/* ---------------------------------------------------------------- census */

enum { PT_MISSING, PT_DONE, PT_FAILED };

/* What the staging directory says of every part. */
typedef struct census {
	uint32_t n;               /* 0: no record at all */
	unsigned char *state;     /* per part */
	uint32_t ndone, nfailed;
	td_err failure;           /* the first failed part's record */
} census;

/* Parses ".td2hf-part-K-of-N.done|failed"; 0 when name is not one. */
static int parse_record_name(const char *name, uint32_t *k, uint32_t *n,
			     int *state)
{
	char what[8];
	int len = 0;

	if (sscanf(name, ".td2hf-part-%u-of-%u.%7[a-z]%n", k, n, what,
		   &len) != 3 || name[len] != '\0')
		return 0;
	*state = strcmp(what, "done") == 0 ? PT_DONE
		 : strcmp(what, "failed") == 0 ? PT_FAILED : PT_MISSING;
	return *state != PT_MISSING && *n > 0 && *n <= PT_MAX_PARTS && *k < *n;
}

/* A done record must be of this conversion; a failed one says why. */
static int check_record(const char *stage, const char *name, int state,
			uint32_t k, uint32_t n, const parts_ident *id, census *c,
			td_err *err)
{
	char *text, *msg;
	parts_ident got;
	int rc = get_record(stage, name, &text, err);

	if (rc <= 0)
		return rc < 0 ? -1 : 0;   /* gone meanwhile: missing */
	if (read_ident(text, &got) != 0)
		rc = td_errf(err, "%s/%s: not a td2hf part record", stage, name);
	else if (got.plan != id->plan || got.args != id->args)
		rc = td_errf(err, "%s: part %u/%u ran another conversion (plan "
			     "%016" PRIx64 ", arguments %016" PRIx64 "; ours "
			     "%016" PRIx64 ", %016" PRIx64 "): run it again "
			     "with the same arguments", stage, k, n, got.plan,
			     got.args, id->plan, id->args);
	else if (state == PT_FAILED && c->nfailed++ == 0) {
		msg = strstr(text, "\nerror ");
		snprintf(c->failure.msg, sizeof c->failure.msg, "part %u/%u "
			 "failed: %.*s", k, n, msg ? (int)strcspn(msg + 7, "\n")
			 : 7, msg ? msg + 7 : "unknown");
	}
	c->ndone += rc == 1 && state == PT_DONE;
	if (rc == 1)
		c->state[k] = (unsigned char)state;
	free(text);
	return rc < 0 ? -1 : 0;
}

static int take_census(const char *stage, const parts_ident *id, census *c,
		       td_err *err)
{
	struct dirent **list;
	uint32_t k, n;
	int count = outdir_list(stage, &list), state, rc = 0;

	memset(c, 0, sizeof *c);
	if (count < 0)
		return td_errf(err, "%s: %s", stage, strerror(errno));
	for (int i = 0; i < count; i++) {
		if (rc == 0 && parse_record_name(list[i]->d_name, &k, &n, &state)) {
			if (c->n && n != c->n)
				rc = td_errf(err, "%s: parts disagree on their "
					     "number (%u and %u): every part "
					     "must be given the same N", stage,
					     c->n, n);
			else if (!c->n && !(c->state = calloc(n, 1)))
				rc = td_errf(err, "out of memory");
			c->n = n;
			if (rc == 0)
				rc = check_record(stage, list[i]->d_name, state,
						  k, n, id, c, err);
		}
	}
	outdir_list_free(list, count);
	return rc;
}

/* "parts 1/4, 3/4 have not completed" (a few named, then a count). */
static void say_missing(const census *c, char *buf, size_t size)
{
	size_t len = 0;
	uint32_t k, named = 0, missing = c->n - c->ndone - c->nfailed;

	buf[0] = '\0';
	for (k = 0; k < c->n && named < PT_LIST_MAX && len < size; k++)
		if (c->state[k] == PT_MISSING)
			len += (size_t)snprintf(buf + len, size - len, "%s%u/%u",
						named++ ? ", " : "", k, c->n);
	if (missing > named && len < size)
		snprintf(buf + len, size - len, " and %u more", missing - named);
}

/* Parts already recorded must have been told the same N. */
static int same_n(const char *stage, const parts_ident *id, uint32_t n,
		  td_err *err)
{
	census c;
	int rc = take_census(stage, id, &c, err);

	if (rc == 0 && c.n && c.n != n)
		rc = td_errf(err, "%s: the other parts were given N = %u, this "
			     "one %u", stage, c.n, n);
	free(c.state);
	return rc;
}

/* 0 when every part is done; else err says which are not. */
static int all_done(const char *stage, const census *c, td_err *err)
{
	char list[512];

	if (c->n == 0)
		return td_errf(err, "%s: no part has completed yet", stage);
	if (c->nfailed)
		return td_errf(err, "%s: %s (run that part again, then "
			       "--finish)", stage, c->failure.msg);
	if (c->ndone < c->n) {
		say_missing(c, list, sizeof list);
		return td_errf(err, "%s: part%s %s %s not completed (run them "
			       "or wait for them, then --finish)", stage,
			       c->n - c->ndone > 1 ? "s" : "", list,
			       c->n - c->ndone > 1 ? "have" : "has");
	}
	return 0;
}

/* One look at the staging directory: 1 all n parts done, 0 not yet,
 * -1 a part failed, disagrees, or the directory is unreadable. */
static int look(const char *stage, const parts_ident *id, uint32_t n,
		census *c, td_err *err)
{
	if (take_census(stage, id, c, err) != 0)
		return -1;
	if (c->n && c->n != n)
		return td_errf(err, "%s: the other parts were given N = %u, "
			       "this one %u", stage, c->n, n);
	if (c->nfailed)
		return all_done(stage, c, err);
	return c->n == n && c->ndone == n;
}

int parts_wait(const char *out, const parts_ident *id, uint32_t n, double timeout,
	       FILE *log, td_err *err)
{
	char stage[PATH_MAX];
	struct timespec t0, nap = {0, 100 * 1000 * 1000};
	census c;
	int rc;

	if (outdir_stage_name(out, NULL, stage, sizeof stage, err) != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((rc = look(stage, id, n, &c, err)) == 0 &&
	       td_seconds_since(&t0) < timeout) {
		free(c.state);
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 800 * 1000 * 1000)
			nap.tv_nsec *= 2;
	}
	if (rc == 0) {
		if (c.n == 0)
			c.n = n, c.state = calloc(n, 1);
		if (c.state)
			all_done(stage, &c, err);
		td_err_prefix(err, "--wait: gave up after %.0f s", timeout);
	} else if (rc == 1 && log) {
		fprintf(log, "td2hf: all %u parts have completed\n", n);
	}
	free(c.state);
	return rc == 1 ? 0 : -1;
}

/* ---------------------------------------------------------------- finish */

/* Every shard of the plan, complete; else the first missing is named. */
static int check_shards(const char *stage, const plan *pl, td_err *err)
{
	for (uint32_t s = 0; s < pl->nshards; s++)
		if (!shard_complete(stage, &pl->shards[s]))
			return td_errf(err, "%s: %s is missing or incomplete "
				       "although every part recorded "
				       "completion (was the directory "
				       "changed?); run its part again",
				       stage, pl->shards[s].file);
	return 0;
}

/* The records and the run file: what must not reach the output. */
static int remove_records(const char *stage, const census *c, td_err *err)
{
	char name[96];

	for (uint32_t k = 0; k < c->n; k++) {
		record_name(name, sizeof name, k, c->n, "done");
		if (unlink_record(stage, name, err) != 0)
			return -1;
	}
	return unlink_record(stage, PT_RUN, err);
}

int parts_finish(const plan *pl, const writer_options *o, const parts_ident *id,
		 td_err *err)
{
	char stage[PATH_MAX];
	struct stat st;
	census c;
	int rc;

	if (outdir_stage_name(o->out_dir, NULL, stage, sizeof stage, err) != 0)
		return -1;
	if (lstat(stage, &st) != 0 || !S_ISDIR(st.st_mode))
		return td_errf(err, "%s: no part has started (%s does not "
			       "exist)", o->out_dir, stage);
	rc = check_run(stage, id, 0, err);
	if (rc == 0)
		rc = take_census(stage, id, &c, err);
	else
		memset(&c, 0, sizeof c);
	if (rc == 0)
		rc = all_done(stage, &c, err);
	if (rc == 0)
		rc = check_shards(stage, pl, err);
	if (rc == 0) {
		remove_stale(stage, pl, NULL, 1);
		rc = remove_records(stage, &c, err);
	}
	if (rc == 0)
		rc = writer_finish(pl, o, stage, err);
	free(c.state);
	return rc;
}
