#include "phase.h"

#include "clock.h"

/* Each thread's own counters: no lock on the hot path. */
static _Thread_local td_phases mine;

struct timespec td_phase_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

void td_phase_end(int ph, const struct timespec *t0)
{
	mine.s[ph] += td_seconds_since(t0);
}

void td_phases_take(td_phases *into)
{
	int i;

	for (i = 0; i < TD_PH_N; i++) {
		into->s[i] += mine.s[i];
		mine.s[i] = 0;
	}
}

const char *td_phase_name(int ph)
{
	static const char *const names[TD_PH_N] = {
		"read", "CRC", "copy", "compute", "write", "sync"
	};

	return ph >= 0 && ph < TD_PH_N ? names[ph] : "?";
}
