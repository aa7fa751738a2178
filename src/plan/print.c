/* print.c — the plan for people: --dry-run and --explain. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "../vm/match.h"

static void entry_source(const plan_entry *pe, const td_checkpoint *ck,
			char *buf, size_t size)
{
	const char *key = pe->origin ? pe->e.name : ck->cat.keys[pe->e.key].name;
	size_t len = (size_t)snprintf(buf, size, "%s", key);
	int i;

	for (i = 0; i < pe->e.nfixed && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "[%" PRId64 "]",
					pe->e.fixed[i]);
}

static void print_entry(const plan *pl, uint32_t e, const td_checkpoint *ck,
			const program *prog, FILE *out)
{
	const plan_entry *pe = &pl->entries[e];
	char src[VM_NAME_MAX + 64], sh[128];
	uint32_t i;

	entry_source(pe, ck, src, sizeof src);
	vm_shape_str(&pe->e.shape, sh, sizeof sh);
	if (pe->origin) {
		fprintf(out, "%s  (missing, added from %s)\n", pe->e.name,
			pe->origin->path);
	} else {
		fprintf(out, "%s %s %s", src, td_dtype_st_name(pe->e.shape.dtype),
			sh);
		if (strcmp(src, pe->e.name) != 0)
			fprintf(out, "  as %s", pe->e.name);
		fprintf(out, "  (rule %s:%u)\n",
			prog->strs[prog->rules[pe->rule].file],
			prog->rules[pe->rule].line);
	}
	for (i = pe->first; i < pe->first + pe->n; i++) {
		const plan_tensor *t = &pl->tensors[i];

		vm_shape_str(&t->out.node->shape, sh, sizeof sh);
		fprintf(out, "  -> %s %s %s  %s\n", t->out.name,
			td_dtype_st_name(plan_tensor_dtype(t)), sh,
			t->dropped ? "(dropped: its group never completed)"
				   : pl->shards[t->shard].file);
		if (t->quant == PT_FP8) {   /* --quantize: its scale */
			const plan_tensor *s = &pl->tensors[t->partner];

			vm_shape_str(&s->out.node->shape, sh, sizeof sh);
			fprintf(out, "  -> %s F32 %s  %s\n", s->out.name, sh,
				pl->shards[s->shard].file);
		}
	}
}

/* used[r]: whether some entry matched rule r (a new array; NULL on OOM). */
static unsigned char *rules_used(const plan *pl, const program *prog)
{
	unsigned char *used = calloc(prog->nrules ? prog->nrules : 1, 1);
	uint32_t e;

	for (e = 0; used && e < pl->nentries; e++)
		if (!pl->entries[e].origin && pl->entries[e].rule < prog->nrules)
			used[pl->entries[e].rule] = 1;
	return used;
}

uint32_t plan_unused_rules(const plan *pl, const program *prog)
{
	unsigned char *used = rules_used(pl, prog);
	uint32_t r, n = 0;

	for (r = 0; used && r < prog->nrules; r++)
		n += !used[r];
	free(used);
	return n;
}

void plan_print_unused(const plan *pl, const program *prog, FILE *out)
{
	unsigned char *used = rules_used(pl, prog);
	uint32_t r, unused = 0;

	for (r = 0; used && r < prog->nrules; r++) {
		if (used[r])
			continue;
		if (!unused++)
			fprintf(out, "\nrules that matched nothing in this "
				"checkpoint:\n");
		fprintf(out, "  %s:%u  \"", prog->strs[prog->rules[r].file],
			prog->rules[r].line);
		prog_print_pattern(prog, prog->rules[r].pat, out);
		fputs("\"\n", out);
	}
	free(used);
}

void plan_print(const plan *pl, const td_checkpoint *ck,
		const program *prog, FILE *out)
{
	uint32_t e, s;

	for (e = 0; e < pl->nentries; e++)
		print_entry(pl, e, ck, prog, out);
	fprintf(out, "\n%u stored keys skipped; %u entries; %u outputs, %" PRIu64
		" bytes, in %u shard%s:\n", pl->nskipped, pl->nentries,
		pl->nemitted, pl->total_size, pl->nshards,
		pl->nshards == 1 ? "" : "s");
	for (s = 0; s < pl->nshards; s++)
		fprintf(out, "  %s  %u tensors, %" PRIu64 " bytes\n",
			pl->shards[s].file, pl->shards[s].ntensors,
			pl->shards[s].size);
	plan_print_unused(pl, prog, out);
}

int plan_explain(const plan *pl, const td_checkpoint *ck,
		 const program *prog, const char *name, FILE *out)
{
	char src[VM_NAME_MAX + 64];
	uint32_t e, i;
	int found = 0;

	for (e = 0; e < pl->nentries; e++) {
		const plan_entry *pe = &pl->entries[e];
		int hit = strcmp(ck->cat.keys[pe->e.key].name, name) == 0 ||
			  strcmp(pe->e.name, name) == 0;

		entry_source(pe, ck, src, sizeof src);
		hit |= strcmp(src, name) == 0;
		for (i = pe->first; !hit && i < pe->first + pe->n; i++)
			hit = strcmp(pl->tensors[i].out.name, name) == 0;
		if (hit) {
			print_entry(pl, e, ck, prog, out);
			found = 1;
		}
	}
	return found;
}

int plan_explain_skipped(const td_checkpoint *ck, const program *prog,
			 const char *name, FILE *out)
{
	vm_caps caps;
	size_t k;
	uint32_t i;

	for (k = 0; k < ck->cat.nkeys; k++) {
		if (strcmp(ck->cat.keys[k].name, name) != 0)
			continue;
		for (i = 0; i < prog->nskips; i++) {
			const prog_rule *r = &prog->skips[i];

			if (!vm_match(prog, r->pat, name, &caps))
				continue;
			fprintf(out, "%s\n  stored in the checkpoint; skipped by "
				"%s:%u  skip \"", name, prog->strs[r->file],
				r->line);
			prog_print_pattern(prog, r->pat, out);
			fputs("\"\n", out);
			return 1;
		}
	}
	return 0;
}
