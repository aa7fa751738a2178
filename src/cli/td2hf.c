/* td2hf — Megatron torch_dist checkpoints to HuggingFace safetensors.
 * This file only parses the command line and prints; the work is in the
 * library modules. */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/err.h"
#include "../reader/checkpoint.h"
#include "choose.h"
#include "convert.h"
#include "family.h"
#include "inspect.h"
#include "rulesdir.h"

#define EXIT_USAGE 2

static const char synopsis[] =
"Usage: td2hf --rules RULES --input CHECKPOINT --output DIR [options]\n"
"       td2hf --input CHECKPOINT --output DIR --hf-checkpoint HF_DIR [options]\n"
"       td2hf inspect [--json] [--metadata-only] [--keys|--summary]\n"
"                     [--args NAMES|--all-args] [--rules FILE|--arch FAMILY]\n"
"                     CHECKPOINT\n"
"       td2hf rules [--detect CHECKPOINT]\n"
"       td2hf help | --help | --version\n";

static void usage(FILE *out)
{
	fputs(synopsis, out);
	fputs(
"\n"
"Converts Megatron-Core torch_dist checkpoints (PyTorch Distributed\n"
"Checkpoint directories) to HuggingFace safetensors without Python.\n"
"CHECKPOINT is an iteration directory (the one holding .metadata) or a\n"
"Megatron save directory (holding latest_checkpointed_iteration.txt).\n"
"\n"
"Commands:\n"
"  rules          list every accepted model name and the rules file it\n"
"                 selects; --detect CHECKPOINT lists the installed\n"
"                 families that cover every stored key, best first\n"
"  inspect        list every stored key with dtype, global shape, chunk\n"
"                 count and bytes, the rules' skip that drops it (the\n"
"                 optimizer state, _extra_state), and training args from\n"
"                 common.pt\n"
"  help           this text\n"
"\n"
"Options for inspect:\n"
"  --json           machine-readable output, including every chunk's file,\n"
"                   archive range, raw data offset and CRC-32\n"
"  --metadata-only  read only .metadata and common.pt; do not open the\n"
"                   .distcp archives to locate and check each chunk\n"
"  --keys           a line per key (the default up to 1000 keys)\n"
"  --summary        a line per key name pattern, numbers as <n>, with\n"
"                   counts (the default above 1000 keys)\n"
"  --args NAMES     the common.pt args to show, comma-separated (default:\n"
"                   the model's shape); --all-args shows every one\n"
"  --rules FILE, --arch FAMILY\n"
"                   whose skips to show (default: the installed\n"
"                   megatron.map's, which every family includes)\n"
"\n"
"Conversion (the first two forms) writes a HuggingFace checkpoint:\n"
"safetensors shards and model.safetensors.index.json, as slime's converter\n"
"writes them.  Which rules:\n"
"  --rules FILE          compiled rules (.mapbc) or a rule file (.map)\n"
"  --arch FAMILY         the installed rules of FAMILY (see td2hf rules)\n"
"  --model-name NAME     chosen from NAME as slime chooses its handler;\n"
"                        without --rules, --arch or --model-name, the name\n"
"                        comes from the --hf-checkpoint's config.json.\n"
"                        --rules wins over --arch, which wins over\n"
"                        --model-name; a name that disagrees with the rules\n"
"                        used is reported\n"
"Where:\n"
"  --input DIR           the checkpoint (alias --input-dir)\n"
"  --output DIR          where to write (alias --output-dir); missing parent\n"
"                        directories are created; written under a temporary\n"
"                        name beside it and renamed when complete.  Never\n"
"                        the checkpoint, its save directory or the HF\n"
"                        directory, nor inside or around them\n"
"  --hf-checkpoint DIR   the original HF model: its other files (config,\n"
"                        tokenizer) are copied (alias --origin-hf-dir)\n"
"  -f, --force           replace an existing output directory, only if it\n"
"                        holds nothing but files a conversion writes\n"
"How:\n"
"  -a, --add-missing-from-origin\n"
"                        also copy the HF checkpoint's tensors that the\n"
"                        conversion does not produce (as slime's -a)\n"
"  --chunk-size SIZE     shard size limit: bytes, or with a suffix K, M, G,\n"
"                        T (or KiB ... TiB: powers of 1024) or KB, MB, GB,\n"
"                        TB (powers of 1000); e.g. 5G (the default), 5GB,\n"
"                        512MiB, 1.5G\n"
"  --set NAME=VALUE      set a rules parameter (an integer or none),\n"
"                        overriding common.pt's args\n"
"  --vocab-size N        keep at most N rows of the embedding and output\n"
"                        layer (also cut to common.pt's vocab_size, as\n"
"                        slime does); same as --set cli_vocab_size=N\n"
"  -I DIR                include directory when --rules is a .map (the\n"
"                        installed rules directory is searched last)\n"
"  -j, --jobs N          writer threads (default: the number of cores)\n"
"  --no-verify           skip the CRC-32 check of each chunk's stored bytes\n"
"                        (on by default: a corrupt .distcp is an error)\n"
"  --no-direct-copy      copy unchanged tensors through memory instead of\n"
"                        with copy_file_range (for comparison)\n"
"FP8 export (docs/quantize.md):\n"
"  --quantize SCHEME     fp8-block, fp8-channel or fp8-tensor: quantize the\n"
"                        weights the rules' quantize statement selects, as\n"
"                        slime's convert_hf_to_fp8.py does after converting\n"
"  --block-size N K      fp8-block's block: N rows, K columns (default\n"
"                        128 128)\n"
"  --scale-fmt ue8m0     fp8-block: record scale_fmt in config.json's\n"
"                        quantization_config (as slime does)\n"
"Together (every rank of a job; docs/parallel.md):\n"
"  --part K/N            write part K of N (0 <= K < N): a share of the\n"
"                        shards balanced by bytes, into OUTPUT.td2hf-parts;\n"
"                        --part auto takes K and N from the launcher\n"
"                        (RANK/WORLD_SIZE, SLURM_PROCID/SLURM_NTASKS,\n"
"                        OMPI_COMM_WORLD_RANK/_SIZE, PMI_RANK/PMI_SIZE)\n"
"  --finish              once every part is done (same arguments, one\n"
"                        process): check them, write the index and assets,\n"
"                        rename into place\n"
"  --wait SECONDS        with --part: part 0 waits for the others, then\n"
"                        finishes (other parts ignore it)\n"
"  --resume              one process, resumable: a rerun keeps the shards\n"
"                        an interrupted run completed\n"
"Instead of converting:\n"
"  --dry-run             print every stored key, its outputs and shards\n"
"  --explain NAME        show the rule for a stored key or output name\n"
"  -q, --quiet           no progress, no summary, no note of the rules used\n"
"  --stats               at the end, the time of each phase (rules,\n"
"                        catalog, plan, write) and of the writer threads'\n"
"                        work (read, CRC, copy, compute, write, sync)\n"
"\n"
"Environment: TD2HF_RULES_DIR overrides where the installed rules are\n"
"looked for (default: rules/ beside the td2hf program when it holds a\n"
"families table, as in a build tree; else the installed directory).\n"
"\n"
"Exit status: 0 on success, 1 when a file is unreadable or malformed or\n"
"the rules do not fit the checkpoint, 2 on a usage error, 130 when\n"
"interrupted (SIGINT or SIGTERM: nothing is left behind).\n", out);
}

/* The rules whose skips inspect shows: --rules or --arch, else the
 * installed megatron.map when there is one (*have = 0 without). */
static int inspect_rules(const char *rules, const char *arch,
			 program *prog, int *have)
{
	choose_request rq = {rules, arch, NULL, NULL, {NULL}, 0, NULL};
	char dir[PATH_MAX], path[PATH_MAX + 16];

	*have = 0;
	if (!rules && !arch) {
		snprintf(path, sizeof path, "%s/megatron.map",
			 rules_dir(dir, sizeof dir));
		if (access(path, R_OK) != 0)
			return 0;
		rq.rules = path;
	}
	if (choose_load(&rq, prog) != 0)
		return -1;
	*have = 1;
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"metadata-only", no_argument, NULL, 'm'},
		{"args", required_argument, NULL, 'a'},
		{"all-args", no_argument, NULL, 'A'},
		{"keys", no_argument, NULL, 'k'},
		{"summary", no_argument, NULL, 's'},
		{"rules", required_argument, NULL, 'r'},
		{"arch", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *args = NULL, *rules = NULL, *arch = NULL;
	inspect_list list = INSPECT_AUTO;
	int json = 0, resolve = 1, c, rc, have;
	td_checkpoint ck;
	program prog;
	td_err err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'm': resolve = 0; break;
		case 'a': args = optarg; break;
		case 'A': args = "*"; break;
		case 'k': list = INSPECT_KEYS; break;
		case 's': list = INSPECT_SUMMARY; break;
		case 'r': rules = optarg; break;
		case 'R': arch = optarg; break;
		case 'h': usage(stdout); return 0;
		default:  return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "td2hf inspect: expected one checkpoint "
			"directory (see td2hf --help)\n");
		return EXIT_USAGE;
	}
	if (inspect_rules(rules, arch, &prog, &have) != 0)
		return 1;
	if (ckpt_open(argv[optind], &ck, &err) != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		if (have)
			prog_free(&prog);
		return 1;
	}
	if (json) {
		cJSON *j = inspect_json(&ck, have ? &prog : NULL, resolve, &err);
		char *s = j ? cJSON_Print(j) : NULL;

		rc = s ? 0 : 1;
		if (s)
			printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(j);
	} else {
		rc = inspect_text(&ck, have ? &prog : NULL, resolve, args, list,
				  stdout, &err) ? 1 : 0;
	}
	if (rc)
		fprintf(stderr, "td2hf: %s\n", err.msg);
	ckpt_close(&ck);
	if (have)
		prog_free(&prog);
	if (fflush(stdout) != 0) {
		perror("td2hf: writing output");
		rc = 1;
	}
	return rc;
}

static int cmd_rules(int argc, char **argv)
{
	char dir[4096];

	rules_dir(dir, sizeof dir);
	if (argc == 1)
		return family_list(dir, stdout);
	if (argc == 3 && strcmp(argv[1], "--detect") == 0)
		return family_detect(dir, argv[2], stdout);
	fprintf(stderr, "td2hf rules: expected no argument, or --detect "
		"CHECKPOINT (see td2hf --help)\n");
	return EXIT_USAGE;
}

/* A first argument that is no command and no option. */
static int unknown_command(const char *arg)
{
	struct stat st;

	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		fprintf(stderr, "td2hf: '%s' is not a command; to convert the "
			"checkpoint there, give it with --input: td2hf --input "
			"%s --output DIR ... (to look inside: td2hf inspect %s)\n",
			arg, arg, arg);
	else
		fprintf(stderr, "td2hf: unknown command '%s'; the commands are "
			"inspect, rules and help, and a conversion starts with "
			"options (see td2hf --help)\n", arg);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		fputs(synopsis, stderr);
		fputs("Try 'td2hf --help' for the options.\n", stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("td2hf %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "inspect") == 0)
		return cmd_inspect(argc - 1, argv + 1);
	if (strcmp(cmd, "rules") == 0)
		return cmd_rules(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return cmd_convert(argc, argv);
	return unknown_command(cmd);
}
