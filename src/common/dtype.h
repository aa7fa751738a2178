/* dtype.h — the tensor element types td2hf knows, under every name the
 * formats use for them: torch (torch.bfloat16), torch.save storage classes
 * (BFloat16Storage) and safetensors (BF16). */
#ifndef TD_DTYPE_H
#define TD_DTYPE_H

#include <stddef.h>

typedef enum td_dtype {
	TD_DT_INVALID = -1,
	TD_DT_BOOL, TD_DT_U8, TD_DT_I8, TD_DT_F8_E5M2, TD_DT_F8_E4M3,
	TD_DT_I16, TD_DT_U16, TD_DT_F16, TD_DT_BF16, TD_DT_I32, TD_DT_U32,
	TD_DT_F32, TD_DT_F64, TD_DT_I64, TD_DT_U64,
	TD_DT_COUNT
} td_dtype;
/* The enum order is safetensors' Dtype order, which its writer sorts by. */

size_t td_dtype_size(td_dtype t);
const char *td_dtype_st_name(td_dtype t);    /* "BF16" */
const char *td_dtype_torch_name(td_dtype t); /* "bfloat16" */

/* Lookups; TD_DT_INVALID when unknown. */
td_dtype td_dtype_from_torch(const char *name);   /* "bfloat16" */
td_dtype td_dtype_from_storage(const char *name); /* "BFloat16Storage" */
td_dtype td_dtype_from_st(const char *name);      /* "BF16" */

#endif
