/* pickle.c — the pickle machine, minus everything that executes code.
 *
 * One handler per opcode, found through a 256-entry table.  Handlers pop
 * and push pickle_value pointers; every read of an argument is bounds-checked
 * against the input, every count against the stack or the memo. */
#include "pickle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"
#include "../common/bytes.h"
#include "../common/arena.h"

struct pickle_doc {
	td_arena *arena;
	pickle_value *root;
};

#define PK_SMALL_INTS 1024  /* ints 0 .. PK_SMALL_INTS-1 are shared */

typedef struct parser {
	const unsigned char *buf;
	size_t len, pos, op_pos;
	pickle_limits lim;
	td_arena *arena;
	pickle_value **stack;
	size_t sp, stack_cap;
	size_t *marks;
	size_t nmarks, marks_cap;
	pickle_value **memo;
	size_t memo_cap, memo_n;  /* slots allocated, slots filled */
	pickle_value *result;
	/* Immutable values shared instead of allocated again: None, False,
	 * True, the empty tuple and small ints (most of a .metadata). */
	pickle_value *none, *bools[2], *empty_tuple;
	pickle_value *small_int[PK_SMALL_INTS];
	/* Streaming (pickle_parse_stream): p->arena is the scratch arena, `main`
	 * the document's; the memo keeps only entries a GET reads later. */
	pickle_items_fn on_items;
	void *ctx;
	td_arena *main;
	uint64_t *fetched, *filled;  /* bit per memo index */
	size_t nbits;       /* of fetched (and rank) */
	size_t filled_bits; /* of filled: grows past drop_from */
	uint32_t *rank;     /* per 64 slots: fetched slots before them */
	pickle_value **kept;    /* per fetched slot (by rank): its kept value */
	const char *drop_from;  /* this string starts the dropped part */
	size_t drop_pos;        /* where (SIZE_MAX: nowhere) */
	int dropping;           /* past it: unkept memo entries read None */
	const pickle_value *plain_no; /* a kept callable known not to be one of
				   * plain_data_call's (REDUCE repeats one) */
	td_err *err;
} parser;

#define SCRATCH_RELEASE ((size_t)4 << 20) /* bytes that trigger reclaiming */

static int skip_dropped(parser *p);
#define KEEP_DEPTH 4096

typedef int (*handler)(parser *p, unsigned char op);

static const pickle_limits default_limits = {
	.max_stack = 1u << 22,
	.max_marks = 1u << 16,
	.max_memory = (size_t)1 << 32,
	.two_threads_from = (size_t)1 << 20,
};

/* ---------------------------------------------------------------- errors */

static int fail(parser *p, const char *what)
{
	return td_errf(p->err, "pickle: %s at offset %zu (opcode 0x%02x)", what,
		       p->op_pos, p->op_pos < p->len ? p->buf[p->op_pos] : 0);
}

static int oom(parser *p)
{
	return fail(p, "out of memory (or a value tree larger than the "
		    "memory limit)");
}

/* ---------------------------------------------------------------- input */

static int take(parser *p, size_t n, const unsigned char **out)
{
	if (n > p->len - p->pos)
		return fail(p, "truncated input");
	*out = p->buf + p->pos;
	p->pos += n;
	return 0;
}

static int take_uint(parser *p, int n, uint64_t *v)
{
	const unsigned char *b = NULL;

	if (take(p, (size_t)n, &b) != 0)
		return -1;
	*v = td_le(b, n);
	return 0;
}

/* A newline-terminated line (GLOBAL's arguments), without the newline. */
static int take_line(parser *p, const char **s, size_t *n)
{
	const unsigned char *start = p->buf + p->pos;
	const unsigned char *nl = memchr(start, '\n', p->len - p->pos);

	if (!nl)
		return fail(p, "truncated input (missing newline)");
	*s = (const char *)start;
	*n = (size_t)(nl - start);
	p->pos += *n + 1;
	return 0;
}

/* ---------------------------------------------------------------- values */

static pickle_value *new_value(parser *p, pickle_kind kind)
{
	pickle_value *v = td_arena_alloc(p->arena, sizeof *v);

	if (v) {
		v->kind = kind;
		v->scratch = p->main != NULL;
	}
	return v;
}

/* Shared immutable values live in the document's arena. */
static pickle_value *new_shared(parser *p, pickle_kind kind)
{
	pickle_value *v = td_arena_alloc(p->main ? p->main : p->arena, sizeof *v);

	if (v)
		v->kind = kind;
	return v;
}

/* Appends v to a vector of `owner` (a list, set, dict or object): grown
 * in the owner's arena, the document's once the owner is kept. */
static int vec_push(parser *p, const pickle_value *owner, pickle_vec *vec,
		    pickle_value *v)
{
	td_arena *a = p->main && !owner->scratch ? p->main : p->arena;

	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? (size_t)vec->cap * 2 : 4;
		pickle_value **nv = cap <= UINT32_MAX ?
			td_arena_alloc(a, cap * sizeof *nv) : NULL;

		if (!nv)
			return oom(p);
		if (vec->n)
			memcpy(nv, vec->v, vec->n * sizeof *nv);
		vec->v = nv;
		vec->cap = (uint32_t)cap;
	}
	vec->v[vec->n++] = v;
	return 0;
}

static int push(parser *p, pickle_value *v)
{
	if (!v)
		return oom(p);
	if (p->sp >= p->lim.max_stack)
		return fail(p, "stack deeper than the limit");
	if (p->sp == p->stack_cap) {
		size_t cap = p->stack_cap ? p->stack_cap * 2 : 64;
		pickle_value **ns;

		ns = realloc(p->stack, cap * sizeof *ns);
		if (!ns)
			return oom(p);
		p->stack = ns;
		p->stack_cap = cap;
	}
	p->stack[p->sp++] = v;
	return 0;
}

/* Stack slot i (NULL while nothing was ever pushed: no pointer
 * arithmetic on a null stack). */
static pickle_value **slot(const parser *p, size_t i)
{
	return p->stack ? p->stack + i : NULL;
}

/* The base of the current mark frame: values above it may be popped. */
static size_t frame_base(const parser *p)
{
	return p->nmarks ? p->marks[p->nmarks - 1] : 0;
}

static int pop(parser *p, pickle_value **out)
{
	if (p->sp <= frame_base(p))
		return fail(p, "stack underflow");
	*out = p->stack[--p->sp];
	return 0;
}

static int top(parser *p, pickle_value **out)
{
	if (p->sp <= frame_base(p))
		return fail(p, "stack underflow");
	*out = p->stack[p->sp - 1];
	return 0;
}

/* Pops everything above the last MARK and the MARK itself; the popped
 * values stay readable at stack[*from .. *from + *n). */
static int pop_mark(parser *p, size_t *from, size_t *n)
{
	if (p->nmarks == 0)
		return fail(p, "MARK expected but not found");
	*from = p->marks[--p->nmarks];
	*n = p->sp - *from;
	p->sp = *from;
	return 0;
}

static pickle_value *new_string(parser *p, pickle_kind kind, const void *s, size_t n)
{
	pickle_value *v = new_value(p, kind);

	if (!v)
		return NULL;
	v->u.s.p = td_arena_strndup(p->arena, s, n);
	v->u.s.n = n;
	return v->u.s.p ? v : NULL;
}

/* A sequence of exactly n items (later APPENDs grow it). */
static pickle_value *new_seq(parser *p, pickle_kind kind, pickle_value **items, size_t n)
{
	pickle_value *v;

	if (kind == PK_TUPLE && n == 0 && p->empty_tuple)
		return p->empty_tuple;  /* tuples are never mutated */
	if (n > UINT32_MAX / 2)
		return NULL;
	v = new_value(p, kind);
	if (!v || n == 0)
		return v;
	v->u.seq.v = td_arena_alloc(p->arena, n * sizeof *v->u.seq.v);
	if (!v->u.seq.v)
		return NULL;
	memcpy(v->u.seq.v, items, n * sizeof *items);
	v->u.seq.n = v->u.seq.cap = (uint32_t)n;
	return v;
}

static pickle_value *new_object(parser *p, pickle_value *callable, pickle_value *args,
				int newobj)
{
	pickle_value *v = new_value(p, PK_OBJECT);

	if (!v)
		return NULL;
	v->u.obj = td_arena_alloc(p->arena, sizeof *v->u.obj);
	if (!v->u.obj)
		return NULL;
	v->u.obj->callable = callable;
	v->u.obj->args = args;
	v->u.obj->newobj = newobj;
	return v;
}

/* ---------------------------------------------------------------- streaming:
 * keeping values (copying them out of the scratch arena) */

/* A scratch value's `scratch` field: 1 in the scratch arena, 2 being
 * copied (met again: a cycle), 3 copied: its parts are the copy's, in
 * the document's arena, so meeting it again costs one shallow copy. */
enum { SCRATCH = 1, KEEPING = 2, KEPT = 3 };

typedef struct keeper {
	parser *p;
} keeper;

static int keep(keeper *k, pickle_value *v, pickle_value **out, int depth);

static int keep_vec(keeper *k, pickle_vec *vec, int depth)
{
	pickle_value **nv;
	uint32_t i;

	if (vec->n == 0) {
		vec->v = NULL;
		vec->cap = 0;
		return 0;
	}
	nv = td_arena_alloc(k->p->main, vec->n * sizeof *nv);
	if (!nv)
		return oom(k->p);
	for (i = 0; i < vec->n; i++)
		if (keep(k, vec->v[i], &nv[i], depth + 1) != 0)
			return -1;
	vec->v = nv;
	vec->cap = vec->n;
	return 0;
}

static int keep_object(keeper *k, pickle_value *c, int depth)
{
	pickle_object *o = td_arena_alloc(k->p->main, sizeof *o);

	if (!o)
		return oom(k->p);
	*o = *c->u.obj;
	c->u.obj = o;
	if (keep(k, o->callable, &o->callable, depth + 1) != 0 ||
	    keep(k, o->args, &o->args, depth + 1) != 0 ||
	    keep(k, o->kwargs, &o->kwargs, depth + 1) != 0 ||
	    keep(k, o->state, &o->state, depth + 1) != 0 ||
	    keep_vec(k, &o->items, depth) != 0)
		return -1;
	return keep_vec(k, &o->dict_items, depth);
}

static int keep_str(keeper *k, const char **s, size_t n)
{
	*s = td_arena_strndup(k->p->main, *s, n);
	return *s ? 0 : oom(k->p);
}

/* The copy's own parts (c starts as a shallow copy of a scratch value). */
static int keep_parts(keeper *k, pickle_value *c, int depth)
{
	switch (c->kind) {
	case PK_STR: case PK_BYTES: case PK_BIGINT:
		return keep_str(k, &c->u.s.p, c->u.s.n);
	case PK_TUPLE: case PK_LIST: case PK_DICT: case PK_SET:
	case PK_FROZENSET:
		return keep_vec(k, &c->u.seq, depth);
	case PK_GLOBAL:
		if (keep_str(k, &c->u.glob.module, strlen(c->u.glob.module)))
			return -1;
		return keep_str(k, &c->u.glob.name, strlen(c->u.glob.name));
	case PK_OBJECT:
		return keep_object(k, c, depth);
	case PK_PERSID:
		return keep(k, c->u.pid, &c->u.pid, depth + 1);
	default:
		return 0;
	}
}

/* Kinds whose parts never change once built. */
static int immutable_kind(pickle_kind kind)
{
	return kind == PK_STR || kind == PK_BYTES || kind == PK_BIGINT ||
	       kind == PK_GLOBAL || kind == PK_TUPLE || kind == PK_FROZENSET ||
	       kind <= PK_FLOAT;
}

/* *out = v, or its copy in the document's arena when v is scratch. */
static int keep(keeper *k, pickle_value *v, pickle_value **out, int depth)
{
	pickle_value *c;

	*out = v;
	if (!v || !v->scratch)
		return 0;
	if (depth > KEEP_DEPTH)
		return fail(k->p, "values nested deeper than the limit");
	if (v->scratch == KEEPING)
		return fail(k->p, "a value contains itself (not supported "
			    "while streaming)");
	c = td_arena_alloc(k->p->main, sizeof *c);
	if (!c)
		return oom(k->p);
	*c = *v;
	c->scratch = 0;
	*out = c;
	if (v->scratch == KEPT) /* containers may have grown since: again */
		return immutable_kind(v->kind) ? 0 : keep_parts(k, c, depth);
	v->scratch = KEEPING;
	if (keep_parts(k, c, depth) != 0)
		return -1;
	v->u = c->u;
	v->scratch = KEPT;
	return 0;
}

/* Keeps n values in place. */
static int keep_all(parser *p, pickle_value **v, size_t n)
{
	keeper k = {p};
	size_t i;

	for (i = 0; i < n; i++)
		if (keep(&k, v[i], &v[i], 0) != 0)
			return -1;
	return 0;
}

/* After a consumed batch: once the scratch arena is big, keep what the
 * stack still holds and empty it.  Nothing else can point into it: the
 * memo and kept containers hold kept values only. */
static int maybe_release(parser *p)
{
	td_arena *fresh;

	if (td_arena_used(p->arena) < SCRATCH_RELEASE)
		return 0;
	if (keep_all(p, p->stack, p->sp) != 0)
		return -1;
	fresh = td_arena_new(p->lim.max_memory);
	if (!fresh)
		return oom(p);
	td_arena_free(p->arena);
	p->arena = fresh;
	return 0;
}

/* Streaming: offers items to the callback.  1 consumed, 0 to be stored
 * (kept first when the target is kept), -1 error. */
static int offer(parser *p, const pickle_value *target, pickle_value **items,
		 size_t n, int is_dict)
{
	int rc;

	if (!p->main)
		return 0;
	rc = p->on_items ? p->on_items(p->ctx, target, items, n, is_dict,
				       p->err) : 0;
	if (rc < 0)
		return -1;
	if (rc > 0)
		return maybe_release(p) == 0 ? 1 : -1;
	if (!target->scratch && keep_all(p, items, n) != 0)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- handlers:
 * scalars */

static int op_none(parser *p, unsigned char op)
{
	(void)op;
	if (!p->none)
		p->none = new_shared(p, PK_NONE);
	return push(p, p->none);
}

static int op_bool(parser *p, unsigned char op)
{
	int b = op == 0x88; /* NEWTRUE */

	if (!p->bools[b]) {
		p->bools[b] = new_shared(p, PK_BOOL);
		if (p->bools[b])
			p->bools[b]->u.b = b;
	}
	return push(p, p->bools[b]);
}

static int push_int(parser *p, int64_t i)
{
	int small = i >= 0 && i < PK_SMALL_INTS;
	pickle_value *v = small ? p->small_int[i] : NULL;

	if (!v) {
		v = small ? new_shared(p, PK_INT) : new_value(p, PK_INT);
		if (v)
			v->u.i = i;
		if (small)
			p->small_int[i] = v;
	}
	return push(p, v);
}

static int op_binint(parser *p, unsigned char op)
{
	uint64_t u = 0;

	switch (op) {
	case 'J': /* BININT: 4-byte signed */
		if (take_uint(p, 4, &u) != 0)
			return -1;
		return push_int(p, (int32_t)(uint32_t)u);
	case 'K': /* BININT1: 1-byte unsigned */
		if (take_uint(p, 1, &u) != 0)
			return -1;
		return push_int(p, (int64_t)u);
	default:  /* BININT2: 2-byte unsigned */
		if (take_uint(p, 2, &u) != 0)
			return -1;
		return push_int(p, (int64_t)u);
	}
}

/* LONG1 / LONG4: n-byte little-endian two's complement. */
static int op_long(parser *p, unsigned char op)
{
	const unsigned char *b = NULL;
	uint64_t n = 0;
	pickle_value *v = NULL;

	if (take_uint(p, op == 0x8a ? 1 : 4, &n) != 0)
		return -1;
	if (n > p->len - p->pos)
		return fail(p, "integer length runs past the end of the input");
	if (take(p, (size_t)n, &b) != 0)
		return -1;
	if (n <= 8) {
		uint64_t u = td_le(b, (int)n);

		if (n > 0 && n < 8 && (b[n - 1] & 0x80))
			u |= ~(uint64_t)0 << (8 * n);
		return push_int(p, (int64_t)u);
	}
	v = new_string(p, PK_BIGINT, b, (size_t)n);
	return push(p, v);
}

static int op_binfloat(parser *p, unsigned char op)
{
	const unsigned char *b = NULL;
	uint64_t bits = 0;
	pickle_value *v = NULL;
	int i;

	(void)op;
	if (take(p, 8, &b) != 0)
		return -1;
	for (i = 0; i < 8; i++) /* big-endian IEEE 754 double */
		bits = (bits << 8) | b[i];
	v = new_value(p, PK_FLOAT);
	if (v)
		memcpy(&v->u.f, &bits, sizeof bits);
	return push(p, v);
}

/* Length-prefixed strings and bytes: BINSTRING/SHORT_BINSTRING (treated
 * as bytes), BINBYTES*, BINUNICODE*, BYTEARRAY8. */
static int op_counted(parser *p, unsigned char op)
{
	int width, is_str = 0;
	const unsigned char *b = NULL;
	uint64_t n = 0;

	switch (op) {
	case 'U': case 'C':   width = 1; break;
	case 0x8c:            width = 1; is_str = 1; break;
	case 'T': case 'B':   width = 4; break;
	case 'X':             width = 4; is_str = 1; break;
	case 0x8d:            width = 8; is_str = 1; break;
	default:              width = 8; break; /* BINBYTES8, BYTEARRAY8 */
	}
	if (take_uint(p, width, &n) != 0)
		return -1;
	if (op == 'T' && (n & 0x80000000u))
		return fail(p, "negative BINSTRING length");
	if (n > p->len - p->pos)
		return fail(p, "string length runs past the end of the input");
	if (take(p, (size_t)n, &b) != 0)
		return -1;
	if (p->op_pos != p->drop_pos)
		return push(p, new_string(p, is_str ? PK_STR : PK_BYTES, b,
					  (size_t)n));
	p->dropping = 1;
	if (push(p, new_string(p, PK_STR, b, (size_t)n)) != 0)
		return -1;
	return skip_dropped(p);
}

/* ---------------------------------------------------------------- handlers:
 * containers */

static int op_mark(parser *p, unsigned char op)
{
	(void)op;
	if (p->nmarks >= p->lim.max_marks)
		return fail(p, "MARKs nested deeper than the limit");
	if (p->nmarks == p->marks_cap) {
		size_t cap = p->marks_cap ? p->marks_cap * 2 : 16;
		size_t *nm;

		nm = realloc(p->marks, cap * sizeof *nm);
		if (!nm)
			return oom(p);
		p->marks = nm;
		p->marks_cap = cap;
	}
	p->marks[p->nmarks++] = p->sp;
	return 0;
}

static int op_empty(parser *p, unsigned char op)
{
	pickle_kind k = op == ')' ? PK_TUPLE : op == ']' ? PK_LIST
		  : op == '}' ? PK_DICT : PK_SET;

	if (k != PK_TUPLE)
		return push(p, new_value(p, k));
	if (!p->empty_tuple)
		p->empty_tuple = new_shared(p, PK_TUPLE);
	return push(p, p->empty_tuple);
}

/* TUPLE1..3: the top n values become a tuple. */
static int op_tuple_n(parser *p, unsigned char op)
{
	size_t n = (size_t)(op - 0x84);

	if (p->sp < frame_base(p) + n)
		return fail(p, "stack underflow");
	p->sp -= n;
	return push(p, new_seq(p, PK_TUPLE, slot(p, p->sp), n));
}

/* TUPLE, FROZENSET (and protocol 0/1 LIST, DICT): values since MARK. */
static int op_from_mark(parser *p, unsigned char op)
{
	pickle_kind k = op == 't' ? PK_TUPLE : op == 'l' ? PK_LIST
		  : op == 'd' ? PK_DICT : PK_FROZENSET;
	size_t from = 0, n = 0;

	if (pop_mark(p, &from, &n) != 0)
		return -1;
	if (k == PK_DICT && n % 2)
		return fail(p, "odd number of items for a dict");
	return push(p, new_seq(p, k, slot(p, from), n));
}

/* Offers n items (dict: key, value pairs) added to target to the
 * streaming callback; unless it takes them, appends them to vec. */
static int store_items(parser *p, pickle_value *target, pickle_vec *vec,
		       pickle_value **items, size_t n, int dict)
{
	size_t i;

	switch (offer(p, target, items, n, dict)) {
	case 1:  return 0;
	case 0:  break;
	default: return -1;
	}
	for (i = 0; i < n; i++)
		if (vec_push(p, target, vec, items[i]) != 0)
			return -1;
	return 0;
}

/* Appends n values to a list, a set, or an object (list subclass). */
static int add_items(parser *p, pickle_value *target, pickle_value **items, size_t n,
		     int is_set)
{
	pickle_vec *vec;

	if (target->kind == PK_LIST && !is_set)
		vec = &target->u.seq;
	else if (target->kind == PK_SET && is_set)
		vec = &target->u.seq;
	else if (target->kind == PK_OBJECT && !is_set)
		vec = &target->u.obj->items;
	else
		return fail(p, is_set ? "ADDITEMS onto something not a set"
				      : "APPEND onto something not a list");
	return store_items(p, target, vec, items, n, 0);
}

static int op_append(parser *p, unsigned char op)
{
	pickle_value *v, *list;

	(void)op;
	if (pop(p, &v) != 0 || top(p, &list) != 0)
		return -1;
	return add_items(p, list, &v, 1, 0);
}

/* APPENDS, ADDITEMS: MARK-delimited values onto the value below MARK. */
static int op_appends(parser *p, unsigned char op)
{
	size_t from = 0, n = 0;
	pickle_value *target;

	if (pop_mark(p, &from, &n) != 0 || top(p, &target) != 0)
		return -1;
	return add_items(p, target, slot(p, from), n, op == 0x90);
}

static int set_items(parser *p, pickle_value *target, pickle_value **kv, size_t n)
{
	pickle_vec *vec;

	if (n % 2)
		return fail(p, "odd number of items for SETITEMS");
	if (target->kind == PK_DICT)
		vec = &target->u.seq;
	else if (target->kind == PK_OBJECT)
		vec = &target->u.obj->dict_items;
	else
		return fail(p, "SETITEM onto something not a dict");
	return store_items(p, target, vec, kv, n, 1);
}

static int op_setitem(parser *p, unsigned char op)
{
	pickle_value *kv[2], *dict;

	(void)op;
	if (pop(p, &kv[1]) != 0 || pop(p, &kv[0]) != 0 || top(p, &dict) != 0)
		return -1;
	return set_items(p, dict, kv, 2);
}

static int op_setitems(parser *p, unsigned char op)
{
	size_t from = 0, n = 0;
	pickle_value *dict;

	(void)op;
	if (pop_mark(p, &from, &n) != 0 || top(p, &dict) != 0)
		return -1;
	return set_items(p, dict, slot(p, from), n);
}

/* ---------------------------------------------------------------- handlers:
 * stack and memo */

static int op_pop(parser *p, unsigned char op)
{
	pickle_value *v = NULL;
	size_t from = 0, n = 0;

	if (op == '1') /* POP_MARK */
		return pop_mark(p, &from, &n);
	return pop(p, &v);
}

static int op_dup(parser *p, unsigned char op)
{
	pickle_value *v = NULL;

	(void)op;
	if (top(p, &v) != 0)
		return -1;
	return push(p, v);
}

static int bit(const uint64_t *bits, size_t nbits, uint64_t i)
{
	return i < nbits && (bits[i / 64] >> (i % 64)) & 1;
}

static unsigned popcount64(uint64_t x)
{
	x -= (x >> 1) & UINT64_C(0x5555555555555555);
	x = (x & UINT64_C(0x3333333333333333)) +
	    ((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}

/* Where fetched slot i's value is kept: the fetched slots before it. */
static size_t kept_slot(const parser *p, uint64_t i)
{
	uint64_t below = p->fetched[i / 64] & ((UINT64_C(1) << (i % 64)) - 1);

	return p->rank[i / 64] + popcount64(below);
}

/* A GET in the dropped part: the slot's kept value, or None in place of
 * what was not kept. */
static pickle_value *dropped_get(parser *p, uint64_t idx)
{
	if (bit(p->fetched, p->nbits, idx) && p->kept[kept_slot(p, idx)])
		return p->kept[kept_slot(p, idx)];
	if (!p->none)
		p->none = new_shared(p, PK_NONE);
	return p->none;
}

/* Counts memo slot idx as filled (MEMOIZE numbers slots by that count);
 * the bitmap grows for the slots past drop_from the scan did not see. */
static int fill_slot(parser *p, uint64_t idx)
{
	if (idx >= p->len)
		return fail(p, "memo index out of range");
	if (idx >= p->filled_bits) {
		size_t words = p->filled_bits / 64, nw = words ? words : 1;
		uint64_t *n;

		while (idx / 64 >= nw)
			nw *= 2;
		n = realloc(p->filled, nw * sizeof *n);
		if (!n)
			return oom(p);
		memset(n + words, 0, (nw - words) * sizeof *n);
		p->filled = n;
		p->filled_bits = nw * 64;
	}
	if (!bit(p->filled, p->filled_bits, idx)) {
		p->filled[idx / 64] |= UINT64_C(1) << (idx % 64);
		p->memo_n++;
	}
	return 0;
}

/* Streaming memo: a slot a GET reads later keeps (a copy of) the value,
 * the others are only counted (MEMOIZE numbers slots by that count). */
static int memo_put_stream(parser *p, uint64_t idx)
{
	pickle_value **v = &p->stack[p->sp - 1];
	size_t k;

	if (fill_slot(p, idx) != 0)
		return -1;
	if (!bit(p->fetched, p->nbits, idx))
		return 0;
	if (keep_all(p, v, 1) != 0)
		return -1;
	k = kept_slot(p, idx);
	p->kept[k] = *v; /* a PUT again at the slot replaces it, as in Python */
	return 0;
}

static int memo_put(parser *p, uint64_t idx)
{
	pickle_value *v = NULL;

	if (top(p, &v) != 0)
		return -1;
	if (p->main)
		return memo_put_stream(p, idx);
	/* Picklers number memo slots 0, 1, 2, ...: an index beyond the input
	 * length cannot be genuine and would size the memo from the file. */
	if (idx > p->len)
		return fail(p, "memo index out of range");
	if (idx >= p->memo_cap) {
		size_t cap = p->memo_cap ? p->memo_cap : 64;
		pickle_value **nm;

		while (cap <= idx)
			cap *= 2;
		nm = realloc(p->memo, cap * sizeof *nm);
		if (!nm)
			return oom(p);
		memset(nm + p->memo_cap, 0, (cap - p->memo_cap) * sizeof *nm);
		p->memo = nm;
		p->memo_cap = cap;
	}
	if (!p->memo[idx])
		p->memo_n++;
	p->memo[idx] = v;
	return 0;
}

static int op_put(parser *p, unsigned char op)
{
	uint64_t idx;

	if (op == 0x94) /* MEMOIZE */
		return memo_put(p, p->memo_n); /* memo[len(memo)] = top */
	if (take_uint(p, op == 'q' ? 1 : 4, &idx) != 0)
		return -1;
	return memo_put(p, idx);
}

static int op_get(parser *p, unsigned char op)
{
	uint64_t idx;

	if (take_uint(p, op == 'h' ? 1 : 4, &idx) != 0)
		return -1;
	if (p->main && p->dropping)
		return push(p, dropped_get(p, idx));
	if (p->main) {
		if (!bit(p->fetched, p->nbits, idx) ||
		    !p->kept[kept_slot(p, idx)])
			return fail(p, "memo index out of range");
		return push(p, p->kept[kept_slot(p, idx)]);
	}
	if (idx >= p->memo_cap || !p->memo[idx])
		return fail(p, "memo index out of range");
	return push(p, p->memo[idx]);
}

/* ---------------------------------------------------------------- handlers:
 * classes and objects (recorded, never called) */

static int push_global(parser *p, const char *mod, size_t mn, const char *name,
		       size_t nn)
{
	pickle_value *v = new_value(p, PK_GLOBAL);

	if (!v)
		return oom(p);
	v->u.glob.module = td_arena_strndup(p->arena, mod, mn);
	v->u.glob.name = td_arena_strndup(p->arena, name, nn);
	if (!v->u.glob.module || !v->u.glob.name)
		return oom(p);
	return push(p, v);
}

static int op_global(parser *p, unsigned char op)
{
	const char *mod, *name;
	size_t mn, nn;

	(void)op;
	if (take_line(p, &mod, &mn) != 0 || take_line(p, &name, &nn) != 0)
		return -1;
	return push_global(p, mod, mn, name, nn);
}

static int op_stack_global(parser *p, unsigned char op)
{
	pickle_value *mod, *name;

	(void)op;
	if (pop(p, &name) != 0 || pop(p, &mod) != 0)
		return -1;
	if (mod->kind != PK_STR || name->kind != PK_STR)
		return fail(p, "STACK_GLOBAL needs two strings");
	return push_global(p, mod->u.s.p, mod->u.s.n, name->u.s.p, name->u.s.n);
}

/* _codecs.encode(text, "latin1") is how protocol 2 spells bytes objects:
 * rebuild the bytes here, it is a pure function.  Returns NULL when the
 * call is not of that form. */
static pickle_value *codecs_encode(parser *p, const pickle_value *args)
{
	const pickle_value *text = pickle_item(args, 0), *enc = pickle_item(args, 1);
	unsigned char *out;
	size_t i, n = 0;
	pickle_value *v = NULL;

	if (pickle_len(args) != 2 || !text || text->kind != PK_STR || !enc ||
	    enc->kind != PK_STR || strcmp(enc->u.s.p, "latin1") != 0)
		return NULL;
	out = td_arena_alloc(p->arena, text->u.s.n + 1);
	if (!out)
		return NULL;
	for (i = 0; i < text->u.s.n; i++) {
		unsigned char c = (unsigned char)text->u.s.p[i];

		if (c < 0x80) {
			out[n++] = c;
		} else if ((c == 0xc2 || c == 0xc3) && i + 1 < text->u.s.n) {
			out[n++] = (unsigned char)(((c & 0x03) << 6) |
				   ((unsigned char)text->u.s.p[++i] & 0x3f));
		} else {
			return NULL; /* not latin-1 text */
		}
	}
	v = new_value(p, PK_BYTES);
	if (v) {
		v->u.s.p = (const char *)out;
		v->u.s.n = n;
	}
	return v;
}

static int is_builtin(const pickle_value *callable, const char *name)
{
	return pickle_is_global(callable, "builtins", name) ||
	       pickle_is_global(callable, "__builtin__", name);
}

/* Calls whose result is plain data, spelled the way protocols 2 and 3
 * must spell them: bytes, sets, OrderedDict.  Rebuilding them is safe
 * (no code runs); NULL means "not one of these, keep the call". */
static pickle_value *plain_data_call(parser *p, const pickle_value *callable,
				     const pickle_value *args)
{
	const pickle_value *items = pickle_item(args, 0);
	size_t n = args->u.seq.n;

	if (pickle_is_global(callable, "_codecs", "encode"))
		return codecs_encode(p, args);
	if (is_builtin(callable, "bytes") && n == 0)
		return new_string(p, PK_BYTES, "", 0);
	if (pickle_is_global(callable, "collections", "OrderedDict") && n == 0)
		return new_value(p, PK_DICT);
	if ((is_builtin(callable, "set") || is_builtin(callable, "frozenset"))
	    && n == 1 && items->kind == PK_LIST)
		return new_seq(p, is_builtin(callable, "set") ? PK_SET
							      : PK_FROZENSET,
			       items->u.seq.v, items->u.seq.n);
	return NULL;
}

static int op_reduce(parser *p, unsigned char op)
{
	pickle_value *callable = NULL, *args = NULL, *v;

	(void)op;
	if (pop(p, &args) != 0 || pop(p, &callable) != 0)
		return -1;
	if (args->kind != PK_TUPLE)
		return fail(p, "REDUCE arguments are not a tuple");
	v = callable == p->plain_no ? NULL : plain_data_call(p, callable, args);
	if (!v && callable->kind == PK_GLOBAL && !callable->scratch)
		p->plain_no = callable; /* kept: its address stays its own */
	if (!v)
		v = new_object(p, callable, args, 0);
	return push(p, v);
}

static int op_newobj(parser *p, unsigned char op)
{
	pickle_value *cls, *args, *kwargs = NULL, *v;

	if (op == 0x92 && pop(p, &kwargs) != 0) /* NEWOBJ_EX */
		return -1;
	if (pop(p, &args) != 0 || pop(p, &cls) != 0)
		return -1;
	if (args->kind != PK_TUPLE)
		return fail(p, "NEWOBJ arguments are not a tuple");
	v = new_object(p, cls, args, 1);
	if (v)
		v->u.obj->kwargs = kwargs;
	return push(p, v);
}

static int op_build(parser *p, unsigned char op)
{
	pickle_value *state, *obj;

	(void)op;
	if (pop(p, &state) != 0 || top(p, &obj) != 0)
		return -1;
	if (obj->kind != PK_OBJECT)
		return fail(p, "BUILD on something that is not an object");
	if (p->main && !obj->scratch && keep_all(p, &state, 1) != 0)
		return -1;
	obj->u.obj->state = state;
	return 0;
}

static int op_binpersid(parser *p, unsigned char op)
{
	pickle_value *id, *v;

	(void)op;
	if (pop(p, &id) != 0)
		return -1;
	v = new_value(p, PK_PERSID);
	if (v)
		v->u.pid = id;
	return push(p, v);
}

/* ---------------------------------------------------------------- handlers:
 * framing */

static int op_proto(parser *p, unsigned char op)
{
	uint64_t version;

	(void)op;
	if (take_uint(p, 1, &version) != 0)
		return -1;
	if (version > 5)
		return fail(p, "unsupported pickle protocol (above 5)");
	return 0;
}

static int op_frame(parser *p, unsigned char op)
{
	uint64_t n = 0;

	(void)op;
	if (take_uint(p, 8, &n) != 0)
		return -1;
	if (n > p->len - p->pos)
		return fail(p, "frame runs past the end of the input");
	return 0; /* frames only group opcodes; parse straight through */
}

static int op_stop(parser *p, unsigned char op)
{
	(void)op;
	if (p->sp != 1 || p->nmarks != 0)
		return fail(p, "STOP with an unbalanced stack");
	if (p->main && keep_all(p, p->stack, 1) != 0)
		return -1;
	p->result = p->stack[0];
	return 0;
}

static const handler handlers[256] = {
	['N'] = op_none, [0x88] = op_bool, [0x89] = op_bool,
	['J'] = op_binint, ['K'] = op_binint, ['M'] = op_binint,
	[0x8a] = op_long, [0x8b] = op_long, ['G'] = op_binfloat,
	['T'] = op_counted, ['U'] = op_counted, ['B'] = op_counted,
	['C'] = op_counted, ['X'] = op_counted, [0x8c] = op_counted,
	[0x8d] = op_counted, [0x8e] = op_counted, [0x96] = op_counted,
	['('] = op_mark, [')'] = op_empty, [']'] = op_empty, ['}'] = op_empty,
	[0x8f] = op_empty, [0x85] = op_tuple_n, [0x86] = op_tuple_n,
	[0x87] = op_tuple_n, ['t'] = op_from_mark, ['l'] = op_from_mark,
	['d'] = op_from_mark, [0x91] = op_from_mark, ['a'] = op_append,
	['e'] = op_appends, [0x90] = op_appends, ['s'] = op_setitem,
	['u'] = op_setitems, ['0'] = op_pop, ['1'] = op_pop, ['2'] = op_dup,
	['q'] = op_put, ['r'] = op_put, [0x94] = op_put, ['h'] = op_get,
	['j'] = op_get, ['c'] = op_global, [0x93] = op_stack_global,
	['R'] = op_reduce, [0x81] = op_newobj, [0x92] = op_newobj,
	['b'] = op_build, ['Q'] = op_binpersid, [0x80] = op_proto,
	[0x95] = op_frame, ['.'] = op_stop,
};

static int run(parser *p)
{
	while (!p->result) {
		unsigned char op;
		handler h;

		p->op_pos = p->pos;
		if (p->pos >= p->len)
			return fail(p, "truncated input (no STOP)");
		op = p->buf[p->pos++];
		h = handlers[op];
		if (!h)
			return fail(p, "unsupported or invalid opcode");
		if (h(p, op) != 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- streaming:
 * the pre-scan finds the memo slots that are ever read */

/* How each opcode's argument is laid out (A_BAD: not an opcode we
 * read); the table lists the opcodes of `handlers`. */
enum { A_BAD, A_NONE, A_FIXED1, A_FIXED2, A_FIXED4, A_FIXED8, A_COUNT1,
       A_COUNT4, A_COUNT8, A_LINES };

static const unsigned char arg_kind[256] = {
	['N'] = A_NONE, [0x88] = A_NONE, [0x89] = A_NONE, ['('] = A_NONE,
	[')'] = A_NONE, [']'] = A_NONE, ['}'] = A_NONE, [0x8f] = A_NONE,
	[0x85] = A_NONE, [0x86] = A_NONE, [0x87] = A_NONE, ['t'] = A_NONE,
	['l'] = A_NONE, ['d'] = A_NONE, [0x91] = A_NONE, ['a'] = A_NONE,
	['e'] = A_NONE, [0x90] = A_NONE, ['s'] = A_NONE, ['u'] = A_NONE,
	['0'] = A_NONE, ['1'] = A_NONE, ['2'] = A_NONE, [0x94] = A_NONE,
	[0x93] = A_NONE, ['R'] = A_NONE, [0x81] = A_NONE, [0x92] = A_NONE,
	['b'] = A_NONE, ['Q'] = A_NONE, ['.'] = A_NONE,
	['K'] = A_FIXED1, [0x80] = A_FIXED1, ['q'] = A_FIXED1, ['h'] = A_FIXED1,
	['M'] = A_FIXED2, ['J'] = A_FIXED4, ['r'] = A_FIXED4, ['j'] = A_FIXED4,
	['G'] = A_FIXED8, [0x95] = A_FIXED8,
	[0x8a] = A_COUNT1, ['U'] = A_COUNT1, ['C'] = A_COUNT1, [0x8c] = A_COUNT1,
	[0x8b] = A_COUNT4, ['T'] = A_COUNT4, ['B'] = A_COUNT4, ['X'] = A_COUNT4,
	[0x8d] = A_COUNT8, [0x8e] = A_COUNT8, [0x96] = A_COUNT8,
	['c'] = A_LINES,
};

static const unsigned char arg_width[] = {
	[A_FIXED1] = 1, [A_FIXED2] = 2, [A_FIXED4] = 4, [A_FIXED8] = 8,
	[A_COUNT1] = 1, [A_COUNT4] = 4, [A_COUNT8] = 8,
};

/* One opcode of the scan. */
typedef struct scan_op {
	unsigned char op;
	size_t at;           /* its offset */
	uint64_t arg;        /* fixed-width argument (PUT/GET index) */
	size_t str, strn;    /* counted argument: offset and length */
} scan_op;

/* Reads the opcode at *pos and skips its argument: 0, or -1 at an
 * opcode we do not read or a truncated argument. */
static int scan_next(const unsigned char *b, size_t len, size_t *pos,
		     scan_op *o)
{
	unsigned kind, w;
	int i;

	o->at = *pos;
	o->op = b[(*pos)++];
	o->strn = SIZE_MAX;
	kind = arg_kind[o->op];
	if (kind == A_NONE) /* the common cases first */
		return 0;
	if (kind == A_FIXED1 && *pos < len) {
		o->arg = b[(*pos)++];
		return 0;
	}
	if (kind == A_COUNT1 && *pos < len && b[*pos] < len - *pos) {
		o->strn = o->arg = b[*pos];
		o->str = *pos + 1;
		*pos += 1 + o->strn;
		return 0;
	}
	w = kind < sizeof arg_width ? arg_width[kind] : 0;
	if (kind == A_BAD || w > len - *pos)
		return -1;
	if (kind == A_LINES) { /* GLOBAL: two lines */
		for (i = 0; i < 2; i++) {
			const unsigned char *nl = memchr(b + *pos, '\n', len - *pos);

			if (!nl)
				return -1;
			*pos = (size_t)(nl - b) + 1;
		}
		return 0;
	}
	o->arg = w ? td_le(b + *pos, (int)w) : 0;
	*pos += w;
	if (kind < A_COUNT1)
		return 0;
	if (o->arg > len - *pos)
		return -1;
	o->str = *pos;
	o->strn = (size_t)o->arg;
	*pos += o->strn;
	return 0;
}

/* ---------------------------------------------------------------- streaming:
 * the dropped value, walked without building it */

/* Stack effect of an opcode: `pop` values (DOWN_TO_MARK: down to the last
 * MARK, which goes too), then `push`.  MARK itself is SET_MARK. */
enum { DOWN_TO_MARK = -1, SET_MARK = -2 };

typedef struct effect {
	signed char pop, push;
} effect;

static effect stack_effect(unsigned char op)
{
	switch (op) {
	case '(':  return (effect){SET_MARK, 0};
	case 0x85: return (effect){1, 1};
	case 0x86: return (effect){2, 1};
	case 0x87: return (effect){3, 1};
	case 't': case 'l': case 'd': case 0x91:
		return (effect){DOWN_TO_MARK, 1};
	case 'e': case 0x90: case 'u': case '1':
		return (effect){DOWN_TO_MARK, 0};
	case 'a': case '0': case 'b':
		return (effect){1, 0};
	case 's':  return (effect){2, 0};
	case '2':  return (effect){0, 1};
	case 0x93: case 'R': case 0x81:
		return (effect){2, 1};
	case 0x92: return (effect){3, 1};
	case 'Q':  return (effect){1, 1};
	case 'q': case 'r': case 0x94: case 0x80: case 0x95:
		return (effect){0, 0};
	default:   return (effect){0, 1}; /* values, GET, GLOBAL */
	}
}

/* A PUT or MEMOIZE in the dropped value: the slot counts as filled (so
 * later MEMOIZEs number theirs as they would) but holds nothing. */
static int skip_memo(parser *p, const scan_op *o)
{
	return fill_slot(p, o->op == 0x94 ? p->memo_n : o->arg);
}

/* The MARKs the dropped value sets, as stack depths. */
typedef struct marks {
	size_t *d;
	size_t n, cap;
} marks;

static int marks_push(marks *m, size_t depth)
{
	size_t *nd = td_grow(m->d, m->n, &m->cap, sizeof *nd, 16);

	if (!nd)
		return -1;
	m->d = nd;
	m->d[m->n++] = depth;
	return 0;
}

/* The depth after op's pops, or SIZE_MAX when they reach below `base`
 * (the op then belongs to the caller's parse). */
static size_t after_pops(const marks *m, effect e, size_t depth, size_t base)
{
	if (e.pop == DOWN_TO_MARK)
		return m->n ? m->d[m->n - 1] : SIZE_MAX;
	return depth >= base + (size_t)e.pop ? depth - (size_t)e.pop : SIZE_MAX;
}

/* Walks the ops of the dropped value (the one after the drop_from string
 * just pushed) tracking only the stack depth, up to the op that would
 * take it below the string: the parse resumes there, with None in place
 * of the value. */
static int skip_dropped(parser *p)
{
	size_t base = p->sp, depth = p->sp, mark_limit = p->lim.max_marks;
	marks m = {0};
	scan_op o = {0};
	int rc = 0;

	for (;;) {
		size_t at = p->pos, next;
		effect e;

		p->op_pos = at;
		if (p->pos >= p->len ||
		    scan_next(p->buf, p->len, &p->pos, &o) != 0 || o.op == '.') {
			rc = fail(p, o.op == '.' && p->pos <= p->len
				     ? "STOP inside a dropped value"
				     : "unsupported, invalid or truncated opcode");
			break;
		}
		e = stack_effect(o.op);
		if (e.pop == SET_MARK) {
			rc = m.n >= mark_limit
			     ? fail(p, "MARKs nested deeper than the limit")
			     : marks_push(&m, depth) != 0
			     ? fail(p, "out of memory") : 0;
			if (rc)
				break;
			continue;
		}
		next = after_pops(&m, e, depth, base);
		if (next == SIZE_MAX || next < base) { /* the caller's op */
			p->pos = at;
			break;
		}
		if (e.pop == DOWN_TO_MARK)
			m.n--;
		depth = next + (size_t)e.push;
		if ((o.op == 'q' || o.op == 'r' || o.op == 0x94) &&
		    (rc = skip_memo(p, &o)) != 0)
			break;
	}
	free(m.d);
	if (rc != 0)
		return rc;
	if (depth > base + 1)
		return fail(p, "values follow the dropped one in the same "
			    "container (not supported)");
	if (depth == base + 1)
		return push(p, p->none ? p->none : (p->none = new_shared(p,
								 PK_NONE)));
	return 0;
}

/* The rank table and one kept slot per fetched memo slot. */
static int make_ranks(parser *p)
{
	size_t w, nw = p->nbits / 64, n = 0; /* nbits: whole words */

	p->rank = malloc((nw ? nw : 1) * sizeof *p->rank);
	if (!p->rank)
		return oom(p);
	for (w = 0; w < nw; w++) {
		p->rank[w] = (uint32_t)n;
		n += popcount64(p->fetched[w]);
	}
	if (n > UINT32_MAX)
		return oom(p);
	p->kept = calloc(n ? n : 1, sizeof *p->kept);
	return p->kept ? 0 : oom(p);
}

static void set_bit(uint64_t *bits, uint64_t i)
{
	bits[i / 64] |= UINT64_C(1) << (i % 64);
}

static int is_str_op(unsigned char op)
{
	return op == 0x8c || op == 'X' || op == 0x8d;
}

/* The scan's two bitmaps, grown together as slots appear. */
typedef struct scan_bits {
	uint64_t *filled, *fetched;
	size_t words;
} scan_bits;

static int grow_bits(scan_bits *sb, uint64_t slot)
{
	size_t words = sb->words ? sb->words : 64, i;
	uint64_t **maps[2] = {&sb->filled, &sb->fetched};

	if (slot / 64 < sb->words)
		return 0;
	while (slot / 64 >= words)
		words *= 2;
	for (i = 0; i < 2; i++) {
		uint64_t *n = realloc(*maps[i], words * sizeof *n);

		if (!n)
			return -1;
		memset(n + sb->words, 0, (words - sb->words) * sizeof *n);
		*maps[i] = n;
	}
	sb->words = words;
	return 0;
}

/* One scan of buf[from, to): the memo slots its GETs read, and where it
 * stopped.  `to` is where the next range starts, or the end. */
typedef struct scan_range {
	const parser *p;
	size_t from, to;
	scan_bits sb;
	size_t nfilled;     /* PUT/MEMOIZE slots filled (in this range) */
	size_t stop;        /* the offset the scan reached */
	size_t drop_pos;    /* the drop_from string's offset, or SIZE_MAX */
	int oom, ended;     /* ended: STOP, a malformed op or drop_from */
} scan_range;

/* One opcode's effect on the bitmaps: PUT/MEMOIZE fill a slot, GET
 * marks it fetched (slots below the input's length only: any other is
 * not genuine, and the parse says so).  A range after the first numbers
 * MEMOIZE slots from 0: its `filled` map is not used, only its GETs. */
static int scan_memo(scan_range *r, const scan_op *o)
{
	uint64_t slot = o->op == 0x94 ? r->nfilled : o->arg;
	scan_bits *sb = &r->sb;
	int get = o->op == 'h' || o->op == 'j';

	if (slot >= r->p->len || !(get || o->op == 'q' || o->op == 'r' ||
				  o->op == 0x94))
		return 0;
	if (slot / 64 >= sb->words && grow_bits(sb, slot) != 0)
		return -1;
	if (get) {
		set_bit(sb->fetched, slot);
	} else if (!bit(sb->filled, sb->words * 64, slot)) {
		set_bit(sb->filled, slot);
		r->nfilled++;
	}
	return 0;
}

static void *scan_range_run(void *arg)
{
	scan_range *r = arg;
	const parser *p = r->p;
	size_t pos = r->from;
	size_t dl = p->drop_from ? strlen(p->drop_from) : 0;
	scan_op o = {0};

	r->drop_pos = SIZE_MAX;
	if (!r->oom) /* a rescan goes on from where an earlier one stopped */
		r->oom = grow_bits(&r->sb, 0) != 0;
	while (!r->oom && pos < r->to) {
		if (scan_next(p->buf, p->len, &pos, &o) != 0 || o.op == '.') {
			r->ended = 1;
			break;
		}
		if (dl && is_str_op(o.op) && o.strn == dl &&
		    memcmp(p->buf + o.str, p->drop_from, dl) == 0) {
			r->drop_pos = o.at;
			r->ended = 1;
			break;
		}
		r->oom = scan_memo(r, &o) != 0;
	}
	r->stop = pos;
	return NULL;
}

/* Protocol 4+ pickles come in FRAMEs (64 KiB from CPython), each starting
 * at an opcode: the first frame start past the middle, hopping from frame
 * to frame, or 0 when there is none.  The first range's scan confirms it
 * by stopping exactly there. */
static size_t middle_frame(const parser *p)
{
	size_t pos = 2, half = p->len / 2;

	if (!p->lim.two_threads_from || p->len < p->lim.two_threads_from ||
	    p->len < 2 || p->buf[0] != 0x80)
		return 0;
	while (pos < half && p->len - pos > 9 && p->buf[pos] == 0x95) {
		uint64_t n = td_le(p->buf + pos + 1, 8);

		if (n > p->len - pos - 9)
			return 0;
		pos += 9 + (size_t)n;
	}
	return pos >= half && pos < p->len && p->buf[pos] == 0x95 ? pos : 0;
}

/* `into` gains the GETs of `r` (a later range that was not dropped). */
static int merge_fetched(scan_range *into, const scan_range *r)
{
	size_t w;

	if (r->sb.words > into->sb.words &&
	    grow_bits(&into->sb, r->sb.words * 64 - 1) != 0)
		return -1;
	for (w = 0; w < r->sb.words; w++)
		into->sb.fetched[w] |= r->sb.fetched[w];
	into->drop_pos = r->drop_pos;
	return 0;
}

/* Scans the first half here and the second on another thread when the
 * frames allow it (the scan is a seventh of the catalog's time); on any
 * doubt about the split, the first half's scan just goes on. */
static int scan_all(parser *p, scan_range *a)
{
	scan_range b = {.p = p, .to = p->len};
	pthread_t t;
	int two;

	a->p = p;
	a->to = b.from = middle_frame(p);
	two = a->to && pthread_create(&t, NULL, scan_range_run, &b) == 0;
	if (!two)
		a->to = p->len;
	scan_range_run(a);
	if (two) {
		pthread_join(t, NULL);
		if (!a->ended && !a->oom && a->stop == b.from && !b.oom) {
			a->oom = merge_fetched(a, &b) != 0;
		} else if (!a->ended && !a->oom) { /* not an opcode boundary */
			a->from = a->stop;
			a->to = p->len;
			scan_range_run(a);
		}
		free(b.sb.filled);
		free(b.sb.fetched);
	}
	return a->oom ? oom(p) : 0;
}

/* One pass over the opcodes marks the memo slots a GET reads, up to the
 * drop_from string (past it nothing not kept is read).  A malformed
 * stream just ends the scan: the parse itself reports it. */
static int prescan(parser *p)
{
	scan_range a = {0};
	int rc = scan_all(p, &a);

	p->drop_pos = a.drop_pos;
	p->fetched = a.sb.fetched;
	p->filled = a.sb.filled;
	p->nbits = p->filled_bits = a.sb.words * 64;
	if (rc != 0)
		return rc;
	memset(p->filled, 0, a.sb.words * sizeof *p->filled);
	return make_ranks(p);
}

static void parser_free(parser *p)
{
	free(p->stack);
	free(p->marks);
	free(p->memo);
	free(p->fetched);
	free(p->filled);
	free(p->rank);
	free(p->kept);

	if (p->main) /* streaming: p->arena is the scratch arena */
		td_arena_free(p->arena);
}

static pickle_doc *parse(parser *p, const pickle_limits *lim, int stream)
{
	pickle_doc *doc = calloc(1, sizeof *doc);
	td_arena *docarena;

	p->lim = lim ? *lim : default_limits;
	docarena = td_arena_new(p->lim.max_memory);
	if (stream) {
		p->main = docarena;
		p->arena = td_arena_new(p->lim.max_memory);
	} else {
		p->arena = docarena;
	}
	if (stream && !docarena && p->arena) { /* parser_free would keep it */
		td_arena_free(p->arena);
		p->arena = NULL;
	}
	if (!doc || !docarena || !p->arena) {
		td_errf(p->err, "pickle: out of memory");
		goto fail;
	}
	if ((stream && prescan(p) != 0) || run(p) != 0)
		goto fail;
	doc->arena = docarena;
	doc->root = p->result;
	parser_free(p);
	return doc;
fail:
	parser_free(p);
	td_arena_free(docarena);
	free(doc);
	return NULL;
}

pickle_doc *pickle_parse(const unsigned char *buf, size_t len, const pickle_limits *lim,
			 td_err *err)
{
	parser p = {.buf = buf, .len = len, .err = err, .drop_pos = SIZE_MAX};

	return parse(&p, lim, 0);
}

pickle_doc *pickle_parse_stream(const unsigned char *buf, size_t len,
				const pickle_limits *lim, pickle_items_fn on_items, void *ctx,
				const char *drop_from, td_err *err)
{
	parser p = {.buf = buf, .len = len, .err = err, .on_items = on_items,
		    .ctx = ctx, .drop_from = drop_from, .drop_pos = SIZE_MAX};

	return parse(&p, lim, 1);
}

void pickle_doc_free(pickle_doc *doc)
{
	if (!doc)
		return;
	td_arena_free(doc->arena);
	free(doc);
}

const pickle_value *pickle_root(const pickle_doc *doc)
{
	return doc ? doc->root : NULL;
}
