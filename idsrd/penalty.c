/* SPDX-License-Identifier: MIT */
/* Protocol errors per VMM process: past --max-errors a minute the offender is slowed, its neighbours are not. */
#include <inttypes.h>
#include <pthread.h>
#include <time.h>

#include "boot.h"
#include "daemon.h"
#include "log.h"
#include "penalty.h"

/*
 * Why per process and not per uid: under libvirt every QEMU of the host runs
 * as one uid, so a penalty on the uid made one fuzzing or buggy VMM lock every
 * VM of the host out (their Hellos refused; UNDEF in boot). The offender is
 * the peer process (SO_PEERCRED's pid): an error closes the connection it
 * came on, so what a penalty can slow is that process's next connections.
 * They are delayed, not refused: a VMM that errs and then says a well-formed
 * Hello is still served. --max-connections bounds how many wait at once.
 */

#define PENALTY_PEERS		256	/* processes tracked at once; the oldest window goes */
#define PENALTY_LOG_NS		1000000000LL	/* summaries at most once a second */

static struct penalty_window {
	int64_t pid, uid;
	int64_t start_ns;
	unsigned errors;
	unsigned unlogged;	/* errors past the limit since the last summary */
} windows[PENALTY_PEERS];
static int64_t last_summary_ns;
static pthread_mutex_t penalty_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* pid's window (restarted once it is over), NULL if it has none and !create;
 * call with penalty_lock held. */
static struct penalty_window *window_locked(const struct boot_peer *peer, int64_t now, bool create)
{
	struct penalty_window *w = NULL, *oldest = &windows[0];

	for (int i = 0; i < PENALTY_PEERS; i++) {
		if (windows[i].errors && windows[i].pid == peer->pid)
			w = &windows[i];
		if (windows[i].start_ns < oldest->start_ns)
			oldest = &windows[i];
	}
	if (w && now - w->start_ns >= PENALTY_WINDOW_MS * 1000000LL)
		*w = (struct penalty_window){ .pid = peer->pid, .uid = peer->uid, .start_ns = now };
	if (!w && create) {
		w = oldest;
		*w = (struct penalty_window){ .pid = peer->pid, .uid = peer->uid, .start_ns = now };
	}
	return w;
}

void penalty_note_error(const struct boot_peer *peer, int64_t boot, const char *why)
{
	unsigned max = idsrd->cfg.max_errors;
	struct penalty_window *w, copy;
	int64_t now = mono_ns();
	bool summary = false, one_by_one;

	if (!max) {
		log_warn("VMM connection (pid %" PRId64 ", uid %" PRId64 ", boot %" PRId64 "): %s;"
			 " closing it", peer->pid, peer->uid, boot, why);
		return;
	}
	pthread_mutex_lock(&penalty_lock);
	w = window_locked(peer, now, true);
	one_by_one = ++w->errors <= max;
	if (!one_by_one) {
		w->unlogged++;
		if (now - last_summary_ns >= PENALTY_LOG_NS) {
			last_summary_ns = now;
			summary = true;
			copy = *w;
			w->unlogged = 0;
		}
	}
	pthread_mutex_unlock(&penalty_lock);
	if (one_by_one)
		log_warn("VMM connection (pid %" PRId64 ", uid %" PRId64 ", boot %" PRId64 "): %s;"
			 " closing it", peer->pid, peer->uid, boot, why);
	else if (summary)
		log_warn("slowing VMM connections from pid %" PRId64 " (uid %" PRId64 "): %u protocol"
			 " errors in %d s (--max-errors %u), %u not logged one by one, the last: %s;"
			 " each new connection of it waits %d ms", copy.pid, copy.uid, copy.errors,
			 (int)((now - copy.start_ns) / 1000000000 + 1), max, copy.unlogged, why,
			 PENALTY_DELAY_MS);
}

unsigned penalty_delay_ms(const struct boot_peer *peer)
{
	struct penalty_window *w;
	unsigned delay = 0;

	if (!idsrd->cfg.max_errors)
		return 0;
	pthread_mutex_lock(&penalty_lock);
	w = window_locked(peer, mono_ns(), false);
	if (w && w->errors >= idsrd->cfg.max_errors)
		delay = PENALTY_DELAY_MS;
	pthread_mutex_unlock(&penalty_lock);
	return delay;
}
