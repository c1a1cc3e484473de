/* SPDX-License-Identifier: MIT */
/* idsrd's shared state: configuration, the live policy, the boots in progress, connections. */
#ifndef IDSRD_DAEMON_H
#define IDSRD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "policy.h"
#include "store.h"

struct daemon_config {
	const char *socket_path;
	const char *control_path;
	const char *db_path;
	const char *policy_path;	/* NULL: no file, everything UNDEF */
	const char *impl;		/* --impl: names for boots whose MIDR says nothing */
	const char **names_files;	/* --names FILE..., read after the registers.d directories */
	size_t nnames_files;
	const char *replay_ref;		/* --replay TRACE[:BOOT] at start-up */
	unsigned poll_us;		/* --poll: spin this long after a frame (0: never) */
	size_t queue_cap;		/* store queue, rows */
	unsigned max_connections;
	unsigned max_boots;
	unsigned max_frame;		/* largest VMM frame accepted, bytes (<= FRAME_MAX) */
	unsigned max_errors;		/* errors a minute of one VMM process: then slowed (penalty.h) */
	unsigned socket_mode, control_mode;
	const char *socket_group, *control_group;
	const char *admin_group;	/* may read and change every user's boots */
	const char *push_url;		/* --push: ClickHouse to send ended boots to (pusher.c), or NULL */
	const char *push_credentials;	/* --credentials FILE (NULL: the default file, if any) */
	bool no_fast_path;		/* --no-fast-path: no shared regions */
	bool foreground;
	bool journal;			/* stderr goes to the journal */
	bool system;			/* the system's service (root under systemd): reads no home directory */
};

struct boot;
struct replay_plan;

/* The live policy: swapped atomically; each connection's thread switches to a new one
 * between two accesses (a clean boundary) and drops its reference. */
struct live_policy {
	struct policy *policy;
	atomic_uint refs;
	uint64_t generation;
	int64_t since_ns;		/* when it went live */
	/* Accesses each rule answered since then, indexed by rule line
	 * ([0]: no rule matched, the UNDEF default); for `policy show'. */
	atomic_uint_fast64_t *hits;
	size_t nhits;
	atomic_uint_fast64_t hits_el0;	/* the built-in EL0 rule */
};

/* Counts an answer of rule (a line, or POLICY_RULE_*) on the VMM path. */
static inline void daemon_policy_hit(struct live_policy *lp, int rule)
{
	if (rule >= 0 && (size_t)rule < lp->nhits)
		atomic_fetch_add_explicit(&lp->hits[rule], 1, memory_order_relaxed);
	else if (rule == POLICY_RULE_EL0)
		atomic_fetch_add_explicit(&lp->hits_el0, 1, memory_order_relaxed);
}

/*
 * Lock order. A thread that holds one of these takes only those listed under
 * it (as SQLite's and the kernel's headers state theirs):
 *
 *   boot_end_lock           a boot's end against its resume (boot.c): a boot's
 *                           last leave queues its end record, a resume reads the
 *                           database (boot_reopen), under it
 *   boots_lock              the boots in progress, their lookup, the armed replay
 *     boot->lock            a boot's connection count and rate (boot.h)
 *     plan->lock            a replay plan's progress and report (replayer.c)
 *     the store's lock      its queue (store.c): store_boot_* and store_policy
 *                           are called under boots_lock and take it
 *   policy_lock             a leaf: held only to swap `policy`
 *
 * Leaves too: server.c's sessions.lock, daemon.c's error_lock, pusher.c's
 * lock (taken by a boot's end to wake the pusher, never held across I/O) and a
 * replay cursor's own locks. boots_lock is taken by `status`, every Hello and the
 * main loop, so nothing that waits for the disk runs under it: boot_reopen
 * reads the database before it is taken. (Queuing a control record can wait
 * for queue space, but STORE_RESERVE slots are kept for those records.)
 */
struct daemon {
	struct daemon_config cfg;
	uv_loop_t *loop;		/* main loop: signals, listeners, control */
	struct store *store;
	int64_t start_ns;

	pthread_mutex_t policy_lock;	/* guards `policy` swaps (a leaf: see the lock order) */
	struct live_policy *policy;
	/* Even: `policy` is that generation's; odd: a swap is under way (a
	 * sequence lock, so that an access's time tells its policy: below). */
	atomic_uint_fast64_t policy_generation;

	pthread_mutex_t boots_lock;	/* guards the list and instance lookup (first in the lock order) */
	struct boot *boots;		/* boots in progress */
	uint64_t boots_total;
	atomic_uint connections;

	struct replay_plan *replay;	/* armed replay, or NULL (boots_lock) */
	atomic_uint subscribers;	/* > 0: accesses are published to control */
};

extern struct daemon *idsrd;		/* the one daemon of this process */

/* Live policy (daemon.c). */
struct live_policy *daemon_policy_get(void);	/* a new reference */
/*
 * The policy for an access at *ts_ns, which it sets: *cur (a reference the
 * caller keeps, replaced when a newer policy is in force). The time and the
 * policy agree: a row's policy is the boot_policies entry with the greatest
 * since_ns <= its ts_ns, exactly (docs/design.md "Rule identity"), because
 * a swap takes its since_ns while the generation is odd and an access takes
 * its time between two reads of one even generation.
 */
const struct policy *daemon_policy_at(struct live_policy **cur, int64_t *ts_ns);
void daemon_policy_put(struct live_policy *lp);
/* Installs p (taking ownership); how and who (peer, NULL: idsrd itself) are
 * recorded in policy_changes. Old state survives. */
struct boot_peer;
void daemon_policy_install(struct policy *p, const char *how, const struct boot_peer *peer);
/* Re-reads cfg.policy_path; on error the old policy stays. 0 or -errno, why filled. */
int daemon_policy_reload(const char *how, char *why, size_t whylen);

#include "server.h"

#endif
