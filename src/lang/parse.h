/* parse.h — entry point of the flex/bison front end (grammar/). */
#ifndef TD_PARSE_H
#define TD_PARSE_H

#include <setjmp.h>

#include "../common/arena.h"
#include "ast.h"
#include "source.h"

typedef struct parse_ctx {
	const src_file *file;
	td_arena *arena;
	src_diag *diag;
	ast_list stmts;     /* the file's top-level statements */
	int oom;
	jmp_buf *fatal;     /* where the lexer jumps when flex runs out of memory */
} parse_ctx;

/* Parses f into ctx->stmts.  Returns the number of errors reported. */
int parse_rules(const src_file *f, td_arena *arena, src_diag *diag,
		ast_list *out);

#endif
