/* SPDX-License-Identifier: MIT */
/* idsrd --push: a thread that sends each ended boot to ClickHouse (docs/design.md 6.7). */
#ifndef IDSRD_PUSHER_H
#define IDSRD_PUSHER_H

#include <stdbool.h>
#include <stdint.h>

/* Waits between tries after a failure: doubling from the first to the last. */
#define PUSHER_BACKOFF_MIN_MS	1000
#define PUSHER_BACKOFF_MAX_MS	300000
/* How often the queue is read again when nothing kicks the thread: while
 * boots wait for their VMM to exit (seen within this), and else (a boot's end
 * kicks the thread; this is only a safety net). */
#define PUSHER_RESCAN_MS	2000
#define PUSHER_IDLE_RESCAN_MS	60000
/* A request that moves no byte for this long fails (a hung server). */
#define PUSHER_STALL_S		120

/* What `status` shows (Status.push); strings NUL-terminated. */
struct pusher_status {
	char url[1024];			/* without credentials (there are none in it) */
	uint64_t pending;		/* ended boots to send */
	uint64_t waiting;		/* cut off or stopped, their VMM still running: may be resumed */
	uint64_t boots_pushed, rows_pushed;	/* since idsrd started */
	uint64_t failures;		/* failed tries since the last success */
	uint64_t skipped;		/* boots not retried until idsrd restarts (their own error) */
	char last_error[512];
	int64_t last_error_ns;		/* CLOCK_REALTIME, 0: none */
	int64_t next_try_ns;		/* after a failure: when the next try is; 0: not backing off */
	uint64_t backoff_ms;		/* the wait before that try; 0: not backing off */
	int64_t boot_id;		/* being sent now, 0: none */
};

/* Checks url and the credentials and starts the thread, which reads the
 * database at db_path with its own connection. 0, or -errno with why filled
 * (a start-up failure). */
int pusher_start(const char *url, const char *credentials, const char *db_path, char *why, size_t whylen);
/* A boot ended: read the queue again soon. Cheap (a mutex, a signal) and a
 * no-op without --push; called by the connection thread that ended the boot. */
void pusher_kick(void);
/* Ends the push in flight (it is completed by the next start) and the thread. */
void pusher_stop(void);
/* False without --push. */
bool pusher_get_status(struct pusher_status *st);

#endif
