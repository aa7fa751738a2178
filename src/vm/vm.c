/* vm.c — the bytecode interpreter.  One loop runs every kind of program
 * (expression, name, rule); the loader has already checked operands and
 * stack depths, so only run-time facts (shapes, values) are checked here. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vm_int.h"

#define STACK_MAX 256
#define STREAMS_MAX 64

typedef struct state {
	const mp_program *p;
	const vm_params *pv;
	td_arena *arena;          /* NULL: no tensor instructions allowed */
	const vm_caps *caps;
	const vm_entry *entry;
	vm_value stack[STACK_MAX];
	int sp;
	char name[VM_NAME_MAX];
	size_t nlen;
	vm_node *work[STREAMS_MAX], *saved[STREAMS_MAX];
	int nwork, nsaved;
	vm_result *res;
	vm_value ret;
	td_err *err;
} state;

static int fail(state *s, const char *fmt, ...) TD_PRINTF(2, 3);

static int fail(state *s, const char *fmt, ...)
{
	char msg[TD_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return td_errf(s->err, "%s", msg);
}

/* ---------------------------------------------------------------- integers */

static void push(state *s, int64_t v, int none)
{
	s->stack[s->sp].v = v;
	s->stack[s->sp].none = none;
	s->sp++;
}

/* Pops an integer; none is an error unless allow_none. */
static int pop(state *s, int64_t *v, int allow_none, int *none)
{
	vm_value x = s->stack[--s->sp];

	*v = 0;
	if (x.none && !allow_none)
		return fail(s, "a value is none where a number is needed (an "
			    "unset parameter?)");
	if (none)
		*none = x.none;
	*v = x.v;
	return 0;
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int arith(state *s, int op)
{
	int64_t a = 0, b = 0;

	if (pop(s, &b, 0, NULL) || pop(s, &a, 0, NULL))
		return -1;
	if ((op == MP_DIV || op == MP_MOD) && b == 0)
		return fail(s, "division by zero");
	switch (op) {
	case MP_ADD: push(s, a + b, 0); break;
	case MP_SUB: push(s, a - b, 0); break;
	case MP_MUL: push(s, a * b, 0); break;
	case MP_DIV: push(s, floordiv(a, b), 0); break;
	case MP_MOD: push(s, a - floordiv(a, b) * b, 0); break;
	case MP_MIN: push(s, a < b ? a : b, 0); break;
	default:     push(s, a > b ? a : b, 0); break;
	}
	return 0;
}

/* ---------------------------------------------------------------- names */

static int append(state *s, const char *text, size_t n)
{
	if (n >= sizeof s->name - s->nlen)
		return fail(s, "output name longer than %d bytes", VM_NAME_MAX - 1);
	memcpy(s->name + s->nlen, text, n);
	s->nlen += n;
	s->name[s->nlen] = '\0';
	return 0;
}

static int append_int(state *s)
{
	char buf[32];
	int64_t v = 0;

	if (pop(s, &v, 0, NULL) != 0)
		return -1;
	snprintf(buf, sizeof buf, "%" PRId64, v);
	return append(s, buf, strlen(buf));
}

/* ---------------------------------------------------------------- tensors */

/* Pops n integers into v[0..n) in push order. */
static int pop_n(state *s, int64_t *v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--)
		if (pop(s, &v[i], 0, NULL) != 0)
			return -1;
	return 0;
}

/* An op that maps each working tensor to one new tensor. */
static int map_op(state *s, const mp_instr *in)
{
	int64_t v[TD_MAX_DIMS + 1];
	vm_value b, e;
	int i, n = in->op == MP_RESHAPE || in->op == MP_PERMUTE ? in->a
		 : in->op == MP_NARROW ? 3 : in->op == MP_CAST ? 0 : 2;

	if (in->op == MP_SLICE) {
		b = s->stack[s->sp - 2];
		e = s->stack[s->sp - 1];
		s->sp -= 2;
		n = 1;
	}
	if (n > TD_MAX_DIMS)
		return fail(s, "more than %d dimensions", TD_MAX_DIMS);
	if (pop_n(s, v, n) != 0)
		return -1;
	for (i = 0; i < s->nwork; i++) {
		vm_node *x = s->work[i];

		switch (in->op) {
		case MP_RESHAPE:   x = vn_reshape(s->arena, x, v, n, s->err); break;
		case MP_PERMUTE:   x = vn_permute(s->arena, x, v, n, s->err); break;
		case MP_TRANSPOSE: {
			int64_t ord[TD_MAX_DIMS];
			int k, d0, d1;

			for (k = 0; k < x->shape.ndim; k++)
				ord[k] = k;
			d0 = (int)(v[0] < 0 ? v[0] + x->shape.ndim : v[0]);
			d1 = (int)(v[1] < 0 ? v[1] + x->shape.ndim : v[1]);
			if (d0 < 0 || d1 < 0 || d0 >= x->shape.ndim ||
			    d1 >= x->shape.ndim)
				return fail(s, "transpose(%" PRId64 ", %" PRId64
					    ") of a %d-d tensor", v[0], v[1],
					    x->shape.ndim);
			ord[d0] = d1;
			ord[d1] = d0;
			x = vn_permute(s->arena, x, ord, x->shape.ndim, s->err);
			break;
		}
		case MP_NARROW:    x = vn_narrow(s->arena, x, v[0], v[1], v[2], s->err); break;
		case MP_SLICE:     x = vn_slice(s->arena, x, v[0], &b, &e, s->err); break;
		case MP_SELECT:    x = vn_select(s->arena, x, v[0], v[1], s->err); break;
		default:           x = vn_cast(s->arena, x, (td_dtype)in->c, s->err); break;
		}
		if (!x)
			return -1;
		s->work[i] = x;
	}
	return 0;
}

static int fan_out(state *s, const mp_instr *in)
{
	int64_t v[STREAMS_MAX + 1];
	vm_node *x = s->work[0];

	if (s->nwork != 1)
		return fail(s, "split of %d tensors", s->nwork);
	if (pop_n(s, v, in->op == MP_SPLIT ? in->a + 1 : 1) != 0)
		return -1;
	if ((in->op == MP_SPLIT
	     ? vn_split(s->arena, x, v[0], v + 1, in->a, s->work, s->err)
	     : vn_chunk(s->arena, x, v[0], in->a, s->work, s->err)) != 0)
		return -1;
	s->nwork = in->a;
	return 0;
}

static int cat(state *s, const mp_instr *in)
{
	int64_t v[STREAMS_MAX + 1];
	vm_node *parts[STREAMS_MAX], *x;
	int i, n = in->a ? in->a : s->nwork;

	if (pop_n(s, v, in->a + 1) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		int64_t k = in->a ? v[1 + i] : i;

		if (k < 0 || k >= s->nwork)
			return fail(s, "cat of tensor %" PRId64 " of %d", k,
				    s->nwork);
		parts[i] = s->work[k];
	}
	x = vn_cat(s->arena, parts, n, v[0], s->err);
	if (!x)
		return -1;
	s->work[0] = x;
	s->nwork = 1;
	return 0;
}

static int tensor_op(state *s, const mp_instr *in)
{
	int64_t k = 0;

	switch (in->op) {
	case MP_SRC:
		s->work[0] = vn_entry(s->arena, &s->entry->shape, s->err);
		s->nwork = 1;
		return s->work[0] ? 0 : -1;
	case MP_DIM: {
		int d;

		if (pop(s, &k, 0, NULL) != 0)
			return -1;
		d = (int)(k < 0 ? k + s->work[0]->shape.ndim : k);
		if (d < 0 || d >= s->work[0]->shape.ndim)
			return fail(s, "dim(%" PRId64 ") of a %d-d tensor", k,
				    s->work[0]->shape.ndim);
		push(s, s->work[0]->shape.dims[d], 0);
		return 0;
	}
	case MP_SPLIT: case MP_CHUNK:
		return fan_out(s, in);
	case MP_CAT:
		return cat(s, in);
	default:
		return map_op(s, in);
	}
}

static int emit(state *s)
{
	vm_result *r = s->res;
	vm_output *o;

	if (s->nwork != 1)
		return fail(s, "an output needs one tensor, the rule has %d",
			    s->nwork);
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

static int take(state *s, int32_t c)
{
	if (c >= s->nsaved)
		return fail(s, "output %d of %d tensors", c + 1, s->nsaved);
	s->work[0] = s->saved[c];
	s->nwork = 1;
	return 0;
}

/* ---------------------------------------------------------------- loop */

static int step(state *s, const mp_instr *in, int *done)
{
	int64_t v = 0;

	switch (in->op) {
	case MP_PUSHK:   push(s, s->p->kint[in->c], 0); return 0;
	case MP_NONE:    push(s, 0, 1); return 0;
	case MP_PARAM:   s->stack[s->sp++] = s->pv->v[in->c]; return 0;
	case MP_CAPT:    push(s, s->caps->ints[in->c], 0); return 0;
	case MP_NEG:
		if (pop(s, &v, 0, NULL))
			return -1;
		push(s, -v, 0);
		return 0;
	case MP_ADD: case MP_SUB: case MP_MUL: case MP_DIV: case MP_MOD:
	case MP_MIN: case MP_MAX:
		return arith(s, in->op);
	case MP_RET:
		s->ret = s->stack[--s->sp];
		*done = 1;
		return 0;
	case MP_END:
		*done = 1;
		return 0;
	case MP_NAMELIT: return append(s, s->p->strs[in->c], s->p->str_len[in->c]);
	case MP_NAMEINT: return append_int(s);
	case MP_NAMETEXT:
		return append(s, s->caps->text[in->c], s->caps->text_len[in->c]);
	case MP_SAVE:
		memcpy(s->saved, s->work, (size_t)s->nwork * sizeof s->work[0]);
		s->nsaved = s->nwork;
		return 0;
	case MP_TAKE:    return take(s, in->c);
	case MP_EMIT:    return emit(s);
	default:         return tensor_op(s, in);
	}
}

static int run(state *s, int32_t code)
{
	int done = 0;
	uint32_t pc;

	for (pc = (uint32_t)code; !done; pc++)
		if (step(s, &s->p->code[pc], &done) != 0)
			return -1;
	return 0;
}

int vm_eval(const mp_program *p, const vm_params *pv, int32_t code,
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
	const mp_rewrite *rw = &x->m->prog->rewrites[r];
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
	const mp_program *p = x->m->prog;
	vm_caps caps, guard;
	char buf[VM_NAME_MAX];
	state s;

	for (; r < p->nrewrites; r++) {
		const mp_rewrite *rw = &p->rewrites[r];

		if (!vm_match(p, rw->pat, e->name, &caps) ||
		    (rw->unless != MP_NO &&
		     vm_match(p, (uint32_t)rw->unless, e->name, &guard)))
			continue;
		memset(&s, 0, sizeof s);
		s.p = p;
		s.pv = x->m->params;
		s.caps = &caps;
		s.err = x->err;
		if (rw->split_slot != MP_NO) {
			/* caps point into e->name, which split_entry only reads */
			if (split_entry(x, r, e, &s, &caps) != 0)
				return td_err_context(x->err, e->name,
						      "rewrite at %s:%u",
						      p->strs[rw->file], rw->line);
			return 0;
		}
		if (run_name(&s, rw->name_code) != 0)
			return -1;
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
	const mp_program *p = m->prog;
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
