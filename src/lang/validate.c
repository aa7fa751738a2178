/* validate.c — everything a loaded program must satisfy before it runs:
 * indexes in range, patterns well formed (each capture slot bound once,
 * with one kind), and every code program (expression, name or rule)
 * walked to its end with its integer stack depth and its tensor working
 * set tracked.  Programs contain no jumps, so one pass suffices and every
 * count is known exactly: a rule starts with SRC, each tensor instruction
 * finds the working tensors it needs (opcodes.h: t_in), and TAKE reads a
 * tensor that SAVE saved.  What passes needs no check at run time except
 * values (shapes, integers). */
#include <stdlib.h>
#include <string.h>

#include "../common/dtype.h"
#include "program.h"

#pragma GCC diagnostic error "-Wswitch-enum"

#define MAX_DEPTH PROG_MAX_STACK
#define MAX_STREAMS PROG_MAX_STREAMS
#define MAX_CAPS PROG_MAX_CAPS
#define MAX_VIEW_DIMS 8

typedef enum prog_kind { PROG_EXPR, PROG_NAME, PROG_RULE } prog_kind;

typedef struct vctx {
	const program *p;
	td_err *err;
} vctx;

/* What a program may refer to: parameters below nparams, and capture
 * slots 0..ncaps with their kinds (PI_INT or PI_TEXT). */
typedef struct scope {
	uint32_t nparams, ncaps;
	uint8_t kinds[MAX_CAPS];
} scope;

/* The run-time facts a walk tracks. */
typedef struct walk {
	int depth;     /* integers on the stack */
	int nwork;     /* working tensors; -1 before SRC */
	int nsaved;    /* saved tensors */
} walk;

static int idx_ok(int64_t i, uint32_t n)
{
	return i >= 0 && i < (int64_t)n;
}

static int cap_ok(const scope *sc, int32_t c, int kind)
{
	return idx_ok(c, sc->ncaps) && sc->kinds[c] == kind;
}

/* The count a of a COUNT instruction: view ranks for RESHAPE and
 * PERMUTE, tensors for the rest (CAT: 0 means all). */
static int count_ok(const prog_instr *in)
{
	if (in->op == OP_RESHAPE || in->op == OP_PERMUTE)
		return in->a >= 1 && in->a <= MAX_VIEW_DIMS;
	if (in->op == OP_CAT)
		return in->a <= MAX_STREAMS;
	return in->a >= 1 && in->a <= MAX_STREAMS;  /* SPLIT, CHUNK */
}

static int operand_ok(const vctx *v, const prog_instr *in, const opinfo *oi,
		      const scope *sc)
{
	if (oi->operand != OPERAND_COUNT && in->a != 0)
		return 0;
	switch (oi->operand) {
	case OPERAND_KINT:   return idx_ok(in->c, v->p->nkint);
	case OPERAND_PARAM:  return idx_ok(in->c, sc->nparams);
	case OPERAND_CAPT:   return cap_ok(sc, in->c, PI_INT);
	case OPERAND_TEXT:   return cap_ok(sc, in->c, PI_TEXT);
	case OPERAND_STR:    return idx_ok(in->c, v->p->nstrs);
	case OPERAND_DTYPE:  return idx_ok(in->c, TD_DT_COUNT);
	case OPERAND_STREAM: return idx_ok(in->c, MAX_STREAMS);
	case OPERAND_COUNT:  return in->c == 0 && count_ok(in);
	case OPERAND_NONE:   return in->c == 0;
	}
	return 0;
}

/* Which instructions each kind of program may hold (opcodes.h: class). */
static int allowed(prog_kind kind, op_class cls)
{
	switch (kind) {
	case PROG_EXPR: return cls == OPCLASS_INT || cls == OPCLASS_RET;
	case PROG_NAME: return cls == OPCLASS_INT || cls == OPCLASS_NAME ||
			       cls == OPCLASS_END;
	case PROG_RULE: return cls != OPCLASS_RET;
	}
	return 0;
}

/* The working set before and after instruction pc of a rule (first is
 * the rule's first instruction); a message when it cannot run. */
static const char *tensor_step(const prog_instr *in, const opinfo *oi,
			       int first, walk *w)
{
	if ((in->op == OP_SRC) != first)
		return first ? "a rule must start with SRC"
			     : "SRC is only allowed as a rule's first instruction";
	if (oi->t_in == TENSORS_ONE && w->nwork != 1)
		return "needs exactly one working tensor";
	if (oi->t_in == TENSORS_SOME && w->nwork < 1)
		return "needs a working tensor";
	if (in->op == OP_TAKE && in->c >= w->nsaved)
		return "takes a tensor that was not saved";
	if (in->op == OP_SAVE)
		w->nsaved = w->nwork;
	switch (oi->t_out) {
	case TENSORS_ONE:  w->nwork = 1; break;
	case TENSORS_A:    w->nwork = in->a; break;
	case TENSORS_SAME: case TENSORS_ANY: case TENSORS_SOME: break;
	}
	return NULL;
}

static int check_instr(const vctx *v, uint32_t pc, int32_t at, prog_kind kind,
		       const scope *sc, walk *w, const char *what)
{
	const prog_instr *in = &v->p->code[pc];
	const opinfo *oi;
	const char *why;

	if (in->op >= OP_COUNT ||
	    !allowed(kind, opinfo_table[in->op].cls))
		return td_errf(v->err, "%s: instruction %u: opcode %u is "
			       "invalid here", what, pc, in->op);
	oi = &opinfo_table[in->op];
	if (!operand_ok(v, in, oi, sc))
		return td_errf(v->err, "%s: instruction %u (%s): operand "
			       "out of range", what, pc, oi->name);
	w->depth -= op_pops(in->op, in->a);
	if (w->depth < 0)
		return td_errf(v->err, "%s: instruction %u (%s): stack "
			       "underflow", what, pc, oi->name);
	w->depth += oi->pushes;
	if (w->depth > MAX_DEPTH)
		return td_errf(v->err, "%s: stack deeper than %d", what,
			       MAX_DEPTH);
	why = kind == PROG_RULE
	      ? tensor_step(in, oi, pc == (uint32_t)at, w) : NULL;
	if (why)
		return td_errf(v->err, "%s: instruction %u (%s): %s", what, pc,
			       oi->name, why);
	return 0;
}

/* Walks the program at `at` to its RET/END. */
static int check_program(const vctx *v, int32_t at, prog_kind kind,
			 const scope *sc, const char *what)
{
	walk w = {0, -1, 0};
	uint32_t pc;

	if (!idx_ok(at, v->p->ncode))
		return td_errf(v->err, "%s: code offset %d out of range", what, at);
	for (pc = (uint32_t)at; pc < v->p->ncode; pc++) {
		const prog_instr *in = &v->p->code[pc];

		if (check_instr(v, pc, at, kind, sc, &w, what) != 0)
			return -1;
		if (in->op == OP_RET || in->op == OP_END)
			return w.depth == 0 ? 0 : td_errf(v->err, "%s: %d values "
				"left on the stack at the end", what, w.depth);
	}
	return td_errf(v->err, "%s: runs past the end of the code", what);
}

/* The capture kinds of pattern pat (already checked), with room for
 * `extra` integer slots after them (a rewrite's split index). */
static void pattern_scope(const program *p, uint32_t pat, int extra,
			  uint32_t nparams, scope *sc)
{
	const prog_pattern *pt = &p->pats[pat];
	uint32_t k;

	memset(sc, 0, sizeof *sc);
	sc->nparams = nparams;
	sc->ncaps = pt->ncaps + (uint32_t)extra;
	for (k = pt->first; k < pt->first + pt->n; k++)
		if (p->items[k].kind == PI_INT || p->items[k].kind == PI_TEXT)
			sc->kinds[p->items[k].arg] = (uint8_t)p->items[k].kind;
	if (extra)
		sc->kinds[pt->ncaps] = PI_INT;
}

static int scope_none(uint32_t nparams, scope *sc)
{
	memset(sc, 0, sizeof *sc);
	sc->nparams = nparams;
	return 0;
}

/* Every capture slot of a pattern is bound by exactly one item. */
static int slots_ok(const program *p, const prog_pattern *pt)
{
	uint8_t seen[MAX_CAPS] = {0};
	uint32_t k, bound = 0;

	for (k = pt->first; k < pt->first + pt->n; k++) {
		const prog_item *it = &p->items[k];

		if (it->kind != PI_INT && it->kind != PI_TEXT)
			continue;
		if (seen[it->arg]++)
			return 0;
		bound++;
	}
	return bound == pt->ncaps;
}

static int check_patterns(const vctx *v)
{
	const program *p = v->p;
	uint32_t i, k;

	for (i = 0; i < p->npats; i++) {
		const prog_pattern *pt = &p->pats[i];

		if (pt->n == 0 || pt->first > p->nitems ||
		    pt->n > p->nitems - pt->first || pt->ncaps > 16)
			return td_errf(v->err, "pattern %u: bad item range", i);
		for (k = pt->first; k < pt->first + pt->n; k++) {
			const prog_item *it = &p->items[k];
			int cap = it->kind == PI_INT || it->kind == PI_TEXT;

			if (it->kind > PI_STAR ||
			    (it->kind == PI_LIT && !idx_ok(it->arg, p->nstrs)) ||
			    (cap && (!idx_ok(it->arg, pt->ncaps) ||
				     !idx_ok(it->name, p->nstrs))))
				return td_errf(v->err, "pattern %u: item %u is "
					       "invalid", i, k);
		}
		if (!slots_ok(p, pt))
			return td_errf(v->err, "pattern %u: its captures are not "
				       "each bound once", i);
	}
	return 0;
}

static int check_params(const vctx *v)
{
	uint32_t i;
	scope sc;

	for (i = 0; i < v->p->nparams; i++) {
		const prog_param *pa = &v->p->params[i];

		if (!idx_ok(pa->name, v->p->nstrs) || pa->kind > PK_LET ||
		    (pa->kind == PK_REQUIRED) != (pa->code == PROG_NO))
			return td_errf(v->err, "parameter %u is invalid", i);
		if (pa->code != PROG_NO && scope_none(i, &sc) == 0 &&
		    check_program(v, pa->code, PROG_EXPR, &sc, "parameter") != 0)
			return -1;
	}
	return 0;
}

static int check_rewrites(const vctx *v)
{
	const program *p = v->p;
	uint32_t i, caps;
	scope sc;

	for (i = 0; i < p->nrewrites; i++) {
		const prog_rewrite *rw = &p->rewrites[i];

		if (!idx_ok(rw->pat, p->npats) || !idx_ok(rw->file, p->nstrs) ||
		    (rw->unless != PROG_NO && !idx_ok(rw->unless, p->npats)))
			return td_errf(v->err, "rewrite %u: index out of range", i);
		caps = p->pats[rw->pat].ncaps;
		if (rw->split_slot != PROG_NO &&
		    (rw->split_slot != (int32_t)caps || rw->count_code == PROG_NO))
			return td_errf(v->err, "rewrite %u: bad split capture", i);
		if (rw->split_slot == PROG_NO && rw->count_code != PROG_NO)
			return td_errf(v->err, "rewrite %u: count without split", i);
		pattern_scope(p, rw->pat, 0, p->nparams, &sc);
		if (rw->count_code != PROG_NO &&
		    check_program(v, rw->count_code, PROG_EXPR, &sc,
				  "rewrite count") != 0)
			return -1;
		pattern_scope(p, rw->pat, rw->split_slot != PROG_NO, p->nparams, &sc);
		if (check_program(v, rw->name_code, PROG_NAME, &sc,
				  "rewrite name") != 0)
			return -1;
	}
	return 0;
}

static int check_rules(const vctx *v, const prog_rule *r, uint32_t n, int skip)
{
	uint32_t i;
	scope sc;

	for (i = 0; i < n; i++) {
		if (!idx_ok(r[i].pat, v->p->npats) ||
		    !idx_ok(r[i].file, v->p->nstrs) || (skip != (r[i].code == PROG_NO)))
			return td_errf(v->err, "%s %u: index out of range",
				       skip ? "skip" : "rule", i);
		if (skip)
			continue;
		pattern_scope(v->p, r[i].pat, 0, v->p->nparams, &sc);
		if (check_program(v, r[i].code, PROG_RULE, &sc, "rule") != 0)
			return -1;
	}
	return 0;
}

static int check_groups(const vctx *v)
{
	const program *p = v->p;
	uint32_t i, k;
	scope sc;

	for (i = 0; i < p->ngroups; i++) {
		const prog_group *g = &p->groups[i];

		if (g->first > p->nmembers || g->n > p->nmembers - g->first ||
		    g->n < 1 || !idx_ok(g->file, p->nstrs))
			return td_errf(v->err, "group %u: bad member range", i);
		for (k = g->first; k < g->first + g->n; k++)
			if (!idx_ok(p->members[k], p->npats))
				return td_errf(v->err, "group %u: bad member", i);
		if (g->when_code != PROG_NO && scope_none(p->nparams, &sc) == 0 &&
		    check_program(v, g->when_code, PROG_EXPR, &sc,
				  "group condition") != 0)
			return -1;
	}
	return 0;
}

static int check_requires(vctx *v)
{
	const program *p = v->p;
	scope sc;

	for (uint32_t i = 0; i < p->nrequires; i++) {
		const prog_require *r = &p->requires[i];

		if (!idx_ok(r->why, p->nstrs) || !idx_ok(r->file, p->nstrs))
			return td_errf(v->err, "require %u: bad string", i);
		if (scope_none(p->nparams, &sc) != 0 ||
		    check_program(v, r->code, PROG_EXPR, &sc, "require") != 0)
			return -1;
	}
	return 0;
}

static int check_quants(vctx *v)
{
	const program *p = v->p;

	for (uint32_t i = 0; i < p->nquants; i++) {
		const prog_quant *q = &p->quants[i];

		if (!idx_ok(q->pat, p->npats) || !idx_ok(q->file, p->nstrs) ||
		    q->kind > QK_UNLESS)
			return td_errf(v->err, "quantize %u: bad record", i);
	}
	return 0;
}

int prog_validate(const program *p, td_err *err)
{
	vctx v = {p, err};

	return check_patterns(&v) || check_params(&v) || check_rewrites(&v) ||
	       check_rules(&v, p->skips, p->nskips, 1) ||
	       check_rules(&v, p->rules, p->nrules, 0) || check_groups(&v) ||
	       check_requires(&v) || check_quants(&v) ? -1 : 0;
}
