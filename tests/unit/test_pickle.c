/* Pickle reader: values written by CPython's pickle (protocols 2-5, see
 * tests/fixtures/gen/gen_format_vectors.py) and hand-made broken input. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/reader/pickle.h"
#include "helpers.h"
#include "suites.h"

static pickle_doc *load(const char *name, int proto)
{
	char rel[256];
	unsigned char *buf;
	size_t len;
	pickle_doc *doc;
	td_err err;

	snprintf(rel, sizeof rel, "tests/fixtures/pickle/%s_p%d.pkl", name,
		 proto);
	buf = read_all(src_path(rel), &len);
	doc = pickle_parse(buf, len, NULL, &err);
	free(buf);
	if (!doc)
		fprintf(stderr, "%s: %s\n", rel, err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	return doc;
}

/* Parses an inline pickle expected to fail; checks the message. */
static void expect_error(const char *bytes, size_t len, const char *needle,
			 const pickle_limits *lim)
{
	td_err err = {{0}};
	pickle_doc *doc = pickle_parse((const unsigned char *)bytes, len, lim, &err);

	CU_ASSERT_PTR_NULL(doc);
	pickle_doc_free(doc);
	if (!strstr(err.msg, needle))
		fprintf(stderr, "\n  wanted '%s', got '%s'\n", needle, err.msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "at offset"));
}

#define EXPECT_ERROR(lit, needle) expect_error(lit, sizeof(lit) - 1, needle, NULL)

static void test_ints(void)
{
	static const int64_t want[] = {
		0, 1, -1, 255, 256, 65535, 65536, -65536, 2147483647,
		-2147483648LL, 2147483648LL, INT64_MAX, INT64_MIN,
	};
	int proto;
	size_t i;

	for (proto = 2; proto <= 5; proto++) {
		pickle_doc *doc = load("ints", proto);
		const pickle_value *l = pickle_root(doc), *big, *neg;

		CU_ASSERT_EQUAL_FATAL(l->kind, PK_LIST);
		CU_ASSERT_EQUAL_FATAL(pickle_len(l), 15);
		for (i = 0; i < 13; i++) {
			CU_ASSERT_EQUAL(pickle_item(l, i)->kind, PK_INT);
			CU_ASSERT_EQUAL(pickle_item(l, i)->u.i, want[i]);
		}
		big = pickle_item(l, 13); /* 2**64: 9 bytes, 00 x8 then 01 */
		CU_ASSERT_EQUAL(big->kind, PK_BIGINT);
		CU_ASSERT_EQUAL(big->u.s.n, 9);
		CU_ASSERT_EQUAL((unsigned char)big->u.s.p[8], 1);
		neg = pickle_item(l, 14); /* -2**70: 9 bytes, top byte 0xc0 */
		CU_ASSERT_EQUAL(neg->kind, PK_BIGINT);
		CU_ASSERT_EQUAL((unsigned char)neg->u.s.p[neg->u.s.n - 1], 0xc0);
		pickle_doc_free(doc);
	}
}

static void test_floats(void)
{
	static const double want[] = {0.0, 1.5, -2.25, 1e-06, 1e300};
	int proto;
	size_t i;

	for (proto = 2; proto <= 5; proto++) {
		pickle_doc *doc = load("floats", proto);
		const pickle_value *l = pickle_root(doc);

		CU_ASSERT_EQUAL_FATAL(pickle_len(l), 5);
		for (i = 0; i < 5; i++) {
			CU_ASSERT_EQUAL(pickle_item(l, i)->kind, PK_FLOAT);
			CU_ASSERT_EQUAL(pickle_item(l, i)->u.f, want[i]);
		}
		pickle_doc_free(doc);
	}
}

static void check_bytes(const pickle_value *v, const char *want, size_t n)
{
	CU_ASSERT_EQUAL_FATAL(v->kind, PK_BYTES);
	CU_ASSERT_EQUAL_FATAL(v->u.s.n, n);
	CU_ASSERT(memcmp(v->u.s.p, want, n) == 0);
}

static void test_strings(void)
{
	char xs[300], ys[300];
	int proto;

	memset(xs, 'x', sizeof xs);
	memset(ys, 'y', sizeof ys);
	for (proto = 2; proto <= 5; proto++) {
		pickle_doc *doc = load("strings", proto);
		const pickle_value *l = pickle_root(doc);

		CU_ASSERT_EQUAL_FATAL(pickle_len(l), 7);
		CU_ASSERT_STRING_EQUAL(pickle_str(pickle_item(l, 0)), "");
		CU_ASSERT_STRING_EQUAL(pickle_str(pickle_item(l, 1)), "a");
		CU_ASSERT_STRING_EQUAL(pickle_str(pickle_item(l, 2)), "h\xc3\xa9llo");
		CU_ASSERT_EQUAL(pickle_item(l, 3)->u.s.n, 300);
		CU_ASSERT(memcmp(pickle_item(l, 3)->u.s.p, xs, 300) == 0);
		/* protocol 2 spells bytes as _codecs.encode(text, 'latin1') */
		check_bytes(pickle_item(l, 4), "", 0);
		check_bytes(pickle_item(l, 5), "\x00\xff", 2);
		check_bytes(pickle_item(l, 6), ys, 300);
		pickle_doc_free(doc);
	}
}

static void check_int_seq(const pickle_value *v, pickle_kind kind, int n)
{
	int i;

	CU_ASSERT_EQUAL_FATAL(v->kind, kind);
	CU_ASSERT_EQUAL_FATAL(v->u.seq.n, (size_t)n);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(v->u.seq.v[i]->u.i, i + 1);
}

static void test_containers(void)
{
	int proto, n;

	for (proto = 2; proto <= 5; proto++) {
		pickle_doc *doc = load("containers", proto);
		const pickle_value *t = pickle_root(doc), *d;

		CU_ASSERT_EQUAL_FATAL(t->kind, PK_TUPLE);
		CU_ASSERT_EQUAL_FATAL(pickle_len(t), 13);
		CU_ASSERT_EQUAL(pickle_item(t, 0)->kind, PK_NONE);
		CU_ASSERT(pickle_item(t, 1)->kind == PK_BOOL && pickle_item(t, 1)->u.b);
		CU_ASSERT(pickle_item(t, 2)->kind == PK_BOOL && !pickle_item(t, 2)->u.b);
		for (n = 0; n <= 4; n++)
			check_int_seq(pickle_item(t, 3 + (size_t)n), PK_TUPLE, n);
		CU_ASSERT_EQUAL(pickle_item(t, 8)->kind, PK_LIST);
		CU_ASSERT_EQUAL(pickle_item(t, 9)->kind, PK_DICT);
		d = pickle_item(t, 10);
		CU_ASSERT_EQUAL_FATAL(d->kind, PK_DICT);
		CU_ASSERT_EQUAL(d->u.seq.n, 4);
		CU_ASSERT_STRING_EQUAL(pickle_str(pickle_dict_get(d, "k")), "v");
		CU_ASSERT_EQUAL(d->u.seq.v[2]->u.i, 2); /* int key kept */
		check_int_seq(pickle_item(t, 11), PK_SET, 2);
		CU_ASSERT_EQUAL(pickle_item(t, 12)->kind, PK_FROZENSET);
		CU_ASSERT_EQUAL(pickle_item(t, 12)->u.seq.v[0]->u.i, 3);
		pickle_doc_free(doc);
	}
}

static void test_shared(void)
{
	int proto;

	for (proto = 2; proto <= 5; proto++) {
		pickle_doc *doc = load("shared", proto);
		const pickle_value *l = pickle_root(doc);

		CU_ASSERT_EQUAL_FATAL(pickle_len(l), 2);
		CU_ASSERT_PTR_EQUAL(pickle_item(l, 0), pickle_item(l, 1)); /* memo */
		check_int_seq(pickle_item(l, 0), PK_LIST, 2);
		pickle_doc_free(doc);
	}
}

static void test_objects(void)
{
	int proto;

	for (proto = 2; proto <= 5; proto++) {
		pickle_doc *doc = load("objects", proto);
		const pickle_value *l = pickle_root(doc), *o, *ns;

		CU_ASSERT_EQUAL_FATAL(pickle_len(l), 4);
		o = pickle_item(l, 0);
		CU_ASSERT(pickle_is_instance(o, "megatron.core.fake", "Opaque"));
		CU_ASSERT(o->u.obj->newobj);
		CU_ASSERT_EQUAL(pickle_attr(o, "a")->u.i, 1);
		CU_ASSERT_STRING_EQUAL(pickle_str(pickle_attr(o, "b")), "two");
		o = pickle_item(l, 1); /* __slots__: state is (None, {x, y}) */
		CU_ASSERT(pickle_is_instance(o, "megatron.core.fake", "Slotted"));
		CU_ASSERT_EQUAL(pickle_attr(o, "x")->u.i, 3);
		CU_ASSERT_EQUAL(pickle_attr(o, "y")->kind, PK_NONE);
		o = pickle_item(l, 2); /* OrderedDict reads as a dict */
		CU_ASSERT_EQUAL(o->kind, PK_DICT);
		CU_ASSERT_EQUAL(pickle_dict_get(o, "b")->u.i, 2);
		ns = pickle_item(l, 3);
		CU_ASSERT(pickle_is_instance(ns, "argparse", "Namespace"));
		CU_ASSERT_EQUAL(pickle_attr(ns, "num_layers")->u.i, 2);
		CU_ASSERT_EQUAL(pickle_attr(ns, "lr")->u.f, 0.5);
		CU_ASSERT_STRING_EQUAL(pickle_str(pickle_attr(ns, "name")), "n");
		CU_ASSERT_EQUAL(pickle_attr(ns, "flag")->kind, PK_BOOL);
		CU_ASSERT_EQUAL(pickle_attr(ns, "none")->kind, PK_NONE);
		pickle_doc_free(doc);
	}
}

static void test_bytearray(void)
{
	pickle_doc *doc = load("bytearray", 5);

	check_bytes(pickle_root(doc), "abc", 3);
	pickle_doc_free(doc);
}

/* Opcodes CPython's pickler does not emit for the vectors above, assembled
 * by hand: DUP, POP, POP_MARK, APPEND, SETITEM, LIST, DICT, LONG4,
 * BINUNICODE8, BINBYTES8, NEWOBJ_EX, BINPERSID, BINSTRING, PUT/GET long. */
static void test_rare_opcodes(void)
{
	static const char pkl[] =
		"\x80\x04"                       /* PROTO 4 */
		"]"                              /* EMPTY_LIST */
		"K\x07" "a" "2" "0" "K\x07" "a"   /* append 7, DUP list, POP, append 7 */
		"K\x09" "0"                       /* 9, POP */
		"(K\x01K\x02" "1"                 /* MARK 1 2 POP_MARK */
		"(K\x03" "l" "a"                  /* MARK 3 LIST -> [3], APPEND */
		"(X\x01\x00\x00\x00kK\x04" "d" "a" /* MARK 'k' 4 DICT -> {k: 4} */
		"}X\x01\x00\x00\x00sK\x05" "s" "a" /* {} 's' 5 SETITEM */
		"\x8b\x02\x00\x00\x00\xff\x7f" "a" /* LONG4: 32767 */
		"\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi" "a" /* BINUNICODE8 */
		"\x8e\x01\x00\x00\x00\x00\x00\x00\x00z" "a"   /* BINBYTES8 */
		"T\x02\x00\x00\x00" "ab" "a"        /* BINSTRING -> bytes */
		"\x8c\x01" "m" "\x8c\x01" "C" "\x93)}\x92" "a" /* m.C, (), {}, NEWOBJ_EX */
		"X\x03\x00\x00\x00pid" "Q" "a"     /* BINPERSID */
		"r\x00\x00\x00\x00" "j\x00\x00\x00\x00" "a" /* LONG_BINPUT/GET */
		".";
	td_err err;
	pickle_doc *doc = pickle_parse((const unsigned char *)pkl, sizeof pkl - 1,
				       NULL, &err);
	const pickle_value *l = pickle_root(doc), *v;

	if (!doc)
		fprintf(stderr, "\n  %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT_EQUAL_FATAL(pickle_len(l), 12);
	CU_ASSERT(pickle_item(l, 0)->u.i == 7 && pickle_item(l, 1)->u.i == 7);
	v = pickle_item(l, 2);
	CU_ASSERT(v->kind == PK_LIST && pickle_len(v) == 1 && pickle_item(v, 0)->u.i == 3);
	CU_ASSERT_EQUAL(pickle_dict_get(pickle_item(l, 3), "k")->u.i, 4);
	CU_ASSERT_EQUAL(pickle_dict_get(pickle_item(l, 4), "s")->u.i, 5);
	CU_ASSERT_EQUAL(pickle_item(l, 5)->u.i, 32767);
	CU_ASSERT_STRING_EQUAL(pickle_str(pickle_item(l, 6)), "hi");
	check_bytes(pickle_item(l, 7), "z", 1);
	check_bytes(pickle_item(l, 8), "ab", 2);
	v = pickle_item(l, 9);
	CU_ASSERT(pickle_is_instance(v, "m", "C") && v->u.obj->newobj &&
		  v->u.obj->kwargs && v->u.obj->kwargs->kind == PK_DICT);
	v = pickle_item(l, 10);
	CU_ASSERT(v->kind == PK_PERSID && strcmp(pickle_str(v->u.pid), "pid") == 0);
	CU_ASSERT_PTR_EQUAL(pickle_item(l, 11), l); /* the list contains itself */
	pickle_repr(l, (char[256]){0}, 256);     /* and printing it terminates */
	pickle_doc_free(doc);
}

/* Every proper prefix of a real pickle is an error, never a crash. */
static void test_truncated(void)
{
	size_t len, cut;
	unsigned char *buf = read_all(src_path(
		"tests/fixtures/pickle/objects_p4.pkl"), &len);

	for (cut = 0; cut < len; cut++) {
		td_err err = {{0}};
		pickle_doc *doc = pickle_parse(buf, cut, NULL, &err);

		CU_ASSERT_PTR_NULL(doc);
		CU_ASSERT(strstr(err.msg, "pickle: ") == err.msg);
		pickle_doc_free(doc);
	}
	free(buf);
}

static void test_malformed(void)
{
	EXPECT_ERROR("\x80\x02\xff.", "unsupported or invalid opcode");
	EXPECT_ERROR("\x80\x06N.", "unsupported pickle protocol");
	EXPECT_ERROR("\x80\x02h\x05.", "memo index out of range");
	EXPECT_ERROR("K\x01r\xff\xff\xff\x7f.", "memo index out of range");
	EXPECT_ERROR("\x80\x02R.", "stack underflow");
	EXPECT_ERROR("0.", "stack underflow");
	EXPECT_ERROR("K\x01(\x85.", "stack underflow"); /* TUPLE1 across MARK */
	EXPECT_ERROR("t.", "MARK expected but not found");
	EXPECT_ERROR("K\x01K\x02.", "STOP with an unbalanced stack");
	EXPECT_ERROR("K\x01K\x02" "a.", "APPEND onto something not a list");
	EXPECT_ERROR("K\x01K\x02" "b.", "BUILD on something that is not an "
		     "object");
	EXPECT_ERROR("}K\x01s.", "stack underflow");
	EXPECT_ERROR("\x8d\xff\xff\xff\xff\xff\xff\xff\x7f",
		     "string length runs past the end");
	EXPECT_ERROR("X\x00\x00\x00\x80", "string length runs past the end");
	EXPECT_ERROR("\x8b\xff\xff\xff\x7f", "integer length runs past");
	EXPECT_ERROR("\x95\x00\x00\x00\x00\x00\x00\x01\x00N.",
		     "frame runs past the end");
	EXPECT_ERROR("cos\nsystem", "missing newline");
	EXPECT_ERROR("K\x01K\x02\x93.", "STACK_GLOBAL needs two strings");
	EXPECT_ERROR("N", "no STOP");
}

static void test_limits(void)
{
	pickle_limits marks = {.max_stack = 1000, .max_marks = 4,
			   .max_memory = 1 << 20};
	pickle_limits mem = {.max_stack = 1u << 20, .max_marks = 16,
			 .max_memory = 4096};
	static char many[1 << 16];
	size_t i = 0;

	expect_error("((((((((N.", 10, "MARKs nested deeper", &marks);
	many[i++] = ']';
	many[i++] = '(';
	while (i < sizeof many - 2)
		many[i++] = 'N';
	many[i++] = 'e';
	many[i++] = '.';
	expect_error(many, sizeof many, "memory limit", &mem);
}

/* Nothing is ever called: a pickle that would run os.system reads as an
 * inert object naming it. */
static void test_never_executes(void)
{
	static const char evil[] = "cos\nsystem\nX\x05\x00\x00\x00touch\x85R.";
	td_err err;
	pickle_doc *doc = pickle_parse((const unsigned char *)evil, sizeof evil - 1,
				       NULL, &err);
	const pickle_value *v = pickle_root(doc);

	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT(pickle_is_instance(v, "os", "system"));
	CU_ASSERT_STRING_EQUAL(pickle_str(pickle_item(v->u.obj->args, 0)), "touch");
	pickle_doc_free(doc);
}

static void test_repr(void)
{
	pickle_doc *doc = load("containers", 4);
	char buf[256];

	pickle_repr(pickle_item(pickle_root(doc), 6), buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "(1, 2, 3)");
	pickle_repr(pickle_item(pickle_root(doc), 4), buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "(1,)");
	pickle_float_repr(1e-06, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "1e-06");
	pickle_float_repr(3.0, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "3.0");
	pickle_float_repr(0.1, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "0.1");
	pickle_float_repr(1e300, buf, sizeof buf);
	CU_ASSERT_STRING_EQUAL(buf, "1e+300");
	pickle_repr(pickle_root(doc), buf, 8);
	CU_ASSERT_EQUAL(strlen(buf), 7); /* truncated, terminated */
	pickle_doc_free(doc);
}

/* ---------------------------------------------------------------- streaming */

/* Deep equality of two trees (depth-limited; memo sharing ignored). */
static int same_tree(const pickle_value *a, const pickle_value *b, int depth)
{
	uint32_t i;

	if (!a || !b || depth > 64)
		return a == b;
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case PK_NONE:  return 1;
	case PK_BOOL:  return a->u.b == b->u.b;
	case PK_INT:   return a->u.i == b->u.i;
	case PK_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0;
	case PK_STR: case PK_BYTES: case PK_BIGINT:
		return a->u.s.n == b->u.s.n &&
		       memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
	case PK_GLOBAL:
		return strcmp(a->u.glob.module, b->u.glob.module) == 0 &&
		       strcmp(a->u.glob.name, b->u.glob.name) == 0;
	case PK_PERSID:
		return same_tree(a->u.pid, b->u.pid, depth + 1);
	case PK_OBJECT:
		if (a->u.obj->items.n != b->u.obj->items.n ||
		    a->u.obj->dict_items.n != b->u.obj->dict_items.n ||
		    !same_tree(a->u.obj->callable, b->u.obj->callable, depth + 1) ||
		    !same_tree(a->u.obj->args, b->u.obj->args, depth + 1) ||
		    !same_tree(a->u.obj->kwargs, b->u.obj->kwargs, depth + 1) ||
		    !same_tree(a->u.obj->state, b->u.obj->state, depth + 1))
			return 0;
		for (i = 0; i < a->u.obj->items.n; i++)
			if (!same_tree(a->u.obj->items.v[i], b->u.obj->items.v[i],
				       depth + 1))
				return 0;
		for (i = 0; i < a->u.obj->dict_items.n; i++)
			if (!same_tree(a->u.obj->dict_items.v[i],
				       b->u.obj->dict_items.v[i], depth + 1))
				return 0;
		return 1;
	default:
		if (a->u.seq.n != b->u.seq.n)
			return 0;
		for (i = 0; i < a->u.seq.n; i++)
			if (!same_tree(a->u.seq.v[i], b->u.seq.v[i], depth + 1))
				return 0;
		return 1;
	}
}

/* With nothing consumed, streaming builds the tree pickle_parse builds. */
static void test_stream_same_tree(void)
{
	static const char *const names[] = {
		"containers", "shared", "objects", "strings", "ints", "floats"
	};
	size_t i;
	int proto;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		for (proto = 2; proto <= 5; proto++) {
			char rel[256];
			unsigned char *buf;
			size_t len;
			td_err err;
			pickle_doc *a, *b;

			snprintf(rel, sizeof rel, "tests/fixtures/pickle/%s_p%d.pkl",
				 names[i], proto);
			buf = read_all(src_path(rel), &len);
			a = pickle_parse(buf, len, NULL, &err);
			b = pickle_parse_stream(buf, len, NULL, NULL, NULL, NULL, &err);
			CU_ASSERT_PTR_NOT_NULL(a);
			CU_ASSERT_PTR_NOT_NULL(b);
			if (a && b && !same_tree(pickle_root(a), pickle_root(b), 0))
				fprintf(stderr, "\n  %s: streamed tree differs\n", rel);
			CU_ASSERT(a && b && same_tree(pickle_root(a), pickle_root(b), 0));
			pickle_doc_free(a);
			pickle_doc_free(b);
			free(buf);
		}
}

typedef struct consumer {
	long next;       /* the int expected in the next value */
	int bad;
} consumer;

/* Takes (key, (i, "shared")) pairs; checks every one. */
static int consume(void *ctx, const pickle_value *target, pickle_value *const *items,
		   size_t n, int is_dict, td_err *err)
{
	consumer *c = ctx;
	size_t i;

	(void)target;
	(void)err;
	if (!is_dict)
		return 0;
	for (i = 0; i + 1 < n; i += 2) {
		const pickle_value *v = items[i + 1];

		if (v->kind != PK_TUPLE || pickle_len(v) != 2 ||
		    pickle_item(v, 0)->u.i != c->next ||
		    !pickle_str(pickle_item(v, 1)) ||
		    strcmp(pickle_str(pickle_item(v, 1)), "shared") != 0)
			c->bad++;
		c->next++;
	}
	return 1;
}

/* A dict of n items {"k<i>": (i, "shared")}, the string memoized once
 * and fetched by every later item: SETITEMS batches of 1000. */
static unsigned char *big_dict(long n, size_t *len)
{
	unsigned char *b = malloc((size_t)n * 24 + 64), *p = b;
	long i;

	*p++ = 0x80; *p++ = 4; *p++ = '}'; *p++ = '(';
	for (i = 0; i < n; i++) {
		int k = snprintf((char *)p + 2, 16, "k%07ld", i);

		p[0] = 0x8c;
		p[1] = (unsigned char)k;
		p += 2 + k;
		*p++ = 'J';    /* BININT: 4 bytes, little-endian */
		*p++ = (unsigned char)(i & 0xff);
		*p++ = (unsigned char)((i >> 8) & 0xff);
		*p++ = (unsigned char)((i >> 16) & 0xff);
		*p++ = (unsigned char)((i >> 24) & 0xff);
		if (i == 0) {
			memcpy(p, "\x8c\x06shared\x94", 9);
			p += 9;
		} else {
			*p++ = 'h';
			*p++ = 0;
		}
		*p++ = 0x86;   /* TUPLE2 */
		if (i % 1000 == 999) {
			*p++ = 'u';
			*p++ = '(';
		}
	}
	*p++ = 'u';
	*p++ = '.';
	*len = (size_t)(p - b);
	return b;
}

/* Consumed items are reclaimed (many scratch releases happen here) and a
 * memoized value fetched across them stays intact (ASan checks). */
static void test_stream_reclaims(void)
{
	consumer c = {0, 0};
	size_t len;
	unsigned char *buf = big_dict(300000, &len);
	td_err err;
	pickle_doc *doc = pickle_parse_stream(buf, len, NULL, consume, &c, NULL, &err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT_EQUAL(c.next, 300000);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(pickle_root(doc)->kind, PK_DICT);
	CU_ASSERT_EQUAL(pickle_root(doc)->u.seq.n, 0);
	pickle_doc_free(doc);
	free(buf);
}

/* frames_p*.pkl (gen_format_vectors.py: frames_value): entry i is
 * "k%05d" % i -> (shared[i % 3], i, key of entry i - 1 or None), shared
 * being ["a"], ["b", 1], ["c", 2, 3]. */
static int frames_entry_ok(const pickle_value *k, const pickle_value *v, long i)
{
	static const char *const first[] = {"a", "b", "c"};
	const pickle_value *sh = pickle_item(v, 0), *prev = pickle_item(v, 2);
	char want[32];

	snprintf(want, sizeof want, "k%05ld", i);
	if (!pickle_str(k) || strcmp(pickle_str(k), want) != 0 || pickle_len(v) != 3 ||
	    pickle_len(sh) != (size_t)(i % 3 + 1) || !pickle_str(pickle_item(sh, 0)) ||
	    strcmp(pickle_str(pickle_item(sh, 0)), first[i % 3]) != 0 ||
	    pickle_item(v, 1)->kind != PK_INT || pickle_item(v, 1)->u.i != i)
		return 0;
	if (i == 0)
		return prev->kind == PK_NONE;
	snprintf(want, sizeof want, "k%05ld", i - 1);
	return pickle_str(prev) && strcmp(pickle_str(prev), want) == 0;
}

static int consume_frames(void *ctx, const pickle_value *target,
			  pickle_value *const *items, size_t n, int is_dict,
			  td_err *err)
{
	consumer *c = ctx;
	size_t i;

	(void)target;
	(void)err;
	for (i = 0; is_dict && i + 1 < n; i += 2, c->next++)
		c->bad += !frames_entry_ok(items[i], items[i + 1], c->next);
	return is_dict;
}

static void parse_frames(const unsigned char *buf, size_t len, size_t from)
{
	pickle_limits lim = {1u << 22, 1u << 16, (size_t)1 << 32, from};
	consumer c = {0, 0};
	td_err err = {{0}};
	pickle_doc *doc = pickle_parse_stream(buf, len, &lim, consume_frames, &c, NULL,
					      &err);

	if (!doc)
		fprintf(stderr, "\n  frames: %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL(doc);
	CU_ASSERT_EQUAL(c.next, 12000);
	CU_ASSERT_EQUAL(c.bad, 0);
	pickle_doc_free(doc);
}

/* A FRAME's length made to point at a 0x95 byte inside an argument past
 * the middle: the hop from frame to frame lands off the opcodes. */
static int misplace_frame(unsigned char *buf, size_t len)
{
	size_t x;
	uint64_t n;
	int b;

	for (x = len / 2; x < len && buf[x] != 0x95; x++)
		;
	for (; x < len; x++) { /* a 0x95 that is no frame's start */
		for (n = 0, b = 0; b < 8; b++)
			n |= (uint64_t)buf[x + 1 + b] << (8 * b);
		if (buf[x] == 0x95 && x + 9 < len && n > 0xffffff)
			break;
	}
	if (x >= len || buf[2] != 0x95)
		return 0;
	for (n = x - 2 - 9, b = 0; b < 8; b++)
		buf[3 + b] = (unsigned char)(n >> (8 * b));
	return 1;
}

/* The pre-scan in two halves on two threads finds what one thread finds
 * (GETs in the second half of slots memoized in either half), and falls
 * back to one thread when the frames do not mark opcode boundaries. */
static void test_stream_two_threads(void)
{
	int proto;

	for (proto = 4; proto <= 5; proto++) {
		char rel[64];
		size_t len;
		unsigned char *buf;

		snprintf(rel, sizeof rel, "tests/fixtures/pickle/frames_p%d.pkl",
			 proto);
		buf = read_all(src_path(rel), &len);
		CU_ASSERT_FATAL(buf != NULL && len > 3 * 65536);
		parse_frames(buf, len, 0);   /* one thread */
		parse_frames(buf, len, 1);   /* two */
		CU_ASSERT_FATAL(misplace_frame(buf, len));
		parse_frames(buf, len, 1);   /* two, then one after all */
		free(buf);
	}
}

/* {"x": [], "y": "mod", "all_local_plans": [x, y, mod.Name]} with x and
 * y fetched from the memo inside the last value. */
static const char dropped[] =
	"\x80\x04}(\x8c\x01x]\x94\x8c\x01y\x8c\x03mod\x94"
	"\x8c\x0f" "all_local_plans](h\x00h\x01h\x01\x8c\x04Name\x93" "eu.";
/* The same with "z": 1 after the dropped value in the same SETITEMS. */
static const char dropped_then[] =
	"\x80\x04}(\x8c\x01x]\x94\x8c\x01y\x8c\x03mod\x94"
	"\x8c\x0f" "all_local_plans](h\x00h\x01" "e\x8c\x01zK\x01u.";

static void test_stream_drop(void)
{
	td_err err = {{0}};
	pickle_doc *doc = pickle_parse_stream((const unsigned char *)dropped,
					      sizeof dropped - 1, NULL, NULL, NULL,
					      "all_local_plans", &err);
	const pickle_value *l;

	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	/* the dropped value reads None, the rest is intact */
	CU_ASSERT_EQUAL(pickle_dict_get(pickle_root(doc), "all_local_plans")->kind,
			PK_NONE);
	CU_ASSERT_EQUAL(pickle_dict_get(pickle_root(doc), "x")->kind, PK_LIST);
	CU_ASSERT_STRING_EQUAL(pickle_str(pickle_dict_get(pickle_root(doc), "y")), "mod");
	pickle_doc_free(doc);
	/* without drop_from, the list is read back */
	doc = pickle_parse_stream((const unsigned char *)dropped, sizeof dropped - 1,
				  NULL, NULL, NULL, NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	l = pickle_dict_get(pickle_root(doc), "all_local_plans");
	CU_ASSERT_EQUAL_FATAL(pickle_len(l), 3);
	CU_ASSERT_EQUAL(pickle_item(l, 0)->kind, PK_LIST);
	CU_ASSERT_STRING_EQUAL(pickle_str(pickle_item(l, 1)), "mod");
	CU_ASSERT(pickle_is_global(pickle_item(l, 2), "mod", "Name"));
	pickle_doc_free(doc);
	/* values after the dropped one in its batch cannot be kept: refused */
	doc = pickle_parse_stream((const unsigned char *)dropped_then,
				  sizeof dropped_then - 1, NULL, NULL, NULL,
				  "all_local_plans", &err);
	CU_ASSERT_PTR_NULL(doc);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "follow the dropped one"));
	/* every truncation of it fails cleanly */
	{
		size_t cut;

		for (cut = 0; cut < sizeof dropped - 1; cut++) {
			doc = pickle_parse_stream((const unsigned char *)dropped, cut,
						  NULL, NULL, NULL,
						  "all_local_plans", &err);
			CU_ASSERT_PTR_NULL(doc);
			pickle_doc_free(doc);
		}
	}
}

/* A list holding itself, built without the memo: pickle_parse keeps it,
 * streaming refuses it cleanly; a GET of a slot never PUT fails. */
static void test_stream_hostile(void)
{
	static const char cycle[] = "\x80\x04]2a.";
	static const char get[] = "\x80\x04]\x94h\x05.";
	td_err err = {{0}};
	pickle_doc *doc = pickle_parse((const unsigned char *)cycle, sizeof cycle - 1,
				       NULL, &err);

	CU_ASSERT_PTR_NOT_NULL(doc);
	pickle_doc_free(doc);
	doc = pickle_parse_stream((const unsigned char *)cycle, sizeof cycle - 1,
				  NULL, NULL, NULL, NULL, &err);
	CU_ASSERT_PTR_NULL(doc);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "contains itself"));
	doc = pickle_parse_stream((const unsigned char *)get, sizeof get - 1,
				  NULL, NULL, NULL, NULL, &err);
	CU_ASSERT_PTR_NULL(doc);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "memo index out of range"));
}

int register_pickle_tests(void)
{
	CU_pSuite s = CU_add_suite("pickle", NULL, NULL);

	return !s || !CU_add_test(s, "ints", test_ints) ||
	       !CU_add_test(s, "floats", test_floats) ||
	       !CU_add_test(s, "strings and bytes", test_strings) ||
	       !CU_add_test(s, "containers", test_containers) ||
	       !CU_add_test(s, "memo sharing", test_shared) ||
	       !CU_add_test(s, "objects", test_objects) ||
	       !CU_add_test(s, "bytearray (protocol 5)", test_bytearray) ||
	       !CU_add_test(s, "rare opcodes", test_rare_opcodes) ||
	       !CU_add_test(s, "every truncation fails", test_truncated) ||
	       !CU_add_test(s, "malformed input", test_malformed) ||
	       !CU_add_test(s, "limits", test_limits) ||
	       !CU_add_test(s, "never executes", test_never_executes) ||
	       !CU_add_test(s, "repr", test_repr) ||
	       !CU_add_test(s, "stream: same tree", test_stream_same_tree) ||
	       !CU_add_test(s, "stream: reclaims", test_stream_reclaims) ||
	       !CU_add_test(s, "stream: drop_from", test_stream_drop) ||
	       !CU_add_test(s, "stream: two-thread pre-scan",
			    test_stream_two_threads) ||
	       !CU_add_test(s, "stream: hostile", test_stream_hostile);
}
