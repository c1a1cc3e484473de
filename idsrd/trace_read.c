/* SPDX-License-Identifier: MIT */
/* TraceRead: the database as the peer may see it, in pages, for readers that cannot open the file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "trace_read.h"

/*
 * A page is built on libuv's thread pool (uv_queue_work), never on the main
 * loop: stepping SQLite over a large boot takes long enough to stall status,
 * policy and every other client. The next page is built only once the
 * previous one is written, so one slow reader holds one page of memory and
 * no more. The whole answer is one read transaction: the copy is a snapshot
 * (a boot's counts agree with its rows) even while boots are being logged.
 */

/* Values of a page: well under FRAME_MAX once packed (at most 11 bytes of
 * protobuf around each value, counted in page_bytes). */
#define TRACE_PAGE_BYTES	(FRAME_MAX / 2)
#define TRACE_PAGE_VALUES	4096
#define TRACE_MAX_COLUMNS	64

/*
 * What is sent, table by table. ?1 is 1 for an admin, ?2 the peer's uid, ?3
 * the boot whose rows are sent (-1: none), ?4 1 for every visible boot's rows,
 * ?5 how many of each vCPU's last rows (sql_last, used when it is > 0).
 * A boot the peer may not see is left out as if it did not exist, so a reader
 * says "no boot N" of it, as of a boot never logged.
 */
#define VISIBLE "(?1 OR peer_uid = ?2)"
#define ROWS_OF "(boot_id = ?3 OR (?4 AND boot_id IN (SELECT id FROM boots WHERE " VISIBLE ")))"
static const struct trace_stage {
	const char *table;
	bool rows;		/* a boot's rows: left out of boots_only */
	const char *sql;
	const char *sql_last;	/* the same of each vCPU's last ?5 rows */
} stages[] = {
	{ "boots", false, "SELECT * FROM boots WHERE " VISIBLE " ORDER BY id", NULL },
	{ "boot_policies", false, "SELECT * FROM boot_policies WHERE boot_id IN"
	  " (SELECT id FROM boots WHERE " VISIBLE ")", NULL },
	{ "policies", false, "SELECT * FROM policies WHERE hash IN (SELECT policy_hash FROM boot_policies"
	  " WHERE boot_id IN (SELECT id FROM boots WHERE " VISIBLE ") UNION"
	  " SELECT policy_hash FROM boots WHERE " VISIBLE ")", NULL },
	{ "registers", false, "SELECT * FROM registers", NULL },
	{ "divergences", true, "SELECT * FROM divergences WHERE " ROWS_OF " ORDER BY id", NULL },
	{ "accesses", true, "SELECT * FROM accesses WHERE " ROWS_OF " ORDER BY boot_id, vcpu, seq",
	  /* The vCPUs of each boot found by seeks on the primary key (as tail
	   * finds them), and of each its last ?5 rows by a range: the rows
	   * left out are never read, however long the history. */
	  "WITH RECURSIVE bv(boot_id, vcpu) AS ("
	  " SELECT id, (SELECT min(vcpu) FROM accesses WHERE boot_id = boots.id) FROM boots"
	  "  WHERE id = ?3 OR (?4 AND " VISIBLE ")"
	  " UNION ALL SELECT boot_id, (SELECT min(a.vcpu) FROM accesses a WHERE a.boot_id = bv.boot_id"
	  "  AND a.vcpu > bv.vcpu) FROM bv WHERE vcpu IS NOT NULL)"
	  " SELECT a.* FROM bv JOIN accesses a ON a.boot_id = bv.boot_id AND a.vcpu = bv.vcpu"
	  "  AND a.seq >= coalesce((SELECT x.seq FROM accesses x WHERE x.boot_id = bv.boot_id"
	  "  AND x.vcpu = bv.vcpu ORDER BY x.seq DESC LIMIT 1 OFFSET ?5 - 1), 0)"
	  " ORDER BY a.boot_id, a.vcpu, a.seq" },
};
#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

struct trace_read {
	uv_work_t work;
	uv_write_t write;
	struct control_client *c;	/* NULL once the client is gone */
	struct trace_read *next;
	/* the question, fixed on the main loop */
	bool admin;
	int64_t uid;
	uint64_t boot_id;
	int64_t last;		/* > 0: each vCPU's last rows only */
	bool all_boots, boots_only;
	/* the worker's state */
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t stage;
	bool pending;		/* st is on a row not yet sent */
	int schema;
	bool done;		/* the last page (or a failure) is built */
	/* the page built, packed */
	uint8_t *buf;
	size_t len;
};

static struct trace_read *reads;

static void trace_read_free(struct trace_read *r)
{
	for (struct trace_read **p = &reads; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	sqlite3_finalize(r->st);
	if (r->db) {
		sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
		db_close(r->db);
	}
	free(r->buf);
	free(r);
}

/* Packs reply into r->buf. */
static int trace_pack(struct trace_read *r, Idsr__V1__ControlReply *reply)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	int n;

	f.body_case = IDSR__V1__FRAME__BODY_REPLY;
	f.reply = reply;
	n = frame_pack(&f, r->buf, FRAME_HEADER + FRAME_MAX);
	if (n < 0)
		return n;
	r->len = (size_t)n;
	return 0;
}

/* Packs a failed reply saying why: the answer's end. */
static void trace_pack_failure(struct trace_read *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace_pack_failure(struct trace_read *r, const char *fmt, ...)
{
	Idsr__V1__ControlReply reply = IDSR__V1__CONTROL_REPLY__INIT;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("trace read for uid %lld: %s", (long long)r->uid, msg);
	reply.message = msg;
	r->done = true;
	if (trace_pack(r, &reply) < 0)
		r->len = 0;
}

/* Opens the database and the snapshot, and resolves the boot whose rows go. */
static int trace_begin(struct trace_read *r, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int64_t target = r->boots_only || r->all_boots ? -1 : (int64_t)r->boot_id;
	int rc;

	rc = db_open(idsrd->cfg.db_path, DB_READONLY | DB_PRIVATE, &r->db, why, whylen);
	if (rc < 0)
		return rc;
	if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "SELECT (SELECT user_version FROM pragma_user_version),"
			       " (SELECT max(id) FROM boots WHERE " VISIBLE "),"
			       " (SELECT count(*) FROM boots WHERE id = ?3 AND " VISIBLE ")", -1, &st, NULL) != SQLITE_OK)
		goto sql_error;
	sqlite3_bind_int(st, 1, r->admin);
	sqlite3_bind_int64(st, 2, r->uid);
	sqlite3_bind_int64(st, 3, target);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		goto sql_error;
	}
	r->schema = sqlite3_column_int(st, 0);
	if (target == 0)
		target = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
	else if (target > 0 && sqlite3_column_int(st, 2) == 0)
		target = -1;
	sqlite3_finalize(st);
	r->boot_id = (uint64_t)target;
	return 0;
sql_error:
	snprintf(why, whylen, "reading %s: %s", idsrd->cfg.db_path, sqlite3_errmsg(r->db));
	return -EIO;
}

static void trace_value(sqlite3_stmt *st, int i, Idsr__V1__SqlValue *v)
{
	idsr__v1__sql_value__init(v);
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		v->value_case = IDSR__V1__SQL_VALUE__VALUE_INTEGER;
		v->integer = sqlite3_column_int64(st, i);
		break;
	case SQLITE_FLOAT:
		v->value_case = IDSR__V1__SQL_VALUE__VALUE_REAL;
		v->real = sqlite3_column_double(st, i);
		break;
	case SQLITE_TEXT:
		v->value_case = IDSR__V1__SQL_VALUE__VALUE_TEXT;
		v->text = strdup((const char *)sqlite3_column_text(st, i));
		break;
	case SQLITE_BLOB:
		v->value_case = IDSR__V1__SQL_VALUE__VALUE_BLOB;
		v->blob.len = (size_t)sqlite3_column_bytes(st, i);
		v->blob.data = v->blob.len ? malloc(v->blob.len) : NULL;
		if (v->blob.data)
			memcpy(v->blob.data, sqlite3_column_blob(st, i), v->blob.len);
		break;
	default:
		v->value_case = IDSR__V1__SQL_VALUE__VALUE_NULL;
		v->null = true;
	}
}

static void trace_values_free(Idsr__V1__SqlValue *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (vals[i].value_case == IDSR__V1__SQL_VALUE__VALUE_TEXT)
			free(vals[i].text);
		else if (vals[i].value_case == IDSR__V1__SQL_VALUE__VALUE_BLOB)
			free(vals[i].blob.data);
	}
}

/* Whether stage i is left out of r's answer: a boot's rows when none go. */
static bool trace_skips(const struct trace_read *r, size_t i)
{
	return stages[i].rows && (r->boots_only || (!r->all_boots && (int64_t)r->boot_id < 0));
}

/* The bytes a row adds to a page: its text and blobs, and at most 11 bytes of
 * protobuf around each value. */
static size_t trace_row_bytes(sqlite3_stmt *st, int ncols)
{
	size_t bytes = 0;

	/* sqlite3_column_bytes of a number would convert it to text: only text and blobs */
	for (int i = 0; i < ncols; i++) {
		int type = sqlite3_column_type(st, i);

		bytes += 11 + (type == SQLITE_TEXT || type == SQLITE_BLOB ? (size_t)sqlite3_column_bytes(st, i) : 0);
	}
	return bytes;
}

/* The current stage's rows into v (at most TRACE_PAGE_VALUES values,
 * TRACE_PAGE_BYTES bytes unless one row is larger). A row that does not fit
 * stays the statement's current row (r->pending) for the next page. Returns
 * SQLITE_ROW (more to come), SQLITE_DONE or an error. */
static int trace_fill(struct trace_read *r, Idsr__V1__SqlValue *v, Idsr__V1__SqlValue **valp, size_t *n)
{
	int ncols = sqlite3_column_count(r->st), rc = SQLITE_ROW;
	size_t bytes = 0, row;

	for (;;) {
		if (!r->pending && (rc = sqlite3_step(r->st)) != SQLITE_ROW)
			return rc;
		row = trace_row_bytes(r->st, ncols);
		if (*n && (*n + (size_t)ncols > TRACE_PAGE_VALUES || bytes + row > TRACE_PAGE_BYTES)) {
			r->pending = true;
			return SQLITE_ROW;
		}
		r->pending = false;
		bytes += row;
		for (int i = 0; i < ncols; i++, (*n)++) {
			trace_value(r->st, i, &v[*n]);
			valp[*n] = &v[*n];
		}
	}
}

/* Steps the current stage's statement into one page (the thread pool's side). */
static void trace_build_page(uv_work_t *w)
{
	struct trace_read *r = w->data;
	Idsr__V1__ControlReply reply = IDSR__V1__CONTROL_REPLY__INIT;
	Idsr__V1__TracePage page = IDSR__V1__TRACE_PAGE__INIT;
	Idsr__V1__SqlValue *v, **valp;
	const char *cols[TRACE_MAX_COLUMNS];
	size_t n = 0;
	char why[512];
	int ncols, rc;

	if (!r->db && trace_begin(r, why, sizeof(why)) < 0) {
		trace_pack_failure(r, "%s", why);
		return;
	}
	while (trace_skips(r, r->stage))
		r->stage++;
	if (!r->st) {
		const struct trace_stage *s = &stages[r->stage];

		if (sqlite3_prepare_v2(r->db, r->last && s->sql_last ? s->sql_last : s->sql, -1, &r->st,
				       NULL) != SQLITE_OK) {
			trace_pack_failure(r, "reading the trace: %s", sqlite3_errmsg(r->db));
			return;
		}
		sqlite3_bind_int(r->st, 1, r->admin);
		sqlite3_bind_int64(r->st, 2, r->uid);
		sqlite3_bind_int64(r->st, 3, (int64_t)r->boot_id);
		sqlite3_bind_int(r->st, 4, r->all_boots);
		sqlite3_bind_int64(r->st, 5, r->last);
	}
	ncols = sqlite3_column_count(r->st);
	if (ncols > TRACE_MAX_COLUMNS) {
		trace_pack_failure(r, "table %s has too many columns", stages[r->stage].table);
		return;
	}
	for (int i = 0; i < ncols; i++)
		cols[i] = sqlite3_column_name(r->st, i);
	v = calloc(TRACE_PAGE_VALUES, sizeof(*v));
	valp = calloc(TRACE_PAGE_VALUES, sizeof(*valp));
	if (!v || !valp) {
		free(v);
		free(valp);
		trace_pack_failure(r, "%s", "out of memory building a page");
		return;
	}
	rc = trace_fill(r, v, valp, &n);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		trace_pack_failure(r, "reading the trace: %s", sqlite3_errmsg(r->db));
		goto out;
	}
	page.schema = (uint32_t)r->schema;
	page.table = (char *)stages[r->stage].table;
	page.columns = (char **)cols;
	page.n_columns = (size_t)ncols;
	page.values = valp;
	page.n_values = n;
	if (rc == SQLITE_DONE) {
		size_t next = r->stage + 1;

		while (next < NSTAGES && trace_skips(r, next))
			next++;
		page.last = r->done = next >= NSTAGES;
	}
	reply.ok = true;
	reply.trace_page = &page;
	if (trace_pack(r, &reply) < 0)
		trace_pack_failure(r, "a row of %s is larger than a page of the control protocol",
				   stages[r->stage].table);
	if (rc == SQLITE_DONE) {
		/* This table is done (its column names with it): the next page starts the next. */
		sqlite3_finalize(r->st);
		r->st = NULL;
		r->stage++;
	}
out:
	trace_values_free(v, n);
	free(v);
	free(valp);
}

static void trace_on_written(uv_write_t *req, int status);

/* Back on the main loop: send the page, unless the client left meanwhile. */
static void trace_page_built(uv_work_t *w, int status)
{
	struct trace_read *r = w->data;
	uv_buf_t b;

	if (!r->c || status < 0 || !r->len || uv_is_closing((uv_handle_t *)control_stream(r->c))) {
		if (r->c && !r->len)
			control_fail(r->c, "the answer could not be built (out of memory)");
		trace_read_free(r);
		return;
	}
	b = uv_buf_init((char *)r->buf, (unsigned)r->len);
	r->write.data = r;
	if (uv_write(&r->write, control_stream(r->c), &b, 1, trace_on_written) < 0)
		trace_read_free(r);
}

static void trace_on_written(uv_write_t *req, int status)
{
	struct trace_read *r = req->data;

	if (status < 0 || !r->c || r->done) {
		trace_read_free(r);
		return;
	}
	r->len = 0;
	if (uv_queue_work(idsrd->loop, &r->work, trace_build_page, trace_page_built) < 0)
		trace_read_free(r);
}

void trace_read_request(struct control_client *c, const Idsr__V1__TraceRead *req)
{
	struct trace_read *r;

	for (r = reads; r; r = r->next) {
		if (r->c == c) {
			control_fail(c, "a trace read is already under way on this connection");
			return;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->buf = malloc(FRAME_HEADER + FRAME_MAX))) {
		free(r);
		control_fail(c, "out of memory");
		return;
	}
	r->c = c;
	r->admin = control_is_admin(c);
	r->uid = control_peer(c)->uid;
	r->boot_id = req->boot_id;
	r->all_boots = req->all_boots;
	r->last = req->last > INT64_MAX ? INT64_MAX : (int64_t)req->last;
	r->boots_only = req->boots_only;
	r->work.data = r;
	if (uv_queue_work(idsrd->loop, &r->work, trace_build_page, trace_page_built) < 0) {
		free(r->buf);
		free(r);
		control_fail(c, "cannot start the trace read");
		return;
	}
	r->next = reads;
	reads = r;
}

void trace_read_client_gone(struct control_client *c)
{
	/* The read frees itself at its next step (a page built or written). */
	for (struct trace_read *r = reads; r; r = r->next)
		if (r->c == c)
			r->c = NULL;
}
