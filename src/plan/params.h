/* params.h — binding the rules' parameters for one checkpoint, before
 * the VM runs: --set overrides, then common.pt's args, then the defaults
 * (evaluated by the VM in order: a default may read the parameters
 * before it). */
#ifndef TD_PLAN_PARAMS_H
#define TD_PLAN_PARAMS_H

#include "../common/err.h"
#include "../lang/program.h"
#include "../reader/args.h"
#include "../vm/vm.h"

/* "name=value" from the command line; value an integer or "none". */
typedef struct plan_override {
	const char *name;
	const char *value;
} plan_override;

/* Values of every param and let of p: overrides, then args (NULL: the
 * checkpoint has no common.pt), then defaults.  A required parameter
 * with no value is an error; so is an override naming no parameter. */
int plan_params_resolve(const program *p, const arg_table *args,
			const plan_override *ov, int nov, vm_params *out,
			td_err *err);

#endif
