/* SPDX-License-Identifier: MIT */
/* The store's insides, shared by its writer and pacing (store.c), its queue's
 * slots (store_queue.c), its SQL statements and their binding (store_sql.c)
 * and its control records' copies (store_record.c); only those (and
 * test_store) include it. */
#ifndef IDSRD_STORE_INT_H
#define IDSRD_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The queue's slots come STORE_CHUNK at a time (64 KiB, store_queue.c);
 * STORE_TRIM_KEEP of them stay resident after a spike (1 MiB). */
#define STORE_CHUNK		1024
#define STORE_TRIM_KEEP		16384
/* Slots kept for control records so a full queue of rows cannot block them. */
#define STORE_RESERVE		1024

enum store_kind { ITEM_ROW, ITEM_BOOT_BEGIN, ITEM_BOOT_END, ITEM_BOOT_POLICY, ITEM_POLICY, ITEM_DIVERGENCE,
		  ITEM_BOOT_RESUME, ITEM_BOOT_PUSHED };

struct store_policy_rec {
	char *hash, *text, *source, *how, *old_hash;
	int64_t peer_uid, peer_gid, peer_pid, boot_id, since_ns;
};

/* idsrd --push: a boot the server now holds whole. */
struct store_push_rec {
	int64_t boot_id, rows, pushed_ns;
	char *url;
};

struct store_item {
	enum store_kind kind;
	union {
		struct store_row row;
		void *rec;		/* heap copy of a control record */
	};
};

/* Rows a boot lost because a batch could not be written. */
struct store_loss {
	int64_t boot_id;
	uint64_t rows;
};

/* The prepared statements, one per record kind (store_sql.c's table). */
struct store_stmts {
	sqlite3_stmt *ins_batch;	/* a run of rows: INSERT ... SELECT FROM idsrd_batch (store_batch.c) */
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *ins_row;		/* a row alone, read from idsrd_batch too */
	sqlite3_stmt *ins_boot, *end_boot, *ins_boot_policy, *ins_policy,
		*ins_change, *ins_div, *resume_boot, *ins_push, *done_push;
};

/* store_checkpoint.c: past STORE_CKPT_FRAMES frames in the WAL the writer's
 * commit wakes the checkpointer thread; past STORE_CKPT_MAX_FRAMES it
 * checkpoints itself (SQLite's default: 1000, in the writer). */
#define STORE_CKPT_FRAMES	1000
#define STORE_CKPT_MAX_FRAMES	(4 * STORE_CKPT_FRAMES)
struct store_ckpt {
	sqlite3 *db;			/* its own connection (NULL: not started) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool want, stopping;
	uint64_t runs, inline_runs;	/* checkpoints by it, by the writer */
};

struct store {
	char *path;
	sqlite3 *db;
	struct store_stmts stmt;
	const struct store_item *batch_rows;	/* what idsrd_batch reads (store_sql_write_run) */
	size_t batch_nrows;
	struct store_item *order_scratch;	/* store_batch_order's, STORE_BATCH items */
	pthread_t writer;
	struct store_ckpt ckpt;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* the writer has work */
	pthread_cond_t done;		/* a batch was committed */
	/* The queue (store_queue.c): nchunks chunks of STORE_CHUNK slots in
	 * one mapping, in use from head's chunk to tail's along next[]. */
	struct store_item *ring;
	uint32_t *next;			/* next[c]: the queue's chunk after chunk c */
	uint64_t *free_chunks;		/* bit c set: chunk c is free */
	size_t nchunks;
	size_t cap, count;		/* cap: --queue, the most items that may wait */
	size_t head, tail;		/* slots: the oldest item; the one after the newest
					 * (tail % STORE_CHUNK == 0: a chunk must be taken) */
	size_t inflight;		/* taken by the writer, not yet committed */
	size_t touched;			/* slots of the chunks taken since the last trim:
					 * lowest first, so slots 0..touched-1 */
	size_t pace_rows;		/* STORE_PACE_ROWS, or less for a small queue */
	bool stalled;			/* no commit for STORE_PACE_MS: pacing is off */
	bool writer_waiting, stopping;
	uint64_t pushed, committed;	/* items, for store_flush */
	struct store_stats stats;
	struct store_loss *losses;
	size_t nlosses;
	int64_t next_boot_id;
	int64_t last_error_log_ns;	/* failures are logged at most once a second */
	uint64_t errors_unlogged;
};

/* store_checkpoint.c: start (with the writer's connection ready, before the
 * writer runs; -errno with why) and stop (after the writer ended) the
 * checkpointer; the checkpoints it and the writer made so far. */
int store_ckpt_start(struct store *s, char *why, size_t whylen);
void store_ckpt_stop(struct store *s);
void store_checkpoints(struct store *s, uint64_t *runs, uint64_t *inline_runs);

/* store.c: the rows boot_id lost so far; take: forget them (its end records them). */
uint64_t store_losses(struct store *s, int64_t boot_id, bool take);
/* store.c: queues a control record (rec, a heap copy the writer frees),
 * waiting for queue space if need be. */
void store_push_record(struct store *s, enum store_kind kind, void *rec);
/* store_queue.c. init and free: the slots of a queue of cap items (-ENOMEM). */
int store_queue_init(struct store *s, size_t cap);
void store_queue_free(struct store *s);
/* Lock held: queues it at the tail (count + 1); false if no chunk is free
 * (a control record in a full queue while a trim holds a chunk). */
bool store_queue_put(struct store *s, const struct store_item *it);
/* Without the lock (the n items stay counted, so no producer writes their
 * slots): copies the n items from slot head to out; returns the slot after
 * the last. */
size_t store_queue_copy(const struct store *s, size_t head, size_t n, struct store_item *out);
/* Lock held, after the copy: the n items up to slot at leave the queue
 * (count - n) and the chunks they emptied are free again. */
void store_queue_taken(struct store *s, size_t at, size_t n);
/* The writer, after a commit: an empty queue hands deep chunks back. */
void store_queue_trim(struct store *s);
/* store_record.c: frees what an item holds (nothing for a row). */
void store_item_free(struct store_item *it);

/* store_sql.c. On the open s->db: marks boots a crash cut off, prepares the
 * statements and reads the last boot id. 0, or -EIO with why filled. */
int store_sql_prepare(struct store *s, char *why, size_t whylen);
void store_sql_finalize(struct store *s);
/* Each returns 0 or the SQLite error: write_item writes one record (a row
 * alone), write_run the n rows it[0..n-1] in one statement. */
int store_sql_write_item(struct store *s, const struct store_item *it, int64_t now);
int store_sql_write_run(struct store *s, const struct store_item *it, size_t n);
/* BEGIN, COMMIT or ROLLBACK (prepared once: sqlite3_exec would parse its SQL
 * on every batch). */
int store_sql_run(sqlite3_stmt *st);
/* Whether SQLite's rc is about one row rather than the file. */
bool store_sql_row_error(int rc);

/* store_batch.c: puts each run of rows of the batch (between control records)
 * in key order (n at most STORE_BATCH). */
void store_batch_order(struct store *s, struct store_item *batch, size_t n);
/* store_batch.c: makes idsrd_batch on s->db (SQLite's error code). */
int store_batch_register(struct store *s);

#endif
