/* writer.h — writes a plan: shard files (headers, then each entry's
 * outputs at their offsets), the index, the copied assets; all in a
 * temporary sibling directory renamed into place when complete. */
#ifndef TD_WRITER_H
#define TD_WRITER_H

#include <stdio.h>

#include "../common/phase.h"
#include "../plan/plan.h"

typedef struct writer_options {
	const char *out_dir;
	const char *hf_dir;      /* NULL: no assets */
	int force;               /* replace an existing out_dir */
	int progress;            /* print progress on stderr */
	int jobs;                /* writer threads */
	int direct;              /* copy unchanged bytes with copy_file_range */
	int verify;              /* check each chunk's CRC-32 before use */
	FILE *log;               /* warnings; NULL: none */
} writer_options;

typedef struct writer_stats {
	uint64_t bytes;          /* tensor bytes written */
	uint64_t direct_bytes;   /* of which copied file to file */
	uint64_t peak_buffers;   /* largest working memory of one thread */
	td_phases phases;        /* seconds per phase, summed over threads */
} writer_stats;

/* Returns 0, -1 on error (err set; nothing left behind), or 130 when
 * interrupted by SIGINT/SIGTERM (nothing left behind). */
int writer_convert(td_checkpoint *ck, const plan *pl, const writer_options *o,
		   writer_stats *st, td_err *err);

/* One part of a conversion shared by several processes (--part K/N):
 * its shards go into a staging directory that exists already, each
 * under ".<name>.<suffix>" while written and renamed to its own name
 * once complete and synced, so that a rerun can skip it. */
typedef struct writer_part {
	const char *stage;
	const unsigned char *mine;   /* per shard: this part writes it */
	const unsigned char *done;   /* per shard: complete already */
	const char *suffix;          /* unique to this process, e.g.
				      * "tmp-<pid>@<host>" */
} writer_part;

/* Writes the part's shards (no index, no assets, no rename of the
 * directory).  0, -1 (err set; completed shards stay, the shard being
 * written is removed) or 130 when interrupted. */
int writer_write_part(td_checkpoint *ck, const plan *pl, const writer_options *o,
		      const writer_part *part, writer_stats *st, td_err *err);

/* Completes a staging directory whose every shard is written: the index
 * and the assets are written into it, then it is renamed to o->out_dir
 * (an existing output replaced under the rules of outdir.h). */
int writer_finish(const plan *pl, const writer_options *o, const char *stage,
		  td_err *err);

#endif
