/* SPDX-License-Identifier: MIT */
/* Opening trace databases (schema.sql), shared by idsrd, idsrctl and replay. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "embed.h"
#include "encoding.h"
#include "number.h"
#include "regnames.h"

int64_t db_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Fills the registers table from the embedded name data (new files only). */
static int db_fill_registers(sqlite3 *db)
{
	const struct regname *t;
	sqlite3_stmt *st;
	size_t n;
	int rc;

	t = regnames_table(&n);
	rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO registers(key, name, implementation, description)"
				" VALUES (?, ?, ?, ?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(st, 1, t[i].key);
		sqlite3_bind_text(st, 2, t[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, t[i].impl, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, t[i].description, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int db_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static bool db_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	bool found = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

bool db_has_column(sqlite3 *db, const char *table, const char *column)
{
	sqlite3_stmt *st;
	bool found = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static bool db_is_empty(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool empty = false;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		empty = sqlite3_column_int(st, 0) == 0;
	sqlite3_finalize(st);
	return empty;
}

int db_open(const char *path, int flags, sqlite3 **out, char *why, size_t whylen)
{
	bool create = flags & DB_CREATE;
	sqlite3 *db = NULL;
	int version, rc, fd;

	if (!create && access(path, F_OK) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (create) {
		/* Create it ourselves so the mode is 0640 whatever SQLite would pick. */
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			snprintf(why, whylen, "cannot create %s: %s", path, strerror(errno));
			return -errno;
		}
		close(fd);
	}
	rc = sqlite3_open_v2(path, &db, (create ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
			     (flags & DB_PRIVATE ? SQLITE_OPEN_NOMUTEX : 0), NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, 5000);
	rc = db_user_version(db, &version);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "%s is not an idsrd trace database (%s)", path, sqlite3_errmsg(db));
		rc = -EINVAL;
		goto fail;
	}
	if (version > SCHEMA_VERSION) {
		snprintf(why, whylen, "%s has schema version %d, newer than this build reads (%d): "
			 "use a newer idsrctl", path, version, SCHEMA_VERSION);
		rc = -EPROTO;
		goto fail;
	}
	if (version == 0 && create && db_is_empty(db)) {
		char *err = NULL;

		if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN", NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(db, idsr_schema_sql, NULL, NULL, &err) != SQLITE_OK ||
		    db_fill_registers(db) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
			snprintf(why, whylen, "cannot create the schema in %s: %s", path,
				 err ? err : sqlite3_errmsg(db));
			sqlite3_free(err);
			rc = -EIO;
			goto fail;
		}
		version = SCHEMA_VERSION;
	}
	if (version >= 1 && version < SCHEMA_VERSION && create) {
		char step[600];

		rc = db_upgrade(db, version, step, sizeof(step));
		if (rc < 0) {
			snprintf(why, whylen, "cannot upgrade %s: %s", path, step);
			goto fail;
		}
		version = SCHEMA_VERSION;
	}
	if (version < 1 || (create && version != SCHEMA_VERSION) || !db_has_table(db, "accesses") ||
	    !db_has_table(db, "boots")) {
		snprintf(why, whylen, "%s is not an idsrd trace database (no idsrd schema in it)", path);
		rc = -EINVAL;
		goto fail;
	}
	if (create)
		sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return rc;
}

void db_close(sqlite3 *db)
{
	sqlite3_close(db);
}

void db_configure_process(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int db_lock_writer(const char *path, const char *holder, int *out, char *why, size_t whylen)
{
	char lock[4096], who[512];
	ssize_t n;
	int fd, err;

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock)) {
		snprintf(why, whylen, "%s: the path is too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		err = errno;
		snprintf(why, whylen, "cannot open %s: %s", lock, strerror(err));
		return -err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno;
		n = err == EWOULDBLOCK ? pread(fd, who, sizeof(who) - 1, 0) : -1;
		who[n > 0 ? n : 0] = '\0';
		who[strcspn(who, "\n")] = '\0';
		if (err == EWOULDBLOCK)
			snprintf(why, whylen, "%s is in use by %s: one writer at a time; stop it, or "
				 "choose another database", path, *who ? who : "another process");
		else
			snprintf(why, whylen, "cannot lock %s: %s", lock, strerror(err));
		close(fd);
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	/* Ours now: what the next one refused is told. */
	n = (ssize_t)strlen(holder);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, holder, (size_t)n, 0) != n || pwrite(fd, "\n", 1, n) != 1)
		snprintf(why, whylen, "%s: cannot note the holder: %s", lock, strerror(errno));
	*out = fd;
	return 0;
}

int db_parse_boot_ref(const char *ref, char *path, size_t pathlen, int64_t *boot_id)
{
	const char *colon = strrchr(ref, ':');
	size_t n = strlen(ref);

	*boot_id = 0;
	/* FILE:ID only when what follows the last colon is a number. */
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		uint64_t id;

		if (num_parse_u64(colon + 1, strlen(colon + 1), &id) < 0 || id == 0 || id > INT64_MAX)
			return -EINVAL;
		*boot_id = (int64_t)id;
		n = (size_t)(colon - ref);
	}
	if (n == 0 || n >= pathlen)
		return -EINVAL;
	memcpy(path, ref, n);
	path[n] = '\0';
	return 0;
}

int db_resolve_boot(sqlite3 *db, int64_t *boot_id, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int rc;

	if (*boot_id == 0)
		rc = sqlite3_prepare_v2(db, "SELECT max(id) FROM boots", -1, &st, NULL);
	else
		rc = sqlite3_prepare_v2(db, "SELECT id FROM boots WHERE id = ?", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "reading boots: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	if (*boot_id)
		sqlite3_bind_int64(st, 1, *boot_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
		if (*boot_id)
			snprintf(why, whylen, "no boot %lld in this trace (idsrctl boots lists them)",
				 (long long)*boot_id);
		else
			snprintf(why, whylen, "the trace has no boots yet");
		sqlite3_finalize(st);
		return -ENOENT;
	}
	*boot_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

bool db_boot_has_pcs(sqlite3 *db, int64_t boot_id)
{
	sqlite3_stmt *st;
	bool has = true;

	/* Before schema 3 there is no column, and every boot had its PCs. */
	if (sqlite3_prepare_v2(db, "SELECT has_pcs FROM boots WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return true;
	sqlite3_bind_int64(st, 1, boot_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		has = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return has;
}

char *db_column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? strdup((const char *)t) : NULL;
}
