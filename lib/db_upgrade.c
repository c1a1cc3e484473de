/* SPDX-License-Identifier: MIT */
/* Schema upgrades of trace databases, one version a step, each in one transaction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Schema 1 -> 2: policy_changes.peer_gid. A reader takes either. */
static const char upgrade_2[] =
	"ALTER TABLE policy_changes ADD COLUMN peer_gid INTEGER;";

/*
 * Schema 2 -> 3: boots.mode may be 'imported', and two columns say where an
 * imported boot came from and whether its rows have PCs. SQLite cannot change
 * a CHECK constraint in place, so boots is rebuilt as
 * https://www.sqlite.org/lang_altertable.html ("Making Other Kinds Of Table
 * Schema Changes") says: new table, copy, drop, rename, then the indexes,
 * triggers and views on it made again (upgrade_rebuild does those steps).
 * This text is schema 3's boots and stays so: later versions add their own step.
 * BOOTS_3_COLUMNS: schema 3's columns up to has_pcs; the 3 -> 4 rebuild starts with them too.
 */
#define BOOTS_3_COLUMNS \
	"    id            INTEGER PRIMARY KEY,\n" \
	"    start_ns      INTEGER NOT NULL,\n" \
	"    end_ns        INTEGER,\n" \
	"    vmm           TEXT,\n" \
	"    vm_name       TEXT,\n" \
	"    instance      BLOB,\n" \
	"    kernel        TEXT,\n" \
	"    build_id      BLOB,\n" \
	"    image_base    INTEGER NOT NULL DEFAULT 0,\n" \
	"    slide         INTEGER NOT NULL DEFAULT 0,\n" \
	"    midr          INTEGER NOT NULL DEFAULT 0,\n" \
	"    impl          TEXT,\n" \
	"    vcpus         INTEGER NOT NULL DEFAULT 0,\n" \
	"    mode          TEXT NOT NULL DEFAULT 'live' CHECK (mode IN ('live', 'replay', 'imported')),\n" \
	"    replay_of     INTEGER,\n" \
	"    replay_source TEXT,\n" \
	"    policy_hash   TEXT,\n" \
	"    end_reason    TEXT,\n" \
	"    accesses      INTEGER NOT NULL DEFAULT 0,\n" \
	"    undefs        INTEGER NOT NULL DEFAULT 0,\n" \
	"    rows_dropped  INTEGER NOT NULL DEFAULT 0,\n" \
	"    divergences   INTEGER NOT NULL DEFAULT 0,\n" \
	"    peer_uid      INTEGER,\n" \
	"    peer_gid      INTEGER,\n" \
	"    peer_pid      INTEGER,\n" \
	"    has_pcs       INTEGER NOT NULL DEFAULT 1,\n"

/* The columns schema 2 had, copied by the 2 -> 3 rebuild. */
#define BOOTS_2_COPIED "id, start_ns, end_ns, vmm, vm_name, instance, kernel, build_id, image_base," \
	" slide, midr, impl, vcpus, mode, replay_of, replay_source, policy_hash, end_reason, accesses, undefs," \
	" rows_dropped, divergences, peer_uid, peer_gid, peer_pid"

static const char boots_3[] =
	"CREATE TABLE new_boots (\n"
	BOOTS_3_COLUMNS
	"    imported_from TEXT\n"
	");\n"
	"INSERT INTO new_boots(" BOOTS_2_COPIED ") SELECT " BOOTS_2_COPIED " FROM boots;\n"
	"DROP TABLE boots;\n"
	"ALTER TABLE new_boots RENAME TO boots;\n";

/*
 * Schema 3 -> 4: boots.boot_uid, a boot's identity across hosts (idsrctl push,
 * docs/fleet.md), and boots.host. ADD COLUMN cannot take a default that is not
 * a constant, nor UNIQUE, so boots is rebuilt as for 3; each boot copied gets
 * its own random boot_uid from the default, and host NULL (not known now).
 */
static const char boots_4[] =
	"CREATE TABLE new_boots (\n"
	BOOTS_3_COLUMNS
	"    imported_from TEXT,\n"
	"    boot_uid      TEXT NOT NULL UNIQUE DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' ||\n"
	"                  hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6)))),\n"
	"    host          TEXT\n"
	");\n"
	"INSERT INTO new_boots(" BOOTS_2_COPIED ", has_pcs, imported_from)"
	" SELECT " BOOTS_2_COPIED ", has_pcs, imported_from FROM boots;\n"
	"DROP TABLE boots;\n"
	"ALTER TABLE new_boots RENAME TO boots;\n";

/*
 * Schema 4 -> 5: table pushes, idsrd --push's queue (docs/design.md 6.7): a new
 * table, nothing else changes. Boots of earlier versions have no row: they
 * were never queued (idsrctl push sends them).
 */
static const char upgrade_5[] =
	"CREATE TABLE pushes (\n"
	"    boot_id   INTEGER PRIMARY KEY,\n"
	"    queued_ns INTEGER NOT NULL,\n"
	"    pushed_ns INTEGER,\n"
	"    url       TEXT,\n"
	"    rows      INTEGER\n"
	");\n";

static int upgrade_exec(sqlite3 *db, const char *sql, char *why, size_t whylen)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	snprintf(why, whylen, "%s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	return -EIO;
}

/*
 * Rebuilds table `boots` with rebuild (create new_boots, copy, drop, rename)
 * inside the caller's transaction. The indexes, triggers and views on boots
 * (accesses_v joins it) are remembered first and made again from their own
 * text afterwards; the views are dropped before the rename, as a view naming
 * a table that is gone for a moment makes ALTER TABLE RENAME fail.
 */
static int upgrade_rebuild_boots(sqlite3 *db, const char *rebuild, char *why, size_t whylen)
{
	char **saved = NULL, *drop;
	size_t n = 0;
	sqlite3_stmt *st;
	int ret = -EIO;

	if (sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND"
			       " (tbl_name = 'boots' AND type IN ('index', 'trigger') OR type = 'view'"
			       " AND sql LIKE '%boots%') ORDER BY type = 'view' DESC", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "reading the schema: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		char **more = realloc(saved, (n + 1) * sizeof(*saved));

		if (!more || !(more[n] = strdup((const char *)sqlite3_column_text(st, 2)))) {
			saved = more ? more : saved;
			snprintf(why, whylen, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		saved = more;
		n++;
		if (strcmp((const char *)sqlite3_column_text(st, 0), "view"))
			continue;
		drop = sqlite3_mprintf("DROP VIEW \"%w\"", (const char *)sqlite3_column_text(st, 1));
		if (!drop || upgrade_exec(db, drop, why, whylen) < 0) {
			sqlite3_free(drop);
			goto out;
		}
		sqlite3_free(drop);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (upgrade_exec(db, rebuild, why, whylen) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (upgrade_exec(db, saved[i], why, whylen) < 0)
			goto out;
	ret = 0;
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++)
		free(saved[i]);
	free(saved);
	return ret;
}

int db_upgrade(sqlite3 *db, int from, char *why, size_t whylen)
{
	char step_why[512], sql[64];
	int rc;

	/* Step 1 of the documented procedure: no foreign keys are declared, but
	 * a connection that enabled them must not act on the rebuild's DROP. */
	sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
	for (int v = from; v < SCHEMA_VERSION; v++) {
		rc = upgrade_exec(db, "BEGIN IMMEDIATE", step_why, sizeof(step_why));
		switch (rc < 0 ? 0 : v + 1) {
		case 0: break;
		case 2: rc = upgrade_exec(db, upgrade_2, step_why, sizeof(step_why)); break;
		case 3: rc = upgrade_rebuild_boots(db, boots_3, step_why, sizeof(step_why)); break;
		case 4: rc = upgrade_rebuild_boots(db, boots_4, step_why, sizeof(step_why)); break;
		case 5: rc = upgrade_exec(db, upgrade_5, step_why, sizeof(step_why)); break;
		default:
			snprintf(step_why, sizeof(step_why), "no upgrade from version %d", v);
			rc = -EPROTO;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (rc == 0)
			rc = upgrade_exec(db, sql, step_why, sizeof(step_why));
		if (rc == 0)
			rc = upgrade_exec(db, "COMMIT", step_why, sizeof(step_why));
		if (rc < 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			snprintf(why, whylen, "schema %d to %d: %s", v, v + 1, step_why);
			return rc;
		}
	}
	return 0;
}
