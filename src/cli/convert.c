/* convert.c — `td2hf --rules R --input CKPT --output DIR`: the conversion
 * command's options, glued to the plan and the writer. */
#include "convert.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/file.h"
#include "../common/intops.h"
#include "../common/units.h"
#include "../plan/plan.h"
#include "../writer/outdir.h"
#include "../writer/parts.h"
#include "../writer/writer.h"
#include "choose.h"

#define EXIT_USAGE 2
#define MAX_SETS 256

typedef struct copts {
	choose_request rq;
	const char *input, *output, *explain;
	plan_override sets[MAX_SETS];
	int nsets;
	const char *vocab;
	uint64_t chunk_size;
	int force, dry_run, quiet, jobs, no_direct, add_missing, no_verify;
	const char *part;          /* --part K/N|auto, as given */
	parts_spec spec;              /* what it says */
	int finish, resume;
	double wait;               /* --wait SECONDS; < 0: not given */
	int stats;                 /* --stats: the phases' times */
	quant_spec quant;             /* --quantize, --block-size, --scale-fmt */
	int block_given;
} copts;

/* Seconds per phase, for --stats. */
typedef struct phases {
	struct timespec t0;        /* the command's start */
	double rules, catalog, plan, write;
} phases;

/* A whole number in [lo, hi] for flag; a usage error naming it else. */
static int parse_int(const char *flag, const char *s, long lo, long hi,
		     long *out)
{
	int64_t v;

	if (td_parse_i64(s, lo, hi, &v) != 0) {
		fprintf(stderr, "td2hf: %s: '%s' is not a whole number from "
			"%ld to %ld\n", flag, s, lo, hi);
		return -1;
	}
	*out = (long)v;
	return 0;
}

static int add_set(copts *o, const char *flag, const char *name,
		   const char *value)
{
	if (o->nsets == MAX_SETS) {
		fprintf(stderr, "td2hf: %s: more than %d settings\n", flag,
			MAX_SETS);
		return -1;
	}
	o->sets[o->nsets].name = name;
	o->sets[o->nsets++].value = value;
	return 0;
}

static int parse_set(copts *o, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg) {
		fprintf(stderr, "td2hf: --set wants NAME=VALUE, got '%s'\n", arg);
		return -1;
	}
	*eq = '\0';
	return add_set(o, "--set", arg, eq + 1);
}

enum { O_RULES = 256, O_INPUT, O_OUTPUT, O_HF, O_CHUNK, O_SET, O_VOCAB,
       O_DRY, O_EXPLAIN, O_QUIET, O_ADD, O_MODEL, O_NODIRECT, O_ARCH,
       O_NOVERIFY, O_PART, O_FINISH, O_WAIT, O_RESUME, O_STATS, O_QUANT,
       O_BLOCK, O_SCALEFMT };

/* What the options must say together. */
static int check_args(int argc, char **argv, copts *o)
{
	if (optind != argc) {
		fprintf(stderr, "td2hf: unexpected argument '%s'%s (see td2hf "
			"--help)\n", argv[optind], o->input ? "" :
			"; the checkpoint is given with --input");
		return -1;
	}
	if (!o->input || (!o->output && !o->dry_run && !o->explain)) {
		fprintf(stderr, "td2hf: needs --input and --output (see td2hf "
			"--help)\n");
		return -1;
	}
	if (!o->rq.rules && !o->rq.arch && !o->rq.model && !o->rq.hf) {
		fprintf(stderr, "td2hf: which rules? give --rules, --arch, "
			"--model-name or --hf-checkpoint (see td2hf --help)\n");
		return -1;
	}
	if ((o->part != NULL) + o->finish + o->resume > 1 ||
	    (o->wait >= 0 && !o->part)) {
		fprintf(stderr, "td2hf: --part, --finish and --resume exclude "
			"each other; --wait goes with --part\n");
		return -1;
	}
	if (o->quant.strategy == PQ_NONE &&
	    (o->block_given || o->quant.scale_fmt)) {
		fprintf(stderr, "td2hf: --block-size and --scale-fmt go with "
			"--quantize\n");
		return -1;
	}
	if (o->quant.strategy != PQ_BLOCK && o->quant.strategy != PQ_NONE &&
	    (o->block_given || o->quant.scale_fmt)) {
		fprintf(stderr, "td2hf: --block-size and --scale-fmt apply to "
			"--quantize fp8-block only\n");
		return -1;
	}
	if (o->add_missing && !o->rq.hf) {
		fprintf(stderr, "td2hf: --add-missing-from-origin needs "
			"--hf-checkpoint\n");
		return -1;
	}
	return o->vocab ? add_set(o, "--vocab-size", "cli_vocab_size", o->vocab)
			: 0;
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
	{"part", required_argument, NULL, O_PART},
	{"finish", no_argument, NULL, O_FINISH},
	{"wait", required_argument, NULL, O_WAIT},
	{"resume", no_argument, NULL, O_RESUME},
	{"stats", no_argument, NULL, O_STATS},
	{"quantize", required_argument, NULL, O_QUANT},
	{"block-size", required_argument, NULL, O_BLOCK},
	{"scale-fmt", required_argument, NULL, O_SCALEFMT},
	{NULL, 0, NULL, 0},
};

/* --quantize SCHEME, --block-size N K (two values, as slime's), --scale-fmt
 * ue8m0; 0 done, 1 not one of them, -1 usage error. */
static int parse_quant(int c, int argc, char **argv, copts *o)
{
	td_err err;

	switch (c) {
	case O_QUANT:
		if (quant_parse_strategy(optarg, &o->quant.strategy, &err) == 0)
			return 0;
		break;
	case O_BLOCK:
		if (optind >= argc) {
			fprintf(stderr, "td2hf: --block-size wants two numbers, "
				"the rows and columns of a block (e.g. "
				"--block-size 128 128)\n");
			return -1;
		}
		o->block_given = 1;
		if (quant_parse_block(optarg, &o->quant.block[0], &err) == 0 &&
		    quant_parse_block(argv[optind++], &o->quant.block[1], &err) == 0)
			return 0;
		break;
	case O_SCALEFMT:
		if (strcmp(optarg, "ue8m0") == 0) {
			o->quant.scale_fmt = "ue8m0";
			return 0;
		}
		td_errf(&err, "--scale-fmt %s: the one format is ue8m0", optarg);
		break;
	default:
		return 1;
	}
	fprintf(stderr, "td2hf: %s\n", err.msg);
	return -1;
}

/* Options that take a value; 0 done, -1 usage error. */
static int parse_value(int c, copts *o)
{
	td_err err;
	long v;

	switch (c) {
	case O_RULES:   o->rq.rules = optarg; return 0;
	case O_INPUT:   o->input = optarg; return 0;
	case O_OUTPUT:  o->output = optarg; return 0;
	case O_HF:      o->rq.hf = optarg; return 0;
	case O_EXPLAIN: o->explain = optarg; return 0;
	case O_MODEL:   o->rq.model = optarg; return 0;
	case O_ARCH:    o->rq.arch = optarg; return 0;
	case O_PART:
		o->part = optarg;
		if (parts_parse(optarg, &o->spec, &err) == 0)
			return 0;
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return -1;
	case O_WAIT:
		if (parse_int("--wait", optarg, 0, 7 * 24 * 3600, &v) != 0)
			return -1;
		o->wait = (double)v;
		return 0;
	case O_SET:     return parse_set(o, optarg);
	case 'j':
		if (parse_int("--jobs", optarg, 1, 256, &v) != 0)
			return -1;
		o->jobs = (int)v;
		return 0;
	case 'I':
		if (o->rq.nincludes == CH_MAX_INCLUDES) {
			fprintf(stderr, "td2hf: -I: more than %d directories\n",
				CH_MAX_INCLUDES);
			return -1;
		}
		o->rq.includes[o->rq.nincludes++] = optarg;
		return 0;
	case O_CHUNK:
		if (td_parse_size(optarg, &o->chunk_size) == 0)
			return 0;
		fprintf(stderr, "td2hf: --chunk-size: '%s' is not a size above "
			"zero (e.g. 5G, 5GB, 512MiB, 1.5G, 4096)\n", optarg);
		return -1;
	case O_VOCAB:
		if (parse_int("--vocab-size", optarg, 1, LONG_MAX, &v) != 0)
			return -1;
		o->vocab = optarg;
		return 0;
	default:
		return -1;
	}
}

static int parse(int argc, char **argv, copts *o)
{
	int c, rc;

	o->chunk_size = (uint64_t)5 << 30;
	o->wait = -1;
	o->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	o->quant.block[0] = o->quant.block[1] = 128;
	while ((c = getopt_long(argc, argv, "fI:qaj:", long_opts, NULL)) != -1) {
		switch (c) {
		case O_DRY:      o->dry_run = 1; break;
		case 'q': case O_QUIET: o->quiet = 1; break;
		case 'f':        o->force = 1; break;
		case O_NODIRECT: o->no_direct = 1; break;
		case O_NOVERIFY: o->no_verify = 1; break;
		case O_FINISH:   o->finish = 1; break;
		case O_RESUME:   o->resume = 1; break;
		case O_STATS:    o->stats = 1; break;
		case 'a': case O_ADD: o->add_missing = 1; break;
		default:
			rc = parse_quant(c, argc, argv, o);
			if (rc < 0 || (rc > 0 && parse_value(c, o) != 0))
				return -1;
		}
	}
	o->rq.notes = o->quiet ? NULL : stderr;
	return check_args(argc, argv, o);
}

/* Where the output may go (see writer/outdir.h): apart from every
 * directory the conversion reads, not over anything td2hf did not
 * write, and clear of what killed runs left. */
static int check_output(const copts *o, const td_checkpoint *ck)
{
	char *save = outdir_save_dir(ck->iter_dir);
	const char *prot[] = {o->input, ck->iter_dir, save, o->rq.hf};
	const char *what[] = {"the input checkpoint", "the checkpoint",
			      "the Megatron save directory",
			      "the HF checkpoint"};
	td_err err;
	int rc = outdir_check_apart(o->output, prot, what, 4, &err);

	free(save);
	if (rc == 0)
		rc = outdir_check_replace(o->output, o->rq.hf, o->force, &err);
	if (rc == 0)
		rc = outdir_clean_stale(o->output, o->quiet ? NULL : stderr, &err);
	if (rc != 0)
		fprintf(stderr, "td2hf: %s\n", err.msg);
	return rc;
}

/* "wrote 2.1 GiB in 179 tensors, 1 shard, 2.1 s, 1.0 GiB/s, to DIR" */
static void summary(const copts *o, const plan *pl, const writer_stats *st,
		    const struct timespec *t0)
{
	double s = td_seconds_since(t0);
	char size[32], rate[32];

	if (o->finish) {
		fprintf(stderr, "td2hf: %s is complete: %u shard%s, the index "
			"and the assets, %.1f s\n", o->output, pl->nshards,
			pl->nshards == 1 ? "" : "s", s);
		return;
	}
	td_human_bytes(st->bytes, size, sizeof size);
	td_human_bytes(s > 0 ? (uint64_t)((double)st->bytes / s) : 0, rate,
		       sizeof rate);
	if (o->part)
		fprintf(stderr, "td2hf: part %u/%u wrote %s, %.1f s, %s/s, for "
			"%s (%u shards in all)\n", o->spec.k, o->spec.n, size,
			s, rate, o->output, pl->nshards);
	else
		fprintf(stderr, "td2hf: wrote %s in %u tensors, %u shard%s, "
			"%.1f s, %s/s, to %s\n", size, pl->nemitted,
			pl->nshards, pl->nshards == 1 ? "" : "s", s, rate,
			o->output);
}

static void warn_dropped(const copts *o, const plan *pl)
{
	for (uint32_t i = 0; i < pl->ntensors && !o->quiet; i++)
		if (pl->tensors[i].dropped)
			fprintf(stderr, "td2hf: warning: '%s' waited for the other "
				"members of its group, which never came; it is not "
				"written (as slime drops it)\n",
				pl->tensors[i].out.name);
}

static int explain(const copts *o, const plan *pl, const td_checkpoint *ck,
		   const program *prog)
{
	if (plan_explain(pl, ck, prog, o->explain, stdout) ||
	    plan_explain_skipped(ck, prog, o->explain, stdout))
		return 0;
	fprintf(stderr, "td2hf: no stored key or output is named '%s'\n",
		o->explain);
	return 1;
}

static int plan_failed(const copts *o, const td_err *err)
{
	if (strstr(err->msg, "no rule matches"))
		fprintf(stderr, "td2hf: %s (td2hf rules --detect %s lists the "
			"installed families that cover this checkpoint)\n",
			err->msg, o->input);
	else
		fprintf(stderr, "td2hf: %s\n", err->msg);
	return 1;
}

/* --part, --resume, --finish: the conversion shared between processes
 * (writer/parts.h). */
static int run_parts(const copts *o, td_checkpoint *ck, const plan *pl,
		     const plan_options *po, const writer_options *wo,
		     writer_stats *st, td_err *err)
{
	parts_spec sp = {0, 1, "--resume"};
	parts_ident id;
	int rc;

	if (o->part)
		sp = o->spec;
	parts_identify(pl, ck, po, &id);
	if (o->finish)
		return parts_finish(pl, wo, &id, err);
	rc = parts_run(ck, pl, wo, &sp, &id, o->quiet ? NULL : stderr, st, err);
	if (rc != 0 || sp.k != 0 || (o->part && o->wait < 0))
		return rc;
	if (o->part && parts_wait(o->output, &id, sp.n, o->wait,
				  o->quiet ? NULL : stderr, err) != 0)
		return -1;
	return parts_finish(pl, wo, &id, err);
}

/* CPU seconds (user + system) of the whole process so far. */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* --stats: where the time went, measured in this process: the phases,
 * then what the writer threads spent their time on (summed over them)
 * and how many cores were busy on average. */
static void print_phases(const phases *ph, const td_checkpoint *ck,
			 const plan *pl, const writer_stats *st)
{
	double total = td_seconds_since(&ph->t0);
	char md[32];
	int i;

	td_human_bytes(ck->cat.meta_size, md, sizeof md);
	fprintf(stderr, "td2hf: time: rules %.3f s, catalog %.3f s (.metadata "
		"%s, %zu keys, %zu files), plan %.3f s (%u tensors, %u "
		"shard%s), write %.3f s, total %.3f s\n", ph->rules,
		ph->catalog, md, ck->cat.nkeys, ck->cat.nfiles, ph->plan,
		pl->nemitted, pl->nshards, pl->nshards == 1 ? "" : "s",
		ph->write, total);
	fprintf(stderr, "td2hf: time: writing, summed over threads:");
	for (i = 0; i < TD_PH_N; i++)
		fprintf(stderr, "%s %s %.3f s", i ? "," : "", td_phase_name(i),
			st->phases.s[i]);
	fprintf(stderr, "; CPU %.2f cores on average\n",
		total > 0 ? cpu_seconds() / total : 0.0);
}

static int run(const copts *o, td_checkpoint *ck, const program *prog,
	       phases *ph)
{
	struct timespec t;
	plan_options po = {o->chunk_size, o->sets, o->nsets,
			   o->add_missing ? o->rq.hf : NULL, &o->quant};
	writer_options wo = {o->output, o->rq.hf, o->force,
			 !o->quiet && isatty(STDERR_FILENO), o->jobs,
			 !o->no_direct, !o->no_verify, o->quiet ? NULL : stderr};
	writer_stats st;
	td_err err;
	plan pl;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if (plan_build(ck, prog, &po, &pl, &err) != 0)
		return plan_failed(o, &err);
	ph->plan = td_seconds_since(&t);
	clock_gettime(CLOCK_MONOTONIC, &t);
	warn_dropped(o, &pl);
	memset(&st, 0, sizeof st);
	if (o->explain) {
		rc = explain(o, &pl, ck, prog);
	} else if (o->dry_run) {
		plan_print(&pl, ck, prog, stdout);
		rc = 0;
	} else {
		rc = o->part || o->finish || o->resume
		     ? run_parts(o, ck, &pl, &po, &wo, &st, &err)
		     : writer_convert(ck, &pl, &wo, &st, &err);
		if (rc != 0)
			fprintf(stderr, "td2hf: %s\n", err.msg);
		else if (!o->quiet)
			summary(o, &pl, &st, &ph->t0);
		rc = rc == 130 ? 130 : rc ? 1 : 0;
	}
	ph->write = td_seconds_since(&t);
	if (o->stats && rc == 0)
		print_phases(ph, ck, &pl, &st);
	plan_free(&pl);
	return rc;
}

int cmd_convert(int argc, char **argv)
{
	struct timespec t;
	phases ph = {0};
	copts o;
	program prog;
	td_checkpoint ck;
	td_err err;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &ph.t0);
	memset(&o, 0, sizeof o);
	if (parse(argc, argv, &o) != 0)
		return EXIT_USAGE;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (choose_load(&o.rq, &prog) != 0)
		return 1;
	ph.rules = td_seconds_since(&t);
	clock_gettime(CLOCK_MONOTONIC, &t);
	rc = ckpt_open(o.input, &ck, &err);
	ph.catalog = td_seconds_since(&t);
	if (rc != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		prog_free(&prog);
		return 1;
	}
	rc = o.output && !o.dry_run && !o.explain && check_output(&o, &ck) != 0
	     ? 1 : run(&o, &ck, &prog, &ph);
	ckpt_close(&ck);
	prog_free(&prog);
	return rc;
}
