/* SPDX-License-Identifier: MIT */
/* The store writer: rows go through a bounded queue to one thread that commits in batches. */
#ifndef IDSRD_STORE_H
#define IDSRD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows committed per transaction at most, and how long a row may wait for its
 * commit. */
#define STORE_BATCH		8192
#define STORE_LINGER_MS		20
/*
 * Rows not yet committed (queued, or in the transaction being written) are
 * what a crash (kill -9) loses: at most STORE_PACE_ROWS, the batch being
 * committed and the one filling behind it. Past it a new row waits for the
 * writer's next commit, so that a load the disk cannot keep up with slows the
 * verdicts a little instead of losing rows. A disk that commits nothing for
 * STORE_PACE_MS (stuck, or locked by another process) ends the waits until
 * it commits again: then rows queue up to --queue, past it they are dropped
 * and counted, and verdicts never wait for it (docs/reliability.md).
 */
#define STORE_PACE_ROWS		(2 * STORE_BATCH)
#define STORE_PACE_MS		500

/* One logged access; the contract columns of `accesses`. */
struct store_row {
	int64_t boot_id;
	int64_t ts_ns;
	uint64_t seq;
	uint64_t pc;
	uint64_t value;
	uint32_t vcpu;
	uint32_t key;
	int32_t rule;
	uint8_t el;
	uint8_t is_write;
	uint8_t undef;
};

/* A boot's row in `boots` as it starts. Strings are copied by store_boot_begin. */
struct store_boot {
	int64_t id;
	int64_t start_ns;
	const char *vmm, *vm_name, *kernel, *impl, *policy_hash, *replay_source;
	const uint8_t *instance, *build_id;
	size_t instance_len, build_id_len;
	uint64_t image_base, slide, midr;
	uint32_t vcpus;
	bool replay;
	int64_t replay_of;
	int64_t peer_uid, peer_gid, peer_pid;
	bool push;			/* idsrd --push: queue it (table pushes) with its start */
};

/* Its end: counts and the reason. */
struct store_boot_end {
	int64_t id;
	int64_t end_ns;
	const char *reason;
	uint64_t accesses, undefs, rows_dropped, divergences;
};

struct store_divergence {
	int64_t boot_id, replay_of, ts_ns;
	uint32_t vcpu;
	uint64_t seq;
	const char *kind;		/* key, direction, pc, value, extra, missing */
	bool has_expected, has_actual;
	uint32_t expected_key, actual_key;
	uint64_t expected_pc, actual_pc, expected_value, actual_value;
	bool expected_is_write, actual_is_write;
};

struct store_stats {
	uint64_t queue_depth;		/* rows not yet committed */
	uint64_t queue_high_water;
	uint64_t rows_written;
	uint64_t rows_dropped;		/* queue full or write failed */
	uint64_t write_errors;
	uint64_t records_dropped;	/* control records (boots, policies, divergences) lost: out of memory */
	uint64_t commits;
	uint64_t push_waits;		/* rows whose push found the queue locked */
	uint64_t push_wait_max_ns;	/* the longest such wait */
	uint64_t paced;			/* rows that waited for a commit (STORE_PACE_ROWS) */
	uint64_t stalls;		/* times the writer made no progress for STORE_PACE_MS */
};

struct store;
struct boot_peer;

/* Opens (creating) the database, marks boots left running by a crash as cut
 * off, and starts the writer thread. queue_cap: rows the queue holds. */
int store_open(const char *path, size_t queue_cap, struct store **out, char *why, size_t whylen);
/* Flushes everything queued and stops the writer. */
void store_close(struct store *s);

/* A fresh boot id (never reused; no disk wait). */
int64_t store_next_boot_id(struct store *s);

/* Waits for the writer only as STORE_PACE_ROWS says, never for a stuck disk.
 * Returns the row's place in the queue (> 0), or 0 if the queue is full
 * (count it on the boot). */
uint64_t store_push_row(struct store *s, const struct store_row *row);
/* The queue places done with so far, in order: a row whose place is at most
 * this is committed, or was counted as lost (no lock: one atomic load). */
uint64_t store_committed(struct store *s);
/* Control records are rare and always queued (they may wait for queue space);
 * one that cannot be copied (out of memory) is counted (records_dropped) and
 * logged. */
void store_boot_begin(struct store *s, const struct store_boot *b);
void store_boot_end(struct store *s, const struct store_boot_end *e);
/* A boot cut off by a crash or stop is resumed: it is in progress again. */
void store_boot_resume(struct store *s, int64_t boot_id);
void store_boot_policy(struct store *s, int64_t boot_id, const char *hash, int64_t since_ns);
void store_policy(struct store *s, const char *hash, const char *text, const char *source,
		  const char *how, const char *old_hash, const struct boot_peer *peer);
void store_divergence(struct store *s, const struct store_divergence *d);
/* idsrd --push: the server holds the whole boot (pushes.pushed_ns, url, rows). */
void store_boot_pushed(struct store *s, int64_t boot_id, const char *url, int64_t rows, int64_t pushed_ns);

/* Waits until everything queued before the call is committed. */
void store_flush(struct store *s);
/* The place of the last item queued so far (what store_wait_for takes). */
uint64_t store_queued(struct store *s);
/* Waits until the item at place is committed (or counted as lost), at most
 * max_ms: a stuck disk must not hold a VMM for good. True if it is. */
bool store_wait_for(struct store *s, uint64_t place, int max_ms);
void store_get_stats(struct store *s, struct store_stats *st);
/* Rows of a boot in progress that could not be written so far. */
uint64_t store_boot_losses(struct store *s, int64_t boot_id);
const char *store_path(const struct store *s);

#endif
