/* parts_plan.c — for --part: which part a process is (--part K/N or the
 * launcher's variables), which shards each part writes, and the digests
 * that tell one conversion from another (see parts.h). */
#include "config.h"

#include "parts.h"

#include <stdlib.h>
#include <string.h>

#include "../common/file.h"
#include "../common/map.h"

/* ---------------------------------------------------------------- parse */

static int parse_uint(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 9)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = (uint32_t)v;
	return 0;
}

static int check_spec(parts_spec *sp, td_err *err)
{
	if (sp->n == 0 || sp->n > PT_MAX_PARTS || sp->k >= sp->n)
		return td_errf(err, "--part %u/%u (from %s): wants K/N with "
			       "0 <= K < N <= %u", sp->k, sp->n, sp->source,
			       PT_MAX_PARTS);
	return 0;
}

/* The launcher's rank and world size, first that is set wins. */
static int from_env(parts_spec *sp, td_err *err)
{
	static const char *const vars[][2] = {
		{"RANK", "WORLD_SIZE"},                       /* torchrun */
		{"SLURM_PROCID", "SLURM_NTASKS"},             /* Slurm */
		{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, /* Open MPI */
		{"PMI_RANK", "PMI_SIZE"},                     /* MPICH, PMI */
	};

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *r = getenv(vars[i][0]), *n = getenv(vars[i][1]);

		if (!r || !n)
			continue;
		snprintf(sp->source, sizeof sp->source, "%s/%s", vars[i][0],
			 vars[i][1]);
		if (parse_uint(r, strlen(r), &sp->k) != 0 ||
		    parse_uint(n, strlen(n), &sp->n) != 0)
			return td_errf(err, "--part auto: %s='%s', %s='%s' are "
				       "not whole numbers", vars[i][0], r,
				       vars[i][1], n);
		return check_spec(sp, err);
	}
	return td_errf(err, "--part auto: no launcher told this process its "
		       "rank (none of RANK/WORLD_SIZE, SLURM_PROCID/"
		       "SLURM_NTASKS, OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE, "
		       "PMI_RANK/PMI_SIZE is set); give --part K/N");
}

int parts_parse(const char *arg, parts_spec *sp, td_err *err)
{
	const char *slash = strchr(arg, '/');

	memset(sp, 0, sizeof *sp);
	if (strcmp(arg, "auto") == 0)
		return from_env(sp, err);
	snprintf(sp->source, sizeof sp->source, "the command line");
	if (!slash || parse_uint(arg, (size_t)(slash - arg), &sp->k) != 0 ||
	    parse_uint(slash + 1, strlen(slash + 1), &sp->n) != 0)
		return td_errf(err, "--part: '%s' is not K/N (e.g. 0/4) or "
			       "auto", arg);
	return check_spec(sp, err);
}

/* ---------------------------------------------------------------- assign */

typedef struct by_size {
	uint64_t size;
	uint32_t shard;
} by_size;

static int larger_first(const void *a, const void *b)
{
	const by_size *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->shard < y->shard ? -1 : x->shard > y->shard;
}

uint32_t *parts_assign(const plan *pl, uint32_t n, td_err *err)
{
	uint32_t *part = malloc((pl->nshards ? pl->nshards : 1) * sizeof *part);
	by_size *order = malloc((pl->nshards ? pl->nshards : 1) * sizeof *order);
	uint64_t *load = calloc(n ? n : 1, sizeof *load);
	uint32_t s, p, best;

	if (!part || !order || !load) {
		free(part);
		part = NULL;
		td_errf(err, "out of memory");
		goto done;
	}
	for (s = 0; s < pl->nshards; s++)
		order[s] = (by_size){pl->shards[s].size, s};
	qsort(order, pl->nshards, sizeof *order, larger_first);
	for (s = 0; s < pl->nshards; s++) {
		for (best = 0, p = 1; p < n; p++)
			if (load[p] < load[best])
				best = p;
		part[order[s].shard] = best;
		load[best] += order[s].size;
	}
done:
	free(order);
	free(load);
	return part;
}

/* ---------------------------------------------------------------- identity */

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return td_hash(h, s, strlen(s) + 1);
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return td_hash(h, b, sizeof b);
}

static uint64_t hash_shape(uint64_t h, const vm_shape *s)
{
	h = fnv_u64(h, (uint64_t)s->dtype);
	h = fnv_u64(h, (uint64_t)s->ndim);
	for (int i = 0; i < s->ndim; i++)
		h = fnv_u64(h, (uint64_t)s->dims[i]);
	return h;
}

/* A view tree: what it does to its entry, all the way down. */
static uint64_t hash_node(uint64_t h, const vm_node *nd, int depth)
{
	h = fnv_u64(h, (uint64_t)nd->kind);
	h = hash_shape(h, &nd->shape);
	for (int i = 0; i < TD_MAX_DIMS; i++)
		h = fnv_u64(h, (uint64_t)nd->a[i]);
	h = fnv_u64(h, (uint64_t)nd->nin);
	for (int i = 0; i < nd->nin && depth < 64; i++)
		h = hash_node(h, nd->in[i], depth + 1);
	return h;
}

static uint64_t hash_tensor(uint64_t h, const plan *pl, const plan_tensor *t,
			    const td_checkpoint *ck)
{
	const plan_entry *pe = &pl->entries[t->entry];

	h = fnv_str(h, t->out.name);
	h = fnv_u64(h, t->shard);
	h = fnv_u64(h, t->offset);
	if (pe->origin)
		return fnv_u64(fnv_str(h, pe->origin->path), pe->origin_off);
	h = fnv_str(h, ck->cat.keys[pe->e.key].name);
	for (int i = 0; i < pe->e.nfixed; i++)
		h = fnv_u64(h, (uint64_t)pe->e.fixed[i]);
	return hash_node(h, t->out.node, 0);
}

void parts_identify(const plan *pl, const td_checkpoint *ck,
		    const plan_options *po, parts_ident *id)
{
	uint64_t h = TD_HASH_INIT;
	uint32_t i;

	for (i = 0; i < pl->nshards; i++) {
		h = fnv_str(h, pl->shards[i].file);
		h = fnv_u64(h, pl->shards[i].size);
		h = td_hash(h, pl->shards[i].header, pl->shards[i].header_len);
	}
	for (i = 0; i < pl->nemitted; i++)
		h = hash_tensor(h, pl, &pl->tensors[pl->emitted[i]], ck);
	id->plan = h;
	h = fnv_str(TD_HASH_INIT, PACKAGE_VERSION);
	h = fnv_u64(h, po->chunk_size);
	for (int s = 0; s < po->noverrides; s++)
		h = fnv_str(fnv_str(h, po->overrides[s].name),
			    po->overrides[s].value);
	h = fnv_u64(h, po->add_missing_from != NULL);
	if (po->quant && po->quant->strategy != PQ_NONE) {
		h = fnv_u64(h, (uint64_t)po->quant->strategy);
		h = fnv_u64(h, (uint64_t)po->quant->block[0]);
		h = fnv_u64(h, (uint64_t)po->quant->block[1]);
		h = fnv_str(h, po->quant->scale_fmt ? po->quant->scale_fmt : "");
	}
	h = fnv_u64(h, ck->cat.meta_size);
	id->args = fnv_u64(h, ck->cat.meta_crc32);
}
