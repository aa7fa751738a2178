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

#define MC_MAX_CAPS (MP_MAX_CAPS - 1) /* the last: a rewrite's split index */
#define MC_MAX_INCLUDE_DEPTH 16
#define MC_MAX_USE_DEPTH 8
#define MC_MAX_OP_DEPTH 8

/* Captures visible to a rule: bound by its source pattern (and by a
 * rewrite's "for" variable). */
typedef struct mc_scope {
	const char *names[MC_MAX_CAPS];
	int kinds[MC_MAX_CAPS];   /* PI_INT or PI_TEXT */
	int n;
} mc_scope;

typedef struct compiler {
	mc_options opt;
	src_diag diag;
	td_arena *arena;
	mp_builder b;
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
	const ast_stmt *op_stack[MC_MAX_OP_DEPTH]; /* ops being expanded */
	int op_depth;
	const char *use_stack[MC_MAX_USE_DEPTH];
	int use_depth;
	td_map *reported;     /* "file:line:col: message" already said */
	int missing_include;  /* an include was not found: what it would
			       * have defined is not reported missing */
} compiler;

void mc_error(compiler *c, src_loc loc, const char *fmt, ...) TD_PRINTF(3, 4);

/* Joins the parts of several strings into one list (block prefixes). */
ast_list mc_concat(compiler *c, const ast_str *const *strs, int n);

/* Pattern from parts; fills sc.  group: "<expr>" holes become anonymous
 * captures instead of errors.  Returns the pattern id or -1. */
int32_t mc_pattern(compiler *c, const ast_list *parts, src_loc loc,
		   mc_scope *sc, int group);

/* Expression code; allow_dim: dim() is meaningful here. 0 or -1. */
int mc_expr(compiler *c, const ast_expr *e, const mc_scope *sc, int allow_dim);

/* Expression + RET as a standalone program; its code offset or MP_NO. */
int32_t mc_expr_program(compiler *c, const ast_expr *e, const mc_scope *sc);

/* Name program (NAMELIT/NAMEINT/NAMETEXT ...) from template parts, no END. */
int mc_name(compiler *c, const ast_list *parts, const mc_scope *sc);

/* 1 if name is a built-in operation (split, cat, ...). */
int mc_is_builtin_op(const char *name);

/* The `op` statement defining name, or NULL (opdef.c). */
const ast_stmt *mc_find_opdef(compiler *c, const char *name);

/* A call of a defined op: its body compiled with the arguments put in. */
int mc_call_op(compiler *c, const ast_stmt *def, const ast_op *call,
	       const mc_scope *sc, int *streams, int allow_fanout);

/* Ops of a pipeline; *streams tracks the working set's size. */
int mc_ops(compiler *c, const ast_list *ops, const mc_scope *sc, int *streams,
	   int allow_fanout);

#endif
