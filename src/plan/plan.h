/* plan.h — every output of a conversion, known before a byte is written:
 * which entry (stored key, leading indices) and view tree each comes from,
 * names checked unique, shards assigned as slime's converter assigns them,
 * each shard's safetensors header, and the index JSON. */
#ifndef TD_PLAN_H
#define TD_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "../common/arena.h"
#include "../reader/checkpoint.h"
#include "../vm/vm.h"
#include "params.h"
#include "quant.h"

typedef struct plan_entry {
	vm_entry e;
	uint32_t rule;
	uint32_t first, n;  /* its outputs: tensors[first .. first+n) */
	const td_file *origin;   /* --add-missing: copied from this file */
	uint64_t origin_off;     /* at this offset (e.key is unused) */
} plan_entry;

typedef struct plan_tensor {
	vm_output out;      /* name, node tree, byte size */
	uint32_t entry;
	uint32_t shard;
	uint64_t offset;    /* absolute file offset of its data in the shard */
	uint32_t order;     /* position in emission order (index, sharding) */
	int dropped;        /* held for a group that never completed: slime
			     * never writes it, neither do we */
	int quant;          /* PT_PLAIN, PT_FP8 (a quantized weight: its
			     * scale is tensors[partner]) or PT_SCALE (the
			     * scale of tensors[partner]) */
	uint32_t partner;
} plan_tensor;

enum { PT_PLAIN, PT_FP8, PT_SCALE };

/* The dtype t is written in: F8_E4M3 for a quantized weight. */
td_dtype plan_tensor_dtype(const plan_tensor *t);

typedef struct plan_shard {
	char file[64];      /* model-XXXXX-of-YYYYY.safetensors */
	char *header;       /* 8-byte length + JSON + padding */
	uint64_t header_len;
	uint64_t size;      /* whole file */
	uint32_t ntensors;
} plan_shard;

typedef struct plan {
	td_arena *arena;
	vm_params params;
	plan_entry *entries;
	uint32_t nentries;
	plan_tensor *tensors;   /* grouped by entry */
	uint32_t ntensors;
	uint32_t *emitted;      /* tensor indexes in emission order */
	uint32_t nemitted;      /* ntensors less the dropped ones */
	uint32_t ndropped;
	plan_shard *shards;
	uint32_t nshards;
	uint64_t total_size;
	uint32_t nskipped;      /* stored keys skipped */
	td_file *origins;       /* --add-missing: the HF files read */
	uint32_t norigins;
	uint64_t extra_total;   /* slime's total_size quirk with -a */
	quant_spec quant;          /* --quantize (PQ_NONE: not) */
	uint32_t nquantized;    /* weights quantized */
} plan;

typedef struct plan_options {
	uint64_t chunk_size;          /* shard size limit (slime: 5 GiB) */
	const plan_override *overrides;
	int noverrides;
	const char *add_missing_from;  /* HF dir, or NULL */
	const quant_spec *quant;          /* --quantize, or NULL */
} plan_options;

int plan_build(td_checkpoint *ck, const program *prog,
	       const plan_options *opt, plan *out, td_err *err);
void plan_free(plan *pl);

/* --quantize, after the shards are assigned by the unquantized sizes (as
 * slime's two tools do): every emitted output the rules' quantize
 * statement selects becomes F8_E4M3 and gets its F32 scale tensor, in
 * the same shard, emitted right after it; total_size becomes slime's
 * sum of first dimensions (quant.c).  Called by plan_build. */
int plan_quantize(plan *pl, const program *prog, td_err *err);

/* config.json from the HF directory's (text, len bytes, read from path)
 * with slime's quantization_config added (or replaced); a new string. */
char *plan_config_json(const plan *pl, const char *text, size_t len,
		       const char *path, td_err *err);

/* model.safetensors.index.json exactly as Python's json.dump(indent=2). */
char *plan_index_json(const plan *pl);

/* The --dry-run listing. */
void plan_print(const plan *pl, const td_checkpoint *ck,
		const program *prog, FILE *out);

/* The rules no entry matched (part of the --dry-run listing): a rules
 * author sees what a fixture does not exercise. */
void plan_print_unused(const plan *pl, const program *prog, FILE *out);

/* How many rules no entry matched. */
uint32_t plan_unused_rules(const plan *pl, const program *prog);

/* --explain: every entry whose stored key, rewritten name or outputs
 * include name.  Returns 0 when nothing matched. */
int plan_explain(const plan *pl, const td_checkpoint *ck,
		 const program *prog, const char *name, FILE *out);

/* --explain of a stored key that a skip rule drops: which rule.  Returns
 * 0 when name is not such a key. */
int plan_explain_skipped(const td_checkpoint *ck, const program *prog,
			 const char *name, FILE *out);

#endif
