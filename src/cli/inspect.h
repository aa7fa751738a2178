/* inspect.h — `td2hf inspect`: what a checkpoint holds, for people
 * (text) and machines (JSON). */
#ifndef TD_INSPECT_H
#define TD_INSPECT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "../common/err.h"
#include "../lang/program.h"
#include "../reader/checkpoint.h"

/* rules: whose skips say which stored keys a conversion drops (each key
 * shows the skip pattern that matches it); NULL: none shown. */

/* The checkpoint as JSON; with `resolve`, every tensor chunk's archive is
 * opened to find its raw bytes (data_offset, crc32).  NULL on error. */
cJSON *inspect_json(td_checkpoint *c, const program *rules, int resolve,
		    td_err *err);

/* Human-readable listing; also resolves chunks when asked.  args: the
 * common.pt args to show, comma-separated; "*" all; NULL a default list
 * of the model's shape. */
/* How the text lists the keys: every key, a line per name pattern (digit
 * runs as <n>), or (auto) every key up to INSPECT_LIST_MAX keys. */
typedef enum inspect_list {
	INSPECT_AUTO, INSPECT_KEYS, INSPECT_SUMMARY
} inspect_list;

#define INSPECT_LIST_MAX 1000

int inspect_text(td_checkpoint *c, const program *rules, int resolve,
		 const char *args, inspect_list list, FILE *out, td_err *err);

#endif
