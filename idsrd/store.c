/* SPDX-License-Identifier: MIT */
/* The store writer: rows go through a bounded queue to one thread that commits in batches
 * (the queue's slots are store_queue.c; the SQL it runs and how records bind
 * to it are store_sql.c; the control records' copies are store_record.c). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boot.h"
#include "db.h"
#include "deadline.h"
#include "log.h"
#include "store_int.h"

/* ---- the writer thread ------------------------------------------------- */

/* Call with the lock held. */
static void store_note_loss(struct store *s, int64_t boot_id)
{
	struct store_loss *l;

	for (size_t i = 0; i < s->nlosses; i++) {
		if (s->losses[i].boot_id == boot_id) {
			s->losses[i].rows++;
			return;
		}
	}
	l = realloc(s->losses, (s->nlosses + 1) * sizeof(*l));
	if (!l)
		return;
	s->losses = l;
	s->losses[s->nlosses++] = (struct store_loss){ boot_id, 1 };
}

uint64_t store_losses(struct store *s, int64_t boot_id, bool take)
{
	uint64_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nlosses; i++) {
		if (s->losses[i].boot_id == boot_id) {
			n = s->losses[i].rows;
			if (take)
				s->losses[i] = s->losses[--s->nlosses];
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

uint64_t store_boot_losses(struct store *s, int64_t boot_id)
{
	return store_losses(s, boot_id, false);
}

/* How many of the next items (of n) are rows (0: the next is a control record). */
static size_t rows_follow(const struct store_item *it, size_t n)
{
	size_t k = 0;

	while (k < n && it[k].kind == ITEM_ROW)
		k++;
	return k;
}

/* Writes the batch's items in the open transaction: each run of rows in one
 * statement (store_sql_write_run), unless one_by_one. Returns 0, a row error (only when !one_by_one: a bad
 * row was met, the caller rolls back and writes the batch again one by one,
 * so that only that row is dropped) or another SQLite error with *failed set
 * (about the file: the whole transaction is lost). */
static int store_write_items(struct store *s, struct store_item *batch, size_t n, int64_t now,
			     bool one_by_one, uint64_t *written, uint64_t *skipped, const char **failed)
{
	size_t rows;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (!one_by_one && (rows = rows_follow(batch + i, n - i)) > 0) {
			rc = store_sql_write_run(s, batch + i, rows);
			if (rc == 0) {
				*written += rows;
				i += rows - 1;
				continue;
			}
		} else {
			rc = store_sql_write_item(s, &batch[i], now);
			if (rc == 0) {
				*written += batch[i].kind == ITEM_ROW;
				continue;
			}
		}
		if (!store_sql_row_error(rc)) {
			*failed = "writing";
			return rc;
		}
		if (!one_by_one)
			return rc;
		if (batch[i].kind == ITEM_ROW) {
			pthread_mutex_lock(&s->lock);
			store_note_loss(s, batch[i].row.boot_id);
			pthread_mutex_unlock(&s->lock);
			(*skipped)++;
		}
		log_warn("store: a record was not written to %s: %s", s->path, sqlite3_errmsg(s->db));
	}
	return 0;
}

/* Writes one batch in one transaction. Rows that could not be written are
 * counted on their boots (rows_dropped) and in status: never silently lost. */
static void store_write_batch(struct store *s, struct store_item *batch, size_t n)
{
	int64_t now = db_now_ns();
	uint64_t written = 0, skipped = 0, rows = 0;
	const char *failed = NULL;
	int rc;

	for (size_t i = 0; i < n; i++)
		rows += batch[i].kind == ITEM_ROW;
	store_batch_order(s, batch, n);
	for (bool one_by_one = false;; one_by_one = true) {
		rc = store_sql_run(s->stmt.begin);
		if (rc != 0) {
			failed = "starting a transaction";
			break;
		}
		rc = store_write_items(s, batch, n, now, one_by_one, &written, &skipped, &failed);
		if (rc == 0 || failed)
			break;
		if (!sqlite3_get_autocommit(s->db))
			store_sql_run(s->stmt.rollback);
		written = 0;
	}
	if (!failed && (rc = store_sql_run(s->stmt.commit)) != 0)
		failed = "committing";
	if (failed && now - s->last_error_log_ns < 1000000000) {
		s->errors_unlogged++;
	} else if (failed) {
		log_err("store: %s %zu records (%llu rows) in %s failed: %s; the rows are counted as"
			" dropped on their boots (free space or fix the file's permissions)%s", failed, n,
			(unsigned long long)rows, s->path, sqlite3_errstr(rc),
			s->errors_unlogged ? "; batches failed since the last message too" : "");
		s->last_error_log_ns = now;
		s->errors_unlogged = 0;
	}
	if (failed) {
		if (!sqlite3_get_autocommit(s->db))
			store_sql_run(s->stmt.rollback);
		written = 0;
		skipped = rows;
		pthread_mutex_lock(&s->lock);
		for (size_t i = 0; i < n; i++)
			if (batch[i].kind == ITEM_ROW)
				store_note_loss(s, batch[i].row.boot_id);
		pthread_mutex_unlock(&s->lock);
	}
	for (size_t i = 0; i < n; i++)
		store_item_free(&batch[i]);
	pthread_mutex_lock(&s->lock);
	s->stats.rows_written += written;
	s->stats.rows_dropped += skipped;
	s->stats.write_errors += failed ? 1 : 0;
	s->stats.commits++;
	/* Atomic: store_committed reads it without the lock. */
	__atomic_store_n(&s->committed, s->committed + n, __ATOMIC_RELEASE);
	s->inflight = 0;
	s->stalled = false;		/* progress: pacing may wait for it again */
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
}

static void *store_writer(void *arg)
{
	struct store *s = arg;
	struct store_item *batch = malloc(STORE_BATCH * sizeof(*batch));
	size_t n, head, at;

	if (!batch) {
		log_err("store: out of memory for the writer's batch");
		abort();
	}
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (s->count == 0 && !s->stopping) {
			/* Producers wake us only past half a batch (or for a flush);
			 * otherwise rows wait at most STORE_LINGER_MS. */
			struct timespec ts = deadline_after_ms(STORE_LINGER_MS);

			s->writer_waiting = true;
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
			s->writer_waiting = false;
		}
		if (s->count == 0 && s->stopping) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		n = s->count < STORE_BATCH ? s->count : STORE_BATCH;
		head = s->head;
		pthread_mutex_unlock(&s->lock);
		/* The n items stay counted, so producers never write their slots:
		 * they are copied out without the lock, which answering threads
		 * must never wait for longer than a few instructions. */
		at = store_queue_copy(s, head, n, batch);
		pthread_mutex_lock(&s->lock);
		store_queue_taken(s, at, n);
		s->inflight = n;
		s->stats.queue_depth = s->count;
		pthread_mutex_unlock(&s->lock);
		store_write_batch(s, batch, n);
		store_queue_trim(s);
	}
	free(batch);
	return NULL;
}

/* ---- producers ----------------------------------------------------------- */

/* Call with the lock held. False if there was no slot for it (see
 * store_queue_put); else *wake says whether the writer must be woken: the
 * caller signals it after unlocking, so that it does not wake into a held
 * lock. */
static bool store_enqueue_locked(struct store *s, const struct store_item *it, bool *wake)
{
	*wake = false;
	if (!store_queue_put(s, it))
		return false;
	s->pushed++;
	if (s->count > s->stats.queue_high_water)
		s->stats.queue_high_water = s->count;
	s->stats.queue_depth = s->count;
	if (!s->writer_waiting || (s->count < STORE_BATCH / 2 && it->kind == ITEM_ROW))
		return true;
	s->writer_waiting = false;	/* one wake-up is enough */
	*wake = true;
	return true;
}

/* Takes the queue's lock for an answering thread, counting the times it had
 * to wait (the writer or another connection's thread held it) and for how long. */
static void store_lock_counted(struct store *s)
{
	struct timespec t0, t1;
	uint64_t ns;

	if (pthread_mutex_trylock(&s->lock) == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&s->lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec));
	s->stats.push_waits++;
	if (ns > s->stats.push_wait_max_ns)
		s->stats.push_wait_max_ns = ns;
}

/* Past pace_rows, waits for the writer's next commit (see STORE_PACE_ROWS).
 * Call with the lock held. */
static void store_pace_locked(struct store *s)
{
	uint64_t commits = s->stats.commits;
	struct timespec deadline = deadline_after_ms(STORE_PACE_MS);

	s->stats.paced++;
	while (s->count + s->inflight >= s->pace_rows && s->stats.commits == commits && !s->stalled) {
		pthread_cond_signal(&s->wake);
		if (pthread_cond_timedwait(&s->done, &s->lock, &deadline) == ETIMEDOUT) {
			if (s->stats.commits == commits && !s->stalled) {
				s->stalled = true;
				if (s->stats.stalls++ % 100 == 0)	/* (a stuck disk stalls often) */
					log_warn("store: no commit to %s in %d ms with %zu rows queued; verdicts no"
						 " longer wait for it (rows past the queue are dropped and counted)",
						 s->path, STORE_PACE_MS, s->count);
			}
			break;
		}
	}
}

uint64_t store_push_row(struct store *s, const struct store_row *row)
{
	struct store_item it = { .kind = ITEM_ROW, .row = *row };
	bool ok, wake = false;
	uint64_t place = 0;

	store_lock_counted(s);
	if (s->count + s->inflight >= s->pace_rows && !s->stalled)
		store_pace_locked(s);
	ok = s->count < s->cap - STORE_RESERVE && store_enqueue_locked(s, &it, &wake);
	if (ok) {
		place = s->pushed;
	} else {
		s->stats.rows_dropped++;
	}
	pthread_mutex_unlock(&s->lock);
	/* Past half a batch a producer wakes the writer (store_enqueue_locked);
	 * it does not yield the CPU to it: that was a syscall on the trap path
	 * for every push while the writer was behind, 0.12 a round trip at 4
	 * connections, and pacing (above) bounds the queue without it
	 * (docs/performance.md). */
	if (wake)
		pthread_cond_signal(&s->wake);
	return place;
}

uint64_t store_committed(struct store *s)
{
	return __atomic_load_n(&s->committed, __ATOMIC_ACQUIRE);
}

void store_push_record(struct store *s, enum store_kind kind, void *rec)
{
	struct store_item it = { .kind = kind, .rec = rec };
	bool wake;

	pthread_mutex_lock(&s->lock);
	while (s->count >= s->cap || !store_enqueue_locked(s, &it, &wake)) {
		pthread_cond_signal(&s->wake);
		pthread_cond_wait(&s->done, &s->lock);
	}
	if (wake)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void store_flush(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t target = s->pushed;

	while (s->committed < target) {
		pthread_cond_signal(&s->wake);
		pthread_cond_wait(&s->done, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

uint64_t store_queued(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t place = s->pushed;

	pthread_mutex_unlock(&s->lock);
	return place;
}

bool store_wait_for(struct store *s, uint64_t place, int max_ms)
{
	struct timespec deadline;
	bool done;

	if (store_committed(s) >= place)
		return true;
	deadline = deadline_after_ms(max_ms);
	pthread_mutex_lock(&s->lock);
	while (s->committed < place) {
		pthread_cond_signal(&s->wake);
		if (pthread_cond_timedwait(&s->done, &s->lock, &deadline) == ETIMEDOUT)
			break;
	}
	done = s->committed >= place;
	pthread_mutex_unlock(&s->lock);
	return done;
}

void store_get_stats(struct store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->stats;
	st->queue_depth = s->count + s->inflight;
	pthread_mutex_unlock(&s->lock);
}

int64_t store_next_boot_id(struct store *s)
{
	return __atomic_add_fetch(&s->next_boot_id, 1, __ATOMIC_RELAXED);
}

const char *store_path(const struct store *s)
{
	return s->path;
}


int store_open(const char *path, size_t queue_cap, struct store **out, char *why, size_t whylen)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	if (queue_cap < 2 * STORE_RESERVE)
		queue_cap = 2 * STORE_RESERVE;
	s->pace_rows = STORE_PACE_ROWS < queue_cap - STORE_RESERVE ? STORE_PACE_ROWS : queue_cap - STORE_RESERVE;
	s->path = strdup(path);
	if (store_queue_init(s, queue_cap) < 0 || !s->path) {
		rc = -ENOMEM;
		goto err;
	}
	rc = db_open(path, DB_CREATE | DB_PRIVATE, &s->db, why, whylen);
	if (rc < 0)
		goto err;
	rc = store_sql_prepare(s, why, whylen);
	if (rc < 0)
		goto err;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->done, NULL);
	rc = store_ckpt_start(s, why, whylen);
	if (rc < 0)
		goto err;
	rc = -pthread_create(&s->writer, NULL, store_writer, s);
	if (rc < 0) {
		snprintf(why, whylen, "cannot start the writer thread: %s", strerror(-rc));
		goto err;
	}
	/* Named for top -H, perf and the benchmarks (idsrd(8), THREADS). */
	pthread_setname_np(s->writer, "idsrd-store");
	*out = s;
	return 0;
err:
	store_ckpt_stop(s);
	if (s->db) {
		store_sql_finalize(s);
		db_close(s->db);
	}
	store_queue_free(s);
	free(s->path);
	free(s);
	return rc;
}

void store_close(struct store *s)
{
	uint64_t ckpts, ckpts_inline;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	store_ckpt_stop(s);
	store_checkpoints(s, &ckpts, &ckpts_inline);
	log_info("store: %llu rows written in %llu commits, %llu dropped; %llu control records lost;"
		 " %llu checkpoints by idsrd-ckpt, %llu by the writer;"
		 " queue high water %llu;"
		 " %llu rows waited for a commit, %llu stalls;"
		 " %llu rows waited for the queue's lock (longest %llu µs)",
		 (unsigned long long)s->stats.rows_written, (unsigned long long)s->stats.commits,
		 (unsigned long long)s->stats.rows_dropped,
		 (unsigned long long)s->stats.records_dropped,
		 (unsigned long long)ckpts, (unsigned long long)ckpts_inline,
		 (unsigned long long)s->stats.queue_high_water,
		 (unsigned long long)s->stats.paced, (unsigned long long)s->stats.stalls,
		 (unsigned long long)s->stats.push_waits,
		 (unsigned long long)(s->stats.push_wait_max_ns / 1000));
	store_sql_finalize(s);
	/* Fold the WAL back so the file alone is the whole trace. */
	sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	db_close(s->db);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->done);
	free(s->losses);
	free(s->order_scratch);
	store_queue_free(s);
	free(s->path);
	free(s);
}
