/* SPDX-License-Identifier: MIT */
/* The one way to say "ms from now" to pthread_cond_timedwait. */
#ifndef IDSR_DEADLINE_H
#define IDSR_DEADLINE_H

#include <time.h>

/* The time ms milliseconds from now on CLOCK_REALTIME, the clock
 * pthread_cond_timedwait measures a condition variable's deadline on. */
static inline struct timespec deadline_after_ms(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

#endif
