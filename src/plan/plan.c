/* plan.c — from catalog and rules to the list of outputs, in the order
 * slime's converter emits them, with shards and headers. */
#include "plan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"
#include "../common/map.h"
#include "../vm/match.h"
#include "header.h"
#include "origin.h"

/* The tensors held for one group instance (a group and the captured
 * integers of its members): as many as the group has members, less one. */
typedef struct held {
	uint32_t *tensors;
	size_t n, cap;
} held;

typedef struct builder {
	plan *pl;
	const program *prog;
	vm m;
	uint8_t *group_on;     /* per group: its `when` holds */
	td_map *held_index;    /* "group:caps" -> index in held */
	held *held;
	uint32_t nheld;
	td_map *names;         /* output name -> tensor index */
	size_t cap_entries, cap_tensors, cap_emitted;
	td_err *err;
} builder;

/* Room for one more of the plan's arrays' elements (see td_grow). */
static int grow(void **arr, uint32_t n, size_t *cap, size_t size)
{
	void *na = td_grow(*arr, n, cap, size, 64);

	if (!na)
		return -1;
	*arr = na;
	return 0;
}

/* ---------------------------------------------------------------- groups */

static int emit(builder *b, uint32_t t)
{
	b->pl->emitted[b->pl->nemitted++] = t;
	return 0;
}

/* Group g's key for a matched output: its number and captured integers. */
static size_t group_key(char *buf, size_t size, uint32_t g,
			const vm_caps *caps, uint32_t ncaps)
{
	size_t len = (size_t)snprintf(buf, size, "%u", g);
	uint32_t i;

	for (i = 0; i < ncaps && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, ":%" PRId64,
					caps->ints[i]);
	return len < size ? len : size - 1;
}

/* The held list of the group instance `key`, made empty on first use;
 * NULL when out of memory. */
static held *held_for(builder *b, const char *key, size_t klen)
{
	held *nh;
	size_t slot;

	if (td_map_get(b->held_index, key, klen, &slot))
		return &b->held[slot];
	nh = realloc(b->held, (b->nheld + 1) * sizeof *nh);
	if (!nh)
		return NULL;
	b->held = nh;
	if (td_map_put(b->held_index, key, klen, b->nheld, NULL) != 0)
		return NULL;  /* -1: no memory; never 1: not found above */
	memset(&b->held[b->nheld], 0, sizeof *nh);
	return &b->held[b->nheld++];
}

/* Appends t to h (no limit but the group's size). */
static int hold(held *h, uint32_t t)
{
	uint32_t *nt = td_grow(h->tensors, h->n, &h->cap, sizeof *nt, 4);

	if (!nt)
		return -1;
	h->tensors = nt;
	h->tensors[h->n++] = t;
	return 0;
}

/* Holds t if it belongs to an active group whose other members have not
 * all arrived; when the last arrives it goes first, then the held ones
 * (slime's q_a_proj / kv_a_proj_with_mqa pairing). */
static int route(builder *b, uint32_t t)
{
	const program *p = b->prog;
	const char *name = b->pl->tensors[t].out.name;
	uint32_t g, k;
	vm_caps caps;

	for (g = 0; g < p->ngroups; g++) {
		const prog_group *gr = &p->groups[g];

		if (!b->group_on[g])
			continue;
		for (k = 0; k < gr->n; k++) {
			uint32_t pat = p->members[gr->first + k];
			char key[512];
			size_t klen;
			held *h;

			if (!vm_match(p, pat, name, &caps))
				continue;
			klen = group_key(key, sizeof key, g, &caps, p->pats[pat].ncaps);
			h = held_for(b, key, klen);
			if (!h)
				return td_errf(b->err, "out of memory");
			if (h->n + 1 < gr->n)
				return hold(h, t) == 0 ? 0
				       : td_errf(b->err, "out of memory");
			emit(b, t);
			for (k = 0; k < h->n; k++)
				emit(b, h->tensors[k]);
			h->n = 0;
			return 0;
		}
	}
	return emit(b, t);
}

/* Tensors still held when the input ends are dropped, as slime drops
 * them (its cache is never flushed); the CLI warns about each. */
static void drop_held(builder *b)
{
	uint32_t i, k;

	for (i = 0; i < b->nheld; i++)
		for (k = 0; k < b->held[i].n; k++) {
			b->pl->tensors[b->held[i].tensors[k]].dropped = 1;
			b->pl->ndropped++;
		}
}

/* ---------------------------------------------------------------- entries */

static int add_output(builder *b, const vm_output *o, uint32_t entry)
{
	plan *pl = b->pl;
	size_t old;
	uint32_t t = pl->ntensors;

	if (grow((void **)&pl->tensors, pl->ntensors, &b->cap_tensors,
		 sizeof *pl->tensors) != 0 ||
	    grow((void **)&pl->emitted, pl->ntensors, &b->cap_emitted,
		 sizeof *pl->emitted) != 0)
		return td_errf(b->err, "out of memory");
	switch (td_map_put(b->names, o->name, strlen(o->name), t, &old)) {
	case 1:
		return td_errf(b->err, "output '%s' is produced twice: by '%s' "
			       "and by '%s'", o->name,
			       pl->entries[pl->tensors[old].entry].e.name,
			       pl->entries[entry].e.name);
	case -1:
		return td_errf(b->err, "out of memory");
	}
	memset(&pl->tensors[t], 0, sizeof pl->tensors[t]);
	pl->tensors[t].out = *o;
	pl->tensors[t].entry = entry;
	pl->ntensors++;
	return route(b, t);
}

/* A new entry at the end of the plan, its outputs the next n tensors
 * (the rest zero); NULL when out of memory. */
static plan_entry *new_entry(builder *b, uint32_t n, td_err *err)
{
	plan *pl = b->pl;
	plan_entry *pe;

	if (grow((void **)&pl->entries, pl->nentries, &b->cap_entries,
		 sizeof *pl->entries) != 0)
		return td_errf(err, "out of memory"), NULL;
	pe = &pl->entries[pl->nentries++];
	memset(pe, 0, sizeof *pe);
	pe->first = pl->ntensors;
	pe->n = n;
	return pe;
}

static int on_entry(void *ctx, const vm_entry *e, td_err *err)
{
	builder *b = ctx;
	plan *pl = b->pl;
	plan_entry *pe;
	vm_result res;
	const char *name;
	int i;

	if (vm_run(&b->m, e, &res, err) != 0)
		return -1;
	name = td_arena_strndup(pl->arena, e->name, strlen(e->name));
	if (!name)
		return td_errf(err, "out of memory");
	pe = new_entry(b, (uint32_t)res.nout, err);
	if (!pe)
		return -1;
	pe->e = *e;
	pe->e.name = name;
	pe->rule = res.rule;
	for (i = 0; i < res.nout; i++)
		if (add_output(b, &res.out[i], pl->nentries - 1) != 0)
			return -1;
	return 0;
}

static int add_key(builder *b, td_checkpoint *ck, uint32_t i)
{
	const dcp_key *k = &ck->cat.keys[i];
	vm_shape sh;

	if (vm_skipped(&b->m, k->name)) {
		b->pl->nskipped++;
		return 0;
	}
	if (k->kind != DCP_TENSOR)
		return td_errf(b->err, "key '%s' is a bytes entry, not a tensor, "
			       "and no skip rule matches it", k->name);
	if (dcp_check_tiling(&ck->cat, i, b->err) != 0)
		return -1;
	sh.dtype = k->dtype;
	sh.ndim = k->ndim;
	memcpy(sh.dims, k->shape, sizeof sh.dims);
	return vm_expand(&b->m, i, k->name, &sh, on_entry, b, b->err);
}

/* ---------------------------------------------------------------- origin */

static td_file *origin_file(void *ctx, const char *path, td_err *err)
{
	builder *b = ctx;
	plan *pl = b->pl;
	td_file *nf;

	if (pl->norigins >= 4096)
		return td_errf(err, "too many .safetensors files"), NULL;
	if (!pl->origins) {
		pl->origins = calloc(4096, sizeof *pl->origins);
		if (!pl->origins)
			return td_errf(err, "out of memory"), NULL;
	}
	nf = &pl->origins[pl->norigins];
	if (td_file_open(nf, path, err) != 0)
		return NULL;
	pl->norigins++;
	return nf;
}

static int origin_produced(void *ctx, const char *name)
{
	builder *b = ctx;
	size_t i;

	return td_map_get(b->names, name, strlen(name), &i);
}

static int origin_tensor(void *ctx, const char *name, const vm_shape *shape,
			 const td_file *f, uint64_t offset, td_err *err)
{
	builder *b = ctx;
	plan *pl = b->pl;
	vm_output o;
	plan_entry *pe;

	memset(&o, 0, sizeof o);
	if (strlen(name) >= VM_NAME_MAX)
		return td_errf(err, "%s: tensor name too long", f->path);
	o.name = td_arena_strndup(pl->arena, name, strlen(name));
	if (!o.name)
		return td_errf(err, "out of memory");
	o.node = view_entry(pl->arena, shape, err);
	if (!o.node || td_shape_nbytes(shape->dims, shape->ndim,
				       td_dtype_size(shape->dtype), &o.nbytes))
		return -1;
	pe = new_entry(b, 1, err);
	if (!pe)
		return -1;
	pe->e.name = o.name;
	pe->e.shape = *shape;
	pe->origin = f;
	pe->origin_off = offset;
	return add_output(b, &o, pl->nentries - 1);
}

static int add_missing(builder *b, const char *hf_dir)
{
	origin_ctx o = {b, origin_file, origin_produced, origin_tensor, 0, 0};

	if (b->pl->nemitted)
		o.last_size = b->pl->tensors[b->pl->emitted[b->pl->nemitted - 1]]
				      .out.nbytes;
	if (origin_add_missing(&o, hf_dir, b->err) != 0)
		return -1;
	b->pl->extra_total = o.extra_total;
	return 0;
}

/* ---------------------------------------------------------------- shards */

static int assign_shards(plan *pl, uint64_t chunk, td_err *err)
{
	uint64_t cur = 0;
	uint32_t i, shard = 0;

	for (i = 0; i < pl->nemitted; i++) {
		plan_tensor *t = &pl->tensors[pl->emitted[i]];

		if (t->out.nbytes + cur > chunk) { /* slime: even if empty */
			shard++;
			cur = 0;
		}
		t->shard = shard;
		t->order = i;
		cur += t->out.nbytes;
		pl->total_size += t->out.nbytes;
	}
	pl->total_size += pl->extra_total;
	pl->nshards = shard + 1;
	pl->shards = calloc(pl->nshards, sizeof *pl->shards);
	if (!pl->shards)
		return td_errf(err, "out of memory");
	for (i = 0; i < pl->nshards; i++)
		snprintf(pl->shards[i].file, sizeof pl->shards[i].file,
			 "model-%05u-of-%05u.safetensors", i, pl->nshards);
	return 0;
}

static void builder_free(builder *b)
{
	uint32_t i;

	free(b->group_on);
	for (i = 0; i < b->nheld; i++)
		free(b->held[i].tensors);
	free(b->held);
	td_map_free(b->held_index);
	td_map_free(b->names);
}

/* Every `require` of the rules holds for this checkpoint's parameters;
 * else the first that does not is named with what it means. */
static int check_requires(builder *b)
{
	const program *p = b->prog;
	vm_value v;

	for (uint32_t i = 0; i < p->nrequires; i++) {
		const prog_require *r = &p->requires[i];

		if (vm_eval(p, &b->pl->params, r->code, &v, b->err) != 0)
			return td_err_prefix(b->err, "require at %s:%u",
					     p->strs[r->file], r->line);
		if (v.none || v.v == 0)
			return td_errf(b->err, "these rules do not fit this "
				       "checkpoint: %s (require at %s:%u)",
				       p->strs[r->why], p->strs[r->file],
				       r->line);
	}
	return 0;
}

static int prepare(builder *b, td_checkpoint *ck, const plan_options *opt)
{
	uint32_t g;
	vm_value v;

	if (plan_params_resolve(b->prog, ck->has_args ? &ck->args : NULL,
				opt->overrides, opt->noverrides, &b->pl->params,
				b->err) != 0 || check_requires(b) != 0)
		return -1;
	b->group_on = calloc(b->prog->ngroups + 1, 1);
	b->held_index = td_map_new();
	b->names = td_map_new();
	b->pl->arena = td_arena_new((size_t)1 << 34);
	if (!b->group_on || !b->held_index || !b->names || !b->pl->arena)
		return td_errf(b->err, "out of memory");
	for (g = 0; g < b->prog->ngroups; g++) {
		int32_t w = b->prog->groups[g].when_code;

		if (w == PROG_NO) {
			b->group_on[g] = 1;
			continue;
		}
		if (vm_eval(b->prog, &b->pl->params, w, &v, b->err) != 0)
			return td_err_prefix(b->err, "group condition at %s:%u",
					     b->prog->strs[b->prog->groups[g].file],
					     b->prog->groups[g].line);
		b->group_on[g] = !v.none; /* as slime: "is not None" */
	}
	b->m.prog = b->prog;
	b->m.params = &b->pl->params;
	b->m.arena = b->pl->arena;
	return 0;
}

int plan_build(td_checkpoint *ck, const program *prog,
	       const plan_options *opt, plan *out, td_err *err)
{
	builder b;
	uint32_t i;
	int rc;

	memset(out, 0, sizeof *out);
	memset(&b, 0, sizeof b);
	b.pl = out;
	b.prog = prog;
	b.err = err;
	rc = prepare(&b, ck, opt);
	for (i = 0; rc == 0 && i < ck->cat.nkeys; i++)
		rc = add_key(&b, ck, i);
	if (rc == 0)
		drop_held(&b);
	if (rc == 0 && opt->add_missing_from)
		rc = add_missing(&b, opt->add_missing_from);
	if (rc == 0)
		rc = assign_shards(out, opt->chunk_size, err);
	if (rc == 0 && opt->quant && opt->quant->strategy != PQ_NONE) {
		out->quant = *opt->quant;
		rc = plan_quantize(out, prog, err);
	}
	if (rc == 0)
		rc = plan_headers(out, err);
	builder_free(&b);
	if (rc != 0)
		plan_free(out);
	return rc;
}

void plan_free(plan *pl)
{
	uint32_t i;

	for (i = 0; pl->shards && i < pl->nshards; i++)
		free(pl->shards[i].header);
	free(pl->shards);
	free(pl->entries);
	free(pl->tensors);
	free(pl->emitted);
	for (i = 0; i < pl->norigins; i++)
		td_file_close(&pl->origins[i]);
	free(pl->origins);
	vm_params_free(&pl->params);
	td_arena_free(pl->arena);
	memset(pl, 0, sizeof *pl);
}
