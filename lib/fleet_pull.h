/* SPDX-License-Identifier: MIT */
/* Reading boots back from ClickHouse into a trace database (idsrctl pull, and every reading command's URL#BOOT_UID). */
#ifndef IDSR_FLEET_PULL_H
#define IDSR_FLEET_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "clickhouse.h"
#include "fleet_push.h"

/* A server to read from, and the tables to read: the local ones, or the
 * Distributed *_all over a cluster's shards when the database has them. */
struct pull {
	struct ch ch;
	char url[1200];			/* as given, for messages */
	const char *sfx;		/* "" or "_all" */
};

/* Which boots: every field may be NULL/false. */
struct pull_select {
	const char *uid;		/* a boot_uid, or a prefix of one (8 characters or more) */
	const char *vm, *kernel;	/* vm_name, kernel equal to these */
	bool latest;			/* only the newest (greatest start_ns) */
};

/* Opens url and finds its tables (refusing a database nothing was pushed
 * to). 0, or -errno with why filled, saying what to check. */
int pull_open(struct pull *p, const char *url, const char *credentials, char *why, size_t whylen);
void pull_close(struct pull *p);

/* The boots sel matches, newest first (start_ns, then boot_uid), at most max
 * (0: all): *boots (the caller's: push_boot_free each, then free). 0, or
 * -EIO/-EPROTO/-ENOMEM with why. */
int pull_find(struct pull *p, const struct pull_select *sel, size_t max, struct push_boot **boots, size_t *n,
	      char *why, size_t whylen);

/* Adds boot b to db (in the caller's transaction) as boot id: its `boots' row
 * (boot_uid and host kept), every row of `accesses', its `boot_policies' and
 * the texts of those versions (INSERT OR IGNORE: db may have them). *rows: the
 * rows written, checked against the server's count(). 0, or -errno with why. */
int pull_boot(struct pull *p, const struct push_boot *b, sqlite3 *db, int64_t id, int64_t *rows, char *why,
	      size_t whylen);

/* Adds just b's `boots' row (a listing's), as boot id. */
int pull_boot_row(sqlite3 *db, const struct push_boot *b, int64_t id, char *why, size_t whylen);

#endif
