/* header.h — the JSON td2hf writes, byte for byte as the reference's
 * writers do: safetensors headers (Rust serde_json, compact) and the index
 * (Python json.dump with indent=2 and ensure_ascii); with --quantize,
 * also config.json's quantization_config (plan_config_json, plan.h). */
#ifndef TD_HEADER_H
#define TD_HEADER_H

#include "plan.h"

/* Sorts each shard's tensors as safetensors does (dtype descending, then
 * name), sets their offsets and builds each shard's header. */
int plan_headers(plan *pl, td_err *err);

#endif
