/* SPDX-License-Identifier: MIT */
/* The one reader of the `accesses` table: one row type, one column list, the damage checks, a streaming cursor. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_rows.h"
#include "encoding.h"

/*
 * People open traces others recorded, and SQLite stores what it is given: a
 * file written by another tool, edited by hand or cut short can hold NULLs,
 * text where a number goes, a vCPU of 4000000000. Every reader takes its rows
 * through here, so each such row is refused the same way, named by boot, vCPU
 * and seq, instead of being printed as if sound, or taken as a count to
 * allocate ("out of memory").
 */

enum { COL_BOOT, COL_VCPU, COL_SEQ, COL_TS, COL_KEY, COL_PC, COL_EL, COL_WRITE, COL_VALUE,
       COL_ACTION, COL_RULE, NCOLS };
static const char *const col_name[NCOLS] = {
	"boot_id", "vcpu", "seq", "ts_ns", "key", "pc", "el", "is_write", "value", "action", "rule",
};

/* A column's value as the message shows it: 12, NULL, 'text', 1.5, a blob. */
static const char *describe(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		snprintf(buf, len, "%lld", (long long)sqlite3_column_int64(st, col));
		break;
	case SQLITE_FLOAT:
		snprintf(buf, len, "%g", sqlite3_column_double(st, col));
		break;
	case SQLITE_TEXT:
		snprintf(buf, len, "'%.24s%s'", (const char *)sqlite3_column_text(st, col),
			 sqlite3_column_bytes(st, col) > 24 ? "..." : "");
		break;
	case SQLITE_BLOB:
		snprintf(buf, len, "a %d-byte blob", sqlite3_column_bytes(st, col));
		break;
	default:
		snprintf(buf, len, "NULL");
	}
	return buf;
}

/* "PATH: boot B, vCPU V, seq S: WHAT: the file is damaged"; vcpu_col and
 * seq_col are where st holds them (-1: not read). Returns -EINVAL. */
static int damage(sqlite3_stmt *st, const char *path, int64_t boot, int vcpu_col, int seq_col,
		  char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static int damage(sqlite3_stmt *st, const char *path, int64_t boot, int vcpu_col, int seq_col,
		  char *why, size_t whylen, const char *fmt, ...)
{
	char what[200], vcpu[48] = "", seq[48] = "", val[40];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (vcpu_col >= 0)
		snprintf(vcpu, sizeof(vcpu), ", vCPU %s", describe(st, vcpu_col, val, sizeof(val)));
	if (seq_col >= 0)
		snprintf(seq, sizeof(seq), ", seq %s", describe(st, seq_col, val, sizeof(val)));
	snprintf(why, whylen, "%s: boot %" PRId64 "%s%s: %s: the file is damaged", path, boot, vcpu, seq,
		 what);
	return -EINVAL;
}

/* The column's integer, or damage if it holds anything else. */
static int integer(sqlite3_stmt *st, int col, const char *path, int64_t boot, int vcpu_col,
		   int seq_col, int64_t *v, char *why, size_t whylen)
{
	static const char *const kind[] = {
		[SQLITE_FLOAT] = "a real number", [SQLITE_TEXT] = "text", [SQLITE_BLOB] = "a blob",
	};
	char buf[48];
	int type = sqlite3_column_type(st, col);

	if (type == SQLITE_INTEGER) {
		*v = sqlite3_column_int64(st, col);
		return 0;
	}
	if (type == SQLITE_NULL)
		return damage(st, path, boot, vcpu_col, seq_col, why, whylen, "%s is NULL", col_name[col]);
	return damage(st, path, boot, vcpu_col, seq_col, why, whylen, "%s is %s (%s), not an integer",
		      col_name[col], kind[type], describe(st, col, buf, sizeof(buf)));
}

int access_row_read(sqlite3_stmt *st, const char *path, struct access_row *r, char *why, size_t whylen)
{
	int64_t v[NCOLS], boot = sqlite3_column_int64(st, COL_BOOT);
	const char *action;
	struct enc_fields f;
	char buf[48];
	int rc;

	for (int col = 0; col < NCOLS; col++) {
		if (col == COL_ACTION)
			continue;
		rc = integer(st, col, path, boot, COL_VCPU, COL_SEQ, &v[col], why, whylen);
		if (rc < 0)
			return rc;
		if (col == COL_SEQ && v[COL_SEQ] < 0)
			return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "a negative seq");
		if (col == COL_VCPU && (v[COL_VCPU] < 0 || v[COL_VCPU] >= IDSR_MAX_VCPUS))
			return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "vCPU outside 0..%d",
				      IDSR_MAX_VCPUS - 1);
	}
	if (v[COL_KEY] < 0 || v[COL_KEY] > UINT32_MAX || !enc_unpack((uint32_t)v[COL_KEY], &f))
		return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "key %" PRId64 " (0x%" PRIx64
			      ") has bits outside a packed encoding's fields", v[COL_KEY], (uint64_t)v[COL_KEY]);
	if (v[COL_EL] < 0 || v[COL_EL] > 3)
		return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "el %" PRId64 ", outside 0..3",
			      v[COL_EL]);
	if (v[COL_WRITE] != 0 && v[COL_WRITE] != 1)
		return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "is_write %" PRId64
			      ", not 0 or 1", v[COL_WRITE]);
	if (v[COL_RULE] < INT32_MIN || v[COL_RULE] > INT32_MAX)
		return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "rule %" PRId64
			      ", outside 32 bits", v[COL_RULE]);
	action = sqlite3_column_type(st, COL_ACTION) == SQLITE_TEXT ?
		 (const char *)sqlite3_column_text(st, COL_ACTION) : NULL;
	if (!action || (strcmp(action, "emulate") && strcmp(action, "undef")))
		return damage(st, path, boot, COL_VCPU, COL_SEQ, why, whylen, "action %s, not 'emulate'"
			      " or 'undef'", describe(st, COL_ACTION, buf, sizeof(buf)));
	*r = (struct access_row){
		.boot_id = boot, .vcpu = (uint32_t)v[COL_VCPU], .seq = (uint64_t)v[COL_SEQ],
		.ts_ns = v[COL_TS], .key = (uint32_t)v[COL_KEY], .pc = (uint64_t)v[COL_PC],
		.el = (uint8_t)v[COL_EL], .is_write = v[COL_WRITE] == 1, .value = (uint64_t)v[COL_VALUE],
		.undef = !strcmp(action, "undef"), .rule = (int32_t)v[COL_RULE],
	};
	return 0;
}

/* ---- the cursor ---------------------------------------------------------- */

struct access_cursor {
	sqlite3 *db;
	sqlite3_stmt *sts[4];		/* by enum cursor_sql, prepared when first needed */
	sqlite3_stmt *st;		/* the one in use */
	const char *path;
	struct access_range range;
	bool have_prev;
	uint32_t prev_vcpu;
	uint64_t prev_seq;
};

/* The primary key (boot_id, vcpu, seq) gives each order without sorting. A
 * vCPU read from its start has no bound on seq, so that a negative or NULL
 * one (NULL sorts first) is met and refused, not skipped; a text one sorts
 * after every number, inside any range. */
enum cursor_sql { SQL_BOOT, SQL_VCPU, SQL_VCPU_FROM, SQL_VCPU_BACK };
static const char *const cursor_sql[] = {
	[SQL_BOOT] = "SELECT " ACCESS_ROW_COLUMNS " FROM accesses WHERE boot_id = ?1"
		     " ORDER BY vcpu, seq LIMIT ?4",
	[SQL_VCPU] = "SELECT " ACCESS_ROW_COLUMNS " FROM accesses WHERE boot_id = ?1 AND vcpu = ?2"
		     " ORDER BY seq LIMIT ?4",
	[SQL_VCPU_FROM] = "SELECT " ACCESS_ROW_COLUMNS " FROM accesses WHERE boot_id = ?1 AND vcpu = ?2"
			  " AND seq >= ?3 ORDER BY seq LIMIT ?4",
	[SQL_VCPU_BACK] = "SELECT " ACCESS_ROW_COLUMNS " FROM accesses WHERE boot_id = ?1 AND vcpu = ?2"
			  " ORDER BY seq DESC LIMIT ?4",
};

/* Points c->st at the statement for (vcpu, from_seq), bound; 0 or -EIO. */
static int cursor_bind(struct access_cursor *c, int64_t vcpu, uint64_t from_seq, int64_t limit)
{
	enum cursor_sql which = c->range.vcpu < 0 ? SQL_BOOT : c->range.backwards ? SQL_VCPU_BACK :
				from_seq ? SQL_VCPU_FROM : SQL_VCPU;

	if (c->st)
		sqlite3_reset(c->st);
	if (!c->sts[which] && sqlite3_prepare_v3(c->db, cursor_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
						 &c->sts[which], NULL) != SQLITE_OK)
		return -EIO;
	c->st = c->sts[which];
	sqlite3_bind_int64(c->st, 1, c->range.boot_id);
	if (which != SQL_BOOT)
		sqlite3_bind_int64(c->st, 2, vcpu);
	if (which == SQL_VCPU_FROM)
		sqlite3_bind_int64(c->st, 3, (int64_t)from_seq);
	sqlite3_bind_int64(c->st, 4, limit);
	return 0;
}

int access_cursor_open(sqlite3 *db, const char *path, const struct access_range *range,
		       struct access_cursor **out, char *why, size_t whylen)
{
	struct access_cursor *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	c->db = db;
	c->path = path;
	c->range = *range;
	if (cursor_bind(c, range->vcpu, range->from_seq, range->limit) < 0) {
		snprintf(why, whylen, "%s: cannot read its accesses: %s", path, sqlite3_errmsg(db));
		access_cursor_close(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

int access_cursor_restart(struct access_cursor *c, int64_t vcpu, uint64_t from_seq, int64_t limit,
			  char *why, size_t whylen)
{
	if (vcpu != c->range.vcpu)
		c->have_prev = false;
	c->range.vcpu = vcpu;
	if (cursor_bind(c, vcpu, from_seq, limit) < 0) {
		snprintf(why, whylen, "%s: cannot read its accesses: %s", c->path, sqlite3_errmsg(c->db));
		c->st = NULL;
		return -EIO;
	}
	return 0;
}

int access_cursor_next(struct access_cursor *c, struct access_row *r, char *why, size_t whylen)
{
	int rc;
	bool ordered;

	if (!c->st) {
		snprintf(why, whylen, "%s: cannot read its accesses: %s", c->path, sqlite3_errmsg(c->db));
		return -EIO;
	}
	rc = sqlite3_step(c->st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW) {
		snprintf(why, whylen, "%s: reading boot %" PRId64 "'s accesses: %s", c->path,
			 c->range.boot_id, sqlite3_errmsg(c->db));
		return -EIO;
	}
	rc = access_row_read(c->st, c->path, r, why, whylen);
	if (rc < 0)
		return rc;
	/* Rows without a primary key (a table made by hand) may repeat. */
	ordered = !c->have_prev || (c->range.backwards ?
		  r->vcpu == c->prev_vcpu && r->seq < c->prev_seq :
		  r->vcpu > c->prev_vcpu || (r->vcpu == c->prev_vcpu && r->seq > c->prev_seq));
	if (!ordered)
		return damage(c->st, c->path, r->boot_id, COL_VCPU, COL_SEQ, why, whylen,
			      "a repeated seq, or rows out of order");
	c->have_prev = true;
	c->prev_vcpu = r->vcpu;
	c->prev_seq = r->seq;
	return 1;
}

void access_cursor_close(struct access_cursor *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < sizeof(c->sts) / sizeof(c->sts[0]); i++)
		sqlite3_finalize(c->sts[i]);
	free(c);
}

/* ---- vCPUs and lengths through the primary key ---------------------------- */

/* Runs sql (?1 boot, ?2 n) for one row: SQLITE_ROW with *st live, SQLITE_DONE, or an error. */
static int probe(sqlite3 *db, const char *sql, int64_t boot, int64_t n, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(*st, 1, boot);
	sqlite3_bind_int64(*st, 2, n);
	return sqlite3_step(*st);
}

int access_next_vcpu(sqlite3 *db, const char *path, int64_t boot_id, int64_t after, uint32_t *vcpu,
		     char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL;
	int64_t v;
	int rc = SQLITE_DONE;

	/* NULL sorts below every vCPU: looked for once, before the first. */
	if (after < 0)
		rc = probe(db, "SELECT boot_id, vcpu, seq FROM accesses WHERE boot_id = ?1 AND vcpu IS NULL"
			   " AND ?2 = ?2 LIMIT 1", boot_id, 0, &st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		rc = probe(db, "SELECT boot_id, vcpu, seq FROM accesses WHERE boot_id = ?1 AND vcpu > ?2"
			   " ORDER BY vcpu, seq LIMIT 1", boot_id, after, &st);
	}
	if (rc == SQLITE_ROW) {
		rc = integer(st, COL_VCPU, path, boot_id, COL_VCPU, COL_SEQ, &v, why, whylen);
		if (rc == 0 && (v < 0 || v >= IDSR_MAX_VCPUS))
			rc = damage(st, path, boot_id, COL_VCPU, COL_SEQ, why, whylen, "vCPU outside 0..%d",
				    IDSR_MAX_VCPUS - 1);
		if (rc == 0) {
			*vcpu = (uint32_t)v;
			rc = 1;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		snprintf(why, whylen, "%s: reading boot %" PRId64 "'s vCPUs: %s", path, boot_id,
			 sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int access_last_seq(sqlite3 *db, const char *path, int64_t boot_id, uint32_t vcpu, uint64_t *seq,
		    char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL;
	int64_t v;
	int rc = probe(db, "SELECT boot_id, vcpu, seq FROM accesses WHERE boot_id = ?1 AND vcpu = ?2"
		       " ORDER BY seq DESC LIMIT 1", boot_id, vcpu, &st);

	if (rc == SQLITE_ROW) {
		rc = integer(st, COL_SEQ, path, boot_id, COL_VCPU, COL_SEQ, &v, why, whylen);
		if (rc == 0 && v < 0)
			rc = damage(st, path, boot_id, COL_VCPU, COL_SEQ, why, whylen, "a negative seq");
		if (rc == 0) {
			*seq = (uint64_t)v;
			rc = 1;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		snprintf(why, whylen, "%s: reading boot %" PRId64 "'s vCPU %u: %s", path, boot_id, vcpu,
			 sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}
