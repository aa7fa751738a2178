/* libFuzzer target: the .mapbc loader and validator, then the
 * disassembler on whatever it accepted. */
#include <stdio.h>

#include "src/lang/program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	mp_program p;
	td_err err;

	if (!null)
		null = fopen("/dev/null", "w");
	if (mp_read_buffer(data, size, "fuzz", &p, &err) == 0) {
		mp_disasm(&p, null);
		mp_free(&p);
	}
	return 0;
}
