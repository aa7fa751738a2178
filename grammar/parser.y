/* parser.y — grammar of the td2hf rule language (docs/language.md).
 *
 * It builds the syntax tree (src/lang/ast.h) and nothing else: names,
 * arities and captures are checked by src/lang/compile.c, where every
 * statement can be seen at once. */
%define api.pure full
%define parse.error verbose
%locations
%param {void *scanner}
%parse-param {struct parse_ctx *ctx}

%code requires {
#include "src/lang/ast.h"
struct parse_ctx;
}

%code {
#include <stdio.h>
#include <string.h>

#include "src/lang/parse.h"

int yylex(YYSTYPE *lval, YYLTYPE *lloc, void *scanner);
int yylex_init_extra(struct parse_ctx *extra, void **scanner);
int yylex_destroy(void *scanner);
void *yy_scan_bytes(const char *bytes, int len, void *scanner);

static void yyerror(YYLTYPE *l, void *scanner, struct parse_ctx *ctx,
		    const char *msg)
{
	src_loc loc = {ctx->file, l->first_line, l->first_column};

	(void)scanner;
	src_error(ctx->diag, loc, "%s", msg);
}

static src_loc at(struct parse_ctx *ctx, YYLTYPE l)
{
	src_loc loc = {ctx->file, l.first_line, l.first_column};

	return loc;
}

static void *node(struct parse_ctx *ctx, size_t size)
{
	void *p = td_arena_alloc(ctx->arena, size);

	if (!p)
		ctx->oom = 1;
	return p;
}

#define NEW(T) ((T *)node(ctx, sizeof(T)))

static void push(struct parse_ctx *ctx, ast_list *l, void *item)
{
	if (!item || ast_push(ctx->arena, l, item) != 0)
		ctx->oom = 1;
}

static ast_stmt *stmt(struct parse_ctx *ctx, st_kind kind, YYLTYPE l)
{
	ast_stmt *s = NEW(ast_stmt);

	if (s) {
		s->kind = kind;
		s->loc = at(ctx, l);
	}
	return s;
}

static ast_expr *expr(struct parse_ctx *ctx, ex_kind kind, YYLTYPE l)
{
	ast_expr *e = NEW(ast_expr);

	if (e) {
		e->kind = kind;
		e->loc = at(ctx, l);
	}
	return e;
}

static ast_expr *binary(struct parse_ctx *ctx, int op, ast_expr *a,
			ast_expr *b, YYLTYPE l)
{
	ast_expr *e = expr(ctx, EX_BIN, l);

	if (e) {
		e->op = op;
		e->a = a;
		e->b = b;
	}
	return e;
}

static ast_part *part(struct parse_ctx *ctx, sp_kind kind, YYLTYPE l,
		      const char *text, ast_expr *e)
{
	ast_part *p = NEW(ast_part);

	if (p) {
		p->kind = kind;
		p->loc = at(ctx, l);
		p->text = text;
		p->expr = e;
	}
	return p;
}
}

%union {
	int64_t i;
	char *s;
	ast_expr *expr;
	ast_str *str;
	ast_part *part;
	ast_op *op;
	ast_arg *arg;
	ast_target *target;
	ast_stmt *stmt;
	ast_list list;
}

%token ARROW "->" INCLUDE "include" PARAM "param" LET "let" SKIP "skip"
%token REWRITE "rewrite" FOR "for" IN "in" UNLESS "unless" GROUP "group"
%token WHEN "when" BLOCK "block" USE "use" AT "at" NONE "none"
%token REQUIRE "require" QUANTIZE "quantize"
%token STR_BEGIN "string" STR_END "end of string" HOLE_BEGIN "'<'"
%token HOLE_END "'>'" STAR "'*'"
%token <i> INT "integer"
%token <s> IDENT "name" TEXT "text" TEXTCAP "text capture"

%type <list> stmts ops args exprs targets strings parts
%type <stmt> stmt rule rewrite
%type <expr> expr opt_when
%type <str> string opt_unless
%type <part> part
%type <op> op
%type <arg> arg
%type <target> target

%left '+' '-'
%left '*' '/' '%'
%precedence NEG

%%

file:
	stmts                   { ctx->stmts = $1; }
	;

stmts:
	%empty                  { memset(&$$, 0, sizeof $$); }
	| stmts stmt            { $$ = $1; if ($2) push(ctx, &$$, $2); }
	;

stmt:
	"include" string        { $$ = stmt(ctx, ST_INCLUDE, @1); if ($$) $$->str = $2; }
	| "param" IDENT         {
		$$ = stmt(ctx, ST_PARAM, @1);
		if ($$) { $$->name = $2; $$->name_loc = at(ctx, @2); }
	}
	| "param" IDENT '=' expr {
		$$ = stmt(ctx, ST_PARAM, @1);
		if ($$) { $$->name = $2; $$->name_loc = at(ctx, @2); $$->expr = $4; }
	}
	| "let" IDENT '=' expr  {
		$$ = stmt(ctx, ST_LET, @1);
		if ($$) { $$->name = $2; $$->name_loc = at(ctx, @2); $$->expr = $4; }
	}
	| "skip" string         { $$ = stmt(ctx, ST_SKIP, @1); if ($$) $$->str = $2; }
	| rewrite
	| "group" strings opt_when {
		$$ = stmt(ctx, ST_GROUP, @1);
		if ($$) { $$->targets = $2; $$->expr = $3; }
	}
	| "require" expr ',' string {
		$$ = stmt(ctx, ST_REQUIRE, @1);
		if ($$) { $$->expr = $2; $$->str = $4; }
	}
	| "quantize" string     { $$ = stmt(ctx, ST_QUANTIZE, @1); if ($$) $$->str = $2; }
	| "quantize" string "unless" strings {
		$$ = stmt(ctx, ST_QUANTIZE, @1);
		if ($$) { $$->str = $2; $$->targets = $4; }
	}
	| "block" IDENT '{' stmts '}' {
		$$ = stmt(ctx, ST_BLOCK, @1);
		if ($$) { $$->name = $2; $$->name_loc = at(ctx, @2); $$->body = $4; }
	}
	| "use" IDENT           {
		$$ = stmt(ctx, ST_USE, @1);
		if ($$) { $$->name = $2; $$->name_loc = at(ctx, @2); }
	}
	| "use" IDENT "at" string "->" string {
		$$ = stmt(ctx, ST_USE, @1);
		if ($$) {
			$$->name = $2; $$->name_loc = at(ctx, @2);
			$$->src_prefix = $4; $$->dst_prefix = $6;
		}
	}
	| rule
	| error                 { $$ = NULL; }
	;

rewrite:
	"rewrite" string "->" string opt_unless {
		$$ = stmt(ctx, ST_REWRITE, @1);
		if ($$) { $$->str = $2; $$->tmpl = $4; $$->unless = $5; }
	}
	| "rewrite" string "->" string "for" IDENT "in" expr opt_unless {
		$$ = stmt(ctx, ST_REWRITE, @1);
		if ($$) {
			$$->str = $2; $$->tmpl = $4; $$->var = $6;
			$$->var_loc = at(ctx, @6); $$->expr = $8; $$->unless = $9;
		}
	}
	;

opt_unless:
	%empty                  { $$ = NULL; }
	| "unless" string       { $$ = $2; }
	;

opt_when:
	%empty                  { $$ = NULL; }
	| "when" expr           { $$ = $2; }
	;

rule:
	string ops "->" targets {
		$$ = stmt(ctx, ST_RULE, @1);
		if ($$) { $$->str = $1; $$->ops = $2; $$->targets = $4; }
	}
	;

targets:
	target                  { memset(&$$, 0, sizeof $$); push(ctx, &$$, $1); }
	| targets ',' target    { $$ = $1; push(ctx, &$$, $3); }
	;

target:
	string ops              {
		$$ = NEW(ast_target);
		if ($$) { $$->name = $1; $$->ops = $2; }
	}
	;

ops:
	%empty                  { memset(&$$, 0, sizeof $$); }
	| ops '|' op            { $$ = $1; push(ctx, &$$, $3); }
	;

op:
	IDENT '(' ')'           {
		$$ = NEW(ast_op);
		if ($$) { $$->name = $1; $$->loc = at(ctx, @1); }
	}
	| IDENT '(' args ')'    {
		$$ = NEW(ast_op);
		if ($$) { $$->name = $1; $$->loc = at(ctx, @1); $$->args = $3; }
	}
	;

args:
	arg                     { memset(&$$, 0, sizeof $$); push(ctx, &$$, $1); }
	| args ',' arg          { $$ = $1; push(ctx, &$$, $3); }
	;

arg:
	expr                    {
		$$ = NEW(ast_arg);
		if ($$) { $$->expr = $1; $$->loc = at(ctx, @1); }
	}
	| '[' exprs ']'         {
		$$ = NEW(ast_arg);
		if ($$) { $$->items = $2; $$->loc = at(ctx, @1); }
	}
	;

exprs:
	expr                    { memset(&$$, 0, sizeof $$); push(ctx, &$$, $1); }
	| exprs ',' expr        { $$ = $1; push(ctx, &$$, $3); }
	;

expr:
	INT                     { $$ = expr(ctx, EX_INT, @1); if ($$) $$->i = $1; }
	| "none"                { $$ = expr(ctx, EX_NONE, @1); }
	| IDENT                 { $$ = expr(ctx, EX_NAME, @1); if ($$) $$->name = $1; }
	| IDENT '(' exprs ')'   {
		$$ = expr(ctx, EX_CALL, @1);
		if ($$) { $$->name = $1; $$->args = $3; }
	}
	| expr '+' expr         { $$ = binary(ctx, '+', $1, $3, @2); }
	| expr '-' expr         { $$ = binary(ctx, '-', $1, $3, @2); }
	| expr '*' expr         { $$ = binary(ctx, '*', $1, $3, @2); }
	| expr '/' expr         { $$ = binary(ctx, '/', $1, $3, @2); }
	| expr '%' expr         { $$ = binary(ctx, '%', $1, $3, @2); }
	| '-' expr %prec NEG    { $$ = expr(ctx, EX_NEG, @1); if ($$) $$->a = $2; }
	| '(' expr ')'          { $$ = $2; }
	;

strings:
	string                  { memset(&$$, 0, sizeof $$); push(ctx, &$$, $1); }
	| strings ',' string    { $$ = $1; push(ctx, &$$, $3); }
	;

string:
	"string" parts "end of string" {
		$$ = NEW(ast_str);
		if ($$) { $$->loc = at(ctx, @1); $$->parts = $2; }
	}
	;

parts:
	%empty                  { memset(&$$, 0, sizeof $$); }
	| parts part            { $$ = $1; push(ctx, &$$, $2); }
	;

part:
	TEXT                    { $$ = part(ctx, SP_TEXT, @1, $1, NULL); }
	| TEXTCAP               { $$ = part(ctx, SP_TEXTCAP, @1, $1, NULL); }
	| "'*'"                 { $$ = part(ctx, SP_STAR, @1, NULL, NULL); }
	| "'<'" expr "'>'"      { $$ = part(ctx, SP_HOLE, @1, NULL, $2); }
	;

%%

int parse_rules(const src_file *f, td_arena *arena, src_diag *diag,
		ast_list *out)
{
	struct parse_ctx ctx = {.file = f, .arena = arena, .diag = diag};
	int before = diag->errors;
	src_loc loc = {f, 1, 1};
	jmp_buf fatal;
	void *scanner;

	memset(out, 0, sizeof *out);
	ctx.fatal = &fatal;
	if (yylex_init_extra(&ctx, &scanner) != 0) {
		src_error(diag, loc, "out of memory");
		return 1;
	}
	if (setjmp(fatal) != 0) {   /* flex could not allocate a buffer */
		yylex_destroy(scanner);
		src_error(diag, loc, "out of memory while parsing");
		return diag->errors - before;
	}
	yy_scan_bytes(f->text, (int)f->len, scanner);
	yyparse(scanner, &ctx);
	yylex_destroy(scanner);
	if (ctx.oom)
		src_error(diag, loc, "out of memory while parsing");
	*out = ctx.stmts;
	return diag->errors - before;
}
