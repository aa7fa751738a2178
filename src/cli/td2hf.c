/* td2hf — Megatron torch_dist checkpoints to HuggingFace safetensors.
 * This file only parses the command line and prints; the work is in the
 * library modules. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../reader/checkpoint.h"
#include "convert.h"
#include "family.h"
#include "inspect.h"

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fputs(
"Usage: td2hf --rules RULES --input CHECKPOINT --output DIR [options]\n"
"       td2hf --input CHECKPOINT --output DIR --hf-checkpoint HF_DIR [options]\n"
"       td2hf inspect [--json] [--metadata-only] CHECKPOINT\n"
"       td2hf rules\n"
"       td2hf --help | --version\n"
"\n"
"Reads Megatron-Core torch_dist checkpoints (PyTorch Distributed Checkpoint\n"
"directories) without Python.  CHECKPOINT is an iteration directory (the one\n"
"holding .metadata) or a Megatron save directory (holding\n"
"latest_checkpointed_iteration.txt).\n"
"\n"
"Commands:\n"
"  rules          list the installed rules and which models they convert\n"
"                 ($TD2HF_RULES_DIR overrides where they are looked for)\n"
"  inspect        list every stored key with dtype, global shape, chunk\n"
"                 count and bytes, whether the converter would skip it\n"
"                 (optimizer state, _extra_state), and the training args\n"
"                 from common.pt\n"
"\n"
"Options for inspect:\n"
"  --json           machine-readable output, including every chunk's file,\n"
"                   archive range, raw data offset and CRC-32\n"
"  --metadata-only  read only .metadata and common.pt; do not open the\n"
"                   .distcp archives to locate and check each chunk\n"
"\n"
"Conversion (the first form) writes a HuggingFace checkpoint: safetensors\n"
"shards and model.safetensors.index.json, as slime's converter writes them.\n"
"  --rules FILE          compiled rules (.mapbc) or a rule file (.map)\n"
"  --arch NAME           installed rules NAME (see td2hf rules)\n"
"  --model-name NAME     choose the rules as slime chooses its handler from\n"
"                        NAME; without --rules, --arch or --model-name, the\n"
"                        name comes from the --hf-checkpoint's config.json\n"
"  --input DIR           the checkpoint (alias --input-dir)\n"
"  --output DIR          where to write (alias --output-dir); written under a\n"
"                        temporary name and renamed when complete\n"
"  --hf-checkpoint DIR   the original HF model: its other files (config,\n"
"                        tokenizer) are copied (alias --origin-hf-dir)\n"
"  -a, --add-missing-from-origin\n"
"                        also copy the HF checkpoint's tensors that the\n"
"                        conversion does not produce (as slime's -a)\n"
"  -f, --force           replace an existing output directory\n"
"  --chunk-size SIZE     shard size limit, e.g. 5G (default), 512M, 4096\n"
"  --set NAME=VALUE      set a rules parameter (an integer or none),\n"
"                        overriding common.pt's args\n"
"  --vocab-size N        keep at most N rows of the embedding and output\n"
"                        layer (also cut to common.pt's vocab_size, as\n"
"                        slime does); same as --set cli_vocab_size=N\n"
"  --dry-run             print every stored key, its outputs and shards\n"
"  --explain NAME        show the rule for a stored key or output name\n"
"  -I DIR                include directory when --rules is a .map\n"
"  -j, --jobs N          writer threads (default: the number of cores)\n"
"  --no-verify           skip the CRC-32 check of each chunk's stored bytes\n"
"                        (on by default: a corrupt .distcp is an error)\n"
"  --no-direct-copy      copy unchanged tensors through memory instead of\n"
"                        with copy_file_range (for comparison)\n"
"  -q, --quiet           no progress or summary\n"
"\n"
"Exit status: 0 on success, 1 when a file is unreadable or malformed,\n"
"2 on a usage error.\n", out);
}

static int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"metadata-only", no_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int json = 0, resolve = 1, c, rc;
	td_checkpoint ck;
	td_err err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'm': resolve = 0; break;
		case 'h': usage(stdout); return 0;
		default:  return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "td2hf inspect: expected one checkpoint "
			"directory (see td2hf --help)\n");
		return EXIT_USAGE;
	}
	if (ckpt_open(argv[optind], &ck, &err) != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return 1;
	}
	if (json) {
		cJSON *j = inspect_json(&ck, resolve, &err);
		char *s = j ? cJSON_Print(j) : NULL;

		rc = s ? 0 : 1;
		if (s)
			printf("%s\n", s);
		cJSON_free(s);
		cJSON_Delete(j);
	} else {
		rc = inspect_text(&ck, resolve, stdout, &err) ? 1 : 0;
	}
	if (rc)
		fprintf(stderr, "td2hf: %s\n", err.msg);
	ckpt_close(&ck);
	if (fflush(stdout) != 0) {
		perror("td2hf: writing output");
		rc = 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "Usage: td2hf inspect [--json] [--metadata-only] "
			"CHECKPOINT (see td2hf --help)\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("td2hf %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "inspect") == 0)
		return cmd_inspect(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return cmd_convert(argc, argv);
	if (strcmp(argv[1], "rules") == 0 && argc == 2)
		return family_list(family_rules_dir());
	fprintf(stderr, "td2hf: unknown command '%s'; only 'inspect' exists in "
		"this version (see td2hf --help)\n", argv[1]);
	return EXIT_USAGE;
}
