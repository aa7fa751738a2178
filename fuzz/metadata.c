/* libFuzzer target: .metadata to a DCP catalog. */
#include <stddef.h>
#include <stdint.h>

#include "src/reader/dcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dcp_catalog cat;
	td_err err;

	if (dcp_load_buffer("fuzz", data, size, &cat, &err) == 0)
		dcp_free(&cat);
	return 0;
}
