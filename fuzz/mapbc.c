/* libFuzzer target: the .mapbc loader and validator, the disassembler on
 * whatever it accepted, then the VM and the plan on real catalogs with
 * parameter values from the input (fuzz/vmharness.h describes the input
 * format).  The fixtures are found under $TD2HF_SRCDIR, else under the
 * source tree this was built from. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/vmharness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static fz_catalogs *cats;

	if (!cats) {
		const char *src = getenv("TD2HF_SRCDIR");

		cats = fz_open(src ? src : TD_SRCDIR);
		if (!cats)
			abort();
	}
	fz_run_mapbc(cats, data, size);
	return 0;
}
