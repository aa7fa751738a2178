/* libFuzzer target: the rule language front end and compiler (lexer,
 * parser, checks, emitter, self-validation). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/lang/compile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	compile_options o = {NULL, 0, NULL, 0};
	program p;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof path, "/dev/shm/td2hf-fuzz-%ld.map",
			 (long)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (compile_rules(path, &o, &p) == 0)
		prog_free(&p);
	return 0;
}
