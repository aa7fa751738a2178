/* cast.h — element type conversions for cast(): bf16, f16, f32, f64,
 * rounding to nearest even as torch does. */
#ifndef TD_CAST_H
#define TD_CAST_H

#include <stdint.h>

#include "../common/err.h"
#include "../common/dtype.h"

int cast_elements(const unsigned char *src, td_dtype from,
		  unsigned char *dst, td_dtype to, uint64_t n, td_err *err);

#endif
