/* vm.c — the bytecode interpreter.  One loop (run) runs every kind of
 * program (expression, name, rule) through one switch with a case per
 * opcode (step); the view opcodes share one more (view_one).  The loader
 * has already checked operands, stack depths and the tensor working set
 * of every program against the limits in program.h (validate.c), so only
 * values are checked here: integers (overflow, division by zero, none),
 * the dimensions and tensors they index, shapes, and the length of the
 * names built (VM_NAME_MAX). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/intops.h"
#include "vm_int.h"

#pragma GCC diagnostic error "-Wswitch-enum"

#define STACK_MAX PROG_MAX_STACK
#define STREAMS_MAX PROG_MAX_STREAMS

typedef struct state {
	const program *p;
	const vm_params *pv;
	td_arena *arena;          /* NULL: no tensor instructions allowed */
	const vm_caps *caps;
	const vm_entry *entry;
	const prog_instr *in;       /* the instruction running */
	vm_value stack[STACK_MAX];
	int sp;
	char name[VM_NAME_MAX];
	size_t nlen;
	vm_node *work[STREAMS_MAX], *saved[STREAMS_MAX];
	int nwork, nsaved;
	vm_result *res;
	vm_value ret;
	uint32_t context_line;     /* the line the caller's message names */
	td_err *err;
} state;

static int fail(state *s, const char *fmt, ...) TD_PRINTF(2, 3);

/* The message, with the source line of the instruction when known and
 * not already the one the caller names (a rule's first line). */
static int fail(state *s, const char *fmt, ...)
{
	char msg[TD_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s->in && s->in->line && s->in->line != s->context_line)
		return td_errf(s->err, "line %u: %s", s->in->line, msg);
	return td_errf(s->err, "%s", msg);
}

/* ---------------------------------------------------------------- integers */

static void push(state *s, int64_t v, int none)
{
	s->stack[s->sp].v = v;
	s->stack[s->sp].none = none;
	s->sp++;
}

/* Pops an integer; none is an error. */
static int pop(state *s, int64_t *v)
{
	vm_value x = s->stack[--s->sp];

	*v = x.v;
	if (x.none)
		return fail(s, "a value is none where a number is needed (an "
			    "unset parameter?)");
	return 0;
}

typedef int (*binop_fn)(int64_t a, int64_t b, int64_t *r);

static int i64_min(int64_t a, int64_t b, int64_t *r)
{
	*r = a < b ? a : b;
	return 0;
}

static int i64_max(int64_t a, int64_t b, int64_t *r)
{
	*r = a > b ? a : b;
	return 0;
}

/* Pops b, a; pushes fn(a, b), or fails naming the operation. */
static int binop(state *s, binop_fn fn, const char *sym)
{
	int64_t a = 0, b = 0, r = 0;

	if (pop(s, &b) || pop(s, &a))
		return -1;
	if (fn(a, b, &r) != 0)
		return fail(s, b == 0 && (fn == td_i64_floordiv ||
					  fn == td_i64_floormod)
			    ? "%" PRId64 " %s %" PRId64 ": division by zero"
			    : "%" PRId64 " %s %" PRId64 " does not fit in a "
			      "64-bit integer", a, sym, b);
	push(s, r, 0);
	return 0;
}

static int neg(state *s)
{
	int64_t a = 0, r = 0;

	if (pop(s, &a))
		return -1;
	if (td_i64_neg(a, &r) != 0)
		return fail(s, "-(%" PRId64 ") does not fit in a 64-bit integer",
			    a);
	push(s, r, 0);
	return 0;
}

/* ---------------------------------------------------------------- names */

static int append(state *s, const char *text, size_t n)
{
	if (n >= sizeof s->name - s->nlen)
		return fail(s, "output name longer than %d bytes", VM_NAME_MAX - 1);
	if (n)
		memcpy(s->name + s->nlen, text, n);
	s->nlen += n;
	s->name[s->nlen] = '\0';
	return 0;
}

static int append_int(state *s)
{
	char buf[32];
	int64_t v = 0;

	if (pop(s, &v) != 0)
		return -1;
	snprintf(buf, sizeof buf, "%" PRId64, v);
	return append(s, buf, strlen(buf));
}

/* ---------------------------------------------------------------- tensors */

/* Pops n values into v[0..n) in push order; none only where allow_none
 * has bit i set (i < 32; n may be larger). */
static int pop_vals(state *s, vm_value *v, int n, uint32_t allow_none)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		v[i] = s->stack[--s->sp];
		if (v[i].none && !(i < 32 && (allow_none >> i & 1)))
			return fail(s, "a value is none where a number is "
				    "needed (an unset parameter?)");
	}
	return 0;
}

/* Pops the instruction's integers (opcodes.h: int_pops) into v. */
static int pop_args(state *s, int64_t *v, int max)
{
	vm_value x[STREAMS_MAX + 1];
	int i, n = op_pops(s->in->op, s->in->a);

	if (n > max || pop_vals(s, x, n, 0) != 0)
		return n > max ? fail(s, "too many operands") : -1;
	for (i = 0; i < n; i++)
		v[i] = x[i].v;
	return n;
}

/* Normalizes a possibly negative dimension of an ndim-d tensor; -1 if
 * out of range. */
static int dim_index(int64_t d, int ndim)
{
	if (d < 0)
		d += ndim;
	return d >= 0 && d < ndim ? (int)d : -1;
}

static vm_node *transpose(state *s, vm_node *x, const int64_t *v)
{
	int64_t ord[TD_MAX_DIMS];
	int k, d0 = dim_index(v[0], x->shape.ndim),
	    d1 = dim_index(v[1], x->shape.ndim);

	if (d0 < 0 || d1 < 0)
		return fail(s, "transpose(%" PRId64 ", %" PRId64 ") of a %d-d "
			    "tensor", v[0], v[1], x->shape.ndim), NULL;
	for (k = 0; k < x->shape.ndim; k++)
		ord[k] = k;
	ord[d0] = d1;
	ord[d1] = d0;
	return view_permute(s->arena, x, ord, x->shape.ndim, s->err);
}

/* One working tensor through the view instruction s->in, whose integer
 * operands are v[0..n) (SLICE: b, e are its start and end). */
static vm_node *view_one(state *s, vm_node *x, const int64_t *v, int n,
			 const vm_value *b, const vm_value *e)
{
	switch ((opcode)s->in->op) {
	case OP_RESHAPE:   return view_reshape(s->arena, x, v, n, s->err);
	case OP_PERMUTE:   return view_permute(s->arena, x, v, n, s->err);
	case OP_TRANSPOSE: return transpose(s, x, v);
	case OP_NARROW:    return view_narrow(s->arena, x, v[0], v[1], v[2], s->err);
	case OP_SLICE:     return view_slice(s->arena, x, v[0], b, e, s->err);
	case OP_SELECT:    return view_select(s->arena, x, v[0], v[1], s->err);
	case OP_CAST:      return view_cast(s->arena, x, (td_dtype)s->in->c, s->err);
	case OP_PUSHK: case OP_NONE: case OP_PARAM: case OP_CAPT: case OP_DIM:
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
	case OP_NEG: case OP_MIN: case OP_MAX: case OP_RET: case OP_SRC:
	case OP_SPLIT: case OP_CHUNK: case OP_CAT: case OP_SAVE: case OP_TAKE:
	case OP_NAMELIT: case OP_NAMEINT: case OP_NAMETEXT: case OP_EMIT:
	case OP_END: case OP_COUNT:
		break;
	}
	return fail(s, "opcode %u is not a view", s->in->op), NULL;
}

/* A view instruction: maps each working tensor to one new tensor. */
static int view(state *s)
{
	int64_t v[TD_MAX_DIMS];
	vm_value x[3] = {{0, 0}, {0, 0}, {0, 0}};
	int i, n;

	if (s->in->op == OP_SLICE) { /* dim, start, end: start, end may be none */
		if (pop_vals(s, x, 3, 6) != 0)
			return -1;
		v[0] = x[0].v;
		n = 1;
	} else if ((n = pop_args(s, v, TD_MAX_DIMS)) < 0) {
		return -1;
	}
	for (i = 0; i < s->nwork; i++) {
		vm_node *y = view_one(s, s->work[i], v, n, &x[1], &x[2]);

		if (!y)
			return -1;
		s->work[i] = y;
	}
	return 0;
}

/* SPLIT and CHUNK: the one working tensor into a of them. */
static int fan_out(state *s)
{
	int64_t v[STREAMS_MAX + 1];
	vm_node *x = s->work[0];
	int rc;

	if (pop_args(s, v, STREAMS_MAX + 1) < 0)
		return -1;
	rc = s->in->op == OP_SPLIT
	     ? view_split(s->arena, x, v[0], v + 1, s->in->a, s->work, s->err)
	     : view_chunk(s->arena, x, v[0], s->in->a, s->work, s->err);
	if (rc != 0)
		return -1;
	s->nwork = s->in->a;
	return 0;
}

static int cat(state *s)
{
	int64_t v[STREAMS_MAX + 1];
	vm_node *parts[STREAMS_MAX], *x;
	int i, n = s->in->a ? s->in->a : s->nwork;

	if (pop_args(s, v, STREAMS_MAX + 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		int64_t k = s->in->a ? v[1 + i] : i;

		if (k < 0 || k >= s->nwork)
			return fail(s, "cat of tensor %" PRId64 " of %d", k,
				    s->nwork);
		parts[i] = s->work[k];
	}
	x = view_cat(s->arena, parts, n, v[0], s->err);
	if (!x)
		return -1;
	s->work[0] = x;
	s->nwork = 1;
	return 0;
}

static int src(state *s)
{
	s->work[0] = view_entry(s->arena, &s->entry->shape, s->err);
	s->nwork = 1;
	return s->work[0] ? 0 : -1;
}

static int dim(state *s)
{
	const vm_shape *sh = &s->work[0]->shape;
	int64_t k = 0;
	int d;

	if (pop(s, &k) != 0)
		return -1;
	d = dim_index(k, sh->ndim);
	if (d < 0)
		return fail(s, "dim(%" PRId64 ") of a %d-d tensor", k, sh->ndim);
	push(s, sh->dims[d], 0);
	return 0;
}

static int emit(state *s)
{
	vm_result *r = s->res;
	vm_output *o;

	if (r->nout % 8 == 0) {
		vm_output *n = td_arena_alloc(s->arena, (size_t)(r->nout + 8) *
					      sizeof *n);

		if (!n)
			return fail(s, "out of memory");
		if (r->nout)
			memcpy(n, r->out, (size_t)r->nout * sizeof *n);
		r->out = n;
	}
	o = &r->out[r->nout++];
	o->name = td_arena_strndup(s->arena, s->name, s->nlen);
	if (!o->name)
		return fail(s, "out of memory");
	o->node = s->work[0];
	if (td_shape_nbytes(o->node->shape.dims, o->node->shape.ndim,
			    td_dtype_size(o->node->shape.dtype), &o->nbytes))
		return fail(s, "output too large");
	s->nlen = 0;
	s->name[0] = '\0';
	return 0;
}

static int save(state *s)
{
	memcpy(s->saved, s->work, (size_t)s->nwork * sizeof s->work[0]);
	s->nsaved = s->nwork;
	return 0;
}

static int take(state *s)
{
	s->work[0] = s->saved[s->in->c];
	s->nwork = 1;
	return 0;
}

/* ---------------------------------------------------------------- loop */

static int stop(state *s, int *done, int ret)
{
	if (ret)
		s->ret = s->stack[--s->sp];
	*done = 1;
	return 0;
}

/* One instruction.  Every opcode has its case; operands were validated
 * on load (PARAM, CAPT, strings, saved tensors, counts). */
static int step(state *s, int *done)
{
	const prog_instr *in = s->in;

	switch ((opcode)in->op) {
	case OP_PUSHK:     push(s, s->p->kint[in->c], 0); return 0;
	case OP_NONE:      push(s, 0, 1); return 0;
	case OP_PARAM:     s->stack[s->sp++] = s->pv->v[in->c]; return 0;
	case OP_CAPT:      push(s, s->caps->ints[in->c], 0); return 0;
	case OP_DIM:       return dim(s);
	case OP_ADD:       return binop(s, td_i64_add, "+");
	case OP_SUB:       return binop(s, td_i64_sub, "-");
	case OP_MUL:       return binop(s, td_i64_mul, "*");
	case OP_DIV:       return binop(s, td_i64_floordiv, "//");
	case OP_MOD:       return binop(s, td_i64_floormod, "%");
	case OP_NEG:       return neg(s);
	case OP_MIN:       return binop(s, i64_min, "min");
	case OP_MAX:       return binop(s, i64_max, "max");
	case OP_RET:       return stop(s, done, 1);
	case OP_SRC:       return src(s);
	case OP_RESHAPE:   return view(s);
	case OP_PERMUTE:   return view(s);
	case OP_TRANSPOSE: return view(s);
	case OP_NARROW:    return view(s);
	case OP_SLICE:     return view(s);
	case OP_SELECT:    return view(s);
	case OP_SPLIT:     return fan_out(s);
	case OP_CHUNK:     return fan_out(s);
	case OP_CAT:       return cat(s);
	case OP_CAST:      return view(s);
	case OP_SAVE:      return save(s);
	case OP_TAKE:      return take(s);
	case OP_NAMELIT:   return append(s, s->p->strs[in->c], s->p->str_len[in->c]);
	case OP_NAMEINT:   return append_int(s);
	case OP_NAMETEXT:  return append(s, s->caps->text[in->c],
					 s->caps->text_len[in->c]);
	case OP_EMIT:      return emit(s);
	case OP_END:       return stop(s, done, 0);
	case OP_COUNT:
		break;
	}
	/* unreachable: the loader refuses unknown opcodes */
	return fail(s, "opcode %u is invalid", in->op);
}

static int run(state *s, int32_t code)
{
	int done = 0;
	uint32_t pc;

	for (pc = (uint32_t)code; !done; pc++) {
		s->in = &s->p->code[pc];
		if (step(s, &done) != 0)
			return -1;
	}
	s->in = NULL;
	return 0;
}

int vm_eval(const program *p, const vm_params *pv, int32_t code,
	    vm_value *out, td_err *err)
{
	static const vm_caps no_caps;
	state s;

	memset(&s, 0, sizeof s);
	s.p = p;
	s.pv = pv;
	s.caps = &no_caps;
	s.err = err;
	if (run(&s, code) != 0)
		return -1;
	*out = s.ret;
	return 0;
}

/* Runs a name program; the name is left in s->name. */
static int run_name(state *s, int32_t code)
{
	s->nlen = 0;
	s->name[0] = '\0';
	return run(s, code);
}

/* ---------------------------------------------------------------- skips */

int vm_skipped(const vm *m, const char *key_name)
{
	vm_caps caps;
	uint32_t i;

	for (i = 0; i < m->prog->nskips; i++)
		if (vm_match(m->prog, m->prog->skips[i].pat, key_name, &caps))
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- rewrites */

typedef struct expand_ctx {
	const vm *m;
	vm_entry_fn fn;
	void *ctx;
	td_err *err;
} expand_ctx;

static void shape_str(const vm_shape *sh, char *buf, size_t size)
{
	td_shape_str(sh->dims, sh->ndim, buf, size);
}

void vm_shape_str(const vm_shape *s, char *buf, size_t size)
{
	shape_str(s, buf, size);
}

static int rewrite_from(expand_ctx *x, uint32_t r, vm_entry *e);

/* Splits e along its first axis into count entries named by the rewrite. */
static int split_entry(expand_ctx *x, uint32_t r, const vm_entry *e,
		       state *s, vm_caps *caps)
{
	const prog_rewrite *rw = &x->m->prog->rewrites[r];
	vm_value count;
	vm_entry sub;
	char buf[VM_NAME_MAX];
	int64_t i;

	if (run(s, rw->count_code) != 0)
		return -1;
	count = s->ret;
	if (count.none)
		return td_errf(x->err, "the count is none (an unset parameter?)");
	if (e->shape.ndim < 1 || e->shape.dims[0] != count.v ||
	    e->nfixed >= TD_MAX_DIMS)
		return td_errf(x->err, "its first axis has %" PRId64 " entries, "
			       "the rule expects %" PRId64,
			       e->shape.ndim ? e->shape.dims[0] : 0, count.v);
	for (i = 0; i < count.v; i++) {
		sub = *e;
		caps->ints[rw->split_slot] = i;
		if (run_name(s, rw->name_code) != 0)
			return -1;
		memcpy(buf, s->name, s->nlen + 1);
		sub.name = buf;
		sub.fixed[sub.nfixed++] = i;
		sub.shape.ndim--;
		memmove(sub.shape.dims, sub.shape.dims + 1,
			(size_t)sub.shape.ndim * sizeof sub.shape.dims[0]);
		if (rewrite_from(x, r + 1, &sub) != 0)
			return -1;
	}
	return 0;
}

/* Applies rewrites r, r+1, ... to e, then hands the result to fn. */
static int rewrite_from(expand_ctx *x, uint32_t r, vm_entry *e)
{
	const program *p = x->m->prog;
	vm_caps caps, guard;
	char buf[VM_NAME_MAX];
	state s;

	for (; r < p->nrewrites; r++) {
		const prog_rewrite *rw = &p->rewrites[r];

		if (!vm_match(p, rw->pat, e->name, &caps) ||
		    (rw->unless != PROG_NO &&
		     vm_match(p, (uint32_t)rw->unless, e->name, &guard)))
			continue;
		memset(&s, 0, sizeof s);
		s.p = p;
		s.pv = x->m->params;
		s.caps = &caps;
		s.err = x->err;
		if (rw->split_slot != PROG_NO) {
			/* caps point into e->name, which split_entry only reads */
			if (split_entry(x, r, e, &s, &caps) != 0)
				return td_err_context(x->err, e->name,
						      "rewrite at %s:%u",
						      p->strs[rw->file], rw->line);
			return 0;
		}
		if (run_name(&s, rw->name_code) != 0)
			return td_err_context(x->err, e->name, "rewrite at %s:%u",
					      p->strs[rw->file], rw->line);
		memcpy(buf, s.name, s.nlen + 1); /* caps pointed into e->name */
		e->name = buf;
	}
	return x->fn(x->ctx, e, x->err);
}

int vm_expand(const vm *m, uint32_t key, const char *name,
	      const vm_shape *shape, vm_entry_fn fn, void *ctx, td_err *err)
{
	expand_ctx x = {m, fn, ctx, err};
	vm_entry e;

	memset(&e, 0, sizeof e);
	if (strlen(name) >= VM_NAME_MAX)
		return td_errf(err, "key name longer than %d bytes: %.60s...",
			       VM_NAME_MAX - 1, name);
	e.name = name;
	e.key = key;
	e.shape = *shape;
	return rewrite_from(&x, 0, &e);
}

/* ---------------------------------------------------------------- rules */

int vm_run(const vm *m, const vm_entry *e, vm_result *res, td_err *err)
{
	const program *p = m->prog;
	vm_caps caps;
	state s;
	uint32_t r;

	memset(res, 0, sizeof *res);
	for (r = 0; r < p->nrules; r++)
		if (vm_match(p, p->rules[r].pat, e->name, &caps))
			break;
	if (r == p->nrules)
		return td_errf(err, "no rule matches tensor '%s'", e->name);
	memset(&s, 0, sizeof s);
	s.p = p;
	s.pv = m->params;
	s.arena = m->arena;
	s.caps = &caps;
	s.entry = e;
	s.res = res;
	s.err = err;
	s.context_line = p->rules[r].line;
	res->rule = r;
	if (run(&s, p->rules[r].code) != 0) {
		char sh[128];

		shape_str(&e->shape, sh, sizeof sh);
		return td_err_prefix(err, "tensor '%s' %s (rule %s:%u)", e->name,
				     sh, p->strs[p->rules[r].file],
				     p->rules[r].line);
	}
	return 0;
}

void vm_params_free(vm_params *pv)
{
	free(pv->v);
	pv->v = NULL;
	pv->n = 0;
}
