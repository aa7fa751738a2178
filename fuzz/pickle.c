/* libFuzzer target: the pickle reader, and a walk of what it built. */
#include <stddef.h>
#include <stdint.h>

#include "src/reader/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pk_limits lim = {1u << 16, 1u << 10, (size_t)64 << 20};
	char buf[512];
	td_err err;
	pk_doc *doc = pk_parse(data, size, &lim, &err);

	if (doc)
		pk_repr(pk_root(doc), buf, sizeof buf);
	pk_doc_free(doc);
	return 0;
}
