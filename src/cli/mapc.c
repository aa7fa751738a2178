/* mapc — compiles td2hf rule files (.map) into bytecode (.mapbc). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/file.h"
#include "../common/intops.h"
#include "../lang/compile.h"
#include "../lang/program.h"
#include "rulesdir.h"

#define EXIT_USAGE 2
#define MAX_INCLUDE_DIRS 64

static void usage(FILE *out)
{
	fputs(
"Usage: mapc [-I DIR]... [-o OUT.mapbc] RULES.map\n"
"       mapc --check [-I DIR]... RULES.map\n"
"       mapc -d FILE.mapbc|FILE.map\n"
"\n"
"Compiles a td2hf rule file into the bytecode td2hf runs.\n"
"\n"
"  -o, --output FILE   where to write (default: the input's base name with\n"
"                      .mapbc, in the current directory)\n"
"  -I DIR              also look for included files in DIR (after the\n"
"                      including file's own directory; the installed rules\n"
"                      directory is searched last, $TD2HF_RULES_DIR if set)\n"
"      --check         report errors only; write nothing\n"
"  -d, --disassemble   print the tables and code of a compiled file (a .map\n"
"                      is compiled first)\n"
"      --max-errors N  stop reporting after N errors (default 20)\n"
"      --opcodes       print the instruction reference (as in docs/bytecode.md)\n"
"      --list          list the installed rule files and the model names\n"
"                      each is selected by\n"
"  -h, --help          this text\n"
"      --version       print the version\n"
"\n"
"Errors are printed as FILE:LINE:COL: error: MESSAGE with the line and a\n"
"caret.  Exit status: 0 success, 1 errors in the input, 2 usage error.\n"
"The language is described in docs/language.md.\n", out);
}

/* The opcode table as a Markdown table: docs/bytecode.md embeds exactly
 * this, and a test checks that it still does. */
static void print_opcodes(void)
{
	static const char *const operands[] = {
		"", "K[c]", "param c", "capture c", "text capture c",
		"string c", "dtype c", "saved tensor c", "count a",
	};
	static const char *const tensors[] = {"", "1", "1+", "=", "a"};
	int i;

	puts("| # | opcode | operand | pops | pushes | tensors in | out | effect |");
	puts("|---|---|---|---|---|---|---|---|");
	for (i = 0; i < OP_COUNT; i++) {
		const opinfo *o = &opinfo_table[i];
		char pops[16];

		if (o->pops == -1)
			snprintf(pops, sizeof pops, "a");
		else if (o->pops == -2)
			snprintf(pops, sizeof pops, "a + 1");
		else
			snprintf(pops, sizeof pops, "%d", o->pops);
		printf("| %d | `%s` | %s | %s | %d | %s | %s | %s |\n", i,
		       o->name, operands[o->operand], pops, o->pushes,
		       tensors[o->t_in], tensors[o->t_out], o->doc);
	}
}

static int is_map(const struct dirent *e)
{
	return td_ends_with(e->d_name, ".map");
}

/* The "# model names:" line of a rules file, into buf ("" if none). */
static void model_names(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	char line[512];

	buf[0] = '\0';
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "# model names:", 14) == 0) {
			const char *p = line + 14 + strspn(line + 14, " \t");

			snprintf(buf, size, "%.*s", (int)strcspn(p, "\n"), p);
			break;
		}
	if (f)
		fclose(f);
}

/* --list: the rule files of the installed rules directory. */
static int list_rules(void)
{
	char dir[4096], path[4096 + 256], names[256];
	struct dirent **list;
	int n = scandir(rules_dir(dir, sizeof dir), &list, is_map, alphasort);

	if (n < 0) {
		fprintf(stderr, "mapc: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("rule files in %s (included ones have no model names)\n\n", dir);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
		model_names(path, names, sizeof names);
		printf("  %-22s %s\n", list[i]->d_name,
		       names[0] ? names : "(shared blocks)");
		free(list[i]);
	}
	free(list);
	return 0;
}

typedef struct opts {
	const char *include_dirs[MAX_INCLUDE_DIRS];
	int ninclude;
	const char *output;
	int check, disasm, max_errors;
} opts;

static int parse_args(int argc, char **argv, opts *o)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"check", no_argument, NULL, 'c'},
		{"disassemble", no_argument, NULL, 'd'},
		{"max-errors", required_argument, NULL, 'm'},
		{"opcodes", no_argument, NULL, 'O'},
		{"list", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int64_t n;
	int c;

	while ((c = getopt_long(argc, argv, "o:I:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case 'c': o->check = 1; break;
		case 'd': o->disasm = 1; break;
		case 'm':
			if (td_parse_i64(optarg, 0, INT_MAX, &n) != 0) {
				fprintf(stderr, "mapc: --max-errors: '%s' is not "
					"a whole number from 0 to %d\n", optarg,
					INT_MAX);
				return -1;
			}
			o->max_errors = (int)n;
			break;
		case 'h': usage(stdout); exit(0);
		case 'O': print_opcodes(); exit(0);
		case 'L': exit(list_rules());
		case 'V': printf("mapc (td2hf) %s, bytecode version %d\n",
				 PACKAGE_VERSION, PROG_VERSION); exit(0);
		case 'I':
			if (o->ninclude == MAX_INCLUDE_DIRS) {
				fprintf(stderr, "mapc: too many -I options\n");
				return -1;
			}
			o->include_dirs[o->ninclude++] = optarg;
			break;
		default: return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mapc: expected one input file (see mapc --help)\n");
		return -1;
	}
	return 0;
}

/* "rules/glm5.map" -> "glm5.mapbc" (in the current directory). */
static char *default_output(const char *in)
{
	const char *base = strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
	size_t n = strlen(base);
	char *out;

	if (td_ends_with(base, ".map"))
		n -= 4;
	out = malloc(n + 7);
	if (out) {
		memcpy(out, base, n);
		strcpy(out + n, ".mapbc");
	}
	return out;
}

/* Compiles in; included files are looked for beside the including file,
 * then in each -I directory, then in the installed rules directory. */
static int compile(const opts *o, const char *in, program *p)
{
	const char *dirs[MAX_INCLUDE_DIRS + 1];
	char rules[4096];
	compile_options mo = {dirs, 0, stderr, o->max_errors};
	int errors, i;

	for (i = 0; i < o->ninclude; i++)
		dirs[i] = o->include_dirs[i];
	dirs[i++] = rules_dir(rules, sizeof rules);
	mo.ninclude_dirs = i;
	errors = compile_rules(in, &mo, p);

	if (errors)
		fprintf(stderr, "mapc: %d error%s\n", errors, errors == 1 ? "" : "s");
	return errors ? -1 : 0;
}

static int disassemble(const opts *o, const char *in)
{
	program p;
	td_err err;

	if (td_ends_with(in, ".map")) {
		if (compile(o, in, &p) != 0)
			return 1;
	} else if (prog_read(in, &p, &err) != 0) {
		fprintf(stderr, "mapc: %s\n", err.msg);
		return 1;
	}
	prog_disasm(&p, stdout);
	prog_free(&p);
	return 0;
}

int main(int argc, char **argv)
{
	opts o = {0};
	program p;
	td_err err;
	char *out;
	int rc = 0;

	if (parse_args(argc, argv, &o) != 0)
		return EXIT_USAGE;
	if (o.disasm)
		return disassemble(&o, argv[optind]);
	if (compile(&o, argv[optind], &p) != 0)
		return 1;
	if (!o.check) {
		out = o.output ? strdup(o.output) : default_output(argv[optind]);
		if (!out || prog_write(&p, out, &err) != 0) {
			fprintf(stderr, "mapc: %s\n", out ? err.msg : "out of memory");
			rc = 1;
		}
		free(out);
	}
	prog_free(&p);
	return rc;
}
