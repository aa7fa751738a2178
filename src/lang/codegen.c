/* codegen.c — code for patterns, expressions, tensor ops and output names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/dtype.h"
#include "compile_int.h"

/* ---------------------------------------------------------------- patterns */

static int find_capture(const capture_scope *sc, const char *name)
{
	int i;

	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->names[i], name) == 0)
			return i;
	return -1;
}

static int add_capture(compiler *c, capture_scope *sc, const char *name, int kind,
		       src_loc loc)
{
	if (strcmp(name, "_") != 0 && find_capture(sc, name) >= 0) {
		compile_error(c, loc, "capture '%s' appears twice in the pattern", name);
		return -1;
	}
	if (sc->n == COMPILE_MAX_CAPS) {
		compile_error(c, loc, "more than %d captures in one pattern",
			      COMPILE_MAX_CAPS);
		return -1;
	}
	sc->names[sc->n] = name;
	sc->kinds[sc->n] = kind;
	return sc->n++;
}

/* Adjacent literal text parts, merged into one string (patterns and
 * output names alike). */
typedef struct text_run {
	char buf[4096];
	size_t len;
} text_run;

/* Appends text part p; a run too long is an error naming `what`. */
static int text_add(compiler *c, text_run *r, const ast_part *p,
		    const char *what)
{
	size_t k = strlen(p->text);

	if (r->len + k >= sizeof r->buf) {
		compile_error(c, p->loc, "%s too long", what);
		return -1;
	}
	memcpy(r->buf + r->len, p->text, k);
	r->len += k;
	return 0;
}

/* 1 and the run's string in the program (the run is then empty), or 0
 * when it is empty. */
static int text_take(compiler *c, text_run *r, uint32_t *str)
{
	if (!r->len)
		return 0;
	r->buf[r->len] = '\0';
	r->len = 0;
	*str = build_str(&c->b, r->buf);
	return 1;
}

/* Literal text runs are merged into one PI_LIT item. */
static void flush_text(compiler *c, text_run *r, uint32_t *n)
{
	prog_item it = {PI_LIT, 0, 0};

	if (!text_take(c, r, &it.arg))
		return;
	build_item(&c->b, it);
	(*n)++;
}

/* One non-literal part: a capture or '*'.  Returns 0 or -1. */
static int capture_item(compiler *c, const ast_part *p, capture_scope *sc,
			int group, prog_item *it)
{
	const char *name = p->text;
	int slot;

	if (p->kind == SP_STAR) {
		it->kind = PI_STAR;
		return 0;
	}
	if (p->kind == SP_ALT) {
		compile_error(c, p->loc, "alternatives {%s:...} are only allowed in "
			      "a rule's source pattern", name);
		return -1;
	}
	if (p->kind == SP_HOLE) {
		if (p->expr->kind == EX_NAME) {
			name = p->expr->name;
		} else if (group) {
			name = "_";
		} else {
			compile_error(c, p->loc, "a pattern can only capture a name, "
				      "like <i>; arithmetic belongs in output names");
			return -1;
		}
	}
	slot = add_capture(c, sc, name, p->kind == SP_HOLE ? PI_INT : PI_TEXT,
			   p->loc);
	if (slot < 0)
		return -1;
	it->kind = (uint32_t)sc->kinds[slot];
	it->arg = (uint32_t)slot;
	it->name = build_str(&c->b, name);
	return 0;
}

int32_t gen_pattern(compiler *c, const ast_list *parts, src_loc loc,
		    capture_scope *sc, int group)
{
	prog_pattern pat = {c->b.p.nitems, 0, 0};
	text_run run = {"", 0};
	int i, prev_capture = 0, rc = 0;

	for (i = 0; i < parts->n; i++) {
		const ast_part *p = parts->v[i];
		prog_item it = {0, 0, 0};

		if (p->kind == SP_TEXT) {
			if (text_add(c, &run, p, "pattern") != 0)
				return -1;
			prev_capture = 0;
			continue;
		}
		if (prev_capture) {
			compile_error(c, p->loc, "two captures must be separated by "
				      "text, or the match is ambiguous");
			rc = -1;
		}
		flush_text(c, &run, &pat.n);
		if (capture_item(c, p, sc, group, &it) != 0)
			rc = -1;
		else
			build_item(&c->b, it), pat.n++;
		prev_capture = 1;
	}
	flush_text(c, &run, &pat.n);
	if (pat.n == 0) {
		compile_error(c, loc, "empty pattern");
		return -1;
	}
	pat.ncaps = (uint32_t)sc->n;
	return rc ? -1 : (int32_t)build_pattern(&c->b, pat);
}

/* ---------------------------------------------------------------- expressions */

static int name_ref(compiler *c, const ast_expr *e, const capture_scope *sc)
{
	int slot = find_capture(sc, e->name);
	size_t idx;

	if (slot >= 0) {
		if (sc->kinds[slot] != PI_INT) {
			compile_error(c, e->loc, "{%s} is a text capture, not a number",
				      e->name);
			return -1;
		}
		build_instr(&c->b, OP_CAPT, 0, slot, e->loc.line);
		return 0;
	}
	if (!td_map_get(c->params, e->name, strlen(e->name), &idx) ||
	    (int)idx >= c->nparams_visible) {
		int declared = td_map_get(c->declared, e->name,
					  strlen(e->name), &idx);

		if (declared || !c->missing_include) /* else the include had it */
			compile_error(c, e->loc, declared
				      ? "'%s' is used before its definition"
				      : "unknown name '%s' (not a capture, param or "
				   "let)", e->name);
		return -1;
	}
	build_instr(&c->b, OP_PARAM, 0, (int32_t)idx, e->loc.line);
	return 0;
}

static int call(compiler *c, const ast_expr *e, const capture_scope *sc,
		int allow_dim)
{
	static const struct { const char *name; int nargs; opcode op; }
	fns[] = {{"min", 2, OP_MIN}, {"max", 2, OP_MAX}, {"dim", 1, OP_DIM}};
	size_t i;
	int k, rc = 0;

	for (i = 0; i < sizeof fns / sizeof fns[0]; i++)
		if (strcmp(fns[i].name, e->name) == 0)
			break;
	if (i == sizeof fns / sizeof fns[0]) {
		compile_error(c, e->loc, "unknown function '%s' (there are min, max "
			      "and dim)", e->name);
		return -1;
	}
	if (e->args.n != fns[i].nargs) {
		compile_error(c, e->loc, "%s takes %d argument%s, got %d", e->name,
			      fns[i].nargs, fns[i].nargs == 1 ? "" : "s", e->args.n);
		return -1;
	}
	if (fns[i].op == OP_DIM && !allow_dim) {
		compile_error(c, e->loc, "dim() needs one tensor: it is only allowed "
			      "in operation arguments, before any split");
		return -1;
	}
	for (k = 0; k < e->args.n; k++)
		rc |= gen_expr(c, e->args.v[k], sc, allow_dim);
	build_instr(&c->b, fns[i].op, 0, 0, e->loc.line);
	return rc;
}

int gen_expr(compiler *c, const ast_expr *e, const capture_scope *sc, int allow_dim)
{
	static const char ops[] = "+-*/%";
	static const opcode codes[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD};
	int rc;

	switch (e->kind) {
	case EX_INT:
		build_instr(&c->b, OP_PUSHK, 0, (int32_t)build_kint(&c->b, e->i),
			e->loc.line);
		return 0;
	case EX_NONE:
		build_instr(&c->b, OP_NONE, 0, 0, e->loc.line);
		return 0;
	case EX_NAME:
		return name_ref(c, e, sc);
	case EX_CALL:
		return call(c, e, sc, allow_dim);
	case EX_NEG:
		if (e->a->kind == EX_INT) { /* a negative literal */
			build_instr(&c->b, OP_PUSHK, 0,
				(int32_t)build_kint(&c->b, -e->a->i), e->loc.line);
			return 0;
		}
		rc = gen_expr(c, e->a, sc, allow_dim);
		build_instr(&c->b, OP_NEG, 0, 0, e->loc.line);
		return rc;
	case EX_BIN:
		rc = gen_expr(c, e->a, sc, allow_dim);
		rc |= gen_expr(c, e->b, sc, allow_dim);
		build_instr(&c->b, codes[strchr(ops, e->op) - ops], 0, 0, e->loc.line);
		return rc;
	}
	return -1;
}

int32_t gen_expr_program(compiler *c, const ast_expr *e, const capture_scope *sc)
{
	int32_t at = build_code_here(&c->b);

	if (!e)
		return PROG_NO;
	if (gen_expr(c, e, sc, 0) != 0)
		return PROG_NO;
	build_instr(&c->b, OP_RET, 0, 0, e->loc.line);
	return at;
}

/* ---------------------------------------------------------------- names */

static int name_part(compiler *c, const ast_part *p, const capture_scope *sc)
{
	int slot;

	switch (p->kind) {
	case SP_TEXT:
		build_instr(&c->b, OP_NAMELIT, 0, (int32_t)build_str(&c->b, p->text),
			p->loc.line);
		return 0;
	case SP_HOLE:
		if (gen_expr(c, p->expr, sc, 0) != 0)
			return -1;
		build_instr(&c->b, OP_NAMEINT, 0, 0, p->loc.line);
		return 0;
	case SP_TEXTCAP:
		slot = find_capture(sc, p->text);
		if (slot < 0) {
			compile_error(c, p->loc, "{%s} is not captured by the source "
				      "pattern", p->text);
			return -1;
		}
		build_instr(&c->b, sc->kinds[slot] == PI_TEXT ? OP_NAMETEXT : OP_CAPT,
			0, slot, p->loc.line);
		if (sc->kinds[slot] == PI_INT)
			build_instr(&c->b, OP_NAMEINT, 0, 0, p->loc.line);
		return 0;
	case SP_STAR:
		compile_error(c, p->loc, "'*' is only allowed in source patterns");
		return -1;
	case SP_ALT:
		compile_error(c, p->loc, "alternatives {%s:...} are only allowed in "
			      "a rule's source pattern", p->text);
		return -1;
	}
	return -1;
}

/* Adjacent text parts (a prefix's tail, the name's head) become one
 * NAMELIT. */
int gen_name(compiler *c, const ast_list *parts, const capture_scope *sc)
{
	text_run run = {"", 0};
	uint32_t lit;
	int i, rc = 0;

	for (i = 0; i < parts->n; i++) {
		const ast_part *p = parts->v[i];

		if (p->kind == SP_TEXT) {
			rc |= text_add(c, &run, p, "output name");
			continue;
		}
		if (text_take(c, &run, &lit))
			build_instr(&c->b, OP_NAMELIT, 0, (int32_t)lit, p->loc.line);
		rc |= name_part(c, p, sc);
	}
	if (text_take(c, &run, &lit))
		build_instr(&c->b, OP_NAMELIT, 0, (int32_t)lit, 0);
	return rc;
}

/* ---------------------------------------------------------------- ops */

typedef enum op_form {
	OF_INTS, OF_FIXED, OF_SPLIT, OF_CHUNK, OF_CAT, OF_CAST
} op_form;

typedef struct op_spec {
	const char *name;
	opcode op;
	int min_args, max_args;
	op_form form;
	const char *signature;
} op_spec;

static const op_spec op_specs[] = {
#define TD_SPEC(name, op, lo, hi, form, sig) {#name, OP_##op, lo, hi, OF_##form, sig},
	TD_RULE_OPS(TD_SPEC)
#undef TD_SPEC
};

static const op_spec *find_op(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof op_specs / sizeof op_specs[0]; i++)
		if (strcmp(op_specs[i].name, name) == 0)
			return &op_specs[i];
	return NULL;
}

/* Arguments [from, to) of o, each an integer expression. */
static int scalar_args(compiler *c, const ast_op *o, int from, int to,
		       const capture_scope *sc, int allow_dim)
{
	int i, rc = 0;

	for (i = from; i < to; i++) {
		const ast_arg *a = o->args.v[i];

		if (!a->expr) {
			compile_error(c, a->loc, "argument %d of %s must be a number, "
				      "not a list", i + 1, o->name);
			rc = -1;
			continue;
		}
		rc |= gen_expr(c, a->expr, sc, allow_dim);
	}
	return rc;
}

/* split(dim, [s0, s1, ...]) -> as many tensors as sizes. */
static int op_split(compiler *c, const ast_op *o, const capture_scope *sc,
		    int *streams)
{
	const ast_arg *list = o->args.v[1];
	int i, rc;

	if (list->expr || list->items.n < 1 || list->items.n > 64) {
		compile_error(c, list->loc, "split needs a list of 1 to 64 sizes, "
			      "like split(0, [q, k, v])");
		return -1;
	}
	rc = scalar_args(c, o, 0, 1, sc, 1);
	for (i = 0; i < list->items.n; i++)
		rc |= gen_expr(c, list->items.v[i], sc, 1);
	build_instr(&c->b, OP_SPLIT, list->items.n, 0, o->loc.line);
	*streams = list->items.n;
	return rc;
}

/* chunk(dim, n): n is a literal, the number of tensors made. */
static int op_chunk(compiler *c, const ast_op *o, const capture_scope *sc,
		    int *streams)
{
	const ast_arg *n = o->args.v[1];
	int rc;

	if (!n->expr || n->expr->kind != EX_INT || n->expr->i < 1 ||
	    n->expr->i > 64) {
		compile_error(c, n->loc, "the second argument of chunk is how many "
			      "tensors it makes: a number from 1 to 64");
		return -1;
	}
	rc = scalar_args(c, o, 0, 1, sc, 1);
	build_instr(&c->b, OP_CHUNK, (int)n->expr->i, 0, o->loc.line);
	*streams = (int)n->expr->i;
	return rc;
}

/* cat(dim) or cat(dim, [order]): order lists stream indexes. */
static int op_cat(compiler *c, const ast_op *o, const capture_scope *sc,
		  int *streams)
{
	const ast_arg *order = o->args.n > 1 ? o->args.v[1] : NULL;
	int i, rc = 0, n = 0;

	if (!((const ast_arg *)o->args.v[0])->expr)
		return compile_error(c, o->loc, "cat's first argument is a dimension"), -1;
	rc |= gen_expr(c, ((const ast_arg *)o->args.v[0])->expr, sc, 0);
	if (order) {
		if (order->expr)
			return compile_error(c, order->loc, "cat's second argument is a "
					     "list of tensor indexes, like [1, 0]"), -1;
		for (i = 0; i < order->items.n; i++) {
			const ast_expr *e = order->items.v[i];

			if (e->kind != EX_INT || e->i >= *streams) {
				compile_error(c, e->loc, "cat order entries must be "
					      "numbers below %d (the tensors present)",
					      *streams);
				rc = -1;
				continue;
			}
			build_instr(&c->b, OP_PUSHK, 0, (int32_t)build_kint(&c->b, e->i),
				e->loc.line);
		}
		n = order->items.n;
	}
	build_instr(&c->b, OP_CAT, n, 0, o->loc.line);
	*streams = 1;
	return rc;
}

static int op_cast(compiler *c, const ast_op *o)
{
	static const struct { const char *name; td_dtype t; } names[] = {
		{"bf16", TD_DT_BF16}, {"bfloat16", TD_DT_BF16},
		{"f16", TD_DT_F16}, {"float16", TD_DT_F16},
		{"f32", TD_DT_F32}, {"float32", TD_DT_F32},
		{"f64", TD_DT_F64}, {"float64", TD_DT_F64},
	};
	const ast_arg *a = o->args.v[0];
	size_t i;

	for (i = 0; a->expr && a->expr->kind == EX_NAME &&
		    i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i].name, a->expr->name) == 0) {
			build_instr(&c->b, OP_CAST, 0, names[i].t, o->loc.line);
			return 0;
		}
	compile_error(c, a->loc, "cast needs a dtype: bf16, f16, f32 or f64");
	return -1;
}

int is_builtin_op(const char *name)
{
	return find_op(name) != NULL;
}

static int one_op(compiler *c, const ast_op *o, const capture_scope *sc,
		  int *streams, int allow_fanout)
{
	const op_spec *s = find_op(o->name);
	const ast_stmt *def;

	if (!s && (def = find_opdef(c, o->name)))
		return gen_call_op(c, def, o, sc, streams, allow_fanout);
	if (!s)
		return compile_error(c, o->loc, "unknown operation '%s'", o->name), -1;
	if (o->args.n < s->min_args || o->args.n > s->max_args) {
		if (s->min_args == s->max_args)
			compile_error(c, o->loc, "%s takes %d arguments, got %d: %s",
				      o->name, s->min_args, o->args.n, s->signature);
		else
			compile_error(c, o->loc, "%s takes %d to %d arguments, got %d: "
				      "%s", o->name, s->min_args, s->max_args,
				      o->args.n, s->signature);
		return -1;
	}
	if ((s->form == OF_SPLIT || s->form == OF_CHUNK) &&
	    (!allow_fanout || *streams != 1)) {
		compile_error(c, o->loc, allow_fanout
			      ? "%s after a split: join the pieces with cat first"
			      : "%s is not allowed in an output's operations", o->name);
		return -1;
	}
	switch (s->form) {
	case OF_SPLIT: return op_split(c, o, sc, streams);
	case OF_CHUNK: return op_chunk(c, o, sc, streams);
	case OF_CAT:   return op_cat(c, o, sc, streams);
	case OF_CAST:  return op_cast(c, o);
	default: break;
	}
	if (scalar_args(c, o, 0, o->args.n, sc, *streams == 1) != 0)
		return -1;
	build_instr(&c->b, s->op, s->form == OF_INTS ? o->args.n : 0, 0,
		o->loc.line);
	return 0;
}

int gen_ops(compiler *c, const ast_list *ops, const capture_scope *sc, int *streams,
	    int allow_fanout)
{
	int i, rc = 0;

	for (i = 0; i < ops->n; i++)
		rc |= one_op(c, ops->v[i], sc, streams, allow_fanout);
	return rc;
}
