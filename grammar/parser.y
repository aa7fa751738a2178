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
#include <string.h>

#include "src/lang/parse.h"

int yylex(YYSTYPE *lval, YYLTYPE *lloc, void *scanner);

static void yyerror(YYLTYPE *l, void *scanner, struct parse_ctx *ctx,
		    const char *msg)
{
	(void)scanner;
	src_error(ctx->diag, tree_loc(ctx, l->first_line, l->first_column),
		  "%s", msg);
}

#define LOC(l) tree_loc(ctx, (l).first_line, (l).first_column)
#define NEW(T) ((T *)tree_new(ctx, sizeof(T)))
#define EMPTY(list) memset(&(list), 0, sizeof (list))
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
%token REQUIRE "require" QUANTIZE "quantize" OP "op"
%token TERM "end of statement"
%token STR_BEGIN "string" STR_END "end of string" HOLE_BEGIN "'<'"
%token HOLE_END "'>'" STAR "'*'"
%token <i> INT "integer"
%token <s> IDENT "name" TEXT "text" TEXTCAP "text capture"
%token <s> ALTCAP "alternatives"

%type <list> body stmts ops pipeline args exprs targets strings parts names idents
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
	body                    { ctx->stmts = $1; }
	;

/* Statements end at the end of statement the lexer finds: a ';', or a
 * line break before a line indented no deeper than the statement's first
 * line (lexer.l); the last one before a '}' needs neither.  After a
 * syntax error the parser skips to the end of that statement, so one
 * mistake is reported once. */
body:
	stmts
	| stmts stmt            { $$ = $1; if ($2) tree_push(ctx, &$$, $2); }
	;

stmts:
	%empty                  { EMPTY($$); }
	| stmts TERM
	| stmts stmt TERM       { $$ = $1; if ($2) tree_push(ctx, &$$, $2); }
	| stmts error TERM
	;

stmt:
	"include" string        { $$ = tree_stmt(ctx, ST_INCLUDE, LOC(@1)); if ($$) $$->str = $2; }
	| "param" IDENT         {
		$$ = tree_stmt(ctx, ST_PARAM, LOC(@1));
		if ($$) { $$->name = $2; $$->name_loc = LOC(@2); }
	}
	| "param" IDENT '=' expr {
		$$ = tree_stmt(ctx, ST_PARAM, LOC(@1));
		if ($$) { $$->name = $2; $$->name_loc = LOC(@2); $$->expr = $4; }
	}
	| "let" IDENT '=' expr  {
		$$ = tree_stmt(ctx, ST_LET, LOC(@1));
		if ($$) { $$->name = $2; $$->name_loc = LOC(@2); $$->expr = $4; }
	}
	| "skip" string         { $$ = tree_stmt(ctx, ST_SKIP, LOC(@1)); if ($$) $$->str = $2; }
	| rewrite
	| "group" strings opt_when {
		$$ = tree_stmt(ctx, ST_GROUP, LOC(@1));
		if ($$) { $$->targets = $2; $$->expr = $3; }
	}
	| "require" expr ',' string {
		$$ = tree_stmt(ctx, ST_REQUIRE, LOC(@1));
		if ($$) { $$->expr = $2; $$->str = $4; }
	}
	| "quantize" string     { $$ = tree_stmt(ctx, ST_QUANTIZE, LOC(@1)); if ($$) $$->str = $2; }
	| "quantize" string "unless" strings {
		$$ = tree_stmt(ctx, ST_QUANTIZE, LOC(@1));
		if ($$) { $$->str = $2; $$->targets = $4; }
	}
	| "block" IDENT '{' body '}' {
		$$ = tree_stmt(ctx, ST_BLOCK, LOC(@1));
		if ($$) { $$->name = $2; $$->name_loc = LOC(@2); $$->body = $4; }
	}
	| "use" IDENT           {
		$$ = tree_stmt(ctx, ST_USE, LOC(@1));
		if ($$) { $$->name = $2; $$->name_loc = LOC(@2); }
	}
	| "use" IDENT "at" string "->" string {
		$$ = tree_stmt(ctx, ST_USE, LOC(@1));
		if ($$) {
			$$->name = $2; $$->name_loc = LOC(@2);
			$$->src_prefix = $4; $$->dst_prefix = $6;
		}
	}
	| "op" IDENT names '=' pipeline {
		$$ = tree_stmt(ctx, ST_OP, LOC(@1));
		if ($$) {
			$$->name = $2; $$->name_loc = LOC(@2);
			$$->params = $3; $$->ops = $5;
		}
	}
	| rule
	;

names:
	%empty                  { EMPTY($$); }
	| '(' ')'               { EMPTY($$); }
	| '(' idents ')'        { $$ = $2; }
	;

idents:
	IDENT                   { EMPTY($$); tree_push(ctx, &$$, $1); }
	| idents ',' IDENT      { $$ = $1; tree_push(ctx, &$$, $3); }
	;

pipeline:
	op                      { EMPTY($$); tree_push(ctx, &$$, $1); }
	| pipeline '|' op       { $$ = $1; tree_push(ctx, &$$, $3); }
	;

rewrite:
	"rewrite" string "->" string opt_unless {
		$$ = tree_stmt(ctx, ST_REWRITE, LOC(@1));
		if ($$) { $$->str = $2; $$->tmpl = $4; $$->unless = $5; }
	}
	| "rewrite" string "->" string "for" IDENT "in" expr opt_unless {
		$$ = tree_stmt(ctx, ST_REWRITE, LOC(@1));
		if ($$) {
			$$->str = $2; $$->tmpl = $4; $$->var = $6;
			$$->var_loc = LOC(@6); $$->expr = $8; $$->unless = $9;
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
		$$ = tree_stmt(ctx, ST_RULE, LOC(@1));
		if ($$) { $$->str = $1; $$->ops = $2; $$->targets = $4; }
	}
	;

targets:
	target                  { EMPTY($$); tree_push(ctx, &$$, $1); }
	| targets ',' target    { $$ = $1; tree_push(ctx, &$$, $3); }
	;

target:
	string ops              {
		$$ = NEW(ast_target);
		if ($$) { $$->name = $1; $$->ops = $2; }
	}
	;

ops:
	%empty                  { EMPTY($$); }
	| ops '|' op            { $$ = $1; tree_push(ctx, &$$, $3); }
	;

op:
	IDENT '(' ')'           {
		$$ = NEW(ast_op);
		if ($$) { $$->name = $1; $$->loc = LOC(@1); }
	}
	| IDENT '(' args ')'    {
		$$ = NEW(ast_op);
		if ($$) { $$->name = $1; $$->loc = LOC(@1); $$->args = $3; }
	}
	;

args:
	arg                     { EMPTY($$); tree_push(ctx, &$$, $1); }
	| args ',' arg          { $$ = $1; tree_push(ctx, &$$, $3); }
	;

arg:
	expr                    {
		$$ = NEW(ast_arg);
		if ($$) { $$->expr = $1; $$->loc = LOC(@1); }
	}
	| '[' exprs ']'         {
		$$ = NEW(ast_arg);
		if ($$) { $$->items = $2; $$->loc = LOC(@1); }
	}
	;

exprs:
	expr                    { EMPTY($$); tree_push(ctx, &$$, $1); }
	| exprs ',' expr        { $$ = $1; tree_push(ctx, &$$, $3); }
	;

expr:
	INT                     { $$ = tree_expr(ctx, EX_INT, LOC(@1)); if ($$) $$->i = $1; }
	| "none"                { $$ = tree_expr(ctx, EX_NONE, LOC(@1)); }
	| IDENT                 { $$ = tree_expr(ctx, EX_NAME, LOC(@1)); if ($$) $$->name = $1; }
	| IDENT '(' exprs ')'   {
		$$ = tree_expr(ctx, EX_CALL, LOC(@1));
		if ($$) { $$->name = $1; $$->args = $3; }
	}
	| expr '+' expr         { $$ = tree_binary(ctx, '+', $1, $3, LOC(@2)); }
	| expr '-' expr         { $$ = tree_binary(ctx, '-', $1, $3, LOC(@2)); }
	| expr '*' expr         { $$ = tree_binary(ctx, '*', $1, $3, LOC(@2)); }
	| expr '/' expr         { $$ = tree_binary(ctx, '/', $1, $3, LOC(@2)); }
	| expr '%' expr         { $$ = tree_binary(ctx, '%', $1, $3, LOC(@2)); }
	| '-' expr %prec NEG    { $$ = tree_expr(ctx, EX_NEG, LOC(@1)); if ($$) $$->a = $2; }
	| '(' expr ')'          { $$ = $2; }
	;

strings:
	string                  { EMPTY($$); tree_push(ctx, &$$, $1); }
	| strings ',' string    { $$ = $1; tree_push(ctx, &$$, $3); }
	;

string:
	"string" parts "end of string" {
		$$ = NEW(ast_str);
		if ($$) { $$->loc = LOC(@1); $$->parts = $2; }
	}
	;

parts:
	%empty                  { EMPTY($$); }
	| parts part            { $$ = $1; tree_push(ctx, &$$, $2); }
	;

part:
	TEXT                    { $$ = tree_part(ctx, SP_TEXT, LOC(@1), $1, NULL); }
	| TEXTCAP               { $$ = tree_part(ctx, SP_TEXTCAP, LOC(@1), $1, NULL); }
	| "'*'"                 { $$ = tree_part(ctx, SP_STAR, LOC(@1), NULL, NULL); }
	| ALTCAP                { $$ = tree_alternatives(ctx, LOC(@1), $1); }
	| "'<'" expr "'>'"      { $$ = tree_part(ctx, SP_HOLE, LOC(@1), NULL, $2); }
	;

%%
