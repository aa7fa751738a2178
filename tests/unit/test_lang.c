/* The rule language: compile errors with their exact messages, the
 * matcher, the golden disassembly of tests/lang/sample.map, and the
 * loader's refusal of damaged bytecode. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/lang/compile.h"
#include "../../src/lang/program.h"
#include "../../src/vm/match.h"
#include "helpers.h"
#include "suites.h"

/* Compiles text as t.map in a temp dir; returns the error count and the
 * diagnostics in *diag (malloc'd). */
static int compile_text(const char *text, char **diag, program *p)
{
	char *dir = make_temp_dir(), path[4096];
	size_t len;
	FILE *mem = open_memstream(diag, &len);
	compile_options o = {NULL, 0, mem, 0};
	int errors;

	write_file(dir, "t.map", text, strlen(text));
	snprintf(path, sizeof path, "%s/t.map", dir);
	errors = compile_rules(path, &o, p);
	fclose(mem);
	/* report paths relative to the temp dir */
	{
		char *s;
		size_t dl = strlen(dir) + 1;

		while ((s = strstr(*diag, dir)))
			memmove(s, s + dl, strlen(s + dl) + 1);
	}
	rm_rf(dir);
	free(dir);
	return errors;
}

/* The first diagnostic line must be exactly `want`. */
static void expect(const char *text, const char *want)
{
	program p;
	char *diag = NULL, *nl;
	int errors = compile_text(text, &diag, &p);

	CU_ASSERT(errors >= 1);
	nl = strchr(diag, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(diag, want) != 0)
		fprintf(stderr, "\n  source: %s\n  wanted: %s\n  got:    %s\n",
			text, want, diag);
	CU_ASSERT_STRING_EQUAL(diag, want);
	free(diag);
	prog_free(&p);
}

static void test_mistakes(void)
{
	expect("param 3\n",
	       "t.map:1:7: error: syntax error, unexpected integer, expecting name");
	expect("\"a\" -> \"b\n",
	       "t.map:1:10: error: unterminated string");
	expect("\"a\" -> \"b\" @\n",
	       "t.map:1:12: error: unexpected character '@'");
	expect("\"a\" | view(foo) -> \"b\"\n",
	       "t.map:1:12: error: unknown name 'foo' (not a capture, param or let)");
	expect("param x\nparam x\n",
	       "t.map:2:7: error: 'x' is defined twice");
	expect("\"a\" | flip(0) -> \"b\"\n",
	       "t.map:1:7: error: unknown operation 'flip'");
	expect("\"a\" | transpose(0) -> \"b\"\n",
	       "t.map:1:7: error: transpose takes 2 arguments, got 1: "
	       "transpose(d0, d1)");
	expect("\"a\" | chunk(0, 2) -> \"b\"\n",
	       "t.map:1:1: error: the operations make 2 tensors but 1 output is named");
	expect("use foo\n",
	       "t.map:1:5: error: unknown block 'foo'");
	expect("block b { }\nblock b { }\n",
	       "t.map:2:7: error: block 'b' is defined twice");
	expect("include \"nope.map\"\n",
	       "t.map:1:9: error: cannot find include file 'nope.map' (looked next "
	       "to this file and in every include directory: -I, then the "
	       "installed rules)");
	expect("\"a.<i>\" -> \"b.{j}\"\n",
	       "t.map:1:15: error: {j} is not captured by the source pattern");
	expect("\"a\" -> \"b.<j>\"\n",
	       "t.map:1:12: error: unknown name 'j' (not a capture, param or let)");
	expect("\"a.<i>.<i>\" -> \"b\"\n",
	       "t.map:1:8: error: capture 'i' appears twice in the pattern");
	expect("\"a.<i + 1>\" -> \"b\"\n",
	       "t.map:1:4: error: a pattern can only capture a name, like <i>; "
	       "arithmetic belongs in output names");
	expect("\"a\" | cast(bf17) -> \"b\"\n",
	       "t.map:1:12: error: cast needs a dtype: bf16, f16, f32 or f64");
	expect("\"a\" | chunk(0, 2) | chunk(1, 2) -> \"b\", \"c\", \"d\", \"e\"\n",
	       "t.map:1:21: error: chunk after a split: join the pieces with cat first");
	expect("param p = dim(0)\n",
	       "t.map:1:11: error: dim() needs one tensor: it is only allowed in "
	       "operation arguments, before any split");
	expect("block b { use b }\nuse b\n",
	       "t.map:1:15: error: block 'b' uses itself");
	expect("block b { param x }\nuse b\n",
	       "t.map:1:11: error: 'param' is not allowed inside a block");
	expect("\"a.{t}\" -> \"b.<t + 1>\"\n",
	       "t.map:1:16: error: {t} is a text capture, not a number");
	expect("param a = b\nparam b = 1\n",
	       "t.map:1:11: error: 'b' is used before its definition");
	expect("param a = 99999999999999999999\n",
	       "t.map:1:11: error: integer 99999999999999999999 is too large");
	expect("\"a<i>{t}\" -> \"b\"\n",
	       "t.map:1:6: error: two captures must be separated by text, or the "
	       "match is ambiguous");
	expect("\"a*\" -> \"b*\"\n",
	       "t.map:1:11: error: '*' is only allowed in source patterns");
	expect("param a = foo(1)\n",
	       "t.map:1:11: error: unknown function 'foo' (there are min, max and dim)");
	expect("\"a\" | chunk(0, 2) | cat(0, [2, 0]) -> \"b\"\n",
	       "t.map:1:29: error: cat order entries must be numbers below 2 (the "
	       "tensors present)");
	expect("\"a.<i\" -> \"b\"\n",
	       "t.map:1:6: error: missing '>' before the end of the string");
	expect("\"a\" -> \"\"\n",
	       "t.map:1:8: error: empty output name");
	expect("\"a\" | split(0, 4) -> \"b\"\n",
	       "t.map:1:16: error: split needs a list of 1 to 64 sizes, like "
	       "split(0, [q, k, v])");
}

/* Literal text of 4096 bytes or more, in a pattern or an output name:
 * one error, where the text starts. */
static void test_long_text(void)
{
	static char src[2][5200];
	char text[5001];

	memset(text, 'a', 5000);
	text[5000] = '\0';
	snprintf(src[0], sizeof src[0], "\"%s\" -> \"b\"\n", text);
	snprintf(src[1], sizeof src[1], "\"b\" -> \"x.%s\"\n", text);
	expect(src[0], "t.map:1:2: error: pattern too long");
	expect(src[1], "t.map:1:9: error: output name too long");
}

/* The caret line points at the column. */
static void test_caret(void)
{
	program p;
	char *diag = NULL;

	compile_text("param a = 1\n\"x\" | flip(a) -> \"y\"\n", &diag, &p);
	CU_ASSERT_STRING_EQUAL(diag,
		"t.map:2:7: error: unknown operation 'flip'\n"
		"  \"x\" | flip(a) -> \"y\"\n"
		"        ^\n");
	free(diag);
	prog_free(&p);
}

/* Independent mistakes are all reported in one run. */
static void test_several_errors(void)
{
	program p;
	char *diag = NULL;
	int n = compile_text("\"a\" | flip(0) -> \"b\"\n"
			     "\"c\" -> \"d.<zz>\"\n"
			     "use nothing\n", &diag, &p);

	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:1:7:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:2:12:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:3:5:"));
	free(diag);
	prog_free(&p);
}

/* The disassembly of text compiled as t.map, or NULL if it has errors. */
static char *disasm_of(const char *text)
{
	program p;
	char *diag = NULL, *out = NULL;
	size_t len;
	FILE *mem;

	if (compile_text(text, &diag, &p) != 0) {
		fprintf(stderr, "\n  source: %s\n  %s", text, diag);
		free(diag);
		return NULL;
	}
	free(diag);
	mem = open_memstream(&out, &len);
	prog_disasm(&p, mem);
	fclose(mem);
	prog_free(&p);
	return out;
}

/* Both texts compile, to the same program. */
static void same_program(const char *a, const char *b)
{
	char *da = disasm_of(a), *db = disasm_of(b);

	CU_ASSERT_PTR_NOT_NULL(da);
	CU_ASSERT_PTR_NOT_NULL(db);
	if (da && db)
		CU_ASSERT_STRING_EQUAL(da, db);
	free(da);
	free(db);
}

/* An op is its body with the arguments put in, numbers or lists; ops may
 * call ops, and every mistake in calling one is named. */
static void test_defined_ops(void)
{
	same_program("op swap(d, s) = split(d, s) | cat(d, [1, 0]); "
		     "\"a\" | swap(0, [64, -1]) -> \"b\"\n",
		     "\"a\" | split(0, [64, -1]) | cat(0, [1, 0]) -> \"b\"\n");
	same_program("op half(d) = chunk(d, 2); op gu = half(0); "
		     "\"a.<i>\" | gu() -> \"g.<i + 1>\", \"u\" | view(-1)\n",
		     "\"a.<i>\" | chunk(0, 2) -> \"g.<i + 1>\", \"u\" | view(-1)\n");
	same_program("param H; op rows(k) = view(-1, k * H); "
		     "\"a\" | rows(dim(0) + 1) -> \"b\"\n",
		     "param H; \"a\" | view(-1, (dim(0) + 1) * H) -> \"b\"\n");
	expect("op s(d) = split(d, [1, 1])\n\"a\" | s() -> \"b\", \"c\"\n",
	       "t.map:2:7: error: op s takes 1 argument, got 0");
	expect("op s = view(-1) | s()\n\"a\" | s() -> \"b\"\n",
	       "t.map:1:19: error: op s calls itself");
	expect("op split(d) = view(d)\n",
	       "t.map:1:4: error: 'split' is a built-in operation");
	expect("op v(k) = view(k + 1)\n\"a\" | v([1, 2]) -> \"b\"\n",
	       "t.map:1:16: error: 'k' is a list here (op v was called with "
	       "[...]); a list can only be a whole argument");
	expect("op v(k, k) = view(k)\n",
	       "t.map:1:4: error: op v names its parameter 'k' twice");
	expect("block b {\n\top v = view(-1)\n}\nuse b\n",
	       "t.map:2:2: error: 'op' is not allowed inside a block");
}

/* {w:a|b} is one rule per text, {w} in the outputs' names that text. */
static void test_alternatives(void)
{
	same_program("\"x.{w:wk|k_norm}.<i>\" | view(-1) -> \"y.{w}.<i>\"\n",
		     "\"x.wk.<i>\" | view(-1) -> \"y.wk.<i>\"; "
		     "\"x.k_norm.<i>\" | view(-1) -> \"y.k_norm.<i>\"\n");
	same_program("block b { \"{p:q|k}.{n:w|b}\" -> \"{n}.{p}\" }\n"
		     "use b at \"l.<i>.\" -> \"m.<i>.\"\n",
		     "\"l.<i>.q.w\" -> \"m.<i>.w.q\"; \"l.<i>.q.b\" -> \"m.<i>.b.q\"; "
		     "\"l.<i>.k.w\" -> \"m.<i>.w.k\"; \"l.<i>.k.b\" -> \"m.<i>.b.k\"\n"
		     "\n");
	expect("\"a\" -> \"{w:x|y}\"\n",
	       "t.map:1:9: error: alternatives {w:...} are only allowed in a "
	       "rule's source pattern");
	expect("skip \"a.{w:x|y}\"\n",
	       "t.map:1:9: error: alternatives {w:...} are only allowed in a "
	       "rule's source pattern");
	expect("\"a.{w:x||y}\" -> \"b\"\n",
	       "t.map:1:4: error: empty alternative in {w:...}");
}

/* Statements end at a line indented no deeper than their first, or at
 * ';'; a mistake costs its own statement only, reported once. */
static void test_layout(void)
{
	program p;
	char *diag = NULL;
	int n;

	same_program("\"a\"\n\t| split(0, [1, 1])\n\t-> \"b\",\n"
		     "\t   \"c\" | view(2) ; \"d\" -> \"e\"\n",
		     "\"a\" | split(0, [1, 1]) -> \"b\", \"c\" | view(2)\n\n\n"
		     "; \"d\" -> \"e\"\n");
	n = compile_text("\"a\" -> -> \"b\"\n"
			 "\"c\" | flip(0) -> \"d\"\n"
			 "param\n"
			 "\"e\" -> \"f\" | view(\n"
			 "\"g\" -> \"h\"\n", &diag, &p);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:1:8: error: syntax error"));
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:2:7: error: unknown operation"));
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:3:6: error: syntax error, "
				      "unexpected end of statement"));
	CU_ASSERT_PTR_NOT_NULL(strstr(diag, "t.map:4:19: error: syntax error, "
				      "unexpected end of statement"));
	free(diag);
	prog_free(&p);
	expect("\"a\" | view(-1)\n-> \"b\"\n",
	       "t.map:1:15: error: syntax error, unexpected end of statement, "
	       "expecting -> or '|'");
}

/* A rule that can never fire is an error; one that still gets some keys
 * (a fallback after specific rules) is not. */
static void test_dead_rules(void)
{
	program p;
	char *diag = NULL;

	expect("\"a.<i>\" -> \"x\"\n\"a.7\" -> \"y\"\n",
	       "t.map:2:1: error: this rule never fires: every key it matches "
	       "is taken first by the rule at t.map:1");
	expect("block b { \"w.{t}\" -> \"x.{t}\" }\nuse b at \"l.\" -> \"\"\n"
	       "\"l.w.q\" -> \"y\"\n",
	       "t.map:3:1: error: this rule never fires: every key it matches "
	       "is taken first by the rule at t.map:1");
	/* neither earlier rule alone covers the third, both together do */
	expect("\"w.x\" -> \"a\"\n\"w.{t}x\" -> \"b\"\n\"w.*x\" -> \"c\"\n",
	       "t.map:3:1: error: this rule never fires: every key it matches "
	       "is taken first by the rule at t.map:1 and others");
	CU_ASSERT_EQUAL(compile_text("\"a.<i>.w\" -> \"x\"\n\"a.{t}.b\" -> \"y\"\n"
				     "\"a.<i>\" -> \"z\"\n\"b.{t}\" -> \"y\"\n"
				     "\"{k}\" -> \"{k}\"\n",
				     &diag, &p), 0);
	CU_ASSERT_STRING_EQUAL(diag, "");
	free(diag);
	prog_free(&p);
}

static void compile_family(const char *file, program *p)
{
	const char *inc = src_path("rules");
	char path[4096], *dup = strdup(inc);
	const char *dirs[1] = {dup};
	compile_options o = {dirs, 1, stderr, 0};

	snprintf(path, sizeof path, "%s/%s", dup, file);
	CU_ASSERT_EQUAL_FATAL(compile_rules(path, &o, p), 0);
	free(dup);
}

/* Index of the rule whose pattern reads exactly text (<n>, {t}, *). */
static int rule_by_pattern(const program *p, const char *text)
{
	uint32_t i;

	for (i = 0; i < p->nrules; i++) {
		char *buf = NULL;
		size_t len;
		FILE *mem = open_memstream(&buf, &len);
		int same;

		prog_print_pattern(p, p->rules[i].pat, mem);
		fclose(mem);
		same = strcmp(buf, text) == 0;
		free(buf);
		if (same)
			return (int)i;
	}
	return -1;
}

static void test_match(void)
{
	program p;
	vm_caps c;
	int r;

	compile_family("qwen3.map", &p);
	r = rule_by_pattern(&p, "embedding.word_embeddings.weight");
	CU_ASSERT_FATAL(r >= 0);
	CU_ASSERT(vm_match(&p, p.rules[r].pat, "embedding.word_embeddings.weight", &c));
	CU_ASSERT(!vm_match(&p, p.rules[r].pat, "embedding.word_embeddings.weightx", &c));
	r = rule_by_pattern(&p, "decoder.layers.<i>.self_attention.linear_proj.weight");
	CU_ASSERT_FATAL(r >= 0);
	CU_ASSERT(vm_match(&p, p.rules[r].pat,
			   "decoder.layers.12.self_attention.linear_proj.weight", &c));
	CU_ASSERT_EQUAL(c.ints[0], 12);
	CU_ASSERT(!vm_match(&p, p.rules[r].pat,
			    "decoder.layers.x.self_attention.linear_proj.weight", &c));
	CU_ASSERT(!vm_match(&p, p.rules[r].pat,
			    "decoder.layers..self_attention.linear_proj.weight", &c));
	/* rewrite 1: "{head}.layers.{tail}" unless "*.layers.<n>.*" */
	CU_ASSERT(vm_match(&p, p.rewrites[1].pat,
			   "decoder.layers.mlp.linear_fc1.weight", &c));
	CU_ASSERT_EQUAL(c.text_len[0], 7);
	CU_ASSERT(strncmp(c.text[1], "mlp.linear_fc1.weight", c.text_len[1]) == 0);
	CU_ASSERT(vm_match(&p, (uint32_t)p.rewrites[1].unless,
			   "decoder.layers.3.mlp.linear_fc1.weight", &c));
	CU_ASSERT(!vm_match(&p, (uint32_t)p.rewrites[1].unless,
			    "decoder.layers.mlp.linear_fc1.weight", &c));
	CU_ASSERT(vm_match(&p, (uint32_t)p.rewrites[2].unless,
			   "decoder.layers.0.mlp.experts.linear_fc1.weight17", &c));
	CU_ASSERT(!vm_match(&p, (uint32_t)p.rewrites[2].unless,
			    "decoder.layers.0.mlp.experts.experts.linear_fc1.weight", &c));
	/* skips */
	CU_ASSERT(vm_match(&p, p.skips[0].pat, "optimizer.state.exp_avg.x", &c));
	CU_ASSERT(vm_match(&p, p.skips[1].pat, "a._extra_state/shard_0_4", &c));
	CU_ASSERT(!vm_match(&p, p.skips[1].pat, "decoder.final_layernorm.weight", &c));
	prog_free(&p);
}

static void test_golden_disassembly(void)
{
	program p;
	char *got = NULL;
	size_t len, wlen;
	FILE *mem = open_memstream(&got, &len);
	const char *dirs[1] = {NULL};
	compile_options o = {dirs, 0, stderr, 0};
	unsigned char *want = read_all(src_path("tests/lang/sample.dis"), &wlen);

	CU_ASSERT_EQUAL_FATAL(compile_rules(src_path("tests/lang/sample.map"), &o,
					    &p), 0);
	prog_disasm(&p, mem);
	fclose(mem);
	if (strcmp(got, (char *)want) != 0)
		fprintf(stderr, "\n  disassembly differs from tests/lang/sample.dis;"
			" got:\n%s", got);
	CU_ASSERT_STRING_EQUAL(got, (char *)want);
	free(got);
	free(want);
	prog_free(&p);
}

/* Writes the sample's bytecode and returns its bytes. */
static unsigned char *sample_bytecode(size_t *len)
{
	program p;
	compile_options o = {NULL, 0, stderr, 0};
	char *dir = make_temp_dir(), path[4096];
	unsigned char *buf;
	td_err err;

	CU_ASSERT_EQUAL_FATAL(compile_rules(src_path("tests/lang/sample.map"), &o,
					    &p), 0);
	snprintf(path, sizeof path, "%s/s.mapbc", dir);
	CU_ASSERT_EQUAL_FATAL(prog_write(&p, path, &err), 0);
	buf = read_all(path, len);
	prog_free(&p);
	rm_rf(dir);
	free(dir);
	return buf;
}

static void test_roundtrip(void)
{
	size_t len;
	unsigned char *buf = sample_bytecode(&len);
	program p;
	td_err err;

	CU_ASSERT_EQUAL(prog_read_buffer(buf, len, "s.mapbc", &p, &err), 0);
	CU_ASSERT(p.nrules > 0 && p.nrewrites > 0 && p.ngroups == 1);
	prog_free(&p);
	free(buf);
}

static void test_loader_rejects(void)
{
	size_t len, i, refused = 0;
	unsigned char *buf = sample_bytecode(&len);
	program p;
	td_err err;

	for (i = 0; i < len; i++) { /* every truncation */
		CU_ASSERT_EQUAL(prog_read_buffer(buf, i, "s.mapbc", &p, &err), -1);
		CU_ASSERT(strncmp(err.msg, "s.mapbc: ", 9) == 0);
	}
	for (i = 0; i < len; i++) { /* every single corrupted byte */
		buf[i] ^= 0x5a;
		if (prog_read_buffer(buf, len, "s.mapbc", &p, &err) == 0)
			prog_free(&p);
		else
			refused++;
		buf[i] ^= 0x5a;
	}
	CU_ASSERT(refused > len / 2);
	buf[8] = 4; /* another version */
	CU_ASSERT_EQUAL(prog_read_buffer(buf, len, "s.mapbc", &p, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.msg, "s.mapbc: bytecode version 4, but this "
			       "td2hf reads version 3; recompile it with this mapc");
	buf[0] = 'X';
	CU_ASSERT_EQUAL(prog_read_buffer(buf, len, "s.mapbc", &p, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad magic"));
	free(buf);
}

int register_lang_tests(void)
{
	CU_pSuite s = CU_add_suite("rule language", NULL, NULL);

	return !s || !CU_add_test(s, "mistakes and their messages", test_mistakes) ||
	       !CU_add_test(s, "literal text too long", test_long_text) ||
	       !CU_add_test(s, "caret", test_caret) ||
	       !CU_add_test(s, "several errors in one run", test_several_errors) ||
	       !CU_add_test(s, "defined ops", test_defined_ops) ||
	       !CU_add_test(s, "alternatives", test_alternatives) ||
	       !CU_add_test(s, "statements end by layout", test_layout) ||
	       !CU_add_test(s, "rules that never fire", test_dead_rules) ||
	       !CU_add_test(s, "pattern matching", test_match) ||
	       !CU_add_test(s, "golden disassembly", test_golden_disassembly) ||
	       !CU_add_test(s, "bytecode round trip", test_roundtrip) ||
	       !CU_add_test(s, "loader rejects damage", test_loader_rejects);
}
