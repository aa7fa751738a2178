/* source.h — rule files kept in memory so that every diagnostic can quote
 * the offending line with a caret under the column (like jq's locfile). */
#ifndef TD_SOURCE_H
#define TD_SOURCE_H

#include <stddef.h>
#include <stdio.h>

#include "../common/err.h"

typedef struct src_file {
	char *path;
	char *text;   /* NUL-terminated */
	size_t len;
} src_file;

typedef struct src_loc {
	const src_file *file;
	int line, col;  /* 1-based */
} src_loc;

/* Collects diagnostics; prints each as it comes. */
typedef struct src_diag {
	FILE *out;      /* NULL: count only */
	int errors;
	int max_errors; /* stop reporting beyond this many */
} src_diag;

src_file *src_load(const char *path, td_err *err);
void src_free(src_file *f);

/* "file:line:col: error: message", then the line and a caret. */
void src_error(src_diag *d, src_loc loc, const char *fmt, ...)
	TD_PRINTF(3, 4);

#endif
