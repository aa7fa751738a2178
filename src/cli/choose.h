/* choose.h — which rules a conversion runs: --rules, else --arch, else
 * the family of --model-name, else of the --hf-checkpoint's config.json;
 * the choice is said, and what disagrees with it is reported. */
#ifndef TD_CHOOSE_H
#define TD_CHOOSE_H

#include <stdio.h>

#include "../lang/program.h"

#define CH_MAX_INCLUDES 64

typedef struct choose_request {
	const char *rules, *arch, *model, *hf;   /* as given; NULL: not */
	const char *includes[CH_MAX_INCLUDES];   /* -I, for a .map */
	int nincludes;
	FILE *notes;                             /* what was chosen; NULL: quiet */
} choose_request;

/* Chooses and loads the rules (a .mapbc read, a .map compiled with the
 * -I directories and then the installed rules directory searched).
 * Prints its own messages; 0 or -1. */
int choose_load(const choose_request *rq, program *prog);

#endif
