/* args.h — Megatron's common.pt: the argparse Namespace as a typed
 * parameter table, plus the iteration and checkpoint version. */
#ifndef TD_ARGS_H
#define TD_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

typedef enum arg_type {
	ARG_NONE, ARG_BOOL, ARG_INT, ARG_FLOAT, ARG_STR, ARG_OTHER
} arg_type;

typedef struct arg_entry {
	char *name;
	arg_type type;
	int64_t i;   /* ARG_BOOL (0/1), ARG_INT */
	double f;    /* ARG_FLOAT */
	char *text;  /* ARG_STR: the string; ARG_OTHER: a short rendering */
} arg_entry;

typedef struct arg_table {
	arg_entry *v;     /* in the Namespace's attribute order */
	size_t n;
	int64_t iteration;        /* -1 when absent */
	int has_version;
	double checkpoint_version;
} arg_table;

/* Reads path (a torch.save archive of a dict with "args"). */
int args_load(const char *path, arg_table *t, td_err *err);
void args_free(arg_table *t);

const arg_entry *args_find(const arg_table *t, const char *name);
const char *arg_type_name(arg_type t);

#endif
