/* SPDX-License-Identifier: MIT */
/* Opening trace databases (schema.sql), shared by idsrd, idsrctl and replay. */
#ifndef IDSR_DB_H
#define IDSR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#define SCHEMA_VERSION 5	/* must equal schema.sql's PRAGMA user_version */

/*
 * Opens path. DB_CREATE makes the file (mode 0640) and applies the schema and
 * register names if it is new; DB_READONLY opens an existing trace for reading.
 * Either way the file must be an idsrd trace of a schema this build reads.
 * Returns 0, or a negative errno with a sentence in why:
 * -ENOENT (no such file), -EINVAL (not an idsrd trace), -EPROTO (newer schema).
 */
#define DB_CREATE	1
#define DB_READONLY	2
/* Only one thread at a time uses the connection: SQLite takes no mutex per
 * call (SQLITE_OPEN_NOMUTEX), a tenth of the cost of a logged row. */
#define DB_PRIVATE	4
int db_open(const char *path, int flags, sqlite3 **out, char *why, size_t whylen);
void db_close(sqlite3 *db);
/* SQLite's settings for a process that writes rows (idsrd): call before any
 * other SQLite call. No memory statistics: they take a global mutex on every
 * allocation SQLite makes. */
void db_configure_process(void);

/* "FILE[:BOOT_ID]": boot_id 0 means "the file's last boot". -EINVAL if malformed. */
int db_parse_boot_ref(const char *ref, char *path, size_t pathlen, int64_t *boot_id);
/* Resolves boot_id 0 to the last boot; -ENOENT (with why) if there is no such boot. */
int db_resolve_boot(sqlite3 *db, int64_t *boot_id, char *why, size_t whylen);

/*
 * One writer adds boots to a database at a time (two would hand out the same
 * boot ids): an exclusive flock(2) on "PATH.lock" beside it, held while *fd
 * stays open and released by the kernel when the process dies, so a crash
 * never leaves it taken. holder, a line such as "idsrd pid 12 (VMM socket …)",
 * is written into the lock file for the one refused next. The lock file is
 * made as needed and never removed (removing it would let two writers lock
 * two files). Returns 0, or -EBUSY with why naming the holder, or -errno.
 */
int db_lock_writer(const char *path, const char *holder, int *fd, char *why, size_t whylen);

/* Upgrades a trace of schema `from` (>= 1) to SCHEMA_VERSION, one version a
 * transaction (lib/db_upgrade.c). Returns 0 or a negative errno with why. */
int db_upgrade(sqlite3 *db, int from, char *why, size_t whylen);

/* Whether boot_id's rows carry real PCs: false for a boot imported from a
 * recording without them (schema 3 boots.has_pcs); true for older schemas. */
/* Whether table has column: readers take older schemas (boots.boot_uid is schema 4). */
bool db_has_column(sqlite3 *db, const char *table, const char *column);
bool db_boot_has_pcs(sqlite3 *db, int64_t boot_id);

/* A copy of column col's text (malloc'd), or NULL for SQL NULL or out of memory. */
char *db_column_dup(sqlite3_stmt *st, int col);

/* CLOCK_REALTIME in ns. */
int64_t db_now_ns(void);

#endif
