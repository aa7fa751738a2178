/* checkpoint.h — a Megatron torch_dist checkpoint on disk: finds the
 * iteration directory, checks metadata.json, loads the DCP catalog and
 * common.pt. */
#ifndef TD_CHECKPOINT_H
#define TD_CHECKPOINT_H

#include "../common/err.h"
#include "args.h"
#include "dcp.h"

typedef struct td_checkpoint {
	char *iter_dir;       /* the directory holding .metadata */
	char backend[64];     /* from metadata.json; "" when absent */
	int backend_version;
	int has_args;         /* common.pt present */
	arg_table args;
	dcp_catalog cat;
} td_checkpoint;

/* path is an iteration directory (holds .metadata) or a Megatron save
 * directory (holds latest_checkpointed_iteration.txt). */
int ckpt_open(const char *path, td_checkpoint *c, td_err *err);
void ckpt_close(td_checkpoint *c);

#endif
