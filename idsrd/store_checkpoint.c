/* SPDX-License-Identifier: MIT */
/*
 * The WAL's checkpoints, off the store writer's thread.
 *
 * SQLite checkpoints in the thread that commits, once the WAL holds 1000
 * frames (its wal_autocheckpoint): copying them into the database and two
 * fsyncs took 25-90 ms of the writer's wall time every ~80,000 rows, a
 * quarter of it at the fast path's rates, while it used no CPU and rows
 * waited (docs/performance.md, "The writer's checkpoints"). So the writer's
 * connection has a WAL hook instead: past STORE_CKPT_FRAMES it wakes this
 * thread, which runs a PASSIVE checkpoint on its own connection while the
 * writer goes on committing (WAL: a checkpoint and a writer do not block
 * each other). The WAL starts over at the writer's next transaction once a
 * checkpoint has copied all of it; under a load that never lets that happen,
 * the writer checkpoints itself past STORE_CKPT_MAX_FRAMES (mostly copied by
 * then): the WAL stays bounded as before, at four times the frames.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_ckpt *c = arg;

	if (frames >= STORE_CKPT_MAX_FRAMES &&
	    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK) {
		__atomic_add_fetch(&c->inline_runs, 1, __ATOMIC_RELAXED);
	} else if (frames >= STORE_CKPT_FRAMES) {
		pthread_mutex_lock(&c->lock);
		c->want = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
	}
	return SQLITE_OK;
}

static void *store_checkpointer(void *arg)
{
	struct store_ckpt *c = arg;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->want && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stopping) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		c->want = false;
		pthread_mutex_unlock(&c->lock);
		/* BUSY only while the writer checkpoints itself: it then did this. */
		if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) == SQLITE_OK)
			__atomic_add_fetch(&c->runs, 1, __ATOMIC_RELAXED);
	}
}

int store_ckpt_start(struct store *s, char *why, size_t whylen)
{
	struct store_ckpt *c = &s->ckpt;
	int rc;

	rc = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	/* Its first statement opens the WAL, which a checkpoint needs. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL; SELECT count(*) FROM sqlite_schema",
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "opening %s for the checkpointer: %s", s->path,
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return -EIO;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	rc = pthread_create(&c->thread, NULL, store_checkpointer, c);
	if (rc != 0) {
		snprintf(why, whylen, "cannot start the checkpointer thread: %s", strerror(rc));
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->wake);
		sqlite3_close(c->db);
		c->db = NULL;
		return -rc;
	}
	pthread_setname_np(c->thread, "idsrd-ckpt");
	/* Replaces the writer connection's autocheckpoint (a WAL hook too). */
	sqlite3_wal_hook(s->db, store_wal_hook, c);
	return 0;
}

void store_ckpt_stop(struct store *s)
{
	struct store_ckpt *c = &s->ckpt;

	if (!c->db)
		return;
	sqlite3_wal_hook(s->db, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	sqlite3_close(c->db);
	c->db = NULL;
}

void store_checkpoints(struct store *s, uint64_t *runs, uint64_t *inline_runs)
{
	*runs = __atomic_load_n(&s->ckpt.runs, __ATOMIC_RELAXED);
	*inline_runs = __atomic_load_n(&s->ckpt.inline_runs, __ATOMIC_RELAXED);
}
