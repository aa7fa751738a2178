/* tree.c — what the grammar's actions build (the syntax tree of
 * ast.h, in the parse arena) and parse_rules, the front end's entry. */
#include "parse.h"

#include <string.h>

/* The scanner and parser generated from grammar/lexer.l and parser.y. */
int yylex_init_extra(parse_ctx *extra, void **scanner);
int yylex_destroy(void *scanner);
void *yy_scan_bytes(const char *bytes, int len, void *scanner);
int yyparse(void *scanner, parse_ctx *ctx);

src_loc tree_loc(const parse_ctx *ctx, int line, int col)
{
	src_loc loc = {ctx->file, line, col};

	return loc;
}

void *tree_new(parse_ctx *ctx, size_t size)
{
	void *p = td_arena_alloc(ctx->arena, size);

	if (!p)
		ctx->oom = 1;
	else
		memset(p, 0, size);
	return p;
}

/* A node in the arena, a copy of the one given (built on the stack). */
static void *node(parse_ctx *ctx, const void *init, size_t size)
{
	void *p = tree_new(ctx, size);

	return p ? memcpy(p, init, size) : NULL;
}

void tree_push(parse_ctx *ctx, ast_list *l, void *item)
{
	if (!item || ast_push(ctx->arena, l, item) != 0)
		ctx->oom = 1;
}

ast_stmt *tree_stmt(parse_ctx *ctx, stmt_kind kind, src_loc loc)
{
	return node(ctx, &(ast_stmt){.kind = kind, .loc = loc},
		    sizeof(ast_stmt));
}

ast_expr *tree_expr(parse_ctx *ctx, expr_kind kind, src_loc loc)
{
	return node(ctx, &(ast_expr){.kind = kind, .loc = loc},
		    sizeof(ast_expr));
}

ast_expr *tree_binary(parse_ctx *ctx, int op, ast_expr *a, ast_expr *b,
		      src_loc loc)
{
	return node(ctx, &(ast_expr){.kind = EX_BIN, .loc = loc, .op = op,
				     .a = a, .b = b}, sizeof(ast_expr));
}

ast_part *tree_part(parse_ctx *ctx, part_kind kind, src_loc loc,
		    const char *text, ast_expr *e)
{
	return node(ctx, &(ast_part){.kind = kind, .loc = loc, .text = text,
				     .expr = e}, sizeof(ast_part));
}

/* text is "name:a|b|c", arena memory the part may cut up.  An empty
 * alternative is reported and left out. */
ast_part *tree_alternatives(parse_ctx *ctx, src_loc loc, char *text)
{
	char *alt = strchr(text, ':'), *bar;
	ast_part *p;

	*alt++ = '\0';   /* the lexer matched "name:" */
	p = tree_part(ctx, SP_ALT, loc, text, NULL);
	for (; p; alt = bar + 1) {
		bar = strchr(alt, '|');
		if (bar)
			*bar = '\0';
		if (*alt)
			tree_push(ctx, &p->alts, alt);
		else
			src_error(ctx->diag, loc, "empty alternative in {%s:...}",
				  text);
		if (!bar)
			break;
	}
	return p;
}

int parse_rules(const src_file *f, td_arena *arena, src_diag *diag,
		ast_list *out)
{
	parse_ctx ctx = {.file = f, .arena = arena, .diag = diag};
	int before = diag->errors;
	jmp_buf fatal;
	void *scanner;

	memset(out, 0, sizeof *out);
	ctx.fatal = &fatal;
	if (yylex_init_extra(&ctx, &scanner) != 0)
		return -1;
	if (setjmp(fatal) != 0) {   /* flex could not allocate a buffer */
		yylex_destroy(scanner);
		return -1;
	}
	yy_scan_bytes(f->text, (int)f->len, scanner);
	yyparse(scanner, &ctx);
	yylex_destroy(scanner);
	if (ctx.oom)   /* the tree may miss names: none of it is used */
		return -1;
	*out = ctx.stmts;
	return diag->errors - before;
}
