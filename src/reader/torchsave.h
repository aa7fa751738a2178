/* torchsave.h — torch.save archives: the pickle inside, and where a
 * saved tensor's raw bytes lie in the file. */
#ifndef TD_TORCHSAVE_H
#define TD_TORCHSAVE_H

#include <stdint.h>

#include "../common/err.h"
#include "../common/file.h"
#include "../common/shape.h"
#include "../common/dtype.h"
#include "pickle.h"

typedef struct torchsave_tensor {
	td_dtype dtype;
	int ndim;
	int64_t shape[TD_MAX_DIMS];
	int64_t stride[TD_MAX_DIMS];
	int64_t storage_offset;   /* in elements */
	uint64_t data_off;        /* absolute offset of the first element */
	uint64_t nbytes;          /* numel * element size */
	uint64_t storage_off;     /* the storage member: absolute offset, */
	uint64_t storage_nbytes;  /* size, */
	uint32_t storage_crc32;   /* and CRC-32 from the zip directory */
} torchsave_tensor;

/* The archive in [off, off+len) of f holds one tensor (what DCP writes
 * for every tensor chunk).  Resolves torch._utils._rebuild_tensor_v2 to
 * a byte range.  Non-contiguous or big-endian data is an error. */
int torchsave_read_tensor(const td_file *f, uint64_t off, uint64_t len,
			  torchsave_tensor *out, td_err *err);

/* Parses the archive's data.pkl (any object, e.g. common.pt's dict). */
int torchsave_read_pickle(const td_file *f, uint64_t off, uint64_t len,
			  pickle_doc **doc, td_err *err);

#endif
