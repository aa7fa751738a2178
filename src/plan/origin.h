/* origin.h — appending the original checkpoint's missing tensors. */
#ifndef TD_ORIGIN_H
#define TD_ORIGIN_H

#include <stdint.h>

#include "../common/err.h"
#include "../common/file.h"
#include "../vm/vm.h"

/* Callbacks into the plan being built. */
typedef struct origin_ctx {
	void *ctx;
	td_file *(*add_file)(void *ctx, const char *path, td_err *err);
	int (*produced)(void *ctx, const char *name);
	int (*add_tensor)(void *ctx, const char *name, const vm_shape *shape,
			  const td_file *f, uint64_t offset, td_err *err);
	uint64_t last_size;    /* size of the last tensor handled */
	uint64_t extra_total;  /* what slime's total_size adds beyond the sum */
} origin_ctx;

int origin_add_missing(origin_ctx *o, const char *hf_dir, td_err *err);

#endif
