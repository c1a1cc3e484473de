/* SPDX-License-Identifier: MIT */
/* Reading a trace this user may not open: a private copy of what idsrd lets them see (TraceRead). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "frame.h"

/*
 * The trace database is readable by idsrd's user alone, and stays so. Another
 * user reads their own boots through the daemon: it sends the rows they may
 * see (docs/design.md 3.5) in pages, and they go into a private file of this
 * user's, which the command then reads as it reads any trace, so its output is
 * the same as of the file itself. The copies are removed when idsrctl exits.
 */

static char *copies[4];
static char *labels[4];		/* what messages call a copy (a fleet boot's URL#BOOT_UID), or NULL */
static size_t ncopies;

static void trace_copy_remove(const char *path)
{
	static const char *const tails[] = { "", "-wal", "-shm", "-journal" };
	char p[4200];

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, tails[i]);
		unlink(p);
	}
}

static void trace_copies_remove(void)
{
	for (size_t i = 0; i < ncopies; i++) {
		trace_copy_remove(copies[i]);
		free(copies[i]);
		free(labels[i]);
	}
	ncopies = 0;
}

void cli_trace_copies_unlink(void)
{
	/* a copy is one file (journal_mode DELETE) once written */
	for (size_t i = 0; i < ncopies; i++)
		unlink(copies[i]);
}

void cli_trace_copy_label(const char *path, const char *label)
{
	for (size_t i = 0; i < ncopies; i++)
		if (!strcmp(copies[i], path)) {
			free(labels[i]);
			labels[i] = strdup(label);
		}
}

const char *cli_trace_copy_name(const char *path)
{
	for (size_t i = 0; i < ncopies; i++)
		if (!strcmp(copies[i], path) && labels[i])
			return labels[i];
	return path;
}

/* Whether path and the daemon's database are one file. */
static bool trace_same_file(const char *path, const char *daemon_db)
{
	struct stat a, b;

	if (stat(path, &a) == 0 && stat(daemon_db, &b) == 0)
		return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return !strcmp(path, daemon_db);
}

/* A table or column name as schema.sql writes them: nothing to quote. */
static bool trace_name_ok(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == strlen(s);
}

struct trace_copy {
	const char *cmd;
	sqlite3 *db;
	sqlite3_stmt *insert;
	char table[64];
};

/* Prepares the INSERT of page's table, emptying the copy's own rows of it
 * first (a new file has the register names already). */
static int trace_copy_table(struct trace_copy *tc, const Idsr__V1__TracePage *page)
{
	char sql[2048];
	size_t len;

	sqlite3_finalize(tc->insert);
	tc->insert = NULL;
	if (!trace_name_ok(page->table) || strlen(page->table) >= sizeof(tc->table) || !page->n_columns)
		return cli_error("%s: idsrd sent a page of table `%.64s' with %zu columns", tc->cmd,
				 page->table, page->n_columns), -EPROTO;
	strcpy(tc->table, page->table);
	len = (size_t)snprintf(sql, sizeof(sql), "DELETE FROM %s", tc->table);
	if (sqlite3_exec(tc->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		goto sql_error;
	len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s (", tc->table);
	for (size_t i = 0; i < page->n_columns && len < sizeof(sql); i++) {
		if (!trace_name_ok(page->columns[i]))
			return cli_error("%s: idsrd sent a column named `%.64s'", tc->cmd, page->columns[i]),
			       -EPROTO;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s%s", i ? ", " : "", page->columns[i]);
	}
	for (size_t i = 0; i < page->n_columns && len < sizeof(sql); i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s", i ? ", ?" : ") VALUES (?");
	if (len + 2 >= sizeof(sql))
		return cli_error("%s: idsrd sent too many columns of %s", tc->cmd, tc->table), -EPROTO;
	strcat(sql, ")");
	if (sqlite3_prepare_v2(tc->db, sql, -1, &tc->insert, NULL) != SQLITE_OK)
		goto sql_error;
	return 0;
sql_error:
	return cli_error("%s: copying %s: %s", tc->cmd, tc->table, sqlite3_errmsg(tc->db)), -EIO;
}

static void trace_copy_bind(sqlite3_stmt *st, int i, const Idsr__V1__SqlValue *v)
{
	switch (v->value_case) {
	case IDSR__V1__SQL_VALUE__VALUE_INTEGER:
		sqlite3_bind_int64(st, i, v->integer);
		break;
	case IDSR__V1__SQL_VALUE__VALUE_REAL:
		sqlite3_bind_double(st, i, v->real);
		break;
	case IDSR__V1__SQL_VALUE__VALUE_TEXT:
		sqlite3_bind_text(st, i, v->text, -1, SQLITE_STATIC);
		break;
	case IDSR__V1__SQL_VALUE__VALUE_BLOB:
		sqlite3_bind_blob(st, i, v->blob.data, (int)v->blob.len, SQLITE_STATIC);
		break;
	default:
		sqlite3_bind_null(st, i);
	}
}

static int trace_copy_page(struct trace_copy *tc, const Idsr__V1__TracePage *page)
{
	size_t ncols = page->n_columns;

	if (page->schema > SCHEMA_VERSION)
		return cli_error("%s: idsrd's database has schema version %u, newer than this idsrctl "
				 "reads (%d): use a newer idsrctl", tc->cmd, page->schema, SCHEMA_VERSION),
		       -EPROTO;
	if (!*page->table)
		return 0;
	if (strcmp(page->table, tc->table) && trace_copy_table(tc, page) < 0)
		return -EPROTO;
	if (page->n_values % ncols)
		return cli_error("%s: idsrd sent %zu values of %s, not rows of %zu", tc->cmd,
				 page->n_values, tc->table, ncols), -EPROTO;
	for (size_t r = 0; r < page->n_values; r += ncols) {
		for (size_t i = 0; i < ncols; i++)
			trace_copy_bind(tc->insert, (int)i + 1, page->values[r + i]);
		if (sqlite3_step(tc->insert) != SQLITE_DONE)
			return cli_error("%s: copying a row of %s: %s", tc->cmd, tc->table,
					 sqlite3_errmsg(tc->db)), -EIO;
		sqlite3_reset(tc->insert);
	}
	return 0;
}

/* Asks idsrd on fd and copies its pages into tc->db. One frame reader for the
 * whole answer: idsrd sends the pages without waiting, so a read may hold the
 * start of the next. */
static int trace_copy_fetch(struct trace_copy *tc, int fd, const char *path, Idsr__V1__TraceRead *tr)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT, *reply = NULL;
	struct frame_reader r;
	int rc;

	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_TRACE_READ;
	req.trace_read = tr;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	rc = frame_send(fd, &f);
	if (rc < 0)
		return cli_error("%s: sending the request to idsrd: %s", tc->cmd, strerror(-rc)), rc;
	if (frame_reader_init(&r) < 0)
		return -ENOMEM;
	for (;;) {
		const Idsr__V1__ControlReply *cr;

		rc = frame_recv(fd, &r, &reply);
		if (rc < 0 || reply->body_case != IDSR__V1__FRAME__BODY_REPLY) {
			cli_error("%s: idsrd stopped before the end of its answer: %s", tc->cmd,
				  rc < 0 ? strerror(-rc) : "not a ControlReply");
			rc = rc < 0 ? rc : -EPROTO;
			break;
		}
		cr = reply->reply;
		if (!cr->ok || !cr->trace_page) {
			cli_error("%s: cannot open %s (permission denied), and idsrd did not give "
				  "your boots of it: %s", tc->cmd, path, cr->ok ? "no page" : cr->message);
			rc = -EPROTO;
			break;
		}
		rc = trace_copy_page(tc, cr->trace_page);
		if (rc < 0 || cr->trace_page->last)
			break;
		frame_free(reply);
		reply = NULL;
	}
	frame_free(reply);
	frame_reader_free(&r);
	return rc;
}

/* A new private file for a copy, its name in copies[] to be removed at exit. */
char *cli_trace_copy_file(const char *cmd, const char *name)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (ncopies == sizeof(copies) / sizeof(copies[0]))
		return cli_error("%s: too many traces copied at once", cmd), NULL;
	if (asprintf(&path, "%s/idsrctl-%s%sXXXXXX", dir && *dir ? dir : "/tmp", name ? name : "",
		     name ? "-" : "") < 0)
		return NULL;
	fd = mkstemp(path);	/* mode 0600: the copy is this user's alone */
	if (fd < 0) {
		cli_error("%s: cannot make a file for your boots in %s: %s (set TMPDIR)", cmd,
			  dir && *dir ? dir : "/tmp", strerror(errno));
		free(path);
		return NULL;
	}
	close(fd);
	if (!ncopies)
		atexit(trace_copies_remove);
	copies[ncopies++] = path;
	return path;
}

const char *cli_trace_path(const char *cmd, const struct cli_trace_arg *t, enum cli_trace_need need)
{
	Idsr__V1__TraceRead tr = IDSR__V1__TRACE_READ__INIT;
	struct trace_copy tc = { .cmd = cmd };
	const char *daemon_db, *path;
	char why[512];
	int fd, rc;

	if (t->source == CLI_TRACE_FROM_URL)
		return cli_fleet_copy(cmd, t, need);
	if (access(t->path, R_OK) == 0 || errno != EACCES)
		return t->path;
	daemon_db = cli_daemon_db(t->control);
	if (!daemon_db || !trace_same_file(t->path, daemon_db))
		return t->path;	/* opening it says why it cannot be read */
	if (!(path = cli_trace_copy_file(cmd, NULL)))
		return NULL;
	if (db_open(path, DB_CREATE | DB_PRIVATE, &tc.db, why, sizeof(why)) < 0)
		return cli_error("%s: %s", cmd, why), NULL;
	/* No -wal or -shm beside it: one file, which a signal handler can remove. */
	sqlite3_exec(tc.db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	rc = cli_control_connect(cmd, cli_control_path(t->control), &fd);
	if (rc == 0) {
		tr.boot_id = (uint64_t)t->boot_id;
		tr.all_boots = need == CLI_TRACE_ALL_BOOTS;
		tr.boots_only = need == CLI_TRACE_BOOTS;
		tr.last = t->last_rows;
		sqlite3_exec(tc.db, "PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL);
		rc = trace_copy_fetch(&tc, fd, t->path, &tr);
		close(fd);
		if (rc == 0 && sqlite3_exec(tc.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			cli_error("%s: writing the copy %s: %s", cmd, path, sqlite3_errmsg(tc.db));
			rc = -EIO;
		}
	}
	sqlite3_finalize(tc.insert);
	db_close(tc.db);
	return rc < 0 ? NULL : path;
}
