/* The loader's verifier on tampered bytecode: a real compiled rules file
 * (rules/qwen3.map) written by prog_write, one instruction patched in its
 * bytes, read back by prog_read_buffer.  Each patch once passed the loader
 * and crashed or misled the VM; each must now be a clean load error. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lang/compile.h"
#include "../../src/lang/program.h"
#include "helpers.h"
#include "suites.h"

typedef struct image {
	program p;           /* as compiled */
	unsigned char *bytes;   /* as written */
	size_t len;
	size_t code;            /* offset of the first CODE record */
} image;

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* Offset of section `tag`'s first record, from the section directory. */
static size_t section(const image *im, const char *tag)
{
	uint32_t i, n = le32(im->bytes + 12);

	for (i = 0; i < n; i++) {
		const unsigned char *d = im->bytes + 16 + 12 * i;

		if (memcmp(d, tag, 4) == 0)
			return le32(d + 4) + 4;
	}
	CU_FAIL_FATAL("no such section");
	return 0;
}

static void load_image(image *im)
{
	const char *inc[] = {src_path("rules")};
	char *dir = make_temp_dir(), path[4096];
	compile_options o = {NULL, 1, NULL, 0};
	td_err err;

	inc[0] = strdup(inc[0]);
	o.include_dirs = inc;
	CU_ASSERT_EQUAL_FATAL(compile_rules(src_path("rules/qwen3.map"), &o, &im->p), 0);
	snprintf(path, sizeof path, "%s/q.mapbc", dir);
	CU_ASSERT_EQUAL_FATAL(prog_write(&im->p, path, &err), 0);
	im->bytes = read_all(path, &im->len);
	im->code = section(im, "CODE");
	rm_rf(dir);
	free(dir);
	free((char *)inc[0]);
}

/* Program counter of the first instruction `op` at or after rule r's
 * start. */
static uint32_t find(const image *im, uint32_t r, opcode op)
{
	uint32_t pc;

	for (pc = (uint32_t)im->p.rules[r].code; pc < im->p.ncode; pc++)
		if (im->p.code[pc].op == op)
			return pc;
	CU_FAIL_FATAL("opcode not found");
	return 0;
}

/* The rule whose source pattern contains `text`. */
static uint32_t rule_of(const image *im, const char *text)
{
	uint32_t r;

	for (r = 0; r < im->p.nrules; r++) {
		const prog_pattern *pt = &im->p.pats[im->p.rules[r].pat];
		uint32_t k;

		for (k = pt->first; k < pt->first + pt->n; k++)
			if (im->p.items[k].kind == PI_LIT &&
			    strstr(im->p.strs[im->p.items[k].arg], text))
				return r;
	}
	CU_FAIL_FATAL("rule not found");
	return 0;
}

static void patch(image *im, uint32_t pc, opcode op, uint8_t a, int32_t c)
{
	unsigned char *rec = im->bytes + im->code + 8 * (size_t)pc;

	rec[0] = (unsigned char)op;
	rec[1] = a;
	rec[4] = (unsigned char)c;
	rec[5] = (unsigned char)(c >> 8);
	rec[6] = (unsigned char)(c >> 16);
	rec[7] = (unsigned char)(c >> 24);
}

static void free_image(image *im)
{
	prog_free(&im->p);
	free(im->bytes);
}

/* The patched image must be refused with a message containing want. */
static void expect_refused(image *im, const char *want)
{
	program q;
	td_err err;
	int rc = prog_read_buffer(im->bytes, im->len, "tampered", &q, &err);

	CU_ASSERT_EQUAL(rc, -1);
	if (rc == 0) {
		prog_free(&q);
		fprintf(stderr, "\n  accepted; wanted an error with '%s'\n", want);
	} else if (!strstr(err.msg, want)) {
		fprintf(stderr, "\n  '%s' lacks '%s'\n", err.msg, want);
		CU_FAIL("message");
	}
	free_image(im);
}

static void test_untouched(void)
{
	image im;
	program q;
	td_err err;

	load_image(&im);
	CU_ASSERT_EQUAL(prog_read_buffer(im.bytes, im.len, "ok", &q, &err), 0);
	prog_free(&q);
	free_image(&im);
}

/* SRC -> SAVE: the VM once dereferenced an empty working set. */
static void test_save_before_src(void)
{
	image im;

	load_image(&im);
	patch(&im, (uint32_t)im.p.rules[2].code, OP_SAVE, 0, 0);
	expect_refused(&im, "a rule must start with SRC");
}

/* SRC, PUSHK, PUSHK, PARAM, SLICE -> PUSHK, CAT 0, NAMELIT x3: cat of
 * every working tensor before there is one (the VM read an
 * uninitialised pointer); the integer stack stays balanced. */
static void test_cat_before_src(void)
{
	image im;
	uint32_t r, at;

	load_image(&im);
	r = rule_of(&im, "word_embeddings");
	at = (uint32_t)im.p.rules[r].code;
	CU_ASSERT_EQUAL_FATAL(im.p.code[at + 4].op, OP_SLICE);
	patch(&im, at, OP_PUSHK, 0, im.p.code[at + 1].c);
	patch(&im, at + 1, OP_CAT, 0, 0);
	patch(&im, at + 2, OP_NAMELIT, 0, 0);
	patch(&im, at + 3, OP_NAMELIT, 0, 0);
	patch(&im, at + 4, OP_NAMELIT, 0, 0);
	expect_refused(&im, "(PUSHK): a rule must start with SRC");
}

/* The first `at` instruction of the rule matching `rule` becomes
 * (op, a, c): the loader must refuse it with `want`. */
static void refuse_patched(const char *rule, opcode at, opcode op, uint8_t a,
			   int32_t c, const char *want)
{
	image im;

	load_image(&im);
	patch(&im, find(&im, rule_of(&im, rule), at), op, a, c);
	expect_refused(&im, want);
}

/* A second SRC in the middle of a rule. */
static void test_src_twice(void)
{
	refuse_patched("linear_fc1.weight", OP_SAVE, OP_SRC, 0, 0,
		       "SRC is only allowed as a rule's first instruction");
}

/* TAKE of a tensor that was never saved (one saved, take the second). */
static void test_take_unsaved(void)
{
	refuse_patched("linear_proj.weight", OP_TAKE, OP_TAKE, 0, 1,
		       "takes a tensor that was not saved");
}

/* EMIT while the working set holds the three pieces of a split: the
 * TAKE after SAVE becomes a harmless NAMELIT. */
static void test_emit_many(void)
{
	refuse_patched("linear_qkv.weight", OP_TAKE, OP_NAMELIT, 0, 0,
		       "(EMIT): needs exactly one working tensor");
}

/* CAT 0 (all tensors) then EMIT is fine; CHUNK on three tensors is not. */
static void test_chunk_of_many(void)
{
	image im;
	uint32_t r, pc;

	load_image(&im);
	r = rule_of(&im, "linear_qkv.weight");
	pc = find(&im, r, OP_SPLIT) + 1;        /* PUSHK -1, then RESHAPE 2 */
	CU_ASSERT_EQUAL_FATAL(im.p.code[pc].op, OP_PUSHK);
	patch(&im, pc + 2, OP_CHUNK, 1, 0);     /* pops one: the H */
	expect_refused(&im, "(CHUNK): needs exactly one working tensor");
}

/* NAMETEXT on an integer capture: the VM read a NULL text pointer. */
static void test_text_of_int_capture(void)
{
	image im;
	uint32_t r, pc;

	load_image(&im);
	r = rule_of(&im, "linear_proj.weight");
	pc = find(&im, r, OP_CAPT);
	patch(&im, pc, OP_NAMETEXT, 0, im.p.code[pc].c);
	patch(&im, pc + 1, OP_NAMELIT, 0, 0);   /* was NAMEINT */
	expect_refused(&im, "(NAMETEXT): operand out of range");
}

/* An integer capture read from a text capture's slot. */
static void test_int_of_text_capture(void)
{
	image im;
	uint32_t pc;

	load_image(&im);
	pc = find(&im, 0, OP_NAMETEXT);         /* model.visual.{rest} */
	patch(&im, pc, OP_CAPT, 0, im.p.code[pc].c);
	patch(&im, pc + 1, OP_NAMEINT, 0, 0);   /* was EMIT: keeps the stack */
	expect_refused(&im, "(CAPT): operand out of range");
}

/* A count where the instruction has none. */
static void test_stray_count(void)
{
	image im;

	load_image(&im);
	patch(&im, find(&im, 2, OP_SAVE), OP_SAVE, 7, 0);
	expect_refused(&im, "(SAVE): operand out of range");
}

/* A view of more dimensions than a tensor has. */
static void test_reshape_rank(void)
{
	image im;
	uint32_t r, pc;

	load_image(&im);
	r = rule_of(&im, "linear_qkv.weight");
	pc = find(&im, r, OP_RESHAPE);          /* RESHAPE 4 */
	patch(&im, pc - 4, OP_RESHAPE, 9, 0);   /* was PARAM G: nothing to pop */
	expect_refused(&im, "(RESHAPE): operand out of range");
}

int register_verify_tests(void)
{
	CU_pSuite s = CU_add_suite("verifier: tampered bytecode", NULL, NULL);

	return !s || !CU_add_test(s, "untouched file loads", test_untouched) ||
	       !CU_add_test(s, "SAVE before SRC", test_save_before_src) ||
	       !CU_add_test(s, "CAT before SRC", test_cat_before_src) ||
	       !CU_add_test(s, "SRC twice", test_src_twice) ||
	       !CU_add_test(s, "TAKE of unsaved", test_take_unsaved) ||
	       !CU_add_test(s, "EMIT of three", test_emit_many) ||
	       !CU_add_test(s, "CHUNK of three", test_chunk_of_many) ||
	       !CU_add_test(s, "NAMETEXT of int capture", test_text_of_int_capture) ||
	       !CU_add_test(s, "CAPT of text capture", test_int_of_text_capture) ||
	       !CU_add_test(s, "count on SAVE", test_stray_count) ||
	       !CU_add_test(s, "RESHAPE rank 9", test_reshape_rank);
}
