/* compile_int.h — state shared by compile.c (files, declarations,
 * expansion of blocks) and codegen.c (patterns, expressions, ops, names). */
#ifndef TD_COMPILE_INT_H
#define TD_COMPILE_INT_H

#include "../common/arena.h"
#include "../common/map.h"
#include "ast.h"
#include "builder.h"
#include "compile.h"
#include "source.h"

#define COMPILE_MAX_CAPS (PROG_MAX_CAPS - 1) /* the last: a rewrite's split index */
#define COMPILE_MAX_INCLUDE_DEPTH 16
#define COMPILE_MAX_USE_DEPTH 8
#define COMPILE_MAX_OP_DEPTH 8

/* Captures visible to a rule: bound by its source pattern (and by a
 * rewrite's "for" variable). */
typedef struct capture_scope {
	const char *names[COMPILE_MAX_CAPS];
	int kinds[COMPILE_MAX_CAPS];   /* PI_INT or PI_TEXT */
	int n;
} capture_scope;

typedef struct compiler {
	compile_options opt;
	src_diag diag;
	td_arena *arena;
	builder b;
	src_file **files;
	int nfiles;
	td_map *loaded;       /* real paths already included */
	ast_list top;         /* top-level statements, includes expanded */
	td_map *params;       /* name -> param index */
	td_map *declared;     /* every param/let name in the files */
	int nparams_visible;  /* while compiling a default: params before it */
	td_map *blocks;       /* name -> index in block_list */
	ast_list block_list;  /* ast_stmt * */
	td_map *opdefs;       /* name -> index in opdef_list */
	ast_list opdef_list;  /* ast_stmt * (ST_OP) */
	const ast_stmt *op_stack[COMPILE_MAX_OP_DEPTH]; /* ops being expanded */
	int op_depth;
	const char *use_stack[COMPILE_MAX_USE_DEPTH];
	int use_depth;
	td_map *reported;     /* "file:line:col: message" already said */
	int missing_include;  /* an include was not found: what it would
			       * have defined is not reported missing */
} compiler;

void compile_error(compiler *c, src_loc loc, const char *fmt, ...) TD_PRINTF(3, 4);

/* Joins the parts of several strings into one list (block prefixes). */
ast_list concat_parts(compiler *c, const ast_str *const *strs, int n);

/* Pattern from parts; fills sc.  group: "<expr>" holes become anonymous
 * captures instead of errors.  Returns the pattern id or -1. */
int32_t gen_pattern(compiler *c, const ast_list *parts, src_loc loc,
		    capture_scope *sc, int group);

/* Expression code; allow_dim: dim() is meaningful here. 0 or -1. */
int gen_expr(compiler *c, const ast_expr *e, const capture_scope *sc, int allow_dim);

/* Expression + RET as a standalone program; its code offset or PROG_NO. */
int32_t gen_expr_program(compiler *c, const ast_expr *e, const capture_scope *sc);

/* Name program (NAMELIT/NAMEINT/NAMETEXT ...) from template parts, no END. */
int gen_name(compiler *c, const ast_list *parts, const capture_scope *sc);

/* 1 if name is a built-in operation (split, cat, ...). */
int is_builtin_op(const char *name);

/* The `op` statement defining name, or NULL (opdef.c). */
const ast_stmt *find_opdef(compiler *c, const char *name);

/* A call of a defined op: its body compiled with the arguments put in. */
int gen_call_op(compiler *c, const ast_stmt *def, const ast_op *call,
		const capture_scope *sc, int *streams, int allow_fanout);

/* Ops of a pipeline; *streams tracks the working set's size. */
int gen_ops(compiler *c, const ast_list *ops, const capture_scope *sc, int *streams,
	    int allow_fanout);

#endif
