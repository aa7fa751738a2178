/* compile.h — rule files (.map) to a program (program.h). */
#ifndef TD_COMPILE_H
#define TD_COMPILE_H

#include <stdio.h>

#include "program.h"

typedef struct compile_options {
	const char *const *include_dirs;  /* searched after the including file's dir */
	int ninclude_dirs;
	FILE *diag;                       /* where diagnostics go; NULL: nowhere */
	int max_errors;                   /* stop reporting after this many (0: 20) */
} compile_options;

/* Compiles the rule file at path.  Returns the number of errors (each
 * already reported as "file:line:col: error: ..." with a caret); on 0,
 * *out holds the validated program. */
int compile_rules(const char *path, const compile_options *opt, program *out);

#endif
