/* opdef.c — operations defined in the rules:
 *
 *     op swap_halves(d) = split(d, [64, -1]) | cat(d, [1, 0])
 *
 * A call is expanded where it stands: the body's operations with each
 * parameter replaced by the caller's argument (a number or a [list]),
 * then compiled as if written there.  So a defined op costs nothing at
 * run time and the bytecode is unchanged. */
#include <string.h>

#include "compile_int.h"

typedef struct binding {
	const ast_stmt *def;   /* the op statement: names in def->params */
	const ast_op *call;    /* its arguments: ast_arg * */
} binding;

static const ast_arg *bound(const binding *b, const char *name)
{
	int i;

	for (i = 0; i < b->def->params.n; i++)
		if (strcmp(b->def->params.v[i], name) == 0)
			return b->call->args.v[i];
	return NULL;
}

static ast_expr *subst_expr(compiler *c, ast_expr *e, const binding *b);

static ast_expr *copy_expr(compiler *c, const ast_expr *e)
{
	ast_expr *n = td_arena_alloc(c->arena, sizeof *n);

	if (!n) {
		c->b.oom = 1;
		return NULL;
	}
	*n = *e;
	return n;
}

static int subst_list(compiler *c, ast_list *l, const binding *b)
{
	ast_list out = {0};
	int i;

	for (i = 0; i < l->n; i++) {
		ast_expr *e = subst_expr(c, l->v[i], b);

		if (!e || ast_push(c->arena, &out, e) != 0)
			return c->b.oom = 1, -1;
	}
	*l = out;
	return 0;
}

/* e with the parameters of b replaced; e itself when none occurs. */
static ast_expr *subst_expr(compiler *c, ast_expr *e, const binding *b)
{
	const ast_arg *a;
	ast_expr *n;

	if (!e || e->kind == EX_INT || e->kind == EX_NONE)
		return e;
	if (e->kind == EX_NAME) {
		if (!(a = bound(b, e->name)))
			return e;
		if (a->expr)
			return a->expr;
		compile_error(c, e->loc, "'%s' is a list here (op %s was called "
			      "with [...]); a list can only be a whole argument",
			 e->name, b->def->name);
		return e;
	}
	if (!(n = copy_expr(c, e)))
		return NULL;
	if (e->kind == EX_CALL)
		return subst_list(c, &n->args, b) == 0 ? n : NULL;
	n->a = subst_expr(c, e->a, b);
	n->b = subst_expr(c, e->b, b);
	return (e->a && !n->a) || (e->b && !n->b) ? NULL : n;
}

/* One argument of an op in the body: a parameter standing alone is
 * replaced by the caller's argument, list or not. */
static ast_arg *subst_arg(compiler *c, ast_arg *a, const binding *b)
{
	const ast_arg *whole;
	ast_arg *n;

	if (a->expr && a->expr->kind == EX_NAME &&
	    (whole = bound(b, a->expr->name)))
		return (ast_arg *)whole;
	if (!(n = td_arena_alloc(c->arena, sizeof *n)))
		return c->b.oom = 1, NULL;
	*n = *a;
	if (a->expr)
		n->expr = subst_expr(c, a->expr, b);
	else if (subst_list(c, &n->items, b) != 0)
		return NULL;
	return a->expr && !n->expr ? NULL : n;
}

/* The body of def with the call's arguments put in. */
static int expand(compiler *c, const binding *b, ast_list *out)
{
	int i, j;

	memset(out, 0, sizeof *out);
	for (i = 0; i < b->def->ops.n; i++) {
		const ast_op *o = b->def->ops.v[i];
		ast_op *n = td_arena_alloc(c->arena, sizeof *n);

		if (!n || ast_push(c->arena, out, n) != 0)
			return c->b.oom = 1, -1;
		*n = *o;
		memset(&n->args, 0, sizeof n->args);
		for (j = 0; j < o->args.n; j++) {
			ast_arg *a = subst_arg(c, o->args.v[j], b);

			if (!a || ast_push(c->arena, &n->args, a) != 0)
				return c->b.oom = 1, -1;
		}
	}
	return 0;
}

const ast_stmt *find_opdef(compiler *c, const char *name)
{
	size_t idx;

	if (!td_map_get(c->opdefs, name, strlen(name), &idx))
		return NULL;
	return c->opdef_list.v[idx];
}

int gen_call_op(compiler *c, const ast_stmt *def, const ast_op *call,
		const capture_scope *sc, int *streams, int allow_fanout)
{
	binding b = {def, call};
	ast_list body;
	int i, rc;

	if (call->args.n != def->params.n)
		return compile_error(c, call->loc, "op %s takes %d argument%s, got %d",
				     def->name, def->params.n,
				     def->params.n == 1 ? "" : "s", call->args.n), -1;
	for (i = 0; i < c->op_depth; i++)
		if (c->op_stack[i] == def)
			return compile_error(c, call->loc, "op %s calls itself",
					     def->name), -1;
	if (c->op_depth == COMPILE_MAX_OP_DEPTH)
		return compile_error(c, call->loc, "ops call each other more than %d "
				     "deep", COMPILE_MAX_OP_DEPTH), -1;
	if (expand(c, &b, &body) != 0)
		return -1;
	c->op_stack[c->op_depth++] = def;
	rc = gen_ops(c, &body, sc, streams, allow_fanout);
	c->op_depth--;
	return rc;
}
