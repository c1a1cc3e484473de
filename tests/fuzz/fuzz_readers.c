/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: trace readers (replay/access_rows.c and the boot stream, replay trace and cursors on it) on databases of random rows. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access_rows.h"
#include "bootstream.h"
#include "db.h"
#include "trace.h"

/*
 * An input is a damaged trace: its first byte picks the file's shape (the
 * real schema or a table made by hand without constraints, a missing table,
 * a user_version from the future, a boot not ended or with lost rows), the
 * rest are rows, each column given a type (integer small or full, NULL, text,
 * real, blob) and a value. Every reader must then either refuse with a
 * message, or hand out rows that hold what access_rows.h promises. Readers
 * that print (show, stats, tail -n, export) read through the same cursor;
 * tests/cli/test_damage.sh checks their messages.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { SHAPE_LOOSE = 1, SHAPE_NO_ACCESSES = 2, SHAPE_NO_BOOTS = 4, SHAPE_FUTURE = 8,
       SHAPE_RUNNING = 16, SHAPE_LOST = 32 };

static char dir[64], template_db[96], db_path[96];

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	assert(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert(write(out, buf, (size_t)n) == n);
	close(in);
	close(out);
}

static void remove_files(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char path[128];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", template_db, suffix[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s%s", db_path, suffix[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* The real schema, once: creating it fills the registers table, which costs
 * more than an input. */
static void make_template(void)
{
	char why[256];
	sqlite3 *db;

	snprintf(dir, sizeof(dir), "%s/idsr-fuzz-readers.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	assert(mkdtemp(dir));
	snprintf(template_db, sizeof(template_db), "%s/template.db", dir);
	snprintf(db_path, sizeof(db_path), "%s/trace.db", dir);
	atexit(remove_files);
	assert(db_open(template_db, DB_CREATE, &db, why, sizeof(why)) == 0);
	/* the readers do not use register names: a small file copies fast */
	assert(sqlite3_exec(db, "DELETE FROM registers; PRAGMA journal_mode = DELETE; VACUUM",
			    NULL, NULL, NULL) == SQLITE_OK);
	db_close(db);
}

/* Binds column col of a row from the input: *p advances. */
static void bind_value(sqlite3_stmt *st, int col, const uint8_t **p, const uint8_t *end)
{
	uint8_t kind = *p < end ? *(*p)++ : 0;
	int64_t v = 0;
	size_t len;

	switch (kind % 7) {
	case 0:		/* a small integer: what sound rows hold */
	case 1:
		v = *p < end ? (int8_t)*(*p)++ : 0;
		sqlite3_bind_int64(st, col, v < 0 && kind % 7 == 0 ? -v : v);
		break;
	case 2:		/* any 64-bit integer */
		len = (size_t)(end - *p) < 8 ? (size_t)(end - *p) : 8;
		memcpy(&v, *p, len);
		*p += len;
		sqlite3_bind_int64(st, col, v);
		break;
	case 3:
		sqlite3_bind_null(st, col);
		break;
	case 4:		/* text, possibly a number in words */
		len = *p < end ? *(*p)++ % 12 : 0;
		len = len < (size_t)(end - *p) ? len : (size_t)(end - *p);
		sqlite3_bind_text(st, col, (const char *)*p, (int)len, SQLITE_TRANSIENT);
		*p += len;
		break;
	case 5:
		sqlite3_bind_double(st, col, *p < end ? (double)*(*p)++ / 4.0 : 0.5);
		break;
	default:
		len = *p < end ? *(*p)++ % 8 : 0;
		len = len < (size_t)(end - *p) ? len : (size_t)(end - *p);
		sqlite3_bind_blob(st, col, *p, (int)len, SQLITE_TRANSIENT);
		*p += len;
	}
}

static void make_trace(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	uint8_t shape = size ? data[0] : 0;
	sqlite3_stmt *st;
	sqlite3 *db;

	copy_file(template_db, db_path);
	assert(sqlite3_open(db_path, &db) == SQLITE_OK);
	sqlite3_exec(db, "PRAGMA synchronous = OFF; PRAGMA ignore_check_constraints = 1; BEGIN",
		     NULL, NULL, NULL);
	if (shape & SHAPE_LOOSE)
		sqlite3_exec(db, "DROP VIEW accesses_v; DROP TABLE accesses; CREATE TABLE accesses (boot_id,"
			     " vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule)", NULL, NULL, NULL);
	sqlite3_exec(db, shape & SHAPE_RUNNING ? "INSERT INTO boots (id, start_ns, vcpus) VALUES (1, 1, 2)" :
		     "INSERT INTO boots (id, start_ns, end_ns, vcpus, end_reason) VALUES (1, 1, 2, 2, 'bye')",
		     NULL, NULL, NULL);
	if (shape & SHAPE_LOST)
		sqlite3_exec(db, "UPDATE boots SET rows_dropped = 3", NULL, NULL, NULL);
	assert(sqlite3_prepare_v2(db, "INSERT INTO accesses (boot_id, vcpu, seq, ts_ns, key, pc, el,"
				  " is_write, value, action, rule) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
				  " ?9, ?10)", -1, &st, NULL) == SQLITE_OK);
	for (int row = 0; p < end && row < 64; row++) {
		uint8_t action;

		for (int col = 1; col <= 10; col++)
			bind_value(st, col, &p, end);
		/* mostly a known action, so that rows get past it to the other checks */
		action = p < end ? *p++ : 0;
		if (action % 4)
			sqlite3_bind_text(st, 9, action % 2 ? "emulate" : "undef", -1, SQLITE_STATIC);
		sqlite3_step(st);	/* a row the real schema refuses is simply not there */
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (shape & SHAPE_NO_ACCESSES)
		sqlite3_exec(db, "DROP VIEW IF EXISTS accesses_v; DROP TABLE accesses", NULL, NULL, NULL);
	if (shape & SHAPE_NO_BOOTS)
		sqlite3_exec(db, "DROP VIEW IF EXISTS accesses_v; DROP TABLE boots", NULL, NULL, NULL);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (shape & SHAPE_FUTURE)
		sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* What every row handed out holds; a refusal says why. */
static void check_row(const struct access_row *r)
{
	assert(r->boot_id == 1);
	assert(r->vcpu < IDSR_MAX_VCPUS);
	assert(r->seq <= INT64_MAX);
	assert(r->el <= 3);
}

static void check_refusal(int rc, const char *why)
{
	assert(rc < 0);
	assert(why[0] != '\0');
	if (rc == -EINVAL && strstr(why, "boot 1, vCPU"))
		assert(strstr(why, ": the file is damaged"));
}

static void read_cursors(sqlite3 *db)
{
	struct access_range all = { .boot_id = 1, .vcpu = -1, .limit = -1 };
	struct access_cursor *c;
	struct access_row r;
	char why[512] = "";
	uint32_t v;
	int rc;

	if ((rc = access_cursor_open(db, db_path, &all, &c, why, sizeof(why))) == 0) {
		while ((rc = access_cursor_next(c, &r, why, sizeof(why))) > 0)
			check_row(&r);
		access_cursor_close(c);
	}
	if (rc < 0)
		check_refusal(rc, why);
	for (int64_t after = -1; (rc = access_next_vcpu(db, db_path, 1, after, &v, why, sizeof(why))) > 0;
	     after = v) {
		struct access_range back = { .boot_id = 1, .vcpu = v, .limit = -1, .backwards = true };
		uint64_t last;

		assert(v < IDSR_MAX_VCPUS && (int64_t)v > after);
		if ((rc = access_last_seq(db, db_path, 1, v, &last, why, sizeof(why))) < 0)
			check_refusal(rc, why);
		if (access_cursor_open(db, db_path, &back, &c, why, sizeof(why)) == 0) {
			while ((rc = access_cursor_next(c, &r, why, sizeof(why))) > 0) {
				check_row(&r);
				assert(r.vcpu == v);
			}
			if (rc < 0)
				check_refusal(rc, why);
			access_cursor_close(c);
		}
	}
	if (rc < 0)
		check_refusal(rc, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootstream_vcpu *vcpus;
	struct replay_trace *t;
	struct bootstream *bs;
	char why[512] = "";
	size_t n;
	sqlite3 *db;
	int rc;

	if (!template_db[0])
		make_template();
	make_trace(data, size);

	/* diff's reader: the whole boot into per-vCPU arrays */
	if ((rc = bootstream_open(db_path, 1, &bs, why, sizeof(why))) == 0) {
		if ((rc = bootstream_load(bs, &vcpus, &n, why, sizeof(why))) == 0) {
			for (size_t i = 0; i < n; i++) {
				assert(vcpus[i].vcpu < IDSR_MAX_VCPUS && vcpus[i].count > 0);
				for (size_t j = 0; j < vcpus[i].count; j++)
					assert(vcpus[i].rows[j].el <= 3 &&
					       (j == 0 || vcpus[i].rows[j].seq > vcpus[i].rows[j - 1].seq));
			}
			bootstream_free_vcpus(vcpus, n);
		} else {
			check_refusal(rc, why);
		}
		bootstream_close(bs);
	} else {
		check_refusal(rc, why);
	}

	/* replay's reader: the trace, then every stream through (as idsrctl replay does) */
	why[0] = '\0';
	if ((rc = replay_trace_open(db_path, 1, &t, why, sizeof(why))) == 0) {
		const struct replay_trace_info *in = replay_trace_info(t);

		assert(in->nvcpus <= IDSR_MAX_VCPUS);
		if ((rc = replay_trace_verify(t, why, sizeof(why))) < 0)
			check_refusal(rc, why);
		replay_trace_close(t);
	} else {
		check_refusal(rc, why);
	}

	/* show, stats, tail -n and export's reader: the cursors */
	if (db_open(db_path, DB_READONLY, &db, why, sizeof(why)) == 0) {
		read_cursors(db);
		db_close(db);
	}
	return 0;
}
