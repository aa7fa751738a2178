/* parts.h — one conversion written by several processes (every rank of a
 * training job), coordinated through the output's staging directory
 * alone: no locks, no shared memory, no messages; the only atomic step
 * relied on is rename within a directory, which NFS and Lustre keep.
 *
 * Every part computes the same plan, takes the shards assigned to it
 * (balanced by bytes) and writes them into "<out>.td2hf-parts", each
 * under a temporary name renamed to its own name once complete.  The
 * directory holds:
 *   .td2hf-run                       which conversion this is: digests
 *                                    of the plan and of the arguments
 *   .td2hf-part-K-of-N.done          part K's record: what it wrote
 *   .td2hf-part-K-of-N.failed        or its error
 *   model-*.safetensors              complete shards
 *   .model-*.safetensors.tmp-PID@HOST  shards being written
 * `--finish` checks that every part completed with the same digests and
 * every shard is there, writes the index and the assets, removes the
 * records and renames the directory into place.  A part run again skips
 * its shards already complete (size and header checked) and redoes the
 * rest.  docs/parallel.md describes the protocol and its failure modes. */
#ifndef TD_PARTS_H
#define TD_PARTS_H

#include <stdint.h>
#include <stdio.h>

#include "../plan/plan.h"
#include "writer.h"

#define PT_MAX_PARTS 1000000u

typedef struct parts_spec {
	uint32_t k, n;            /* part k of n, 0 <= k < n */
	char source[64];          /* where it came from, e.g. "SLURM_PROCID" */
} parts_spec;

/* "K/N", or "auto": the rank and world size from the launcher's
 * environment (torchrun RANK/WORLD_SIZE, Slurm SLURM_PROCID/SLURM_NTASKS,
 * Open MPI OMPI_COMM_WORLD_RANK/_SIZE, PMI PMI_RANK/PMI_SIZE). */
int parts_parse(const char *arg, parts_spec *out, td_err *err);

/* The part of each shard (a new array): largest shards first, each to the
 * part with the fewest bytes so far (the lowest index on ties). */
uint32_t *parts_assign(const plan *pl, uint32_t n, td_err *err);

/* What a conversion is: the plan's outputs (names, shards, headers, the
 * views that compute them) and what else decides the bytes (the
 * checkpoint's .metadata, the options).  Parts that disagree on either
 * must not be mixed. */
typedef struct parts_ident {
	uint64_t plan, args;
} parts_ident;

void parts_identify(const plan *pl, const td_checkpoint *ck,
		    const plan_options *po, parts_ident *id);

/* Writes part sp of the conversion; records its completion or its error
 * in the staging directory.  log: what was skipped or resumed (NULL:
 * quiet).  0, -1 (err set) or 130 (interrupted). */
int parts_run(td_checkpoint *ck, const plan *pl, const writer_options *o,
	      const parts_spec *sp, const parts_ident *id, FILE *log, writer_stats *st,
	      td_err *err);

/* Waits up to timeout seconds for every part of n to record completion
 * (or one its failure); 0 when all completed. */
int parts_wait(const char *out, const parts_ident *id, uint32_t n, double timeout,
	       FILE *log, td_err *err);

/* --finish: see above.  Names every missing or failed part and leaves
 * the staging directory as it was when anything is wrong. */
int parts_finish(const plan *pl, const writer_options *o, const parts_ident *id,
		 td_err *err);

#endif
