/* quantize.c — plan_quantize (plan.h): the outputs --quantize turns into
 * FP8 weights and their scale tensors, as slime's
 * tools/convert_hf_to_fp8.py makes them from the unquantized shards. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/map.h"
#include "plan.h"

td_dtype plan_tensor_dtype(const plan_tensor *t)
{
	return t->quant == PT_FP8 ? TD_DT_F8_E4M3 : t->out.node->shape.dtype;
}

/* Whether t can be quantized; the message says why not. */
static int check_weight(const plan *pl, const plan_tensor *t, td_err *err)
{
	const vm_shape *s = &t->out.node->shape;
	td_dtype d = s->dtype;
	char sh[128];

	vm_shape_str(s, sh, sizeof sh);
	if (pl->entries[t->entry].origin)
		return td_errf(err, "--quantize: output '%s' is copied from the "
			       "HF checkpoint (--add-missing-from-origin-hf), "
			       "which td2hf does not quantize", t->out.name);
	if (d != TD_DT_BF16 && d != TD_DT_F16 && d != TD_DT_F32)
		return td_errf(err, "--quantize: output '%s' is %s; only BF16, "
			       "F16 and F32 weights are quantized", t->out.name,
			       td_dtype_st_name(d));
	if (pl->quant.strategy == PQ_BLOCK && s->ndim != 2)
		return td_errf(err, "--quantize fp8-block: output '%s' %s is not "
			       "2-D (slime's block_fp8 needs a matrix)",
			       t->out.name, sh);
	if (s->ndim < 1 || td_shape_numel(s->dims, s->ndim) == 0)
		return td_errf(err, "--quantize: output '%s' %s has no rows to "
			       "quantize", t->out.name, sh);
	return 0;
}

/* The scale's shape for weight shape s: [row tiles, column tiles]
 * (block), [..., 1] (channel), [1] (tensor). */
static void scale_shape(const quant_spec *q, const vm_shape *s, vm_shape *out)
{
	int64_t cols = s->dims[s->ndim - 1];

	memset(out, 0, sizeof *out);
	out->dtype = TD_DT_F32;
	switch (q->strategy) {
	case PQ_BLOCK:
		out->ndim = 2;
		out->dims[0] = (s->dims[0] + q->block[0] - 1) / q->block[0];
		out->dims[1] = (cols + q->block[1] - 1) / q->block[1];
		break;
	case PQ_CHANNEL:
		*out = *s;
		out->dtype = TD_DT_F32;
		out->dims[s->ndim - 1] = 1;
		break;
	default:
		out->ndim = 1;
		out->dims[0] = 1;
	}
}

/* Makes tensors[w]'s scale tensor at index si. */
static int add_scale(plan *pl, uint32_t w, uint32_t si, td_map *names,
		     td_err *err)
{
	plan_tensor *t = &pl->tensors[w], *sc = &pl->tensors[si];
	const char *suffix = pl->quant.strategy == PQ_BLOCK ?
			     ".weight_scale_inv" : ".weight_scale";
	char *name = quant_replace(t->out.name, ".weight", suffix, VM_NAME_MAX);
	vm_shape sh;
	size_t old;

	if (!name)
		return td_errf(err, "output '%s': the name of its scale is too "
			       "long", t->out.name);
	memset(sc, 0, sizeof *sc);
	sc->out.name = td_arena_strndup(pl->arena, name, strlen(name));
	free(name);
	if (!sc->out.name)
		return td_errf(err, "out of memory");
	if (strcmp(sc->out.name, t->out.name) == 0)
		return td_errf(err, "--quantize: output '%s' has no '.weight' "
			       "in its name, so its scale would replace it",
			       t->out.name);
	switch (td_map_put(names, sc->out.name, strlen(sc->out.name), si, &old)) {
	case 1:
		return td_errf(err, "--quantize: the scale of '%s' would be "
			       "named '%s', as another output is", t->out.name,
			       sc->out.name);
	case -1:
		return td_errf(err, "out of memory");
	}
	scale_shape(&pl->quant, &t->out.node->shape, &sh);
	sc->out.node = view_entry(pl->arena, &sh, err);
	if (!sc->out.node || td_shape_nbytes(sh.dims, sh.ndim, 4,
					     &sc->out.nbytes) != 0)
		return td_errf(err, "out of memory");
	sc->entry = t->entry;
	sc->shard = t->shard;
	sc->quant = PT_SCALE;
	sc->partner = w;
	t->quant = PT_FP8;
	t->partner = si;
	t->out.nbytes = td_shape_numel(t->out.node->shape.dims,
				       t->out.node->shape.ndim);
	return 0;
}

/* slime's index total_size: the sum of len(v), every tensor's first
 * dimension (a 0-dim tensor, which len() refuses, counts 1). */
static uint64_t slime_total(const plan *pl)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < pl->nemitted; i++) {
		const vm_shape *s = &pl->tensors[pl->emitted[i]].out.node->shape;

		sum += s->ndim ? (uint64_t)s->dims[0] : 1;
	}
	return sum;
}

static uint32_t count_selected(const plan *pl, const program *prog)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < pl->nemitted; i++)
		n += (uint32_t)quant_selected(prog, pl->tensors[pl->emitted[i]].out.name);
	return n;
}

static int name_all(const plan *pl, td_map *names, td_err *err)
{
	for (uint32_t i = 0; i < pl->ntensors; i++) {
		const char *n = pl->tensors[i].out.name;
		size_t old;

		if (td_map_put(names, n, strlen(n), i, &old) < 0)
			return td_errf(err, "out of memory");
	}
	return 0;
}

int plan_quantize(plan *pl, const program *prog, td_err *err)
{
	uint32_t n = count_selected(pl, prog), i, k = 0, next = pl->ntensors;
	uint32_t *em = NULL;
	plan_tensor *nt;
	td_map *names = NULL;
	int rc = -1;

	nt = realloc(pl->tensors, ((size_t)pl->ntensors + n + 1) * sizeof *nt);
	if (nt)
		pl->tensors = nt;
	em = malloc(((size_t)pl->nemitted + n + 1) * sizeof *em);
	names = td_map_new();
	if (!nt || !em || !names) {
		td_errf(err, "out of memory");
		goto out;
	}
	if (name_all(pl, names, err) != 0)
		goto out;
	for (i = 0; i < pl->nemitted; i++) {
		uint32_t t = pl->emitted[i];

		pl->tensors[t].order = k;
		em[k++] = t;
		if (!quant_selected(prog, pl->tensors[t].out.name))
			continue;
		if (check_weight(pl, &pl->tensors[t], err) != 0 ||
		    add_scale(pl, t, next, names, err) != 0)
			goto out;
		pl->tensors[next].order = k;
		em[k++] = next++;
		pl->nquantized++;
	}
	pl->ntensors = next;
	free(pl->emitted);
	pl->emitted = em;
	pl->nemitted = k;
	em = NULL;
	pl->total_size = slime_total(pl);
	rc = 0;
out:
	free(em);
	td_map_free(names);
	return rc;
}
