/* validate.c — everything a loaded program must satisfy before it runs:
 * indexes in range, patterns well formed, and every code program
 * (expression, name or rule) walked to its end with its integer stack
 * depth checked.  Programs contain no jumps, so one pass suffices. */
#include <stdlib.h>
#include <string.h>

#include "../reader/dtype.h"
#include "program.h"

#define MAX_DEPTH 256
#define MAX_STREAMS 64

typedef enum prog_kind { PROG_EXPR, PROG_NAME, PROG_RULE } prog_kind;

typedef struct vctx {
	const mp_program *p;
	td_err *err;
} vctx;

static int idx_ok(int64_t i, uint32_t n)
{
	return i >= 0 && i < (int64_t)n;
}

static int operand_ok(const vctx *v, const mp_instr *in, const mp_opinfo *oi,
		      uint32_t ncaps, uint32_t nparams)
{
	switch (oi->operand) {
	case MPO_KINT:   return idx_ok(in->c, v->p->nkint);
	case MPO_PARAM:  return idx_ok(in->c, nparams);
	case MPO_CAPT:   return idx_ok(in->c, ncaps);
	case MPO_STR:    return idx_ok(in->c, v->p->nstrs);
	case MPO_DTYPE:  return idx_ok(in->c, TD_DT_COUNT);
	case MPO_STREAM: return idx_ok(in->c, MAX_STREAMS);
	case MPO_COUNT:  return in->a <= MAX_STREAMS &&
			 (in->a >= 1 || in->op == MP_CAT);
	case MPO_NONE:   return in->c == 0;
	}
	return 0;
}

/* Which instructions each kind of program may hold. */
static int allowed(prog_kind kind, int op)
{
	int expr = op <= MP_RET && op != MP_DIM;

	switch (kind) {
	case PROG_EXPR: return expr;
	case PROG_NAME: return (expr && op != MP_RET) || op == MP_NAMELIT ||
			       op == MP_NAMEINT || op == MP_NAMETEXT ||
			       op == MP_END;
	case PROG_RULE: return op != MP_RET;
	}
	return 0;
}

static int pops_of(const mp_instr *in, const mp_opinfo *oi)
{
	return oi->pops == -1 ? in->a : oi->pops == -2 ? in->a + 1 : oi->pops;
}

/* Walks the program at `at` to its RET/END.  nparams limits PARAM (a
 * parameter's default may only read earlier ones). */
static int check_program(const vctx *v, int32_t at, prog_kind kind,
			 uint32_t ncaps, uint32_t nparams, const char *what)
{
	int depth = 0;
	uint32_t pc;

	if (!idx_ok(at, v->p->ncode))
		return td_errf(v->err, "%s: code offset %d out of range", what, at);
	for (pc = (uint32_t)at; pc < v->p->ncode; pc++) {
		const mp_instr *in = &v->p->code[pc];
		const mp_opinfo *oi;

		if (in->op >= MP_OPCODE_COUNT || !allowed(kind, in->op))
			return td_errf(v->err, "%s: instruction %u: opcode %u is "
				       "invalid here", what, pc, in->op);
		oi = &mp_opinfo_table[in->op];
		if (!operand_ok(v, in, oi, ncaps, nparams))
			return td_errf(v->err, "%s: instruction %u (%s): operand "
				       "out of range", what, pc, oi->name);
		depth -= pops_of(in, oi);
		if (depth < 0)
			return td_errf(v->err, "%s: instruction %u (%s): stack "
				       "underflow", what, pc, oi->name);
		depth += oi->pushes;
		if (depth > MAX_DEPTH)
			return td_errf(v->err, "%s: stack deeper than %d", what,
				       MAX_DEPTH);
		if (in->op == MP_RET || in->op == MP_END)
			return depth == 0 ? 0 : td_errf(v->err, "%s: %d values "
				"left on the stack at the end", what, depth);
	}
	return td_errf(v->err, "%s: runs past the end of the code", what);
}

static int check_patterns(const vctx *v)
{
	const mp_program *p = v->p;
	uint32_t i, k;

	for (i = 0; i < p->npats; i++) {
		const mp_pattern *pt = &p->pats[i];

		if (pt->n == 0 || pt->first > p->nitems ||
		    pt->n > p->nitems - pt->first || pt->ncaps > 16)
			return td_errf(v->err, "pattern %u: bad item range", i);
		for (k = pt->first; k < pt->first + pt->n; k++) {
			const mp_item *it = &p->items[k];
			int cap = it->kind == PI_INT || it->kind == PI_TEXT;

			if (it->kind > PI_STAR ||
			    (it->kind == PI_LIT && !idx_ok(it->arg, p->nstrs)) ||
			    (cap && (!idx_ok(it->arg, pt->ncaps) ||
				     !idx_ok(it->name, p->nstrs))))
				return td_errf(v->err, "pattern %u: item %u is "
					       "invalid", i, k);
		}
	}
	return 0;
}

static int check_params(const vctx *v)
{
	uint32_t i;

	for (i = 0; i < v->p->nparams; i++) {
		const mp_param *pa = &v->p->params[i];

		if (!idx_ok(pa->name, v->p->nstrs) || pa->kind > PK_LET ||
		    (pa->kind == PK_REQUIRED) != (pa->code == MP_NO))
			return td_errf(v->err, "parameter %u is invalid", i);
		if (pa->code != MP_NO &&
		    check_program(v, pa->code, PROG_EXPR, 0, i, "parameter") != 0)
			return -1;
	}
	return 0;
}

static int check_rewrites(const vctx *v)
{
	const mp_program *p = v->p;
	uint32_t i, caps;

	for (i = 0; i < p->nrewrites; i++) {
		const mp_rewrite *rw = &p->rewrites[i];

		if (!idx_ok(rw->pat, p->npats) || !idx_ok(rw->file, p->nstrs) ||
		    (rw->unless != MP_NO && !idx_ok(rw->unless, p->npats)))
			return td_errf(v->err, "rewrite %u: index out of range", i);
		caps = p->pats[rw->pat].ncaps;
		if (rw->split_slot != MP_NO &&
		    (rw->split_slot != (int32_t)caps || rw->count_code == MP_NO))
			return td_errf(v->err, "rewrite %u: bad split capture", i);
		if (rw->split_slot == MP_NO && rw->count_code != MP_NO)
			return td_errf(v->err, "rewrite %u: count without split", i);
		if ((rw->count_code != MP_NO &&
		     check_program(v, rw->count_code, PROG_EXPR, caps,
				   p->nparams, "rewrite count") != 0) ||
		    check_program(v, rw->name_code, PROG_NAME,
				  caps + (rw->split_slot != MP_NO), p->nparams,
				  "rewrite name") != 0)
			return -1;
	}
	return 0;
}

static int check_rules(const vctx *v, const mp_rule *r, uint32_t n, int skip)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (!idx_ok(r[i].pat, v->p->npats) ||
		    !idx_ok(r[i].file, v->p->nstrs) || (skip != (r[i].code == MP_NO)))
			return td_errf(v->err, "%s %u: index out of range",
				       skip ? "skip" : "rule", i);
		if (!skip && check_program(v, r[i].code, PROG_RULE,
					   v->p->pats[r[i].pat].ncaps,
					   v->p->nparams, "rule") != 0)
			return -1;
	}
	return 0;
}

static int check_groups(const vctx *v)
{
	const mp_program *p = v->p;
	uint32_t i, k;

	for (i = 0; i < p->ngroups; i++) {
		const mp_group *g = &p->groups[i];

		if (g->first > p->nmembers || g->n > p->nmembers - g->first ||
		    g->n < 1 || !idx_ok(g->file, p->nstrs))
			return td_errf(v->err, "group %u: bad member range", i);
		for (k = g->first; k < g->first + g->n; k++)
			if (!idx_ok(p->members[k], p->npats))
				return td_errf(v->err, "group %u: bad member", i);
		if (g->when_code != MP_NO &&
		    check_program(v, g->when_code, PROG_EXPR, 0, p->nparams,
				  "group condition") != 0)
			return -1;
	}
	return 0;
}

int mp_validate(const mp_program *p, td_err *err)
{
	vctx v = {p, err};

	return check_patterns(&v) || check_params(&v) || check_rewrites(&v) ||
	       check_rules(&v, p->skips, p->nskips, 1) ||
	       check_rules(&v, p->rules, p->nrules, 0) || check_groups(&v)
	       ? -1 : 0;
}
