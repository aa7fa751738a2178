#include "dtype.h"

#include <stddef.h>
#include <string.h>

typedef struct dtype_row {
	const char *st, *torch, *storage;
	size_t size;
} dtype_row;

static const dtype_row table[TD_DT_COUNT] = {
	[TD_DT_BOOL]    = {"BOOL", "bool", "BoolStorage", 1},
	[TD_DT_U8]      = {"U8", "uint8", "ByteStorage", 1},
	[TD_DT_I8]      = {"I8", "int8", "CharStorage", 1},
	[TD_DT_F8_E5M2] = {"F8_E5M2", "float8_e5m2", "Float8_e5m2Storage", 1},
	[TD_DT_F8_E4M3] = {"F8_E4M3", "float8_e4m3fn", "Float8_e4m3fnStorage", 1},
	[TD_DT_I16]     = {"I16", "int16", "ShortStorage", 2},
	[TD_DT_U16]     = {"U16", "uint16", "UInt16Storage", 2},
	[TD_DT_F16]     = {"F16", "float16", "HalfStorage", 2},
	[TD_DT_BF16]    = {"BF16", "bfloat16", "BFloat16Storage", 2},
	[TD_DT_I32]     = {"I32", "int32", "IntStorage", 4},
	[TD_DT_U32]     = {"U32", "uint32", "UInt32Storage", 4},
	[TD_DT_F32]     = {"F32", "float32", "FloatStorage", 4},
	[TD_DT_F64]     = {"F64", "float64", "DoubleStorage", 8},
	[TD_DT_I64]     = {"I64", "int64", "LongStorage", 8},
	[TD_DT_U64]     = {"U64", "uint64", "UInt64Storage", 8},
};

static int valid(td_dtype t)
{
	return t >= 0 && t < TD_DT_COUNT;
}

size_t td_dtype_size(td_dtype t)
{
	return valid(t) ? table[t].size : 0;
}

const char *td_dtype_st_name(td_dtype t)
{
	return valid(t) ? table[t].st : "?";
}

const char *td_dtype_torch_name(td_dtype t)
{
	return valid(t) ? table[t].torch : "?";
}

/* Looks name up in the column of table at byte offset `field`. */
static td_dtype find(size_t field, const char *name)
{
	int t;

	for (t = 0; t < TD_DT_COUNT; t++) {
		const char *col = *(const char *const *)
				  ((const char *)&table[t] + field);

		if (strcmp(col, name) == 0)
			return (td_dtype)t;
	}
	return TD_DT_INVALID;
}

#define COLUMN(f) offsetof(dtype_row, f)

td_dtype td_dtype_from_torch(const char *name)
{
	return find(COLUMN(torch), name);
}

td_dtype td_dtype_from_storage(const char *name)
{
	return find(COLUMN(storage), name);
}

td_dtype td_dtype_from_st(const char *name)
{
	return find(COLUMN(st), name);
}
