/* SPDX-License-Identifier: MIT */
/*
 * idsrd --push: one thread of its own sends each boot to ClickHouse once the
 * boot's fate is known, with lib/fleet_push.c (idsrctl push's sender: exactly
 * once as queries see it, however often a push is cut and retried).
 *
 * The queue is table `pushes` (schema 5): the store writer adds a boot's row
 * in the transaction that records the boot's start, and marks it pushed when
 * this thread says the server holds the whole boot (store_boot_pushed). This
 * thread only reads, on a read-only connection of its own: WAL readers never
 * stall the writer, and nothing here runs on a VMM's or the main loop's
 * thread; the VMM path only calls pusher_kick (a mutex and a signal) when a
 * boot ends. A server that is down or failing delays the queue (retried with
 * a doubling wait, PUSHER_BACKOFF_MIN_MS to _MAX_MS) and loses nothing: the
 * rows stay in the trace and the queue in the file, across restarts.
 *
 * A boot's fate is known when it ended for good: any end but `cut off: …` (a
 * crash) and BOOT_STOPPED_REASON (idsrd stopped under it), which its VMM may
 * still resume (Hello.resume_boot). Such a boot is sent once its VMM process
 * (boots.peer_pid) is gone: only that process can resume it. A pid that now
 * belongs to a process started after the boot is not its VMM.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "daemon.h"
#include "db.h"
#include "fleet_push.h"
#include "log.h"
#include "pusher.h"

struct pusher {
	struct ch ch;
	char *db_path;
	pthread_t thread;
	atomic_bool stopping;		/* also cancels the request in flight (ch.cancel) */
	pthread_mutex_t lock;		/* guards what follows (a leaf: never held across I/O) */
	pthread_cond_t wake;
	bool kicked;			/* a boot ended since the last read of the queue */
	struct pusher_status st;
};

static struct pusher *pusher;		/* NULL without --push */

static void pusher_sleep_until(struct pusher *p, int64_t until_ns)
{
	struct timespec ts = { until_ns / 1000000000, until_ns % 1000000000 };

	pthread_mutex_lock(&p->lock);
	while (!p->kicked && !atomic_load(&p->stopping) && db_now_ns() < until_ns)
		if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&p->lock);
}

/* Start time of process pid, CLOCK_REALTIME ns; 0 if unknown. -1: a zombie
 * (it has exited; its parent has not reaped it yet). */
static int64_t process_start_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start_ticks, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* pid (comm) state ...: comm may hold anything, so read after its last ')' */
	if (!(p = strrchr(buf, ')')) || !p[1] || !p[2])
		return 0;
	if (p[2] == 'Z' || p[2] == 'X')
		return -1;
	for (field = 3, p += 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &start_ticks) != 1 || hz <= 0)
		return 0;
	if (!(f = fopen("/proc/stat", "r")))
		return 0;
	while (fgets(buf, sizeof(buf), f) && sscanf(buf, "btime %llu", &btime) != 1)
		;
	fclose(f);
	if (!btime)
		return 0;
	return (int64_t)btime * 1000000000 + (int64_t)(start_ticks * 1000000000ull / (unsigned long long)hz);
}

/* Whether the VMM that ran a boot (its first connection's pid) may still resume it. */
static bool vmm_alive(int64_t pid, int64_t boot_start_ns)
{
	int64_t started;

	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return false;
	started = process_start_ns((pid_t)pid);
	/* A process started after the boot did is another one with a reused pid
	 * (a second of slack: btime is whole seconds). */
	return started >= 0 && (started == 0 || started <= boot_start_ns + 1000000000);
}

/* The queue: boots ready to send (ids[], at most cap, in boot order), and
 * the counts of ready and waiting ones. 0 or -EIO (logged by the caller). */
static int pusher_scan(sqlite3 *db, int64_t *ids, size_t cap, size_t *nids, uint64_t *ready, uint64_t *waiting,
		       const int64_t *skipped, size_t nskipped)
{
	sqlite3_stmt *st;
	int rc;

	*nids = 0;
	*ready = *waiting = 0;
	if (sqlite3_prepare_v2(db, "SELECT p.boot_id, coalesce(b.end_reason, ''), b.mode, coalesce(b.peer_pid, 0),"
			       " b.start_ns FROM pushes p JOIN boots b ON b.id = p.boot_id"
			       " WHERE p.pushed_ns IS NULL AND b.end_ns IS NOT NULL ORDER BY p.boot_id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *reason = (const char *)sqlite3_column_text(st, 1);
		bool resumable = (!strncmp(reason, "cut off", 7) || !strcmp(reason, BOOT_STOPPED_REASON)) &&
				 strcmp((const char *)sqlite3_column_text(st, 2), "replay");
		bool skip = false;

		for (size_t i = 0; i < nskipped; i++)
			skip = skip || skipped[i] == id;
		if (skip)
			continue;
		if (resumable && vmm_alive(sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4))) {
			++*waiting;
			continue;
		}
		++*ready;
		if (*nids < cap)
			ids[(*nids)++] = id;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* A failed try: the next waits twice as long as the last (from the first). */
static void pusher_failed(struct pusher *p, int64_t boot_id, const char *why)
{
	int64_t now = db_now_ns();
	uint64_t backoff;
	bool same;

	pthread_mutex_lock(&p->lock);
	backoff = p->st.backoff_ms ? p->st.backoff_ms * 2 : PUSHER_BACKOFF_MIN_MS;
	if (backoff > PUSHER_BACKOFF_MAX_MS)
		backoff = PUSHER_BACKOFF_MAX_MS;
	same = !strcmp(p->st.last_error, why);
	snprintf(p->st.last_error, sizeof(p->st.last_error), "%s", why);
	p->st.last_error_ns = now;
	p->st.failures++;
	p->st.backoff_ms = backoff;
	p->st.next_try_ns = now + (int64_t)backoff * 1000000;
	p->st.boot_id = 0;
	pthread_mutex_unlock(&p->lock);
	/* Once per new error, not once per try: a server down for a day tries ~300
	 * times. A push cut by idsrd's stop is completed at the next start. */
	if (!same && !atomic_load(&p->stopping))
		log_warn("push: boot %" PRId64 " not sent: %s; trying again in %.0f s (the boot stays queued)",
			 boot_id, why, (double)backoff / 1000.0);
}

/* Sends boot id. 0: the server holds it whole (and it is marked); -EPROTO:
 * the boot is skipped (its own error: go on with the next); -EIO: the
 * server failed (back off). */
static int pusher_push(struct pusher *p, sqlite3 *db, int64_t id, bool *tables_made, int64_t **skipped,
			size_t *nskipped)
{
	char why[1024];
	struct push_boot b;
	struct push_result r;
	uint64_t failures;
	int rc;

	pthread_mutex_lock(&p->lock);
	p->st.boot_id = id;
	pthread_mutex_unlock(&p->lock);
	rc = push_boot_read(db, id, &b, why, sizeof(why));
	if (rc == 0 && !*tables_made)
		rc = push_tables(&p->ch, NULL, why, sizeof(why));
	*tables_made = rc == 0;
	if (rc == 0)
		rc = push_one(&p->ch, db, &b, PUSH_BATCH_DEFAULT, &r, why, sizeof(why));
	/* The server may have been replaced by an empty one: made again at the next try. */
	if (rc == -EIO)
		*tables_made = false;
	if (rc == -EPROTO || rc == -ENOENT) {
		/* About this boot, not the server (the server holds rows the trace
		 * has not): trying again cannot help; the others go on. */
		int64_t *more = realloc(*skipped, (*nskipped + 1) * sizeof(**skipped));

		if (more) {
			*skipped = more;
			more[(*nskipped)++] = id;
		}
		log_err("push: boot %" PRId64 " %s is not sent to %s again until idsrd restarts: %s "
			"(check it with idsrctl push %s:%" PRId64 " --to URL)", id, b.uid, p->st.url, why,
			p->db_path, id);
		pthread_mutex_lock(&p->lock);
		p->st.skipped++;
		p->st.pending -= p->st.pending > 0;
		p->st.boot_id = 0;
		pthread_mutex_unlock(&p->lock);
	} else if (rc < 0) {
		pusher_failed(p, id, why);
	}
	if (rc < 0) {
		push_boot_free(&b);
		return rc == -EPROTO || rc == -ENOENT ? -EPROTO : -EIO;
	}
	store_boot_pushed(idsrd->store, id, p->st.url, r.on_server, db_now_ns());
	/* Committed before the queue is read again, so it is never sent twice. */
	store_flush(idsrd->store);
	pthread_mutex_lock(&p->lock);
	failures = p->st.failures;
	p->st.boots_pushed++;
	p->st.rows_pushed += (uint64_t)r.sent;
	p->st.pending -= p->st.pending > 0;
	p->st.failures = 0;
	p->st.backoff_ms = 0;
	p->st.next_try_ns = 0;
	p->st.boot_id = 0;
	pthread_mutex_unlock(&p->lock);
	if (failures)
		log_info("push: %s answers again after %" PRIu64 " failed tries", p->st.url, failures);
	log_info("push: boot %" PRId64 " %s -> %s: %" PRId64 " rows sent, %" PRId64 " on the server%s", id, b.uid,
		 p->st.url, r.sent, r.on_server, r.already ? " (already there)" : "");
	push_boot_free(&b);
	return 0;
}

static void *pusher_main(void *arg)
{
	enum { BATCH = 64 };
	struct pusher *p = arg;
	int64_t ids[BATCH], *skipped = NULL, next_scan = 0;
	size_t nids, nskipped = 0;
	uint64_t ready, waiting;
	bool tables_made = false, kicked;
	sqlite3 *db = NULL;
	char why[512];

	while (!atomic_load(&p->stopping)) {
		pusher_sleep_until(p, next_scan);
		pthread_mutex_lock(&p->lock);
		kicked = p->kicked;
		p->kicked = false;
		pthread_mutex_unlock(&p->lock);
		if (atomic_load(&p->stopping))
			break;
		next_scan = db_now_ns() + PUSHER_RESCAN_MS * 1000000LL;
		/* A boot's end is queued before the kick: committed once this returns. */
		if (kicked)
			store_flush(idsrd->store);
		if (!db && db_open(p->db_path, DB_READONLY, &db, why, sizeof(why)) < 0) {
			pusher_failed(p, 0, why);
			next_scan = p->st.next_try_ns;
			continue;
		}
		if (pusher_scan(db, ids, BATCH, &nids, &ready, &waiting, skipped, nskipped) < 0) {
			snprintf(why, sizeof(why), "reading the queue in %s: %s", p->db_path, sqlite3_errmsg(db));
			pusher_failed(p, 0, why);
			next_scan = p->st.next_try_ns;
			continue;
		}
		if (!waiting)
			next_scan = db_now_ns() + PUSHER_IDLE_RESCAN_MS * 1000000LL;
		pthread_mutex_lock(&p->lock);
		p->st.pending = ready;
		p->st.waiting = waiting;
		/* Backing off: a kick only updates the counts. */
		if (p->st.next_try_ns > db_now_ns()) {
			next_scan = p->st.next_try_ns < next_scan ? p->st.next_try_ns : next_scan;
			nids = 0;
		}
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < nids && !atomic_load(&p->stopping); i++) {
			int rc = pusher_push(p, db, ids[i], &tables_made, &skipped, &nskipped);

			if (rc == -EIO) {
				next_scan = p->st.next_try_ns;	/* (this thread's own write) */
				break;
			}
			if (i + 1 == nids && ready > nids)
				next_scan = 0;		/* more than a batch queued: on at once */
		}
	}
	db_close(db);
	free(skipped);
	return NULL;
}

int pusher_start(const char *url, const char *credentials, const char *db_path, char *why, size_t whylen)
{
	struct pusher *p = calloc(1, sizeof(*p));
	int rc;

	if (!p || !(p->db_path = strdup(db_path))) {
		free(p);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rc = ch_open(url, credentials, &p->ch, why, whylen);
	if (rc < 0)
		goto fail;
	p->ch.stall_s = PUSHER_STALL_S;
	p->ch.cancel = &p->stopping;
	snprintf(p->st.url, sizeof(p->st.url), "%s", url);
	atomic_init(&p->stopping, false);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	rc = -pthread_create(&p->thread, NULL, pusher_main, p);
	if (rc < 0) {
		snprintf(why, whylen, "cannot start the push thread: %s", strerror(-rc));
		ch_close(&p->ch);
		goto fail;
	}
	pthread_setname_np(p->thread, "idsrd-push");	/* idsrd(8), THREADS */
	pusher = p;
	return 0;
fail:
	free(p->db_path);
	free(p);
	return rc;
}

void pusher_kick(void)
{
	struct pusher *p = pusher;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void pusher_stop(void)
{
	struct pusher *p = pusher;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->stopping, true);
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pusher = NULL;
	ch_close(&p->ch);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->db_path);
	free(p);
}

bool pusher_get_status(struct pusher_status *st)
{
	struct pusher *p = pusher;

	if (!p)
		return false;
	pthread_mutex_lock(&p->lock);
	*st = p->st;
	pthread_mutex_unlock(&p->lock);
	return true;
}
