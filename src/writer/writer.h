/* writer.h — writes a plan: shard files (headers, then each entry's
 * outputs at their offsets), the index, the copied assets; all in a
 * temporary sibling directory renamed into place when complete. */
#ifndef TD_WRITER_H
#define TD_WRITER_H

#include <stdio.h>

#include "../plan/plan.h"

typedef struct wr_options {
	const char *out_dir;
	const char *hf_dir;      /* NULL: no assets */
	int force;               /* replace an existing out_dir */
	int progress;            /* print progress on stderr */
	int jobs;                /* writer threads */
	int direct;              /* copy unchanged bytes with copy_file_range */
	int verify;              /* check each chunk's CRC-32 before use */
	FILE *log;               /* warnings; NULL: none */
} wr_options;

typedef struct wr_stats {
	uint64_t bytes;          /* tensor bytes written */
	uint64_t direct_bytes;   /* of which copied file to file */
	uint64_t peak_buffers;   /* largest working memory of one thread */
} wr_stats;

/* Returns 0, -1 on error (err set; nothing left behind), or 130 when
 * interrupted by SIGINT/SIGTERM (nothing left behind). */
int wr_convert(td_checkpoint *ck, const plan *pl, const wr_options *o,
	       wr_stats *st, td_err *err);

#endif
