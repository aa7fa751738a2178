#include "match.h"

#include <string.h>

#define MAX_DIGITS 18  /* keeps every captured integer below 10^18 */

typedef struct mctx {
	const program *p;
	const prog_item *items;
	uint32_t n;
	vm_caps *caps;
} mctx;

static int match_from(const mctx *m, uint32_t i, const char *s);

static int match_int(const mctx *m, uint32_t i, const char *s)
{
	size_t n = 0, k;

	while (n < MAX_DIGITS && s[n] >= '0' && s[n] <= '9')
		n++;
	for (k = n; k >= 1; k--) {
		int64_t v = 0;
		size_t d;

		for (d = 0; d < k; d++)
			v = v * 10 + (s[d] - '0');
		m->caps->ints[m->items[i].arg] = v;
		if (match_from(m, i + 1, s + k))
			return 1;
	}
	return 0;
}

/* {t} (at least one character) or * (any, possibly none). */
static int match_text(const mctx *m, uint32_t i, const char *s)
{
	const prog_item *it = &m->items[i];
	size_t len = strlen(s), k;

	for (k = it->kind == PI_TEXT ? 1 : 0; k <= len; k++) {
		if (it->kind == PI_TEXT) {
			m->caps->text[it->arg] = s;
			m->caps->text_len[it->arg] = k;
		}
		if (match_from(m, i + 1, s + k))
			return 1;
	}
	return 0;
}

static int match_from(const mctx *m, uint32_t i, const char *s)
{
	const prog_item *it;

	if (i == m->n)
		return *s == '\0';
	it = &m->items[i];
	switch (it->kind) {
	case PI_LIT: {
		size_t n = m->p->str_len[it->arg];

		return strncmp(s, m->p->strs[it->arg], n) == 0 &&
		       match_from(m, i + 1, s + n);
	}
	case PI_INT:
		return match_int(m, i, s);
	default:
		return match_text(m, i, s);
	}
}

int vm_match(const program *p, uint32_t pat, const char *name,
	     vm_caps *caps)
{
	const prog_pattern *pt = &p->pats[pat];
	mctx m = {p, p->items + pt->first, pt->n, caps};

	memset(caps, 0, sizeof *caps);
	return match_from(&m, 0, name);
}
