/* family.h — finding the rules for a model: installed rules directory,
 * the model name from a HuggingFace config.json, and rules/families. */
#ifndef TD_FAMILY_H
#define TD_FAMILY_H

#include <stddef.h>

#include "../common/err.h"

/* $TD2HF_RULES_DIR, else the installed $(pkgdatadir)/rules. */
const char *family_rules_dir(void);

/* The name slime derives from an HF dir: the config class lower-cased,
 * e.g. "qwen3config". */
int family_model_name(const char *hf_dir, char *name, size_t size, td_err *err);

/* The rules file for a model name, by rules/families: dir/<rules>.mapbc. */
int family_rules_path(const char *dir, const char *model, char *path,
		      size_t size, td_err *err);

/* `td2hf rules`: what is installed. */
int family_list(const char *dir);

#endif
