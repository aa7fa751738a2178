/* parse.h — the flex/bison front end (grammar/) and the tree-building
 * helpers its actions call (tree.c), so that grammar/parser.y
 * holds the grammar and little else. */
#ifndef TD_PARSE_H
#define TD_PARSE_H

#include <setjmp.h>

#include "../common/arena.h"
#include "ast.h"
#include "source.h"

struct layout;

typedef struct parse_ctx {
	const src_file *file;
	td_arena *arena;
	src_diag *diag;
	ast_list stmts;     /* the file's top-level statements */
	int oom;
	jmp_buf *fatal;     /* where the lexer jumps when flex runs out of memory */
	struct layout *layout; /* the lexer's statement-end state (lexer.l) */
} parse_ctx;

/* Parses f into *out.  Returns the number of errors reported, or -1
 * when memory ran out (then *out is empty and nothing is reported: the
 * caller says it). */
int parse_rules(const src_file *f, td_arena *arena, src_diag *diag,
		ast_list *out);

/* ---- for the grammar's actions: each returns NULL (and sets ctx->oom)
 * when the arena is exhausted; the parse then reports it once. */
src_loc tree_loc(const parse_ctx *ctx, int line, int col);
void *tree_new(parse_ctx *ctx, size_t size);
void tree_push(parse_ctx *ctx, ast_list *l, void *item);
ast_stmt *tree_stmt(parse_ctx *ctx, stmt_kind kind, src_loc loc);
ast_expr *tree_expr(parse_ctx *ctx, expr_kind kind, src_loc loc);
ast_expr *tree_binary(parse_ctx *ctx, int op, ast_expr *a, ast_expr *b,
		    src_loc loc);
ast_part *tree_part(parse_ctx *ctx, part_kind kind, src_loc loc, const char *text,
		  ast_expr *e);
/* "{name:a|b|c}" (without the braces) as an SP_ALT part. */
ast_part *tree_alternatives(parse_ctx *ctx, src_loc loc, char *text);

#endif
