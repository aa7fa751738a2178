/* disasm.c — `mapc -d`: every table of a program, patterns written back
 * in the rule language's own notation, code one instruction a line. */
#include <inttypes.h>
#include <stdio.h>

#include "../common/dtype.h"
#include "program.h"

#pragma GCC diagnostic error "-Wswitch-enum"

void prog_print_pattern(const program *p, uint32_t id, FILE *out)
{
	const prog_pattern *pt = &p->pats[id];
	uint32_t k;

	for (k = pt->first; k < pt->first + pt->n; k++) {
		const prog_item *it = &p->items[k];

		switch (it->kind) {
		case PI_LIT:  fputs(p->strs[it->arg], out); break;
		case PI_INT:  fprintf(out, "<%s>", p->strs[it->name]); break;
		case PI_TEXT: fprintf(out, "{%s}", p->strs[it->name]); break;
		default:      fputc('*', out); break;
		}
	}
}

static void print_pattern(const program *p, uint32_t id, FILE *out)
{
	fputc('"', out);
	prog_print_pattern(p, id, out);
	fputc('"', out);
}

/* Name of capture slot c of pattern pat ("for" variables come after the
 * pattern's own captures and are named by the caller). */
static const char *capture_name(const program *p, int32_t pat, int32_t c,
				const char *extra)
{
	uint32_t k;

	if (pat < 0)
		return extra ? extra : "?";
	for (k = p->pats[pat].first; k < p->pats[pat].first + p->pats[pat].n; k++)
		if (p->items[k].kind != PI_LIT && p->items[k].kind != PI_STAR &&
		    (int32_t)p->items[k].arg == c)
			return p->strs[p->items[k].name];
	return extra ? extra : "?";
}

static void print_operand(const program *p, const prog_instr *in,
			  int32_t pat, FILE *out)
{
	switch (opinfo_table[in->op].operand) {
	case OPERAND_KINT:   fprintf(out, "%" PRId64, p->kint[in->c]); break;
	case OPERAND_PARAM:  fputs(p->strs[p->params[in->c].name], out); break;
	case OPERAND_CAPT: case OPERAND_TEXT:
		fprintf(out, "%s", capture_name(p, pat, in->c, "(split index)"));
		break;
	case OPERAND_STR:    fprintf(out, "\"%s\"", p->strs[in->c]); break;
	case OPERAND_DTYPE:  fputs(td_dtype_st_name((td_dtype)in->c), out); break;
	case OPERAND_STREAM: fprintf(out, "%d", in->c); break;
	case OPERAND_COUNT:  fprintf(out, "%u", in->a); break;
	case OPERAND_NONE:   break;
	}
}

/* Instructions from `at` through the first RET or END; captures are
 * named from pattern pat (-1: none). */
static void print_code(const program *p, int32_t at, int32_t pat, FILE *out)
{
	uint32_t pc;

	for (pc = (uint32_t)at; pc < p->ncode; pc++) {
		const prog_instr *in = &p->code[pc];

		fprintf(out, "    %04u  %-9s ", pc, opinfo_table[in->op].name);
		print_operand(p, in, pat, out);
		fputc('\n', out);
		if (in->op == OP_RET || in->op == OP_END)
			return;
	}
}

static void print_params(const program *p, FILE *out)
{
	static const char *const kinds[] = {"param", "param", "let"};
	uint32_t i;

	fprintf(out, "params (%u)\n", p->nparams);
	for (i = 0; i < p->nparams; i++) {
		fprintf(out, "  %u  %s %s%s\n", i, kinds[p->params[i].kind],
			p->strs[p->params[i].name],
			p->params[i].kind == PK_REQUIRED ? "  (required)" : " =");
		if (p->params[i].code != PROG_NO)
			print_code(p, p->params[i].code, -1, out);
	}
}

static void print_rewrites(const program *p, FILE *out)
{
	uint32_t i;

	fprintf(out, "\nrewrites (%u), applied in order to stored keys\n",
		p->nrewrites);
	for (i = 0; i < p->nrewrites; i++) {
		const prog_rewrite *rw = &p->rewrites[i];

		fprintf(out, "  %u  ", i);
		print_pattern(p, rw->pat, out);
		if (rw->unless != PROG_NO) {
			fputs(" unless ", out);
			print_pattern(p, (uint32_t)rw->unless, out);
		}
		fprintf(out, "  (%s:%u)\n", p->strs[rw->file], rw->line);
		if (rw->count_code != PROG_NO) {
			fputs("    split axis 0, one key per index; count:\n", out);
			print_code(p, rw->count_code, (int32_t)rw->pat, out);
		}
		fputs("    name:\n", out);
		print_code(p, rw->name_code, (int32_t)rw->pat, out);
	}
}

static void print_rules(const program *p, const prog_rule *r, uint32_t n,
			const char *title, FILE *out)
{
	uint32_t i;

	fprintf(out, "\n%s (%u)\n", title, n);
	for (i = 0; i < n; i++) {
		fprintf(out, "  %u  ", i);
		print_pattern(p, r[i].pat, out);
		fprintf(out, "  (%s:%u)\n", p->strs[r[i].file], r[i].line);
		if (r[i].code != PROG_NO)
			print_code(p, r[i].code, (int32_t)r[i].pat, out);
	}
}

static void print_groups(const program *p, FILE *out)
{
	uint32_t i, k;

	fprintf(out, "\ngroups (%u)\n", p->ngroups);
	for (i = 0; i < p->ngroups; i++) {
		fprintf(out, "  %u ", i);
		for (k = 0; k < p->groups[i].n; k++) {
			fputs(k ? ", " : " ", out);
			print_pattern(p, p->members[p->groups[i].first + k], out);
		}
		fprintf(out, "  (%s:%u)\n", p->strs[p->groups[i].file],
			p->groups[i].line);
		if (p->groups[i].when_code != PROG_NO) {
			fputs("    when:\n", out);
			print_code(p, p->groups[i].when_code, -1, out);
		}
	}
}

static void print_requires(const program *p, FILE *out)
{
	if (p->nrequires)
		fprintf(out, "\nrequires (%u)\n", p->nrequires);
	for (uint32_t i = 0; i < p->nrequires; i++) {
		fprintf(out, "  %u  \"%s\"  (%s:%u)\n", i,
			p->strs[p->requires[i].why],
			p->strs[p->requires[i].file], p->requires[i].line);
		print_code(p, p->requires[i].code, -1, out);
	}
}

static void print_quants(const program *p, FILE *out)
{
	if (p->nquants)
		fprintf(out, "\nquantize (outputs --quantize converts)\n");
	for (uint32_t i = 0; i < p->nquants; i++) {
		fputs(p->quants[i].kind == QK_MATCH ? "  " : "    unless ", out);
		prog_print_pattern(p, p->quants[i].pat, out);
		fprintf(out, "  (%s:%u)\n", p->strs[p->quants[i].file],
			p->quants[i].line);
	}
}

void prog_disasm(const program *p, FILE *out)
{
	fprintf(out, "td2hf rules bytecode, version %d: %u strings, %u "
		"constants, %u instructions\n\n", PROG_VERSION, p->nstrs, p->nkint,
		p->ncode);
	print_params(p, out);
	print_rules(p, p->skips, p->nskips, "skips, applied to stored keys", out);
	print_rewrites(p, out);
	print_rules(p, p->rules, p->nrules, "rules, first match wins", out);
	print_groups(p, out);
	print_requires(p, out);
	print_quants(p, out);
}
