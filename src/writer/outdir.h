/* outdir.h — where td2hf may write, and what it may ever remove.
 *
 * A converter runs next to the only copy of a checkpoint, so the output
 * directory obeys three rules, checked here and nowhere else:
 *  - it is never, never contains and never lies inside a protected
 *    directory (the checkpoint, the Megatron save directory, the HF
 *    directory), compared by device and inode so symlinks and bind
 *    mounts cannot hide the overlap;
 *  - an existing output is replaced (with --force) only when it is a
 *    directory whose every entry is something a conversion writes;
 *  - the only files td2hf removes are files it wrote: the entries a
 *    conversion writes, in directories it created or was allowed to
 *    replace; never recursively.
 * Every message names the path the user gave. */
#ifndef TD_OUTDIR_H
#define TD_OUTDIR_H

#include <stddef.h>
#include <stdio.h>

#include "../common/err.h"

/* Refuses an output that is, contains or lies inside any of the n
 * protected paths (NULL entries are skipped; what[i] names each in the
 * message, e.g. "the input checkpoint"). */
int outdir_check_apart(const char *out, const char *const *prot,
		       const char *const *what, size_t n, td_err *err);

/* The Megatron save directory holding iteration directory iter_dir (its
 * parent, when it holds latest_checkpointed_iteration.txt or iter_dir is
 * named iter_NNNNNNN or release), in a new string; NULL when none. */
char *outdir_save_dir(const char *iter_dir);

/* Whether `name` is something a conversion writes into its output:
 * model-*.safetensors, model.safetensors.index.json, or a regular file of
 * hf_dir (the copied assets; hf_dir may be NULL). */
int outdir_is_ours(const char *name, const char *hf_dir);

/* Whether `name` in hf_dir is an asset a conversion copies: a regular
 * file, neither weights (*.safetensors) nor their index. */
int outdir_is_asset(const char *name, const char *hf_dir);

/* May the conversion write `out`?  Missing: yes.  A directory: only with
 * force, and only when outdir_is_ours holds for every entry (else the first
 * foreign entry, in name order, is named).  Anything else (a file, a
 * symlink): never. */
int outdir_check_replace(const char *out, const char *hf_dir, int force,
			 td_err *err);

/* The entries of dir but "." and "..", sorted by name: their count, or -1
 * (errno set).  outdir_list_free frees what it returned. */
struct dirent;
int outdir_list(const char *dir, struct dirent ***list);
void outdir_list_free(struct dirent **list, int n);

/* Creates out's missing parent directories (as os.makedirs does). */
int outdir_make_parents(const char *out, td_err *err);

/* Staging names beside out: "<out>.td2hf-<kind>-<pid>@<host>", kind
 * "tmp" (being written) or "old" (being replaced); kind NULL gives the
 * staging directory that the parts of one conversion share,
 * "<out>.td2hf-parts" (the same name on every host).  0, or -1 when too
 * long for size. */
int outdir_stage_name(const char *out, const char *kind, char *buf, size_t size,
		      td_err *err);

/* "<pid>@<host>": names what this process writes in a shared place. */
void outdir_process_tag(char *buf, size_t size);

/* Whether the process a tag names is known to be gone: same host, and
 * no td2hf runs under that pid.  0 when it may still run (or runs on
 * another host, which cannot be asked). */
int outdir_tag_gone(const char *tag);

/* Leftovers of runs that were killed (SIGKILL, power loss) beside out:
 * those whose process is gone (same host) are removed and each is named
 * on log (NULL: silent); one whose process still runs, or that comes
 * from another host, is an error that names it and says what to do. */
int outdir_clean_stale(const char *out, FILE *log, td_err *err);

/* Removes the regular files of dir for which outdir_is_ours holds (every
 * regular file when hf_dir is "*"), then dir itself.  Returns 0 when dir
 * is gone, 1 when something td2hf did not write kept it, -1 on error. */
int outdir_remove_ours(const char *dir, const char *hf_dir, td_err *err);

#endif
