/* shadow.c — which keys two rules' patterns can both match.
 *
 * A pattern is a sequence of elements over the bytes of a key: a literal
 * byte, a digit, any byte, each once or repeated ("<i>" is a digit then
 * digits, "{t}" any byte then any, "*" any repeated).  Two patterns are
 * compared by walking both automata at once, each as the set of
 * positions it can be in, over one byte of each kind that can make a
 * difference (every literal byte in either, one other digit, one other
 * byte).  The walk is bounded; past the bound the answer is "don't know"
 * (reported as no overlap, so the compiler never refuses a good file).
 *
 * Integer captures accept at most 18 digits when matching; here they
 * accept any number, which changes nothing for keys a checkpoint holds. */
#include "shadow.h"

#include <stdlib.h>
#include <string.h>

#define DIGIT 256
#define ANY 257
#define MAX_STATES 4096

typedef struct elem {
	int cls;     /* a byte, DIGIT or ANY */
	int loop;    /* repeated (zero or more) */
} elem;

/* The patterns of one side, their elements end to end. */
typedef struct side {
	elem *e;
	int n;           /* elements */
	int *end;        /* end[k]: position after pattern k's last element */
	int npats;
	int words;       /* uint64 words of a position set (n + npats bits) */
} side;

static int add(side *s, int cap, int cls, int loop)
{
	if (s->n == cap)
		return -1;
	s->e[s->n].cls = cls;
	s->e[s->n].loop = loop;
	s->n++;
	return 0;
}

static int add_item(side *s, int cap, const program *p, const prog_item *it)
{
	const char *t;
	int rc = 0;

	switch (it->kind) {
	case PI_LIT:
		for (t = p->strs[it->arg]; *t && rc == 0; t++)
			rc = add(s, cap, (unsigned char)*t, 0);
		return rc;
	case PI_INT:
		return add(s, cap, DIGIT, 0) | add(s, cap, DIGIT, 1);
	case PI_TEXT:
		return add(s, cap, ANY, 0) | add(s, cap, ANY, 1);
	default:
		return add(s, cap, ANY, 1);
	}
}

/* Positions: pattern k's elements are positions start..end[k]-1, its
 * accepting position is end[k] (one slot per pattern after them). */
static int build(side *s, const program *p, const uint32_t *pats, int n)
{
	int k, cap = 0;
	uint32_t i;

	for (k = 0; k < n; k++) {
		const prog_pattern *pt = &p->pats[pats[k]];

		for (i = 0; i < pt->n; i++) {
			const prog_item *it = &p->items[pt->first + i];

			cap += it->kind == PI_LIT ? (int)p->str_len[it->arg] : 2;
		}
		cap += 1;   /* the accepting position */
	}
	s->e = calloc((size_t)cap + 1, sizeof *s->e);
	s->end = calloc((size_t)n + 1, sizeof *s->end);
	if (!s->e || !s->end)
		return -1;
	s->n = 0;
	s->npats = n;
	for (k = 0; k < n; k++) {
		const prog_pattern *pt = &p->pats[pats[k]];

		for (i = 0; i < pt->n; i++)
			if (add_item(s, cap, p, &p->items[pt->first + i]) != 0)
				return -1;
		s->end[k] = s->n;
		if (add(s, cap, -1, 0) != 0)   /* accepting: matches nothing */
			return -1;
	}
	s->words = (s->n + 63) / 64;
	return 0;
}

static void release(side *s)
{
	free(s->e);
	free(s->end);
}

#define HAS(set, i) (((set)[(i) / 64] >> ((i) % 64)) & 1)
#define PUT(set, i) ((set)[(i) / 64] |= (uint64_t)1 << ((i) % 64))

/* Adds the positions reachable by skipping repeated elements. */
static void closure(const side *s, uint64_t *set)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (HAS(set, i) && s->e[i].loop)
			PUT(set, i + 1);
}

static void start(const side *s, uint64_t *set)
{
	int k;

	memset(set, 0, (size_t)s->words * 8);
	PUT(set, 0);
	for (k = 0; k + 1 < s->npats; k++)
		PUT(set, s->end[k] + 1);
	closure(s, set);
}

static int matches(int cls, int x)
{
	return cls == ANY || cls == x || (cls == DIGIT && x >= '0' && x <= '9');
}

static void step(const side *s, const uint64_t *from, int x, uint64_t *to)
{
	int i;

	memset(to, 0, (size_t)s->words * 8);
	for (i = 0; i < s->n; i++)
		if (HAS(from, i) && s->e[i].cls >= 0 && matches(s->e[i].cls, x))
			PUT(to, s->e[i].loop ? i : i + 1);
	closure(s, to);
}

static int accepts(const side *s, const uint64_t *set)
{
	int k;

	for (k = 0; k < s->npats; k++)
		if (HAS(set, s->end[k]))
			return 1;
	return 0;
}

static int empty(const side *s, const uint64_t *set)
{
	int w;

	for (w = 0; w < s->words; w++)
		if (set[w])
			return 0;
	return 1;
}

/* One byte of each class that can tell the two sides apart. */
static int alphabet(const side *a, const side *b, int *out)
{
	unsigned char lit[256] = {0};
	int i, n = 0, x;

	for (i = 0; i < a->n; i++)
		if (a->e[i].cls >= 0 && a->e[i].cls < 256)
			lit[a->e[i].cls] = 1;
	for (i = 0; i < b->n; i++)
		if (b->e[i].cls >= 0 && b->e[i].cls < 256)
			lit[b->e[i].cls] = 1;
	for (x = 1; x < 256; x++)
		if (lit[x])
			out[n++] = x;
	for (x = '0'; x <= '9' && lit[x]; x++)
		;
	if (x <= '9')
		out[n++] = x;
	for (x = 1; x < 256 && (lit[x] || (x >= '0' && x <= '9')); x++)
		;
	if (x < 256)
		out[n++] = x;
	return n;
}

/* The walk: states are (set of a, set of b) pairs, stored end to end. */
typedef struct walk {
	const side *a, *b;
	int words;            /* a->words + b->words */
	uint64_t *states;     /* MAX_STATES * words */
	int n;
} walk;

static int seen(const walk *w, const uint64_t *st)
{
	int i;

	for (i = 0; i < w->n; i++)
		if (memcmp(w->states + (size_t)i * w->words, st,
			   (size_t)w->words * 8) == 0)
			return 1;
	return 0;
}

/* Visits every pair reachable from the first; returns 1 as soon as
 * found(a accepts, b accepts) holds, 0 if it never does, 2 past the
 * bound, -1 out of memory. */
static int search(walk *w, int (*found)(int, int))
{
	int sym[260], nsym = alphabet(w->a, w->b, sym), i, k;
	uint64_t *next = calloc((size_t)w->words, 8);

	if (!next)
		return -1;
	for (i = 0; i < w->n; i++) {
		const uint64_t *st = w->states + (size_t)i * w->words;

		if (found(accepts(w->a, st), accepts(w->b, st + w->a->words)))
			return free(next), 1;
		for (k = 0; k < nsym; k++) {
			step(w->a, st, sym[k], next);
			step(w->b, st + w->a->words, sym[k], next + w->a->words);
			if (empty(w->b, next + w->a->words) || seen(w, next))
				continue;
			if (w->n == MAX_STATES)
				return free(next), 2;
			memcpy(w->states + (size_t)w->n * w->words, next,
			       (size_t)w->words * 8);
			w->n++;
			st = w->states + (size_t)i * w->words;
		}
	}
	free(next);
	return 0;
}

static int b_not_a(int a, int b) { return b && !a; }
static int both(int a, int b) { return a && b; }

static int compare(const program *p, const uint32_t *a, int na, uint32_t b,
		   int (*found)(int, int))
{
	side sa = {0}, sb = {0};
	walk w = {&sa, &sb, 0, NULL, 1};
	int rc = -1;

	if (build(&sa, p, a, na) == 0 && build(&sb, p, &b, 1) == 0) {
		w.words = sa.words + sb.words;
		w.states = calloc((size_t)MAX_STATES * (size_t)w.words, 8);
		if (w.states) {
			start(&sa, w.states);
			start(&sb, w.states + sa.words);
			rc = search(&w, found);
		}
	}
	free(w.states);
	release(&sa);
	release(&sb);
	return rc;
}

int patterns_cover(const program *p, const uint32_t *a, int na, uint32_t b)
{
	int rc = compare(p, a, na, b, b_not_a);

	return rc < 0 ? -1 : rc == 0;
}

/* Literal text at the head (tail) of pattern id: a quick test that two
 * patterns cannot match one key. */
static const char *edge_text(const program *p, uint32_t id, int tail)
{
	const prog_pattern *pt = &p->pats[id];
	const prog_item *it = &p->items[pt->first + (tail ? pt->n - 1 : 0)];

	return it->kind == PI_LIT ? p->strs[it->arg] : NULL;
}

/* Two literal edges that cannot be the same key's: the shorter is not a
 * prefix (tail: a suffix) of the longer. */
static int edges_differ(const char *x, const char *y, int tail)
{
	size_t lx, ly, n;

	if (!x || !y)
		return 0;
	lx = strlen(x);
	ly = strlen(y);
	n = lx < ly ? lx : ly;
	return memcmp(x + (tail ? lx - n : 0), y + (tail ? ly - n : 0), n) != 0;
}

static int surely_apart(const program *p, uint32_t a, uint32_t b)
{
	return edges_differ(edge_text(p, a, 0), edge_text(p, b, 0), 0) ||
	       edges_differ(edge_text(p, a, 1), edge_text(p, b, 1), 1);
}

int patterns_overlap(const program *p, uint32_t a, uint32_t b)
{
	int rc = surely_apart(p, a, b) ? 0 : compare(p, &a, 1, b, both);

	return rc < 0 ? -1 : rc == 1;
}
