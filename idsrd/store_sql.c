/* SPDX-License-Identifier: MIT */
/* The store's SQL: its statements, prepared once, and the binding of each
 * record kind's fields to them; the queue and writer thread are store.c. */
#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* Statements without parameters (the rows are read from idsrd_batch, BEGIN
 * and its kin): no clearing needed. */
static int step_rows(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* n rows in one statement, read from idsrd_batch (store_batch.c): no
 * binding, and the statement's fixed cost (start, halt, reset) once for the
 * run. The statement is INSERT OR ROLLBACK: a constraint failure (a
 * duplicate key, never seen but possible after a resume) rolls the whole
 * transaction back, so SQLite keeps no statement journal to undo just the
 * statement (that journal copied about two pages per statement and cost a
 * third of the writer's time); the caller then writes the batch again one
 * row at a time, dropping just the bad row. */
static int write_rows(struct store *s, sqlite3_stmt *st, const struct store_item *it, size_t n)
{
	int rc;

	s->batch_rows = it;
	s->batch_nrows = n;
	rc = step_rows(st);
	s->batch_rows = NULL;
	s->batch_nrows = 0;
	return rc;
}

int store_sql_write_run(struct store *s, const struct store_item *it, size_t n)
{
	return write_rows(s, s->stmt.ins_batch, it, n);
}

/* One row alone, when a batch is written again one record at a time: read
 * from idsrd_batch too (one home for a row's columns), by a plain INSERT,
 * whose constraint failure undoes only the row. */
static int write_row(struct store *s, const struct store_item *it)
{
	return write_rows(s, s->stmt.ins_row, it, 1);
}

int store_sql_run(sqlite3_stmt *st)
{
	return step_rows(st);
}

/* boot_uid comes from the column's default (schema.sql: 128 random bits); host
 * is asked here, on the writer thread, so a renamed host shows from its next boot. */
static int write_boot(struct store *s, const struct store_boot *b)
{
	sqlite3_stmt *st = s->stmt.ins_boot;
	char host[256] = "";
	int rc;

	sqlite3_bind_int64(st, 1, b->id);
	sqlite3_bind_int64(st, 2, b->start_ns);
	bind_text_or_null(st, 3, b->vmm);
	bind_text_or_null(st, 4, b->vm_name);
	sqlite3_bind_blob(st, 5, b->instance, (int)b->instance_len, SQLITE_STATIC);
	bind_text_or_null(st, 6, b->kernel);
	sqlite3_bind_blob(st, 7, b->build_id, (int)b->build_id_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (int64_t)b->image_base);
	sqlite3_bind_int64(st, 9, (int64_t)b->slide);
	sqlite3_bind_int64(st, 10, (int64_t)b->midr);
	bind_text_or_null(st, 11, b->impl);
	sqlite3_bind_int(st, 12, (int)b->vcpus);
	sqlite3_bind_text(st, 13, b->replay ? "replay" : "live", -1, SQLITE_STATIC);
	if (b->replay)
		sqlite3_bind_int64(st, 14, b->replay_of);
	bind_text_or_null(st, 15, b->replay_source);
	bind_text_or_null(st, 16, b->policy_hash);
	sqlite3_bind_int64(st, 17, b->peer_uid);
	sqlite3_bind_int64(st, 18, b->peer_gid);
	sqlite3_bind_int64(st, 19, b->peer_pid);
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0])
		sqlite3_bind_text(st, 20, host, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 20);
	rc = step_reset(st);
	if (rc)
		return rc;
	/* In the same transaction as the boot: queued for good, or not there at all. */
	if (!b->push)
		return 0;
	sqlite3_bind_int64(s->stmt.ins_push, 1, b->id);
	sqlite3_bind_int64(s->stmt.ins_push, 2, b->start_ns);
	return step_reset(s->stmt.ins_push);
}

static int write_boot_end(struct store *s, const struct store_boot_end *e)
{
	sqlite3_stmt *st = s->stmt.end_boot;

	sqlite3_bind_int64(st, 1, e->end_ns);
	bind_text_or_null(st, 2, e->reason);
	sqlite3_bind_int64(st, 3, (int64_t)e->accesses);
	sqlite3_bind_int64(st, 4, (int64_t)e->undefs);
	sqlite3_bind_int64(st, 5, (int64_t)(e->rows_dropped + store_losses(s, e->id, true)));
	sqlite3_bind_int64(st, 6, (int64_t)e->divergences);
	sqlite3_bind_int64(st, 7, e->id);
	return step_reset(st);
}

static int write_boot_resume(struct store *s, const struct store_boot_end *e)
{
	sqlite3_bind_int64(s->stmt.resume_boot, 1, e->id);
	return step_reset(s->stmt.resume_boot);
}

static int write_boot_pushed(struct store *s, const struct store_push_rec *p)
{
	sqlite3_bind_int64(s->stmt.done_push, 1, p->pushed_ns);
	sqlite3_bind_text(s->stmt.done_push, 2, p->url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->stmt.done_push, 3, p->rows);
	sqlite3_bind_int64(s->stmt.done_push, 4, p->boot_id);
	return step_reset(s->stmt.done_push);
}

static int write_policy(struct store *s, const struct store_policy_rec *p, int64_t now)
{
	int rc;

	sqlite3_bind_text(s->stmt.ins_policy, 1, p->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->stmt.ins_policy, 2, p->text, -1, SQLITE_STATIC);
	bind_text_or_null(s->stmt.ins_policy, 3, p->source);
	sqlite3_bind_int64(s->stmt.ins_policy, 4, now);
	rc = step_reset(s->stmt.ins_policy);
	if (rc)
		return rc;
	sqlite3_bind_int64(s->stmt.ins_change, 1, now);
	sqlite3_bind_int64(s->stmt.ins_change, 2, p->peer_uid);
	sqlite3_bind_int64(s->stmt.ins_change, 3, p->peer_pid);
	sqlite3_bind_text(s->stmt.ins_change, 4, p->how, -1, SQLITE_STATIC);
	bind_text_or_null(s->stmt.ins_change, 5, p->old_hash);
	sqlite3_bind_text(s->stmt.ins_change, 6, p->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->stmt.ins_change, 7, p->peer_gid);
	return step_reset(s->stmt.ins_change);
}

static int write_boot_policy(struct store *s, const struct store_policy_rec *p)
{
	sqlite3_bind_int64(s->stmt.ins_boot_policy, 1, p->boot_id);
	sqlite3_bind_text(s->stmt.ins_boot_policy, 2, p->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->stmt.ins_boot_policy, 3, p->since_ns);
	return step_reset(s->stmt.ins_boot_policy);
}

static int write_divergence(struct store *s, const struct store_divergence *d)
{
	sqlite3_stmt *st = s->stmt.ins_div;

	sqlite3_bind_int64(st, 1, d->boot_id);
	sqlite3_bind_int64(st, 2, d->replay_of);
	sqlite3_bind_int64(st, 3, d->vcpu);
	sqlite3_bind_int64(st, 4, (int64_t)d->seq);
	sqlite3_bind_int64(st, 5, d->ts_ns);
	sqlite3_bind_text(st, 6, d->kind, -1, SQLITE_STATIC);
	if (d->has_expected) {
		sqlite3_bind_int64(st, 7, d->expected_key);
		sqlite3_bind_int64(st, 8, (int64_t)d->expected_pc);
		sqlite3_bind_int(st, 9, d->expected_is_write);
		sqlite3_bind_int64(st, 10, (int64_t)d->expected_value);
	}
	if (d->has_actual) {
		sqlite3_bind_int64(st, 11, d->actual_key);
		sqlite3_bind_int64(st, 12, (int64_t)d->actual_pc);
		sqlite3_bind_int(st, 13, d->actual_is_write);
		sqlite3_bind_int64(st, 14, (int64_t)d->actual_value);
	}
	return step_reset(st);
}

int store_sql_write_item(struct store *s, const struct store_item *it, int64_t now)
{
	switch (it->kind) {
	case ITEM_ROW: return write_row(s, it);
	case ITEM_BOOT_BEGIN: return write_boot(s, it->rec);
	case ITEM_BOOT_END: return write_boot_end(s, it->rec);
	case ITEM_BOOT_POLICY: return write_boot_policy(s, it->rec);
	case ITEM_POLICY: return write_policy(s, it->rec, now);
	case ITEM_DIVERGENCE: return write_divergence(s, it->rec);
	case ITEM_BOOT_RESUME: return write_boot_resume(s, it->rec);
	case ITEM_BOOT_PUSHED: return write_boot_pushed(s, it->rec);
	}
	return SQLITE_MISUSE;
}

/* A failure that is about one row (a duplicate key after a resume): skip the
 * row. Anything else (disk full, read-only, I/O error, busy) is about the
 * file: the transaction is lost as a whole. */
bool store_sql_row_error(int rc)
{
	return (rc & 0xff) == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_MISMATCH ||
	       (rc & 0xff) == SQLITE_TOOBIG;
}

/* ---- preparing ------------------------------------------------------------ */

#define ACCESS_COLUMNS	"boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule"

static const char insert_access[] =
	"INSERT INTO accesses(" ACCESS_COLUMNS ") SELECT " ACCESS_COLUMNS " FROM idsrd_batch";
/* See store_sql_write_run. */
static const char insert_batch[] =
	"INSERT OR ROLLBACK INTO accesses(" ACCESS_COLUMNS ") SELECT " ACCESS_COLUMNS " FROM idsrd_batch";

/* Each statement and where its prepared form is kept: one list to keep in order. */
static const struct {
	const char *sql;
	size_t stmt;			/* offsetof(struct store, stmt.X) */
} store_stmts[] = {
	{ insert_access, offsetof(struct store, stmt.ins_row) },
	{ "INSERT INTO boots(id, start_ns, vmm, vm_name, instance, kernel, build_id, image_base, slide,"
	  " midr, impl, vcpus, mode, replay_of, replay_source, policy_hash, peer_uid, peer_gid, peer_pid, host)"
	  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	  offsetof(struct store, stmt.ins_boot) },
	{ "UPDATE boots SET end_ns = ?, end_reason = ?, accesses = ?, undefs = ?, rows_dropped = ?,"
	  " divergences = ? WHERE id = ?",
	  offsetof(struct store, stmt.end_boot) },
	{ "INSERT OR IGNORE INTO boot_policies(boot_id, policy_hash, since_ns) VALUES (?, ?, ?)",
	  offsetof(struct store, stmt.ins_boot_policy) },
	{ "INSERT OR IGNORE INTO policies(hash, text, source, first_ns) VALUES (?, ?, ?, ?)",
	  offsetof(struct store, stmt.ins_policy) },
	{ "INSERT INTO policy_changes(ts_ns, peer_uid, peer_pid, how, old_hash, new_hash, peer_gid)"
	  " VALUES (?, ?, ?, ?, ?, ?, ?)",
	  offsetof(struct store, stmt.ins_change) },
	{ "INSERT INTO divergences(boot_id, replay_of, vcpu, seq, ts_ns, kind, expected_key, expected_pc,"
	  " expected_is_write, expected_value, actual_key, actual_pc, actual_is_write, actual_value)"
	  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	  offsetof(struct store, stmt.ins_div) },
	{ "UPDATE boots SET end_ns = NULL, end_reason = NULL WHERE id = ?",
	  offsetof(struct store, stmt.resume_boot) },
	{ "INSERT OR IGNORE INTO pushes(boot_id, queued_ns) VALUES (?, ?)",
	  offsetof(struct store, stmt.ins_push) },
	{ "UPDATE pushes SET pushed_ns = ?, url = ?, rows = ? WHERE boot_id = ?",
	  offsetof(struct store, stmt.done_push) },
	{ insert_batch, offsetof(struct store, stmt.ins_batch) },
	{ "BEGIN", offsetof(struct store, stmt.begin) },
	{ "COMMIT", offsetof(struct store, stmt.commit) },
	{ "ROLLBACK", offsetof(struct store, stmt.rollback) },
};

#define STORE_NSTMT (sizeof(store_stmts) / sizeof(store_stmts[0]))

static sqlite3_stmt **stmt_at(struct store *s, size_t i)
{
	return (sqlite3_stmt **)((char *)s + store_stmts[i].stmt);
}

void store_sql_finalize(struct store *s)
{
	for (size_t i = 0; i < STORE_NSTMT; i++)
		sqlite3_finalize(*stmt_at(s, i));
}

/* A boot that has no end after a crash or kill: mark it, with what it logged. */
static void store_mark_cut_off(struct store *s)
{
	sqlite3_exec(s->db,
		     "UPDATE boots SET end_reason = 'cut off: idsrd stopped without ending it',"
		     " end_ns = coalesce((SELECT max(ts_ns) FROM accesses a WHERE a.boot_id = boots.id), start_ns),"
		     " accesses = (SELECT count(*) FROM accesses a WHERE a.boot_id = boots.id),"
		     " undefs = (SELECT count(*) FROM accesses a WHERE a.boot_id = boots.id AND action = 'undef')"
		     " WHERE end_ns IS NULL", NULL, NULL, NULL);
}

int store_sql_prepare(struct store *s, char *why, size_t whylen)
{
	sqlite3_stmt *st;

	/* WAL + NORMAL: a process crash loses nothing committed. */
	sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	/*
	 * The schema's two CHECKs (accesses.action, boots.mode) are on values
	 * this connection makes from a bool (batch_column,
	 * write_boot): they cannot fail here, and testing accesses.action cost
	 * 450 instructions a row of about 6,000 (docs/performance.md). Every
	 * other connection (idsrctl import, upgrades, users) keeps them. A flag
	 * of the whole connection: SQLite expires every statement when it changes.
	 */
	sqlite3_exec(s->db, "PRAGMA ignore_check_constraints=ON", NULL, NULL, NULL);
	store_mark_cut_off(s);
	if (store_batch_register(s) != SQLITE_OK)
		goto err;
	for (size_t i = 0; i < STORE_NSTMT; i++) {
		if (sqlite3_prepare_v3(s->db, store_stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
				       stmt_at(s, i), NULL) != SQLITE_OK)
			goto err;
	}
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM boots", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			s->next_boot_id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
err:
	snprintf(why, whylen, "preparing statements on %s: %s", s->path, sqlite3_errmsg(s->db));
	return -EIO;
}
