/* phase.h — where the writing time goes (td2hf --stats): seconds per kind
 * of work, summed by each thread in counters of its own and handed over
 * with td_phases_take. */
#ifndef TD_PHASE_H
#define TD_PHASE_H

#include <time.h>

enum {
	TD_PH_READ,     /* pread of chunk bytes */
	TD_PH_CRC,      /* CRC-32 of them */
	TD_PH_COPY,     /* copy_file_range (the kernel reads and writes) */
	TD_PH_COMPUTE,  /* assembling and converting tensors in memory */
	TD_PH_WRITE,    /* pwrite to the shards */
	TD_PH_SYNC,     /* fdatasync of the shards */
	TD_PH_N
};

typedef struct td_phases {
	double s[TD_PH_N];
} td_phases;

/* A reading of the monotonic clock, to pass to td_phase_end. */
struct timespec td_phase_start(void);

/* Adds the time since t0 to this thread's counter of phase ph. */
void td_phase_end(int ph, const struct timespec *t0);

/* Adds this thread's counters into *into and clears them. */
void td_phases_take(td_phases *into);

/* "read", "CRC", ... */
const char *td_phase_name(int ph);

#endif
