/* params.c — the values of a program's parameters for one checkpoint. */
#include "params.h"

#include <stdlib.h>
#include <string.h>

#include "../common/intops.h"

static int parse_value(const char *s, vm_value *v)
{
	v->none = strcmp(s, "none") == 0;
	return v->none ? 0 : td_parse_i64(s, INT64_MIN, INT64_MAX, &v->v);
}

/* From common.pt: 1 if the arg supplied a value, 0 if absent or None,
 * -1 if it has a type a parameter cannot take. */
static int from_args(const arg_table *args, const char *name, vm_value *v)
{
	const arg_entry *e = args ? args_find(args, name) : NULL;

	if (!e || e->type == ARG_NONE)
		return 0;
	if (e->type != ARG_INT && e->type != ARG_BOOL)
		return -1;
	v->v = e->i;
	v->none = 0;
	return 1;
}

static int resolve_one(const program *p, uint32_t i, const arg_table *args,
		       const plan_override *ov, int nov, vm_params *out,
		       td_err *err)
{
	const prog_param *pa = &p->params[i];
	const char *name = p->strs[pa->name];
	int k, rc;

	for (k = 0; pa->kind != PK_LET && k < nov; k++)
		if (strcmp(ov[k].name, name) == 0) {
			if (parse_value(ov[k].value, &out->v[i]) != 0)
				return td_errf(err, "--set %s=%s: not an integer "
					       "or none", name, ov[k].value);
			return 0;
		}
	rc = pa->kind == PK_LET ? 0 : from_args(args, name, &out->v[i]);
	if (rc < 0)
		return td_errf(err, "parameter %s: common.pt's args give it a "
			       "value that is not an integer", name);
	if (rc > 0)
		return 0;
	if (pa->code == PROG_NO && !args)
		return td_errf(err, "parameter %s is required and the checkpoint "
			       "has no common.pt to read it from; give it with "
			       "--set %s=N", name, name);
	if (pa->code == PROG_NO)
		return td_errf(err, "parameter %s is required: common.pt's args "
			       "do not set it; give it with --set %s=N", name,
			       name);
	out->n = i; /* expressions may read parameters before this one */
	if (vm_eval(p, out, pa->code, &out->v[i], err) != 0)
		return td_err_prefix(err, "%s %s", pa->kind == PK_LET ? "let"
				     : "parameter", name);
	return 0;
}

int plan_params_resolve(const program *p, const arg_table *args,
			const plan_override *ov, int nov, vm_params *out,
			td_err *err)
{
	uint32_t i;
	int k;

	out->v = calloc(p->nparams ? p->nparams : 1, sizeof *out->v);
	if (!out->v)
		return td_errf(err, "out of memory");
	for (k = 0; k < nov; k++) {
		for (i = 0; i < p->nparams; i++)
			if (strcmp(p->strs[p->params[i].name], ov[k].name) == 0 &&
			    p->params[i].kind != PK_LET)
				break;
		if (i == p->nparams) {
			vm_params_free(out);
			return td_errf(err, "--set %s: the rules have no parameter "
				       "of that name", ov[k].name);
		}
	}
	for (i = 0; i < p->nparams; i++)
		if (resolve_one(p, i, args, ov, nov, out, err) != 0) {
			vm_params_free(out);
			return -1;
		}
	out->n = p->nparams;
	return 0;
}
