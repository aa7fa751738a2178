/* clock.h — elapsed time on the monotonic clock. */
#ifndef TD_CLOCK_H
#define TD_CLOCK_H

#include <time.h>

/* Seconds from t0 (a CLOCK_MONOTONIC reading) to now. */
static inline double td_seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

#endif
