/* family.h — finding the rules for a model: the model name from a
 * HuggingFace config.json, rules/families, and which installed rules fit
 * a checkpoint. */
#ifndef TD_FAMILY_H
#define TD_FAMILY_H

#include <stddef.h>
#include <stdio.h>

#include "../common/err.h"

/* The name slime derives from an HF dir: the config class lower-cased,
 * e.g. "qwen3config". */
int family_model_name(const char *hf_dir, char *name, size_t size, td_err *err);

/* The rules file for a model name, by dir/families: dir/<rules>.mapbc.
 * An unknown name is an error listing the accepted ones. */
int family_rules_path(const char *dir, const char *model, char *path,
		      size_t size, td_err *err);

/* The rules file of --arch NAME: dir/NAME.mapbc, which must exist; an
 * unknown NAME is an error listing the installed families. */
int family_arch_path(const char *dir, const char *arch, char *path,
		     size_t size, td_err *err);

/* `td2hf rules`: every accepted model name and the rules file it selects. */
int family_list(const char *dir, FILE *out);

/* `td2hf rules --detect CHECKPOINT`: every installed family, those whose
 * rules cover every stored key first (fewest rules left unused first). */
int family_detect(const char *dir, const char *checkpoint, FILE *out);

#endif
