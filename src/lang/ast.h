/* ast.h — the syntax tree of a rule file, as the parser builds it.
 * Everything lives in the parse arena and is freed with it. */
#ifndef TD_AST_H
#define TD_AST_H

#include <stdint.h>

#include "../common/arena.h"
#include "source.h"

typedef struct ast_expr ast_expr;
typedef struct ast_str ast_str;

/* A growable array of pointers in the arena. */
typedef struct ast_list {
	void **v;
	int n, cap;
} ast_list;

typedef enum expr_kind { EX_INT, EX_NONE, EX_NAME, EX_BIN, EX_NEG, EX_CALL } expr_kind;

struct ast_expr {
	expr_kind kind;
	src_loc loc;
	int64_t i;       /* EX_INT */
	const char *name;/* EX_NAME, EX_CALL */
	int op;          /* EX_BIN: '+', '-', '*', '/', '%' */
	ast_expr *a, *b;
	ast_list args;   /* EX_CALL: ast_expr * */
};

/* Parts of a quoted pattern or template.  SP_ALT is "{name:a|b}": one
 * of the texts listed, which a rule's outputs name as {name}. */
typedef enum part_kind { SP_TEXT, SP_HOLE, SP_TEXTCAP, SP_STAR, SP_ALT } part_kind;

typedef struct ast_part {
	part_kind kind;
	src_loc loc;
	const char *text;  /* SP_TEXT; SP_TEXTCAP, SP_ALT: the capture name */
	ast_expr *expr;    /* SP_HOLE */
	ast_list alts;     /* SP_ALT: const char *, each non-empty */
} ast_part;

struct ast_str {
	src_loc loc;
	ast_list parts;    /* ast_part * */
};

/* An op argument: an expression or a bracketed list of them. */
typedef struct ast_arg {
	src_loc loc;
	ast_expr *expr;    /* NULL for a list */
	ast_list items;    /* ast_expr * */
} ast_arg;

typedef struct ast_op {
	src_loc loc;
	const char *name;
	ast_list args;     /* ast_arg * */
} ast_op;

typedef struct ast_target {
	ast_str *name;
	ast_list ops;      /* ast_op * */
} ast_target;

typedef enum stmt_kind {
	ST_INCLUDE, ST_PARAM, ST_LET, ST_SKIP, ST_REWRITE, ST_RULE, ST_GROUP,
	ST_BLOCK, ST_USE, ST_REQUIRE, ST_QUANTIZE, ST_OP
} stmt_kind;

typedef struct ast_stmt {
	stmt_kind kind;
	src_loc loc;
	const char *name;    /* PARAM/LET/BLOCK/USE/OP name */
	src_loc name_loc;
	ast_expr *expr;      /* PARAM default, LET value, REWRITE count, GROUP when */
	ast_str *str;        /* INCLUDE path, SKIP/REWRITE/RULE pattern */
	ast_str *tmpl;       /* REWRITE template */
	const char *var;     /* REWRITE "for VAR in" */
	src_loc var_loc;
	ast_str *unless;     /* REWRITE guard */
	ast_list ops;        /* RULE source pipeline, OP body: ast_op * */
	ast_list params;     /* OP: parameter names, const char * */
	ast_list targets;    /* RULE: ast_target *; GROUP, QUANTIZE
			      * (unless): ast_str * */
	ast_str *src_prefix; /* USE */
	ast_str *dst_prefix;
	ast_list body;       /* BLOCK: ast_stmt * */
} ast_stmt;

int ast_push(td_arena *a, ast_list *l, void *item);

#endif
