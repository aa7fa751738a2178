#include "builder.h"

#include <stdlib.h>
#include <string.h>

/* Appends elem (size bytes) to *arr holding *n elements. */
static uint32_t append(builder *b, void **arr, uint32_t *n, size_t size,
		       const void *elem)
{
	void *na;

	if (b->oom)
		return 0;
	if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4, ...: grow to double */
		na = realloc(*arr, (*n ? *n * 2 : 1) * size);
		if (!na) {
			b->oom = 1;
			return 0;
		}
		*arr = na;
	}
	memcpy((char *)*arr + *n * size, elem, size);
	return (*n)++;
}

#define APPEND(b, field, count, v) \
	append(b, (void **)&(b)->p.field, &(b)->p.count, sizeof(v), &(v))

int build_init(builder *b)
{
	memset(b, 0, sizeof *b);
	b->str_index = td_map_new();
	return b->str_index ? 0 : -1;
}

void build_release(builder *b)
{
	td_map_free(b->str_index);
	b->str_index = NULL;
}

/* Interns s.  The parallel tables str_len and strs share the count
 * nstrs: str_len's slot is appended first under a copy of the count, and
 * the count only moves when strs's append succeeds, so a failure leaves
 * both consistent and frees the copy. */
uint32_t build_str(builder *b, const char *s)
{
	size_t len = strlen(s), id;
	uint32_t l32 = (uint32_t)len, nlen = b->p.nstrs;
	char *copy;

	if (b->oom)
		return 0;
	if (td_map_get(b->str_index, s, len, &id))
		return (uint32_t)id;
	copy = strdup(s);
	if (copy)
		append(b, (void **)&b->p.str_len, &nlen, sizeof l32, &l32);
	if (copy && !b->oom)
		append(b, (void **)&b->p.strs, &b->p.nstrs, sizeof copy, &copy);
	if (!copy || b->oom) {
		free(copy);
		b->oom = 1;
		return 0;
	}
	/* the copy is the table's now; 1 (present) was ruled out above */
	if (td_map_put(b->str_index, s, len, b->p.nstrs - 1, NULL) != 0) {
		b->oom = 1;
		return 0;
	}
	return b->p.nstrs - 1;
}

uint32_t build_kint(builder *b, int64_t v)
{
	uint32_t i;

	for (i = 0; i < b->p.nkint; i++)
		if (b->p.kint[i] == v)
			return i;
	return APPEND(b, kint, nkint, v);
}

int32_t build_code_here(const builder *b)
{
	return (int32_t)b->p.ncode;
}

void build_instr(builder *b, opcode op, int a, int32_t c, int line)
{
	prog_instr in = {(uint8_t)op, (uint8_t)a,
		       (uint16_t)(line > 0xffff ? 0xffff : line), c};

	APPEND(b, code, ncode, in);
}

uint32_t build_param(builder *b, prog_param v) { return APPEND(b, params, nparams, v); }
uint32_t build_item(builder *b, prog_item v) { return APPEND(b, items, nitems, v); }
uint32_t build_pattern(builder *b, prog_pattern v) { return APPEND(b, pats, npats, v); }
uint32_t build_rewrite(builder *b, prog_rewrite v) { return APPEND(b, rewrites, nrewrites, v); }
uint32_t build_skip(builder *b, prog_rule v) { return APPEND(b, skips, nskips, v); }
uint32_t build_rule(builder *b, prog_rule v) { return APPEND(b, rules, nrules, v); }
uint32_t build_group(builder *b, prog_group v) { return APPEND(b, groups, ngroups, v); }
uint32_t build_require(builder *b, prog_require v) { return APPEND(b, requires, nrequires, v); }
uint32_t build_quant(builder *b, prog_quant v) { return APPEND(b, quants, nquants, v); }
uint32_t build_member(builder *b, uint32_t pat) { return APPEND(b, members, nmembers, pat); }
