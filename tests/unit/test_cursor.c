/* SPDX-License-Identifier: MIT */
/* The replay cursor on a small recorded boot: matches, each divergence kind, getting back in step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "replay/cursor.h"

#define REC_SLIDE 0x1000u
#define N 40			/* recorded accesses per vCPU */

static char path[64];

/* Recorded access i of vCPU v: register i % 4, a write when i % 4 == 3. */
static struct replay_access rec(uint32_t v, uint64_t i, uint64_t slide)
{
	return (struct replay_access){
		.seq = i, .vcpu = v, .key = 0xc780u + 8 * (uint32_t)(i % 4), .pc = slide + 0x100 + 4 * i,
		.el = 1, .is_write = i % 4 == 3, .value = i % 4 == 3 ? 0x5000 + i : 0,
	};
}

static int setup(void **state)
{
	char why[256];
	sqlite3_stmt *st;
	sqlite3 *db;

	snprintf(path, sizeof(path), "/tmp/test_cursor.%d.db", (int)getpid());
	unlink(path);
	if (db_open(path, DB_CREATE, &db, why, sizeof(why)) < 0)
		return -1;
	sqlite3_exec(db, "BEGIN; INSERT INTO boots(id, start_ns, end_ns, slide, vcpus) VALUES (1, 1, 2, 4096, 2);"
		     "INSERT INTO boots(id, start_ns) VALUES (2, 3);"
		     "INSERT INTO boots(id, start_ns, end_ns, rows_dropped) VALUES (3, 3, 4, 7)", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO accesses VALUES (1, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)", -1, &st, NULL);
	for (uint32_t v = 0; v < 2; v++) {
		for (uint64_t i = 0; i < N; i++) {
			struct replay_access a = rec(v, i, REC_SLIDE);
			bool undef = i % 4 == 2;

			sqlite3_bind_int64(st, 1, v);
			sqlite3_bind_int64(st, 2, (int64_t)i);
			sqlite3_bind_int64(st, 3, (int64_t)i);
			sqlite3_bind_int64(st, 4, a.key);
			sqlite3_bind_int64(st, 5, (int64_t)a.pc);
			sqlite3_bind_int(st, 6, a.is_write);
			/* reads return 0xa000 + i (UNDEFs 0) */
			sqlite3_bind_int64(st, 7, a.is_write ? (int64_t)a.value : undef ? 0 : 0xa000 + (int64_t)i);
			sqlite3_bind_text(st, 8, undef ? "undef" : "emulate", -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 9, 7);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	db_close(db);
	return 0;
}

static int teardown(void **state)
{
	char p[80];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	return 0;
}

struct fixture {
	struct replay_trace *t;
	struct replay_cursor *c;
};

/* A cursor for a live boot whose slide is live_slide. */
static void open_cursor(struct fixture *f, uint64_t live_slide)
{
	char why[256];

	assert_int_equal(replay_trace_open(path, 1, &f->t, why, sizeof(why)), 0);
	assert_int_equal(replay_cursor_new(f->t, live_slide, &f->c), 0);
}

static void close_cursor(struct fixture *f)
{
	replay_cursor_free(f->c);
	replay_trace_close(f->t);
}

static int match(struct fixture *f, struct replay_access a, struct replay_record *r, struct replay_divergence *d)
{
	return replay_cursor_match(f->c, &a, r, d);
}

static void test_open_checks(void **state)
{
	struct replay_trace *t;
	char why[512];

	assert_int_equal(replay_trace_open(path, 0, &t, why, sizeof(why)), -EINVAL);	/* last boot: 3 */
	assert_non_null(strstr(why, "lost 7 rows when it was recorded"));
	assert_int_equal(replay_trace_open(path, 2, &t, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "boot 2 has not ended"));
	assert_int_equal(replay_trace_open(path, 9, &t, why, sizeof(why)), -ENOENT);
	assert_int_equal(replay_trace_open("/nonexistent/x.db", 1, &t, why, sizeof(why)), -ENOENT);
	assert_int_equal(replay_trace_open(path, 1, &t, why, sizeof(why)), 0);
	assert_int_equal(replay_trace_info(t)->nvcpus, 2);
	assert_int_equal(replay_trace_info(t)->recorded[0], N);
	assert_int_equal(replay_trace_info(t)->recorded[1], N);
	assert_int_equal(replay_trace_info(t)->total, 2 * N);
	assert_int_equal(replay_trace_info(t)->slide, REC_SLIDE);
	replay_trace_close(t);
}

/* The same accesses from a boot with another slide: all match, with the recorded answers. */
static void test_all_match(void **state)
{
	struct replay_divergence d;
	struct replay_record r;
	struct fixture f;

	open_cursor(&f, 0x777000);
	for (uint64_t i = 0; i < N; i++) {
		for (uint32_t v = 0; v < 2; v++) {
			assert_int_equal(match(&f, rec(v, i, 0x777000), &r, &d), REPLAY_MATCHED);
			assert_int_equal(r.seq, i);
			assert_int_equal(r.undef, i % 4 == 2);
			if (i % 4 < 2)
				assert_int_equal(r.value, 0xa000 + i);
			assert_int_equal(r.rule, 7);
		}
	}
	assert_int_equal(replay_cursor_matched(f.c, 0), N);
	assert_int_equal(replay_cursor_matched(f.c, 1), N);
	/* past the end: one extra, then nothing new */
	assert_int_equal(match(&f, rec(0, N, 0x777000), &r, &d), REPLAY_DIVERGED);
	assert_int_equal(d.kind, REPLAY_KIND_EXTRA);
	assert_false(d.has_expected);
	assert_int_equal(d.seq, N);
	assert_int_equal(match(&f, rec(0, N + 1, 0x777000), &r, &d), REPLAY_UNMATCHED);
	close_cursor(&f);
}

static size_t nmissing;
static struct replay_divergence missing[4];

static void on_missing(void *arg, const struct replay_divergence *d)
{
	missing[nmissing++] = *d;
}

/* Inserted, removed, replaced, moved and changed accesses: one divergence each, then in step. */
static void test_resync(void **state)
{
	struct replay_divergence d;
	struct replay_record r;
	struct replay_access a;
	struct fixture f;
	uint64_t i = 0;

	open_cursor(&f, REC_SLIDE);
	for (; i < 5; i++)
		assert_int_equal(match(&f, rec(0, i, REC_SLIDE), &r, &d), REPLAY_MATCHED);
	/* inserted at live seq 5 */
	a = rec(0, 5, REC_SLIDE);
	a.key = 0xc7f8;
	assert_int_equal(match(&f, a, &r, &d), REPLAY_DIVERGED);
	assert_int_equal(d.kind, REPLAY_KIND_KEY);
	assert_int_equal(d.seq, 5);
	assert_int_equal(d.expected.key, rec(0, 5, 0).key);
	assert_int_equal(d.actual.key, 0xc7f8);
	assert_false(d.has_answer);
	assert_int_equal(d.ncontext, REPLAY_CONTEXT);
	assert_int_equal(d.context[0].seq, 1);
	assert_int_equal(d.context[3].seq, 4);
	/* the guest goes on with recorded 5, 6 at live seq 6, 7 */
	for (uint64_t k = 5; k < 7; k++) {
		a = rec(0, k, REC_SLIDE);
		a.seq = k + 1;
		assert_int_equal(match(&f, a, &r, &d), REPLAY_MATCHED);
		assert_int_equal(r.seq, k);
	}
	/* recorded 7 removed: live seq 8 is recorded 8 */
	a = rec(0, 8, REC_SLIDE);
	assert_int_equal(match(&f, a, &r, &d), REPLAY_DIVERGED);
	assert_int_equal(d.kind, REPLAY_KIND_KEY);
	assert_int_equal(d.expected.seq, 7);
	assert_true(d.has_answer);
	assert_int_equal(r.seq, 8);
	/* recorded 9 replaced by another register, then in step at 10 */
	a = rec(0, 9, REC_SLIDE);
	a.key = 0xc7f0;
	assert_int_equal(match(&f, a, &r, &d), REPLAY_DIVERGED);
	assert_int_equal(match(&f, rec(0, 10, REC_SLIDE), &r, &d), REPLAY_MATCHED);
	assert_int_equal(r.seq, 10);
	/* recorded 11 (a write) with another value: answered, reported */
	a = rec(0, 11, REC_SLIDE);
	a.value ^= 1;
	assert_int_equal(match(&f, a, &r, &d), REPLAY_DIVERGED);
	assert_int_equal(d.kind, REPLAY_KIND_VALUE);
	assert_int_equal(d.expected.value, 0x5000 + 11);
	assert_int_equal(d.actual.value, (0x5000 + 11) ^ 1);
	assert_true(d.has_answer);
	/* 12 and 13 moved by 0x40: each a pc divergence, answered from its record */
	for (uint64_t k = 12; k < 14; k++) {
		a = rec(0, k, REC_SLIDE + 0x40);
		assert_int_equal(match(&f, a, &r, &d), REPLAY_DIVERGED);
		assert_int_equal(d.kind, REPLAY_KIND_PC);
		assert_int_equal(d.actual.pc - d.expected.pc, 0x40);
		assert_int_equal(r.seq, k);
	}
	/* a read where a write was recorded (15), never found ahead */
	for (i = 14; i < 15; i++)
		assert_int_equal(match(&f, rec(0, i, REC_SLIDE), &r, &d), REPLAY_MATCHED);
	a = rec(0, 15, REC_SLIDE);
	a.is_write = false;
	assert_int_equal(match(&f, a, &r, &d), REPLAY_DIVERGED);
	assert_int_equal(d.kind, REPLAY_KIND_DIRECTION);
	for (i = 16; i < 30; i++)
		assert_int_equal(match(&f, rec(0, i, REC_SLIDE), &r, &d), REPLAY_MATCHED);
	/* the boot ends: vCPU 0 stopped at 30, vCPU 1 never ran */
	nmissing = 0;
	assert_int_equal(replay_cursor_finish(f.c, on_missing, NULL), 2);
	assert_int_equal(missing[0].vcpu, 0);
	assert_int_equal(missing[0].seq, 30);
	assert_int_equal(missing[0].missing, N - 30);
	assert_int_equal(missing[0].kind, REPLAY_KIND_MISSING);
	assert_false(missing[0].has_actual);
	assert_int_equal(missing[1].vcpu, 1);
	assert_int_equal(missing[1].seq, 0);
	assert_int_equal(missing[1].missing, N);
	close_cursor(&f);
}

struct thread_arg {
	struct fixture *f;
	uint32_t vcpu;
	int bad;
};

static void *vcpu_thread(void *p)
{
	struct thread_arg *ta = p;
	struct replay_divergence d;
	struct replay_record r;

	for (uint64_t i = 0; i < N; i++) {
		struct replay_access a = rec(ta->vcpu, i, REC_SLIDE);

		ta->bad += replay_cursor_match(ta->f->c, &a, &r, &d) != REPLAY_MATCHED || r.seq != i;
	}
	return NULL;
}

/* vCPUs on their own threads, however they interleave. */
static void test_threads(void **state)
{
	struct thread_arg ta[2];
	pthread_t t[2];
	struct fixture f;

	open_cursor(&f, REC_SLIDE);
	for (uint32_t v = 0; v < 2; v++) {
		ta[v] = (struct thread_arg){ .f = &f, .vcpu = v };
		pthread_create(&t[v], NULL, vcpu_thread, &ta[v]);
	}
	for (uint32_t v = 0; v < 2; v++) {
		pthread_join(t[v], NULL);
		assert_int_equal(ta[v].bad, 0);
	}
	nmissing = 0;
	assert_int_equal(replay_cursor_finish(f.c, on_missing, NULL), 0);
	close_cursor(&f);
}

/* Each way a match fails says which (all three were -ENOMEM): a vCPU past the
 * limit, and a recording that cannot be read (its table gone under the open
 * trace). A matched access compares as REPLAY_KIND_NONE, which is named. */
static void test_failures_named(void **state)
{
	struct replay_divergence d;
	struct replay_record r;
	struct fixture f;
	sqlite3 *db;
	char why[256];

	open_cursor(&f, REC_SLIDE);
	assert_int_equal(match(&f, rec(IDSR_MAX_VCPUS, 0, REC_SLIDE), &r, &d), -ERANGE);
	assert_string_equal(replay_cursor_strerror(-ERANGE), "a vCPU numbered past the 4096 a replay follows");
	assert_int_equal(match(&f, rec(0, 0, REC_SLIDE), &r, &d), REPLAY_MATCHED);
	/* vCPU 1's stream is opened on its first access: after the table went */
	assert_int_equal(db_open(path, DB_CREATE, &db, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE accesses RENAME TO gone", NULL, NULL, NULL), SQLITE_OK);
	db_close(db);
	assert_int_equal(match(&f, rec(1, 0, REC_SLIDE), &r, &d), -EIO);
	assert_string_equal(replay_cursor_strerror(-EIO), "an SQLite error reading it");
	assert_string_equal(replay_cursor_strerror(-ENOMEM), "out of memory");
	assert_string_equal(replay_kind_name(REPLAY_KIND_NONE), "none");
	close_cursor(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_checks),
		cmocka_unit_test(test_all_match),
		cmocka_unit_test(test_resync),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_failures_named),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
