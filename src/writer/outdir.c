/* outdir.c — the output directory's safety rules (see outdir.h). */
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/file.h"

#define OD_INDEX "model.safetensors.index.json"
#define OD_HOST_MAX 64

/* ---------------------------------------------------------------- paths */

/* Length of path without trailing slashes (a lone "/" stays). */
static size_t trimmed_len(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	return n;
}

/* Appends the components of tail to the real path in buf, refusing ".."
 * (it would climb out of a directory that does not exist yet). */
static int append_tail(char *buf, const char *tail, const char *user,
		       td_err *err)
{
	while (*tail) {
		size_t n = strcspn(tail, "/"), len = strlen(buf);

		if (n == 2 && tail[0] == '.' && tail[1] == '.')
			return td_errf(err, "%s: '..' after a directory that "
				       "does not exist", user);
		if (n > 0 && !(n == 1 && tail[0] == '.')) {
			if (len + 1 + n >= PATH_MAX)
				return td_errf(err, "%s: path too long", user);
			if (len > 1)
				buf[len++] = '/';
			memcpy(buf + len, tail, n);
			buf[len + n] = '\0';
		}
		tail += n;
		tail += strspn(tail, "/");
	}
	return 0;
}

/* The real path of `path`, which may not exist yet: the real path of its
 * nearest existing ancestor followed by the rest. */
static int resolve(const char *path, char real[PATH_MAX], td_err *err)
{
	char prefix[PATH_MAX];
	size_t cut = trimmed_len(path);

	if (cut >= PATH_MAX)
		return td_errf(err, "%s: path too long", path);
	for (;;) {
		memcpy(prefix, path, cut);
		prefix[cut] = '\0';
		if (realpath(cut ? prefix : ".", real))
			return append_tail(real, path + cut, path, err);
		if (errno != ENOENT)
			return td_errf(err, "%s: %s", cut ? prefix : ".",
				       strerror(errno));
		while (cut > 0 && path[cut - 1] != '/')
			cut--;
		while (cut > 1 && path[cut - 1] == '/')
			cut--;
		if (cut == 1 && path[0] == '/')
			continue;      /* "/" always resolves */
		if (cut > 0 && path[cut - 1] == '/')
			cut--;
	}
}

/* Whether real or a directory above it, up to "/", is the file `id`. */
static int on_chain(const char *real, const struct stat *id)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s", real);
	for (;;) {
		char *slash;

		if (stat(p, &st) == 0 && st.st_dev == id->st_dev &&
		    st.st_ino == id->st_ino)
			return 1;
		slash = strrchr(p, '/');
		if (!slash || strcmp(p, "/") == 0)
			return 0;
		slash[slash == p] = '\0';
	}
}

/* How out stands to protected path p: 0 apart, else the relation. */
enum { OD_APART, OD_SAME, OD_INSIDE, OD_CONTAINS };

static int relation(const char *ro, const struct stat *ost, int out_exists,
		    const char *p)
{
	char rp[PATH_MAX];
	struct stat pst;

	if (!p || !realpath(p, rp) || stat(rp, &pst) != 0)
		return OD_APART;
	if (out_exists && ost->st_dev == pst.st_dev && ost->st_ino == pst.st_ino)
		return OD_SAME;
	if (on_chain(ro, &pst))
		return OD_INSIDE;
	if (out_exists && on_chain(rp, ost))
		return OD_CONTAINS;
	return OD_APART;
}

int outdir_check_apart(const char *out, const char *const *prot,
		       const char *const *what, size_t n, td_err *err)
{
	static const char *const verb[] = {"", "is", "lies inside", "contains"};
	char ro[PATH_MAX];
	struct stat ost;
	int out_exists, rel[8] = {0}, r;
	size_t i;

	if (n > 8)
		return td_errf(err, "%s: too many paths to compare", out);
	if (resolve(out, ro, err) != 0)
		return -1;
	out_exists = stat(ro, &ost) == 0;
	for (i = 0; i < n; i++)
		rel[i] = relation(ro, &ost, out_exists, prot[i]);
	/* The closest relation first: "is X" says more than "contains Y". */
	for (r = OD_SAME; r <= OD_CONTAINS; r++)
		for (i = 0; i < n; i++)
			if (rel[i] == r)
				return td_errf(err, "%s: %s %s (%s); choose an "
					       "output directory apart from "
					       "it", out, verb[r], what[i],
					       prot[i]);
	return 0;
}

static int is_iter_name(const char *name)
{
	size_t n = strspn(name + (strncmp(name, "iter_", 5) ? 0 : 5),
			  "0123456789");

	if (strcmp(name, "release") == 0)
		return 1;
	return strncmp(name, "iter_", 5) == 0 && n > 0 && name[5 + n] == '\0';
}

char *outdir_save_dir(const char *iter_dir)
{
	char real[PATH_MAX], *slash, *marker;
	struct stat st;
	int found;

	if (!realpath(iter_dir, real) || strcmp(real, "/") == 0)
		return NULL;
	slash = strrchr(real, '/');
	found = is_iter_name(slash + 1);
	slash[slash == real] = '\0';
	marker = td_path_join(real, "latest_checkpointed_iteration.txt");
	found = found || (marker && stat(marker, &st) == 0);
	free(marker);
	return found ? strdup(real) : NULL;
}

/* ---------------------------------------------------------------- entries */

int outdir_is_asset(const char *name, const char *hf_dir)
{
	struct stat st;
	char *p;
	int ok;

	if (td_ends_with(name, ".safetensors") || strcmp(name, OD_INDEX) == 0)
		return 0;
	p = td_path_join(hf_dir, name);
	ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return ok;
}

int outdir_is_ours(const char *name, const char *hf_dir)
{
	if (strcmp(name, OD_INDEX) == 0 ||
	    (strncmp(name, "model-", 6) == 0 &&
	     td_ends_with(name, ".safetensors")))
		return 1;
	if (!hf_dir || td_ends_with(name, ".safetensors"))
		return 0;
	return strcmp(hf_dir, "*") == 0 || outdir_is_asset(name, hf_dir);
}

static int skip_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

int outdir_list(const char *dir, struct dirent ***list)
{
	return scandir(dir, list, skip_dots, alphasort);
}

void outdir_list_free(struct dirent **list, int n)
{
	for (int i = 0; i < n; i++)
		free(list[i]);
	if (n >= 0)
		free(list);
}

/* The entries of dir, sorted; -1 with err naming `shown` on failure. */
static int list_dir(const char *dir, const char *shown, struct dirent ***list,
		    td_err *err)
{
	int n = outdir_list(dir, list);

	if (n < 0)
		return td_errf(err, "%s: %s", shown, strerror(errno));
	return n;
}

/* Whether entry `name` of dir is a regular file that td2hf writes. */
static int entry_ours(const char *dir, const char *name, const char *hf_dir)
{
	char *p = td_path_join(dir, name);
	struct stat st;
	int ours = p && lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		   outdir_is_ours(name, hf_dir);

	free(p);
	return ours;
}

/* The first entry of dir that td2hf does not write: its index in list,
 * or n when there is none. */
static int first_foreign(const char *dir, struct dirent **list, int n,
			 const char *hf_dir)
{
	int i;

	for (i = 0; i < n; i++)
		if (!entry_ours(dir, list[i]->d_name, hf_dir))
			break;
	return i;
}

int outdir_check_replace(const char *out, const char *hf_dir, int force,
			 td_err *err)
{
	struct dirent **list;
	struct stat st;
	int n, f;

	if (lstat(out, &st) != 0)
		return errno == ENOENT ? 0 : td_errf(err, "%s: %s", out,
						     strerror(errno));
	if (S_ISLNK(st.st_mode))
		return td_errf(err, "%s: is a symbolic link; td2hf does not "
			       "replace links (give the directory itself)", out);
	if (!S_ISDIR(st.st_mode))
		return td_errf(err, "%s: exists and is not a directory; td2hf "
			       "never replaces a file", out);
	n = list_dir(out, out, &list, err);
	if (n < 0)
		return -1;
	f = first_foreign(out, list, n, hf_dir);
	if (f < n)
		td_errf(err, "%s: holds '%s', which a conversion does not write; "
			"td2hf replaces only a directory of model-*.safetensors, "
			"%s and the --hf-checkpoint's files", out,
			list[f]->d_name, OD_INDEX);
	else if (!force)
		td_errf(err, "%s: exists (use --force to replace it)", out);
	outdir_list_free(list, n);
	return f < n || !force ? -1 : 0;
}

int outdir_remove_ours(const char *dir, const char *hf_dir, td_err *err)
{
	struct dirent **list;
	int n, i, foreign = -1, rc = 0;

	n = list_dir(dir, dir, &list, err);
	if (n < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		char *p = td_path_join(dir, list[i]->d_name);

		if (!entry_ours(dir, list[i]->d_name, hf_dir))
			foreign = foreign < 0 ? i : foreign;
		else if (!p || unlink(p) != 0)
			rc = td_errf(err, "%s: %s", p ? p : dir,
				     p ? strerror(errno) : "out of memory");
		free(p);
	}
	if (rc == 0 && foreign >= 0)
		rc = 1, td_errf(err, "%s: kept, as it holds '%s', which td2hf "
				"did not write", dir, list[foreign]->d_name);
	outdir_list_free(list, n);
	if (rc == 0 && rmdir(dir) != 0)
		rc = errno == ENOTEMPTY || errno == EEXIST
		     ? (td_errf(err, "%s: kept: something new appeared in it",
				dir), 1)
		     : td_errf(err, "%s: %s", dir, strerror(errno));
	return rc;
}

static int td2hf_alive(long pid);

/* ---------------------------------------------------------------- making */

int outdir_make_parents(const char *out, td_err *err)
{
	char p[PATH_MAX];
	size_t n = trimmed_len(out), i;
	struct stat st;

	if (n >= sizeof p)
		return td_errf(err, "%s: path too long", out);
	memcpy(p, out, n);
	p[n] = '\0';
	while (n > 0 && p[n - 1] != '/')
		n--;
	for (i = 1; i < n; i++) {
		if (p[i] != '/' || p[i - 1] == '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return td_errf(err, "%s: cannot create %s: %s", out, p,
				       strerror(errno));
		if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			return td_errf(err, "%s: %s is not a directory", out, p);
		p[i] = '/';
	}
	return 0;
}

/* This host's name, with anything but [A-Za-z0-9._-] replaced by '_'. */
static void host_name(char *buf, size_t size)
{
	size_t i;

	if (gethostname(buf, size) != 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
	for (i = 0; buf[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-", buf[i]))
			buf[i] = '_';
}

void outdir_process_tag(char *buf, size_t size)
{
	char host[OD_HOST_MAX];

	host_name(host, sizeof host);
	snprintf(buf, size, "%ld@%s", (long)getpid(), host);
}

int outdir_stage_name(const char *out, const char *kind, char *buf, size_t size,
		      td_err *err)
{
	char tag[OD_HOST_MAX + 32];
	size_t n = trimmed_len(out);
	int w;

	outdir_process_tag(tag, sizeof tag);
	w = kind ? snprintf(buf, size, "%.*s.td2hf-%s-%s", (int)n, out, kind, tag)
		 : snprintf(buf, size, "%.*s.td2hf-parts", (int)n, out);
	if (w < 0 || (size_t)w >= size)
		return td_errf(err, "%s: path too long", out);
	return 0;
}

int outdir_tag_gone(const char *tag)
{
	char host[OD_HOST_MAX];
	const char *at = strchr(tag, '@');
	char *end;
	long pid = strtol(tag, &end, 10);

	host_name(host, sizeof host);
	if (end == tag || pid <= 0 || end != at || strcmp(at + 1, host) != 0)
		return 0;
	return !td2hf_alive(pid);
}

/* ---------------------------------------------------------------- leftovers */

typedef struct stale {
	const char *out;          /* as the user gave it */
	char path[PATH_MAX];      /* the leftover */
	const char *kind;         /* "tmp" or "old" */
	long pid;
	char host[OD_HOST_MAX];   /* "" when the name has none */
} stale;

/* Parses "<base>.td2hf-<kind>-<pid>[@<host>]"; 0 when name is not one. */
static int parse_stale(const char *base, size_t blen, const char *name,
		       stale *s)
{
	const char *p = name + blen;
	char *end;

	if (strncmp(name, base, blen) != 0 || strncmp(p, ".td2hf-", 7) != 0)
		return 0;
	p += 7;
	if (strncmp(p, "tmp-", 4) == 0)
		s->kind = "tmp";
	else if (strncmp(p, "old-", 4) == 0)
		s->kind = "old";
	else
		return 0;
	s->pid = strtol(p + 4, &end, 10);
	if (end == p + 4 || s->pid <= 0 || (*end && *end != '@'))
		return 0;
	snprintf(s->host, sizeof s->host, "%s", *end ? end + 1 : "");
	return 1;
}

/* Whether process pid of this host is a td2hf that still runs (a pid
 * reused by another program does not count). */
static int td2hf_alive(long pid)
{
	char path[64], comm[16] = "";
	ssize_t n;
	int fd;

	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;       /* alive; no /proc to say what it is */
	n = read(fd, comm, sizeof comm - 1);
	close(fd);
	return n >= 5 && memcmp(comm, "td2hf", 5) == 0;
}

static int clean_one(stale *s, FILE *log, td_err *err)
{
	char host[OD_HOST_MAX];
	struct stat st;
	int rc;

	host_name(host, sizeof host);
	if (s->host[0] && strcmp(s->host, host) != 0)
		return td_errf(err, "%s: %s was left by td2hf process %ld on "
			       "host %s; once that run is over, remove it "
			       "(rm -r '%s')", s->out, s->path, s->pid, s->host,
			       s->path);
	if (td2hf_alive(s->pid))
		return td_errf(err, "%s: td2hf process %ld is writing it (%s); "
			       "wait for it to end or stop it", s->out, s->pid,
			       s->path);
	if (strcmp(s->kind, "old") == 0 && lstat(s->out, &st) != 0)
		return td_errf(err, "%s: missing, and %s holds the output an "
			       "interrupted run was replacing; rename it back "
			       "or remove it", s->out, s->path);
	rc = outdir_remove_ours(s->path, "*", err);
	if (rc == 0 && log)
		fprintf(log, "td2hf: removed %s, left by td2hf process %ld, "
			"which is gone\n", s->path, s->pid);
	if (rc > 0)
		td_err_prefix(err, "%s: an interrupted run left %s (process "
			      "%ld); remove it by hand", s->out, s->path, s->pid);
	return rc ? -1 : 0;
}

/* Splits out (trailing slashes ignored) into its parent directory and
 * its last component, in buf. */
static int split_out(const char *out, char buf[PATH_MAX], const char **parent,
		     const char **base, td_err *err)
{
	size_t n = trimmed_len(out);
	char *slash;

	if (n >= PATH_MAX)
		return td_errf(err, "%s: path too long", out);
	memcpy(buf, out, n);
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash) {
		*parent = ".";
		*base = buf;
	} else {
		*base = slash + 1;
		*parent = slash == buf ? "/" : buf;
		*slash = '\0';
	}
	return 0;
}

int outdir_clean_stale(const char *out, FILE *log, td_err *err)
{
	char buf[PATH_MAX];
	const char *parent = ".", *base = "";
	struct dirent **list;
	int count, i, w, rc = 0;
	stale s;

	if (split_out(out, buf, &parent, &base, err) != 0)
		return -1;
	count = outdir_list(parent, &list);
	if (count < 0)
		return errno == ENOENT ? 0 : td_errf(err, "%s: %s", out,
						     strerror(errno));
	memset(&s, 0, sizeof s);
	s.out = out;
	for (i = 0; i < count && rc == 0; i++) {
		if (!parse_stale(base, strlen(base), list[i]->d_name, &s))
			continue;
		if (base == buf)
			w = snprintf(s.path, sizeof s.path, "%s",
				     list[i]->d_name);
		else
			w = snprintf(s.path, sizeof s.path, "%s/%s",
				     strcmp(parent, "/") ? parent : "",
				     list[i]->d_name);
		rc = w < 0 || (size_t)w >= sizeof s.path
		     ? td_errf(err, "%s: path too long", out)
		     : clean_one(&s, log, err);
	}
	outdir_list_free(list, count);
	return rc;
}
