/* compile.c — from rule files to a program: includes, declarations
 * (param, let, block), then every skip, rewrite, rule and group in file
 * order, with `use` expanding blocks under their prefixes. */
#include "compile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../common/file.h"
#include "compile_int.h"
#include "shadow.h"
#include "parse.h"

/* Reports once: a block used twice expands twice, but its mistakes are
 * said once. */
void compile_error(compiler *c, src_loc loc, const char *fmt, ...)
{
	char msg[TD_ERR_MAX], key[TD_ERR_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	n = snprintf(key, sizeof key, "%p:%d:%d: %s", (const void *)loc.file,
		     loc.line, loc.col, msg);
	if (c->reported && n > 0 && (size_t)n < sizeof key) {
		int rc = td_map_put(c->reported, key, (size_t)n, 0, NULL);

		if (rc == 1)
			return;
		if (rc < 0)
			c->b.oom = 1;
	}
	src_error(&c->diag, loc, "%s", msg);
}

ast_list concat_parts(compiler *c, const ast_str *const *strs, int n)
{
	ast_list out = {0};
	int i, k;

	for (i = 0; i < n; i++)
		for (k = 0; strs[i] && k < strs[i]->parts.n; k++)
			if (ast_push(c->arena, &out, strs[i]->parts.v[k]) != 0)
				c->b.oom = 1;
	return out;
}

/* ---------------------------------------------------------------- includes */

/* The literal text of a string without captures, or NULL. */
static const char *plain_text(compiler *c, const ast_str *s)
{
	const ast_part *p;

	if (s->parts.n == 0)
		return "";
	p = s->parts.v[0];
	if (s->parts.n == 1 && p->kind == SP_TEXT)
		return p->text;
	compile_error(c, s->loc, "this string must be plain text");
	return NULL;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
}

static int readable(const char *path)
{
	FILE *f = fopen(path, "r");

	if (f)
		fclose(f);
	return f != NULL;
}

/* Notes that memory ran out when cond holds; returns cond. */
static int oom_if(compiler *c, int cond)
{
	if (cond)
		c->b.oom = 1;
	return cond;
}

/* name relative to the including file's directory, then to each -I dir;
 * NULL when not found (or out of memory: c->b.oom). */
static char *resolve_include(compiler *c, const char *from, const char *name)
{
	char *dir, *path;
	int i;

	if (name[0] == '/') {
		if (!readable(name))
			return NULL;
		path = strdup(name);
		oom_if(c, !path);
		return path;
	}
	dir = dir_of(from);
	path = dir ? td_path_join(dir, name) : NULL;
	free(dir);
	if (oom_if(c, !path) || readable(path))
		return path;
	for (i = 0; i < c->opt.ninclude_dirs; i++) {
		free(path);
		path = td_path_join(c->opt.include_dirs[i], name);
		if (oom_if(c, !path) || readable(path))
			return path;
	}
	free(path);
	return NULL;
}

static void load(compiler *c, const char *path, const src_loc *from, int depth);

static void include(compiler *c, const ast_stmt *s, int depth)
{
	const char *name = plain_text(c, s->str);
	char *path;

	if (!name)
		return;
	if (depth >= COMPILE_MAX_INCLUDE_DEPTH) {
		compile_error(c, s->loc, "includes nested more than %d deep",
			      COMPILE_MAX_INCLUDE_DEPTH);
		return;
	}
	path = resolve_include(c, s->loc.file->path, name);
	if (c->b.oom)
		return;
	if (!path) {
		compile_error(c, s->str->loc, "cannot find include file '%s' (looked "
			      "next to this file and in every include directory: "
			      "-I, then the installed rules)", name);
		c->missing_include = 1;
		return;
	}
	load(c, path, &s->loc, depth + 1);
	free(path);
}

static int remember_file(compiler *c, src_file *f)
{
	src_file **nf = realloc(c->files, (size_t)(c->nfiles + 1) * sizeof *nf);

	if (!nf)
		return -1;
	c->files = nf;
	c->files[c->nfiles++] = f;
	return 0;
}

/* Parses path and appends its statements to c->top, includes in place;
 * a file already loaded is skipped (so include cycles end). */
static void load(compiler *c, const char *path, const src_loc *from, int depth)
{
	char real[PATH_MAX];
	src_file *f;
	ast_list stmts;
	td_err err;
	int i;

	if (realpath(path, real)) {
		switch (td_map_put(c->loaded, real, strlen(real), 0, NULL)) {
		case 0:  break;
		case 1:  return; /* loaded already */
		default: c->b.oom = 1; return;
		}
	}
	f = src_load(path, &err);
	if (!f || remember_file(c, f) != 0) {
		src_loc none = {NULL, 0, 0};

		if (from)
			compile_error(c, *from, "%s", f ? "out of memory" : err.msg);
		else
			src_error(&c->diag, none, "%s", f ? "out of memory" : err.msg);
		src_free(f);
		return;
	}
	if (parse_rules(f, c->arena, &c->diag, &stmts) < 0)
		c->b.oom = 1;
	for (i = 0; i < stmts.n && !c->b.oom; i++) {
		ast_stmt *s = stmts.v[i];

		if (s->kind == ST_INCLUDE)
			include(c, s, depth);
		else if (ast_push(c->arena, &c->top, s) != 0)
			c->b.oom = 1;
	}
}

/* ---------------------------------------------------------------- declarations */

static void declare_param(compiler *c, const ast_stmt *s)
{
	static const capture_scope no_captures;
	prog_param p = {0, PK_REQUIRED, PROG_NO};
	size_t old;

	if (td_map_get(c->params, s->name, strlen(s->name), &old)) {
		compile_error(c, s->name_loc, "'%s' is defined twice", s->name);
		return;
	}
	p.name = build_str(&c->b, s->name);
	if (s->kind == ST_LET)
		p.kind = PK_LET;
	else if (s->expr)
		p.kind = PK_DEFAULT;
	c->nparams_visible = (int)c->b.p.nparams;
	p.code = gen_expr_program(c, s->expr, &no_captures);
	if (td_map_put(c->params, s->name, strlen(s->name), build_param(&c->b, p),
		       NULL) != 0)
		c->b.oom = 1;  /* -1; 1 (defined twice) was ruled out above */
	c->nparams_visible = INT_MAX;
}

/* A block or an op: name -> s, in map and list. */
static void declare_named(compiler *c, td_map *map, ast_list *list,
			  ast_stmt *s, const char *what)
{
	switch (td_map_put(map, s->name, strlen(s->name), (size_t)list->n,
			   NULL)) {
	case 0:
		break;
	case 1:
		compile_error(c, s->name_loc, "%s '%s' is defined twice", what,
			      s->name);
		return;
	default:
		c->b.oom = 1;
		return;
	}
	if (ast_push(c->arena, list, s) != 0)
		c->b.oom = 1;
}

static void declare_op(compiler *c, ast_stmt *s)
{
	int i, j;

	if (is_builtin_op(s->name)) {
		compile_error(c, s->name_loc, "'%s' is a built-in operation",
			      s->name);
		return;
	}
	for (i = 0; i < s->params.n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(s->params.v[i], s->params.v[j]) == 0) {
				compile_error(c, s->name_loc, "op %s names its "
					      "parameter '%s' twice", s->name,
					      (const char *)s->params.v[i]);
				return;
			}
	declare_named(c, c->opdefs, &c->opdef_list, s, "op");
}

static void declare_all(compiler *c)
{
	int i;

	for (i = 0; i < c->top.n && !c->b.oom; i++) {
		const ast_stmt *s = c->top.v[i];

		if ((s->kind == ST_PARAM || s->kind == ST_LET) &&
		    td_map_put(c->declared, s->name, strlen(s->name), 0, NULL) < 0)
			c->b.oom = 1;
	}
	for (i = 0; i < c->top.n && !c->b.oom; i++) {
		ast_stmt *s = c->top.v[i];

		if (s->kind == ST_PARAM || s->kind == ST_LET)
			declare_param(c, s);
		else if (s->kind == ST_BLOCK)
			declare_named(c, c->blocks, &c->block_list, s, "block");
		else if (s->kind == ST_OP)
			declare_op(c, s);
	}
	c->nparams_visible = INT_MAX;
}

/* ---------------------------------------------------------------- statements */

typedef struct prefixes {
	const ast_str *src[COMPILE_MAX_USE_DEPTH + 1];
	const ast_str *dst[COMPILE_MAX_USE_DEPTH + 1];
	int n;
} prefixes;

/* s's parts after the n prefixes of the enclosing uses (px's src or dst
 * side). */
static ast_list prefixed(compiler *c, const ast_str *const *prefix, int n,
			 const ast_str *s)
{
	const ast_str *strs[COMPILE_MAX_USE_DEPTH + 2];

	memcpy(strs, prefix, (size_t)n * sizeof strs[0]);
	strs[n] = s;
	return concat_parts(c, strs, n + 1);
}

/* The rule file's base name: bytecode stays the same wherever it was
 * compiled from, and diagnostics still say which file. */
static uint32_t where(compiler *c, const ast_stmt *s)
{
	const char *path = s->loc.file ? s->loc.file->path : "";
	const char *slash = strrchr(path, '/');

	return build_str(&c->b, slash ? slash + 1 : path);
}

static void compile_skip(compiler *c, const ast_stmt *s)
{
	capture_scope sc = {0};
	prog_rule r = {0, PROG_NO, where(c, s), (uint32_t)s->loc.line};
	int32_t pat = gen_pattern(c, &s->str->parts, s->str->loc, &sc, 0);

	if (pat >= 0) {
		r.pat = (uint32_t)pat;
		build_skip(&c->b, r);
	}
}

static void compile_rewrite(compiler *c, const ast_stmt *s)
{
	capture_scope sc = {0}, guard = {0};
	prog_rewrite r = {0, PROG_NO, PROG_NO, PROG_NO, 0, where(c, s),
			(uint32_t)s->loc.line};
	int32_t pat = gen_pattern(c, &s->str->parts, s->str->loc, &sc, 0);
	int rc = pat < 0;

	if (s->unless)
		r.unless = gen_pattern(c, &s->unless->parts, s->unless->loc,
				       &guard, 0);
	rc |= s->unless && r.unless < 0;
	if (s->var) {
		int k;

		r.count_code = gen_expr_program(c, s->expr, &sc);
		rc |= r.count_code == PROG_NO;
		for (k = 0; k < sc.n; k++)
			if (strcmp(sc.names[k], s->var) == 0) {
				compile_error(c, s->var_loc, "capture '%s' appears twice "
					      "(in the pattern and after for)", s->var);
				rc = 1;
			}
		if (sc.n == COMPILE_MAX_CAPS) {
			compile_error(c, s->var_loc, "more than %d captures in one "
				      "rewrite", COMPILE_MAX_CAPS);
			rc = 1;
		} else {
			sc.names[sc.n] = s->var; /* bound after the count */
			sc.kinds[sc.n] = PI_INT;
			r.split_slot = sc.n++;
		}
	}
	r.name_code = build_code_here(&c->b);
	rc |= gen_name(c, &s->tmpl->parts, &sc);
	build_instr(&c->b, OP_END, 0, 0, s->loc.line);
	if (!rc) {
		r.pat = (uint32_t)pat;
		build_rewrite(&c->b, r);
	}
}

/* Code for one rule: SRC, source ops, SAVE, then per output TAKE, its
 * ops, its name, EMIT; END. */
static int rule_code(compiler *c, const ast_stmt *s, const prefixes *px,
		     const capture_scope *sc)
{
	int streams = 1, rc, j;

	build_instr(&c->b, OP_SRC, 0, 0, s->loc.line);
	rc = gen_ops(c, &s->ops, sc, &streams, 1);
	build_instr(&c->b, OP_SAVE, 0, 0, s->loc.line);
	if (rc == 0 && streams != s->targets.n) {
		compile_error(c, s->loc, "the operations make %d tensor%s but %d "
			      "output%s named", streams, streams == 1 ? "" : "s",
			      s->targets.n, s->targets.n == 1 ? " is" : "s are");
		rc = -1;
	}
	for (j = 0; j < s->targets.n; j++) {
		const ast_target *t = s->targets.v[j];
		ast_list parts = prefixed(c, px->dst, px->n, t->name);
		int one = 1;

		if (parts.n == 0) {
			compile_error(c, t->name->loc, "empty output name");
			rc = -1;
		}
		build_instr(&c->b, OP_TAKE, 0, j, s->loc.line);
		rc |= gen_ops(c, &t->ops, sc, &one, 0);
		rc |= gen_name(c, &parts, sc);
		build_instr(&c->b, OP_EMIT, 0, 0, s->loc.line);
	}
	build_instr(&c->b, OP_END, 0, 0, s->loc.line);
	return rc;
}

/* str with each {name:...} and {name} part replaced by the text t. */
static ast_str *substitute(compiler *c, const ast_str *str, const char *name,
			   const char *t)
{
	ast_str *out = td_arena_alloc(c->arena, sizeof *out);
	int k;

	if (!out)
		return c->b.oom = 1, NULL;
	out->loc = str->loc;
	memset(&out->parts, 0, sizeof out->parts);
	for (k = 0; k < str->parts.n; k++) {
		const ast_part *p = str->parts.v[k];
		ast_part *text = (ast_part *)p;

		if ((p->kind == SP_ALT || p->kind == SP_TEXTCAP) &&
		    strcmp(p->text, name) == 0) {
			if (!(text = td_arena_alloc(c->arena, sizeof *text)))
				return c->b.oom = 1, NULL;
			memset(text, 0, sizeof *text);
			text->kind = SP_TEXT;
			text->loc = p->loc;
			text->text = t;
		}
		if (ast_push(c->arena, &out->parts, text) != 0)
			return c->b.oom = 1, NULL;
	}
	return out;
}

static void compile_rule(compiler *c, const ast_stmt *s, const prefixes *px);

/* The rule just added (the last) must be able to fire: some key it
 * matches must escape every earlier rule, which comes first.  Checked
 * for the rules of the file being compiled: a rule in an included file
 * may be overridden on purpose, by one written before the include. */
static void check_fires(compiler *c, const ast_stmt *s)
{
	const program *p = &c->b.p;
	uint32_t me = p->rules[p->nrules - 1].pat, i, first = 0, *over;
	int n = 0, rc;

	if (c->nfiles == 0 || s->loc.file != c->files[0])
		return;
	if (!(over = malloc((size_t)p->nrules * sizeof *over))) {
		c->b.oom = 1;
		return;
	}
	for (i = 0; i + 1 < p->nrules && !c->b.oom; i++) {
		if ((rc = patterns_overlap(p, p->rules[i].pat, me)) < 0)
			c->b.oom = 1;
		if (rc <= 0)
			continue;
		if (n == 0)
			first = i;
		over[n++] = p->rules[i].pat;
	}
	rc = n && !c->b.oom ? patterns_cover(p, over, n, me) : 0;
	if (rc < 0)
		c->b.oom = 1;
	else if (rc)
		compile_error(c, s->loc, "this rule never fires: every key it "
			      "matches is taken first by the rule at %s:%u%s",
			      p->strs[p->rules[first].file],
			      p->rules[first].line, n > 1 ? " and others" : "");
	free(over);
}

/* A rule whose pattern holds {name:a|b|...}: one rule per text, in
 * order, with {name} in its outputs' names replaced by that text. */
static void compile_alternatives(compiler *c, const ast_stmt *s,
				 const prefixes *px, const ast_part *alt)
{
	int i, j;

	for (i = 0; i < alt->alts.n && !c->b.oom; i++) {
		const char *t = alt->alts.v[i];
		ast_stmt one = *s;

		one.str = substitute(c, s->str, alt->text, t);
		memset(&one.targets, 0, sizeof one.targets);
		for (j = 0; j < s->targets.n && one.str; j++) {
			const ast_target *old = s->targets.v[j];
			ast_target *nt = td_arena_alloc(c->arena, sizeof *nt);

			if (!nt || ast_push(c->arena, &one.targets, nt) != 0) {
				c->b.oom = 1;
				return;
			}
			*nt = *old;
			if (!(nt->name = substitute(c, old->name, alt->text, t)))
				return;
		}
		if (one.str)
			compile_rule(c, &one, px);
	}
}

static const ast_part *first_alternatives(const ast_str *str)
{
	int k;

	for (k = 0; k < str->parts.n; k++)
		if (((const ast_part *)str->parts.v[k])->kind == SP_ALT)
			return str->parts.v[k];
	return NULL;
}

static void compile_rule(compiler *c, const ast_stmt *s, const prefixes *px)
{
	capture_scope sc = {0};
	ast_list parts;
	prog_rule r = {0, 0, where(c, s), (uint32_t)s->loc.line};
	const ast_part *alt = first_alternatives(s->str);
	int32_t pat;

	if (alt) {
		compile_alternatives(c, s, px, alt);
		return;
	}
	parts = prefixed(c, px->src, px->n, s->str);
	pat = gen_pattern(c, &parts, s->str->loc, &sc, 0);
	if (pat < 0)
		return;
	r.pat = (uint32_t)pat;
	r.code = build_code_here(&c->b);
	if (rule_code(c, s, px, &sc) == 0) {
		build_rule(&c->b, r);
		if (!c->b.oom)
			check_fires(c, s);
	}
}

/* require EXPR, "why": what the checkpoint must be for these rules. */
static void compile_require(compiler *c, const ast_stmt *s)
{
	static const capture_scope no_captures;
	const char *why = plain_text(c, s->str);
	prog_require r = {PROG_NO, 0, where(c, s), (uint32_t)s->loc.line};

	if (!why)
		return;
	r.code = gen_expr_program(c, s->expr, &no_captures);
	if (r.code == PROG_NO)
		return;
	r.why = build_str(&c->b, why);
	build_require(&c->b, r);
}

/* quantize "P" unless "G", ...: which outputs --quantize converts.  A
 * later statement replaces an earlier one (a family overrides
 * common.map's), so only the last one's records are kept. */
static void compile_quantize(compiler *c, const ast_stmt *s)
{
	prog_quant q = {0, QK_MATCH, where(c, s), (uint32_t)s->loc.line};
	const ast_str *pats[1];
	ast_list parts;
	capture_scope sc;
	int32_t pat;
	int i;

	c->b.p.nquants = 0;
	for (i = -1; i < s->targets.n; i++) {
		pats[0] = i < 0 ? s->str : s->targets.v[i];
		parts = concat_parts(c, pats, 1);
		memset(&sc, 0, sizeof sc);
		pat = gen_pattern(c, &parts, pats[0]->loc, &sc, 0);
		if (pat < 0)
			return;
		q.pat = (uint32_t)pat;
		q.kind = i < 0 ? QK_MATCH : QK_UNLESS;
		build_quant(&c->b, q);
	}
}

static void compile_group(compiler *c, const ast_stmt *s, const prefixes *px)
{
	static const capture_scope no_captures;
	prog_group g = {PROG_NO, c->b.p.nmembers, 0, where(c, s),
		      (uint32_t)s->loc.line};
	int i;

	for (i = 0; i < s->targets.n; i++) {
		ast_list parts = prefixed(c, px->dst, px->n, s->targets.v[i]);
		capture_scope sc = {0};
		int32_t pat;

		pat = gen_pattern(c, &parts, ((ast_str *)s->targets.v[i])->loc,
				  &sc, 1);
		if (pat < 0)
			return;
		build_member(&c->b, (uint32_t)pat);
		g.n++;
	}
	if (s->expr && (g.when_code = gen_expr_program(c, s->expr,
						       &no_captures)) == PROG_NO)
		return;
	build_group(&c->b, g);
}

static void compile_body(compiler *c, const ast_list *body, const prefixes *px);

static void compile_use(compiler *c, const ast_stmt *s, const prefixes *px)
{
	prefixes inner = *px;
	size_t idx;
	int i;

	if (!td_map_get(c->blocks, s->name, strlen(s->name), &idx)) {
		if (!c->missing_include)
			compile_error(c, s->name_loc, "unknown block '%s'", s->name);
		return;
	}
	for (i = 0; i < c->use_depth; i++)
		if (strcmp(c->use_stack[i], s->name) == 0) {
			compile_error(c, s->name_loc, "block '%s' uses itself",
				      s->name);
			return;
		}
	if (c->use_depth == COMPILE_MAX_USE_DEPTH) {
		compile_error(c, s->loc, "blocks nested more than %d deep",
			      COMPILE_MAX_USE_DEPTH);
		return;
	}
	inner.src[inner.n] = s->src_prefix;
	inner.dst[inner.n] = s->dst_prefix;
	inner.n++;
	c->use_stack[c->use_depth++] = s->name;
	compile_body(c, &((ast_stmt *)c->block_list.v[idx])->body, &inner);
	c->use_depth--;
}

static const char *const stmt_names[] = {
	"include", "param", "let", "skip", "rewrite", "rule", "group",
	"block", "use", "require", "quantize", "op"
};

static void compile_body(compiler *c, const ast_list *body, const prefixes *px)
{
	int i;

	for (i = 0; i < body->n; i++) {
		const ast_stmt *s = body->v[i];

		switch (s->kind) {
		case ST_RULE:  compile_rule(c, s, px); break;
		case ST_GROUP: compile_group(c, s, px); break;
		case ST_USE:   compile_use(c, s, px); break;
		default:
			compile_error(c, s->loc, "'%s' is not allowed inside a block",
				      stmt_names[s->kind]);
		}
	}
}

static void compile_all(compiler *c)
{
	static const prefixes none;
	int i;

	for (i = 0; i < c->top.n && !c->b.oom; i++) {
		const ast_stmt *s = c->top.v[i];

		switch (s->kind) {
		case ST_SKIP:    compile_skip(c, s); break;
		case ST_REWRITE: compile_rewrite(c, s); break;
		case ST_RULE:    compile_rule(c, s, &none); break;
		case ST_GROUP:   compile_group(c, s, &none); break;
		case ST_REQUIRE: compile_require(c, s); break;
		case ST_QUANTIZE: compile_quantize(c, s); break;
		case ST_USE:     compile_use(c, s, &none); break;
		default:         break; /* declarations: done */
		}
	}
}

/* ---------------------------------------------------------------- driver */

static void finish(compiler *c, program *out)
{
	td_err err;
	src_loc none = {NULL, 0, 0};

	if (c->b.oom)
		src_error(&c->diag, none, "out of memory");
	if (c->diag.errors == 0 && prog_validate(&c->b.p, &err) != 0)
		src_error(&c->diag, none, "internal error: %s", err.msg);
	if (c->diag.errors == 0) {
		*out = c->b.p;
		memset(&c->b.p, 0, sizeof c->b.p);
	}
}

int compile_rules(const char *path, const compile_options *opt, program *out)
{
	compiler c;
	int i, errors;

	memset(&c, 0, sizeof c);
	memset(out, 0, sizeof *out);
	c.opt = *opt;
	c.diag.out = opt->diag;
	c.diag.max_errors = opt->max_errors ? opt->max_errors : 20;
	c.arena = td_arena_new((size_t)1 << 30);
	c.loaded = td_map_new();
	c.params = td_map_new();
	c.blocks = td_map_new();
	c.opdefs = td_map_new();
	c.declared = td_map_new();
	c.reported = td_map_new();
	c.nparams_visible = INT_MAX;
	if (!c.arena || !c.loaded || !c.params || !c.blocks || !c.opdefs ||
	    !c.declared ||
	    !c.reported ||
	    build_init(&c.b) != 0) {
		src_loc none = {NULL, 0, 0};

		src_error(&c.diag, none, "out of memory");
	} else {
		/* after running out of memory, later phases would only report
		 * what is missing as errors: stop and say so (finish) */
		load(&c, path, NULL, 0);
		if (!c.b.oom)
			declare_all(&c);
		if (!c.b.oom)
			compile_all(&c);
		finish(&c, out);
	}
	errors = c.diag.errors;
	prog_free(&c.b.p);
	build_release(&c.b);
	for (i = 0; i < c.nfiles; i++)
		src_free(c.files[i]);
	free(c.files);
	td_map_free(c.loaded);
	td_map_free(c.params);
	td_map_free(c.blocks);
	td_map_free(c.opdefs);
	td_map_free(c.declared);
	td_map_free(c.reported);
	td_arena_free(c.arena);
	return errors;
}
