/* convert.c — `td2hf --rules R --input CKPT --output DIR`: the conversion
 * command's options, glued to the plan and the writer. */
#include "convert.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/file.h"
#include "../lang/compile.h"
#include "../plan/plan.h"
#include "../writer/outdir.h"
#include "../writer/writer.h"
#include "family.h"

#define EXIT_USAGE 2
#define MAX_SETS 256
#define MAX_INCLUDES 64

typedef struct copts {
	const char *rules, *input, *output, *hf, *explain, *arch, *model;
	char rules_path[4096];
	const char *includes[MAX_INCLUDES];
	int nincludes;
	vm_override sets[MAX_SETS];
	int nsets;
	char vocab[32];
	uint64_t chunk_size;
	int force, dry_run, quiet, jobs, no_direct, add_missing, no_verify;
} copts;

/* "5G", "512M", "4096" -> bytes (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s || s[0] == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int add_set(copts *o, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || o->nsets == MAX_SETS) {
		fprintf(stderr, "td2hf: --set wants NAME=VALUE, got '%s'\n", arg);
		return -1;
	}
	*eq = '\0';
	o->sets[o->nsets].name = arg;
	o->sets[o->nsets++].value = eq + 1;
	return 0;
}

enum { O_RULES = 256, O_INPUT, O_OUTPUT, O_HF, O_CHUNK, O_SET, O_VOCAB,
       O_DRY, O_EXPLAIN, O_QUIET, O_ADD, O_MODEL, O_NODIRECT, O_ARCH,
       O_NOVERIFY };

/* What the options must say together. */
static int check_args(int argc, copts *o)
{
	if (optind != argc || !o->input ||
	    (!o->output && !o->dry_run && !o->explain)) {
		fprintf(stderr, "td2hf: needs --input and --output (see td2hf "
			"--help)\n");
		return -1;
	}
	if (!o->rules && !o->arch && !o->model && !o->hf) {
		fprintf(stderr, "td2hf: which rules? give --rules, --arch, "
			"--model-name or --hf-checkpoint (see td2hf --help)\n");
		return -1;
	}
	if (o->add_missing && !o->hf) {
		fprintf(stderr, "td2hf: --add-missing-from-origin needs "
			"--hf-checkpoint\n");
		return -1;
	}
	if (o->vocab[0] && o->nsets < MAX_SETS) {
		o->sets[o->nsets].name = "cli_vocab_size";
		o->sets[o->nsets++].value = o->vocab;
	}
	return 0;
}

static const struct option long_opts[] = {
	{"rules", required_argument, NULL, O_RULES},
	{"input", required_argument, NULL, O_INPUT},
	{"input-dir", required_argument, NULL, O_INPUT},
	{"output", required_argument, NULL, O_OUTPUT},
	{"output-dir", required_argument, NULL, O_OUTPUT},
	{"hf-checkpoint", required_argument, NULL, O_HF},
	{"origin-hf-dir", required_argument, NULL, O_HF},
	{"chunk-size", required_argument, NULL, O_CHUNK},
	{"set", required_argument, NULL, O_SET},
	{"vocab-size", required_argument, NULL, O_VOCAB},
	{"dry-run", no_argument, NULL, O_DRY},
	{"explain", required_argument, NULL, O_EXPLAIN},
	{"quiet", no_argument, NULL, O_QUIET},
	{"force", no_argument, NULL, 'f'},
	{"jobs", required_argument, NULL, 'j'},
	{"no-direct-copy", no_argument, NULL, O_NODIRECT},
	{"no-verify", no_argument, NULL, O_NOVERIFY},
	{"add-missing-from-origin", no_argument, NULL, O_ADD},
	{"add-missing-from-origin-hf", no_argument, NULL, O_ADD},
	{"model-name", required_argument, NULL, O_MODEL},
	{"arch", required_argument, NULL, O_ARCH},
	{NULL, 0, NULL, 0},
};

static int parse(int argc, char **argv, copts *o)
{
	int c;

	o->chunk_size = (uint64_t)5 << 30;
	o->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while ((c = getopt_long(argc, argv, "fI:qaj:", long_opts, NULL)) != -1) {
		switch (c) {
		case O_RULES:   o->rules = optarg; break;
		case O_INPUT:   o->input = optarg; break;
		case O_OUTPUT:  o->output = optarg; break;
		case O_HF:      o->hf = optarg; break;
		case O_DRY:     o->dry_run = 1; break;
		case O_EXPLAIN: o->explain = optarg; break;
		case 'q': case O_QUIET: o->quiet = 1; break;
		case 'f':       o->force = 1; break;
		case O_NODIRECT: o->no_direct = 1; break;
		case O_NOVERIFY: o->no_verify = 1; break;
		case 'j':
			o->jobs = atoi(optarg);
			if (o->jobs < 1 || o->jobs > 256) {
				fprintf(stderr, "td2hf: -j wants 1 to 256\n");
				return -1;
			}
			break;
		case 'I':
			if (o->nincludes < MAX_INCLUDES)
				o->includes[o->nincludes++] = optarg;
			break;
		case O_CHUNK:
			if (parse_size(optarg, &o->chunk_size) != 0) {
				fprintf(stderr, "td2hf: --chunk-size: '%s' is not "
					"a size (e.g. 5G, 512M, 4096)\n", optarg);
				return -1;
			}
			break;
		case O_SET:
			if (add_set(o, optarg) != 0)
				return -1;
			break;
		case O_VOCAB:
			snprintf(o->vocab, sizeof o->vocab, "%s", optarg);
			break;
		case 'a': case O_ADD: o->add_missing = 1; break;
		case O_MODEL:   o->model = optarg; break;
		case O_ARCH:    o->arch = optarg; break;
		default:
			return -1;
		}
	}
	return check_args(argc, o);
}

/* --rules as given; else the installed rules named by --arch, or chosen
 * from the model name (--model-name, or the HF config) as slime does. */
static int choose_rules(copts *o)
{
	const char *dir = family_rules_dir();
	char model[256];
	td_err err;

	if (o->rules)
		return 0;
	if (o->arch) {
		snprintf(o->rules_path, sizeof o->rules_path, "%s/%s.mapbc", dir,
			 o->arch);
	} else {
		if (o->model)
			snprintf(model, sizeof model, "%s", o->model);
		else if (family_model_name(o->hf, model, sizeof model, &err) != 0)
			goto fail;
		if (family_rules_path(dir, model, o->rules_path,
				      sizeof o->rules_path, &err) != 0)
			goto fail;
		if (!o->quiet)
			fprintf(stderr, "td2hf: model '%s': rules %s\n", model,
				o->rules_path);
	}
	o->rules = o->rules_path;
	return 0;
fail:
	fprintf(stderr, "td2hf: %s\n", err.msg);
	return -1;
}

/* A .mapbc is loaded; a .map is compiled (its own dir and -I searched). */
static int load_rules(const copts *o, mp_program *p)
{
	mc_options mo = {o->includes, o->nincludes, stderr, 0};
	td_err err;
	int n;

	if (!td_ends_with(o->rules, ".map")) {
		if (mp_read(o->rules, p, &err) == 0)
			return 0;
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return -1;
	}
	n = mc_compile(o->rules, &mo, p);
	if (n)
		fprintf(stderr, "td2hf: %s: %d error%s\n", o->rules, n,
			n == 1 ? "" : "s");
	return n ? -1 : 0;
}

/* Where the output may go (see writer/outdir.h): apart from every
 * directory the conversion reads, not over anything td2hf did not
 * write, and clear of what killed runs left. */
static int check_output(const copts *o, const td_checkpoint *ck)
{
	char *save = od_save_dir(ck->iter_dir);
	const char *prot[] = {o->input, ck->iter_dir, save, o->hf};
	const char *what[] = {"the input checkpoint", "the checkpoint",
			      "the Megatron save directory",
			      "the HF checkpoint"};
	td_err err;
	int rc = od_check_apart(o->output, prot, what, 4, &err);

	free(save);
	if (rc == 0)
		rc = od_check_replace(o->output, o->hf, o->force, &err);
	if (rc == 0)
		rc = od_clean_stale(o->output, o->quiet ? NULL : stderr, &err);
	if (rc != 0)
		fprintf(stderr, "td2hf: %s\n", err.msg);
	return rc;
}

static int run(const copts *o, td_checkpoint *ck, const mp_program *prog)
{
	plan_options po = {o->chunk_size, o->sets, o->nsets,
			   o->add_missing ? o->hf : NULL};
	wr_options wo = {o->output, o->hf, o->force,
			 !o->quiet && isatty(STDERR_FILENO), o->jobs, !o->no_direct,
			 !o->no_verify, o->quiet ? NULL : stderr};
	wr_stats st;
	td_err err;
	plan pl;
	int rc;

	if (plan_build(ck, prog, &po, &pl, &err) != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return 1;
	}
	for (uint32_t i = 0; i < pl.ntensors && !o->quiet; i++)
		if (pl.tensors[i].dropped)
			fprintf(stderr, "td2hf: warning: '%s' waited for the other "
				"members of its group, which never came; it is not "
				"written (as slime drops it)\n",
				pl.tensors[i].out.name);
	if (o->explain) {
		rc = plan_explain(&pl, ck, prog, o->explain, stdout) ? 0 : 1;
		if (rc)
			fprintf(stderr, "td2hf: no stored key or output is named "
				"'%s'\n", o->explain);
	} else if (o->dry_run) {
		plan_print(&pl, ck, prog, stdout);
		rc = 0;
	} else {
		rc = wr_convert(ck, &pl, &wo, &st, &err);
		if (rc != 0)
			fprintf(stderr, "td2hf: %s\n", err.msg);
		else if (!o->quiet)
			fprintf(stderr, "td2hf: wrote %u tensors (%" PRIu64
				" bytes, %" PRIu64 " copied file to file) in %u "
				"shard%s to %s\n", pl.nemitted, st.bytes,
				st.direct_bytes, pl.nshards,
				pl.nshards == 1 ? "" : "s", o->output);
		rc = rc == 130 ? 130 : rc ? 1 : 0;
	}
	plan_free(&pl);
	return rc;
}

int cmd_convert(int argc, char **argv)
{
	copts o;
	mp_program prog;
	td_checkpoint ck;
	td_err err;
	int rc;

	memset(&o, 0, sizeof o);
	if (parse(argc, argv, &o) != 0)
		return EXIT_USAGE;
	if (choose_rules(&o) != 0 || load_rules(&o, &prog) != 0)
		return 1;
	if (ckpt_open(o.input, &ck, &err) != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		mp_free(&prog);
		return 1;
	}
	rc = o.output && !o.dry_run && !o.explain && check_output(&o, &ck) != 0
	     ? 1 : run(&o, &ck, &prog);
	ckpt_close(&ck);
	mp_free(&prog);
	return rc;
}
