/* pickle_value.c — reading the value tree that pickle.c builds. */
#include "pickle.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPR_DEPTH 4
#define REPR_ITEMS 8

const char *pickle_kind_name(pickle_kind k)
{
	static const char *const names[] = {
		"None", "bool", "int", "int", "float", "str", "bytes", "tuple",
		"list", "dict", "set", "frozenset", "global", "object",
		"persistent id",
	};

	return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static const pickle_value *callable_of(const pickle_value *v)
{
	return v && v->kind == PK_OBJECT ? v->u.obj->callable : v;
}

int pickle_is_global(const pickle_value *v, const char *module, const char *name)
{
	return v && v->kind == PK_GLOBAL && strcmp(v->u.glob.module, module) == 0
	       && strcmp(v->u.glob.name, name) == 0;
}

int pickle_is_instance(const pickle_value *v, const char *module, const char *name)
{
	return v && v->kind == PK_OBJECT &&
	       pickle_is_global(callable_of(v), module, name);
}

const char *pickle_str(const pickle_value *v)
{
	return v && v->kind == PK_STR ? v->u.s.p : NULL;
}

size_t pickle_len(const pickle_value *seq)
{
	if (!seq || (seq->kind != PK_TUPLE && seq->kind != PK_LIST))
		return 0;
	return seq->u.seq.n;
}

const pickle_value *pickle_item(const pickle_value *seq, size_t i)
{
	return i < pickle_len(seq) ? seq->u.seq.v[i] : NULL;
}

static const pickle_value *pairs_get(const pickle_vec *kv, const char *key)
{
	size_t i;

	for (i = 0; i + 1 < kv->n; i += 2) {
		const char *k = pickle_str(kv->v[i]);

		if (k && k[0] == key[0] && strcmp(k, key) == 0)
			return kv->v[i + 1];
	}
	return NULL;
}

const pickle_value *pickle_dict_get(const pickle_value *dict, const char *key)
{
	if (!dict)
		return NULL;
	if (dict->kind == PK_DICT)
		return pairs_get(&dict->u.seq, key);
	if (dict->kind == PK_OBJECT)
		return pairs_get(&dict->u.obj->dict_items, key);
	return NULL;
}

const pickle_value *pickle_attr(const pickle_value *obj, const char *name)
{
	const pickle_value *state, *v;
	size_t i;

	if (!obj || obj->kind != PK_OBJECT || !obj->u.obj->state)
		return NULL;
	state = obj->u.obj->state;
	if (state->kind == PK_DICT)
		return pickle_dict_get(state, name);
	/* (dict-or-None, slots-dict) as written for classes with __slots__ */
	for (i = 0; i < 2 && state->kind == PK_TUPLE; i++) {
		v = pickle_dict_get(pickle_item(state, i), name);
		if (v)
			return v;
	}
	return NULL;
}

int pickle_int_tuple(const pickle_value *v, int64_t *out, int max)
{
	size_t i, n;

	if (pickle_is_instance(v, "torch", "Size"))
		v = pickle_item(v->u.obj->args, 0);
	if (!v || (v->kind != PK_TUPLE && v->kind != PK_LIST))
		return -1;
	n = v->u.seq.n;
	if (n > (size_t)max)
		return -1;
	for (i = 0; i < n; i++) {
		if (v->u.seq.v[i]->kind != PK_INT)
			return -1;
		out[i] = v->u.seq.v[i]->u.i;
	}
	return (int)n;
}

/* ---------------------------------------------------------------- repr */

void pickle_float_repr(double f, char *buf, size_t size)
{
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, f);
		if (strtod(buf, NULL) == f)
			break;
	}
	if (!strpbrk(buf, ".eni") && strlen(buf) + 2 < size)
		strcat(buf, ".0");
}

typedef struct sbuf {
	char *p;
	size_t size, len;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) TD_PRINTF(2, 3);

static void put(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len + 1 >= b->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n < b->size - b->len ? (size_t)n
						       : b->size - b->len - 1;
}

static void repr(sbuf *b, const pickle_value *v, int depth);

/* Items of vec between open and close; pairs: key: value; a tuple of one
 * gets Python's trailing comma (open "(," marks a tuple). */
static void repr_seq(sbuf *b, const pickle_vec *vec, const char *open,
		     const char *close, int pairs, int depth)
{
	size_t i, step = pairs ? 2 : 1;

	put(b, "%c", open[0]);
	for (i = 0; i + step - 1 < vec->n; i += step) {
		if (i / step >= REPR_ITEMS) {
			put(b, ", ...");
			break;
		}
		if (i)
			put(b, ", ");
		repr(b, vec->v[i], depth + 1);
		if (pairs) {
			put(b, ": ");
			repr(b, vec->v[i + 1], depth + 1);
		}
	}
	if (vec->n == 1 && open[1] == ',')
		put(b, ",");
	put(b, "%s", close);
}

static void repr_object(sbuf *b, const pickle_value *v, int depth)
{
	const pickle_object *o = v->u.obj;

	repr(b, o->callable, depth + 1);
	repr_seq(b, &o->args->u.seq, "(", ")", 0, depth);
	if (o->state) {
		put(b, "{state=");
		repr(b, o->state, depth + 1);
		put(b, "}");
	}
}

static void repr(sbuf *b, const pickle_value *v, int depth)
{
	if (depth > REPR_DEPTH) {
		put(b, "...");
		return;
	}
	switch (v->kind) {
	case PK_NONE:   put(b, "None"); break;
	case PK_BOOL:   put(b, "%s", v->u.b ? "True" : "False"); break;
	case PK_INT:    put(b, "%" PRId64, v->u.i); break;
	case PK_BIGINT: put(b, "<%zu-byte int>", v->u.s.n); break;
	case PK_FLOAT: {
		char f[32];

		pickle_float_repr(v->u.f, f, sizeof f);
		put(b, "%s", f);
		break;
	}
	case PK_STR:    put(b, "'%s'", v->u.s.p); break;
	case PK_BYTES:  put(b, "<%zu bytes>", v->u.s.n); break;
	case PK_TUPLE:  repr_seq(b, &v->u.seq, "(,", ")", 0, depth); break;
	case PK_LIST:   repr_seq(b, &v->u.seq, "[", "]", 0, depth); break;
	case PK_DICT:   repr_seq(b, &v->u.seq, "{", "}", 1, depth); break;
	case PK_SET:
	case PK_FROZENSET: repr_seq(b, &v->u.seq, "{", "}", 0, depth); break;
	case PK_GLOBAL: put(b, "%s.%s", v->u.glob.module, v->u.glob.name); break;
	case PK_OBJECT: repr_object(b, v, depth); break;
	case PK_PERSID: put(b, "<persistent id>"); break;
	}
}

void pickle_repr(const pickle_value *v, char *buf, size_t size)
{
	sbuf b = {buf, size, 0};

	if (!size)
		return;
	buf[0] = '\0';
	if (v)
		repr(&b, v, 0);
}
