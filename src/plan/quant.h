/* quant.h — FP8 export (--quantize): which outputs are quantized (the
 * rules' `quantize` statement), the scale tensor each one gets, and what
 * slime's tools/convert_hf_to_fp8.py writes besides the shards: its
 * index total_size and config.json's quantization_config. */
#ifndef TD_QUANT_H
#define TD_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../lang/program.h"

typedef enum quant_strategy { PQ_NONE, PQ_BLOCK, PQ_CHANNEL, PQ_TENSOR } quant_strategy;

typedef struct quant_spec {
	quant_strategy strategy;
	int64_t block[2];        /* PQ_BLOCK: a tile's rows and columns */
	const char *scale_fmt;   /* "ue8m0" or NULL: only recorded */
} quant_spec;

/* "fp8-block", "fp8-channel", "fp8-tensor"; -1 (err set) otherwise. */
int quant_parse_strategy(const char *s, quant_strategy *out, td_err *err);

/* A block size from the command line: 1 .. 2^31. */
int quant_parse_block(const char *s, int64_t *out, td_err *err);

/* Whether the rules' quantize statement selects the output name. */
int quant_selected(const program *p, const char *name);

/* The tile the scales are computed over, for a weight of rows x cols
 * (rows: the product of all dimensions but the last): the block, one
 * row (channel) or everything (tensor). */
void quant_tile(const quant_spec *q, int64_t rows, int64_t cols, int64_t *th,
		int64_t *tw);

/* slime's key.replace(old, new): every occurrence; NULL when out of
 * memory or longer than max. */
char *quant_replace(const char *s, const char *old, const char *new, size_t max);

#endif
