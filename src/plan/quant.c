/* quant.c — see quant.h. */
#include "quant.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/intops.h"
#include "../vm/match.h"

int quant_parse_strategy(const char *s, quant_strategy *out, td_err *err)
{
	static const struct { const char *name; quant_strategy s; } names[] = {
		{"fp8-block", PQ_BLOCK}, {"fp8-channel", PQ_CHANNEL},
		{"fp8-tensor", PQ_TENSOR},
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].s;
			return 0;
		}
	return td_errf(err, "--quantize %s: unknown scheme (there are "
		       "fp8-block, fp8-channel and fp8-tensor)", s);
}

int quant_parse_block(const char *s, int64_t *out, td_err *err)
{
	if (td_parse_i64(s, 1, INT32_MAX, out) != 0)
		return td_errf(err, "--block-size %s: a block size is a whole "
			       "number from 1 to %d", s, INT32_MAX);
	return 0;
}

int quant_selected(const program *p, const char *name)
{
	vm_caps caps;
	int match = 0;

	for (uint32_t i = 0; i < p->nquants; i++) {
		const prog_quant *q = &p->quants[i];

		if (q->kind == QK_MATCH)
			match |= vm_match(p, q->pat, name, &caps);
		else if (vm_match(p, q->pat, name, &caps))
			return 0;
	}
	return match;
}

void quant_tile(const quant_spec *q, int64_t rows, int64_t cols, int64_t *th,
		int64_t *tw)
{
	switch (q->strategy) {
	case PQ_BLOCK:
		*th = q->block[0];
		*tw = q->block[1];
		break;
	case PQ_CHANNEL:
		*th = 1;
		*tw = cols;
		break;
	default:
		*th = rows;
		*tw = cols;
	}
}

char *quant_replace(const char *s, const char *old, const char *new, size_t max)
{
	size_t ol = strlen(old), nl = strlen(new), n = 0, len;
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, old)) != NULL; p += ol)
		n++;
	len = strlen(s) + n * nl - n * ol;   /* n * ol <= strlen(s) */
	if (len >= max || !(out = malloc(len + 1)))
		return NULL;
	for (o = out, p = s; *p;) {
		if (strncmp(p, old, ol) == 0) {
			memcpy(o, new, nl);
			o += nl;
			p += ol;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}
