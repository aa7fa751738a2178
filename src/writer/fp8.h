/* fp8.h — FP8 (float8_e4m3fn) quantization as slime's
 * tools/convert_hf_to_fp8.py computes it with torch: per tile of a
 * row-major [rows, cols] tensor, absmax in the weight's dtype, clamp(min
 * 1e-12) in that dtype, to float32, / 448; then weight / scale in float32,
 * clamp to +-448 and round to nearest even into e4m3fn.  Channel and
 * tensor scaling are the tiles [1, cols] and [rows, cols]. */
#ifndef TD_FP8_H
#define TD_FP8_H

#include <stdint.h>

#include "../common/err.h"
#include "../common/dtype.h"

/* float32 -> float8_e4m3fn, round to nearest even, as torch's
 * .to(torch.float8_e4m3fn): |f| >= 480, inf and NaN give NaN (0x7f) with
 * f's sign; values above 448 and below 480 round to 448 or to NaN. */
uint8_t fp8_e4m3fn(float f);


/* The float32 scales of the tiles of one tile row: rows [0, n) of src
 * (n <= the tile height), cols columns, tiles bk wide (the last one
 * partial); scales[ceil(cols / bk)].  whole: the tile is the whole tensor
 * (slime's tensor_fp8), whose 0-dim scale torch treats differently: a NaN
 * maximum has other bits, and the quotient is rounded to the weight's
 * dtype before the clamp (type promotion ignores 0-dim tensors). */
void fp8_tile_scales(const unsigned char *src, td_dtype t, int64_t n,
		     int64_t cols, int64_t bk, int whole, float *scales);

/* Quantizes rows [0, n) of src with the scales of their tile row into
 * q[n * cols]. */
void fp8_quantize_rows(const unsigned char *src, td_dtype t, int64_t n,
		       int64_t cols, int64_t bk, int whole,
		       const float *scales, uint8_t *q);


/* fp8_write's error when rows_fn failed (its message names the source). */
enum { FP8_BAD_SOURCE = -2 };

/* Where fp8_write gets the weight: rows [r0, r0 + n) of it, row-major
 * (n is at most a tile's height), valid until the next call; NULL on
 * error (err set). */
typedef const unsigned char *(*fp8_rows_fn)(void *ctx, int64_t r0,
					    int64_t n, td_err *err);

/* Quantizes the row-major [rows, cols] weight of dtype t that rows_fn
 * gives, in tiles of th x tw (whole: one tile, slime's tensor_fp8), a
 * tile row at a time, and writes its e4m3fn bytes at woff of fd and its
 * float32 scales (row-major [row tiles, column tiles], little-endian) at
 * soff.  Memory besides what rows_fn holds: the scales and a buffer of
 * about 1 MiB of output rows (at least one row).  0, -1 (the output
 * could not be written) or FP8_BAD_SOURCE. */
int fp8_write(int fd, fp8_rows_fn rows_fn, void *ctx, td_dtype t,
	      int64_t rows, int64_t cols, int64_t th, int64_t tw, int whole,
	      uint64_t woff, uint64_t soff, td_err *err);

#endif
