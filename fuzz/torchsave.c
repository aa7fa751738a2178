/* libFuzzer target: a torch.save archive holding a tensor (zip reader,
 * data.pkl, _rebuild_tensor_v2), and the same archive's pickle. */
#include "memfile.h"
#include "src/reader/torchsave.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	td_file f;
	torchsave_tensor t;
	pickle_doc *doc = NULL;
	td_err err;

	if (memfile(&f, data, size) != 0)
		return 0;
	torchsave_read_tensor(&f, 0, size, &t, &err);
	if (torchsave_read_pickle(&f, 0, size, &doc, &err) == 0)
		pickle_doc_free(doc);
	return 0;
}
