/* pickle.h — a safe reader for Python pickles (protocols 2 to 5).
 *
 * It builds a tree of values and never executes or imports anything:
 * GLOBAL/STACK_GLOBAL yield a PK_GLOBAL naming a class, and REDUCE,
 * NEWOBJ, NEWOBJ_EX and BUILD yield PK_OBJECT nodes recording the
 * callable, its arguments and the state.  Readers of the tree interpret
 * the few classes they know (torch.Size, _rebuild_tensor_v2, ...).
 *
 * Values may be shared (memo) and lists may even contain themselves, so
 * anything walking the tree recursively must carry a depth limit.  The
 * tree lives in one arena freed by pickle_doc_free. */
#ifndef TD_PICKLE_H
#define TD_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

typedef enum pickle_kind {
	PK_NONE,
	PK_BOOL,
	PK_INT,       /* fits in int64 */
	PK_BIGINT,    /* s: little-endian two's complement bytes */
	PK_FLOAT,
	PK_STR,       /* s: UTF-8 bytes, NUL-terminated copy */
	PK_BYTES,     /* s: raw bytes, NUL-terminated copy */
	PK_TUPLE,
	PK_LIST,
	PK_DICT,      /* seq holds key, value, key, value, ... */
	PK_SET,
	PK_FROZENSET,
	PK_GLOBAL,    /* glob: module and name, e.g. torch, Size */
	PK_OBJECT,    /* obj: result of REDUCE / NEWOBJ (+ BUILD) */
	PK_PERSID     /* pid: the persistent id value (BINPERSID) */
} pickle_kind;

typedef struct pickle_value pickle_value;

typedef struct pickle_vec {
	pickle_value **v;
	uint32_t n, cap;  /* the arena's limit keeps counts far below 2^32 */
} pickle_vec;

typedef struct pickle_object {
	pickle_value *callable;  /* usually a PK_GLOBAL */
	pickle_value *args;      /* PK_TUPLE (NULL never) */
	pickle_value *kwargs;    /* NEWOBJ_EX only, else NULL */
	pickle_value *state;     /* BUILD's argument, NULL if none */
	pickle_vec items;        /* APPEND(S) onto the object */
	pickle_vec dict_items;   /* SETITEM(S) onto the object: key, value, ... */
	int newobj;          /* created by NEWOBJ/NEWOBJ_EX (cls.__new__) */
} pickle_object;

struct pickle_value {
	pickle_kind kind;
	unsigned char scratch;  /* streaming: not yet kept (internal) */
	union {
		int b;
		int64_t i;
		double f;
		struct { const char *p; size_t n; } s;
		pickle_vec seq;
		struct { const char *module, *name; } glob;
		pickle_object *obj;
		pickle_value *pid;
	} u;
};

typedef struct pickle_limits {
	size_t max_stack;   /* values on the stack */
	size_t max_marks;   /* nested MARKs */
	size_t max_memory;  /* arena bytes for the whole tree */
	size_t two_threads_from; /* streaming: inputs this long or longer, in
				  * FRAMEs, are pre-scanned in two halves on
				  * two threads (0: never) */
} pickle_limits;

typedef struct pickle_doc pickle_doc;

/* Parses buf[0..len).  lim may be NULL for defaults.  On error returns
 * NULL and err says "pickle: <problem> at offset N". */
pickle_doc *pickle_parse(const unsigned char *buf, size_t len, const pickle_limits *lim,
			 td_err *err);
void pickle_doc_free(pickle_doc *doc);

/* Streaming: on_items sees every batch of items about to be added to a
 * container: SETITEM(S) pairs (key, value, key, value, ...; is_dict 1)
 * and APPEND(S) values (is_dict 0), onto `target`.  It returns 1 when it
 * consumed them (they are not stored, and the memory of everything built
 * for them is reclaimed soon after), 0 to store them, or -1 to stop the
 * parse (it has then set err).  It must not keep pointers to the values
 * it is shown.  Memory is then bounded by what is kept, not by the
 * input: values are built in a scratch arena, and copied into the
 * document only when stored, memoized and fetched again later (a
 * pre-scan of the opcodes finds which memo entries are ever read), or
 * left on the stack when the scratch arena is emptied.
 *
 * drop_from (NULL: none) names a string (a dict key such as
 * "all_local_plans") from which on the caller drops everything: the
 * value after it is skipped without being built and reads None (values
 * after it in the same container are refused), and later GETs of memo
 * entries not kept before it read None. */
typedef int (*pickle_items_fn)(void *ctx, const pickle_value *target,
			       pickle_value *const *items, size_t n, int is_dict,
			       td_err *err);

pickle_doc *pickle_parse_stream(const unsigned char *buf, size_t len,
				const pickle_limits *lim, pickle_items_fn on_items, void *ctx,
				const char *drop_from, td_err *err);
const pickle_value *pickle_root(const pickle_doc *doc);

/* ---- helpers for readers of the tree (all NULL-safe) ---- */

/* v is a GLOBAL module.name, or an OBJECT whose callable is. */
int pickle_is_global(const pickle_value *v, const char *module, const char *name);
int pickle_is_instance(const pickle_value *v, const char *module, const char *name);

/* Value of string key `key` in a DICT (or in an OBJECT's dict_items). */
const pickle_value *pickle_dict_get(const pickle_value *dict, const char *key);

/* Attribute of an object whose state is a dict (dataclasses, Namespace);
 * also accepts the (None, slots) and (dict, slots) state forms. */
const pickle_value *pickle_attr(const pickle_value *obj, const char *name);

/* Item i of a TUPLE or LIST, NULL when out of range. */
const pickle_value *pickle_item(const pickle_value *seq, size_t i);
size_t pickle_len(const pickle_value *seq);

/* A sequence of ints: TUPLE/LIST of INT, or torch.Size(tuple).  Returns
 * its length (<= max stored in out), or -1 if v is not one. */
int pickle_int_tuple(const pickle_value *v, int64_t *out, int max);

/* A string value (PK_STR) or NULL. */
const char *pickle_str(const pickle_value *v);

/* Short Python-like rendering, truncated to size-1 chars, depth-limited. */
void pickle_repr(const pickle_value *v, char *buf, size_t size);

/* Python's repr of a float: the shortest text that reads back exactly,
 * with ".0" on integral values ("1e-06", "0.5", "3.0"). */
void pickle_float_repr(double f, char *buf, size_t size);

const char *pickle_kind_name(pickle_kind k);

#endif
