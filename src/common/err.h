/* err.h — error reports carried up the call chain.
 *
 * Every fallible function takes a td_err * and returns a negative value
 * (usually -1; a few name kinds of failure, e.g. DR_COPY_FAILED) or NULL
 * after filling it with one message that names the file and the problem.
 * The caller prints it once.  Below the CLI nothing prints, except to a
 * FILE * the CLI hands down (progress, notes, --dry-run listings). */
#ifndef TD_ERR_H
#define TD_ERR_H

#include <stddef.h>

#define TD_ERR_MAX 1024

typedef struct td_err {
	char msg[TD_ERR_MAX];
} td_err;

#if defined(__GNUC__)
#define TD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TD_PRINTF(a, b)
#endif

/* Sets the message; returns -1 so callers can `return td_errf(...)`. */
int td_errf(td_err *err, const char *fmt, ...) TD_PRINTF(2, 3);

/* Prepends "prefix: " to an existing message (e.g. a file name). */
int td_err_prefix(td_err *err, const char *fmt, ...) TD_PRINTF(2, 3);

/* Adds context to a message about `path`: "path: what" becomes
 * "path: <context>: what"; any other message becomes
 * "path: <context>: message". */
int td_err_context(td_err *err, const char *path, const char *fmt, ...)
	TD_PRINTF(3, 4);

#endif
