/* libFuzzer target: the pickle reader, and a walk of what it built. */
#include <stddef.h>
#include <stdint.h>

#include "src/reader/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pickle_limits lim = {1u << 16, 1u << 10, (size_t)64 << 20};
	char buf[512];
	td_err err;
	pickle_doc *doc = pickle_parse(data, size, &lim, &err);

	if (doc)
		pickle_repr(pickle_root(doc), buf, sizeof buf);
	pickle_doc_free(doc);
	return 0;
}
