/* SPDX-License-Identifier: MIT */
/* One boot's row of `boots', read once for the views that describe a whole boot (export, report). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bootinfo.h"
#include "cli.h"
#include "db.h"

int cli_boot_read(const char *cmd, sqlite3 *db, int64_t id, struct cli_boot *b)
{
	sqlite3_stmt *st;
	int rc;

	memset(b, 0, sizeof(*b));
	/* boot_uid and host from schema 4 on; an older trace is read as it is */
	if (sqlite3_prepare_v2(db, db_has_column(db, "boots", "boot_uid") ?
			       "SELECT start_ns, coalesce(end_ns, 0), vmm, vm_name, kernel, impl, mode,"
			       " policy_hash, end_reason, slide, image_base, midr, vcpus, accesses, undefs,"
			       " rows_dropped, divergences, boot_uid, host FROM boots WHERE id = ?" :
			       "SELECT start_ns, coalesce(end_ns, 0), vmm, vm_name, kernel, impl, mode,"
			       " policy_hash, end_reason, slide, image_base, midr, vcpus, accesses, undefs,"
			       " rows_dropped, divergences, NULL, NULL FROM boots WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		cli_error("%s: reading boot %lld: %s", cmd, (long long)id, sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		cli_error("%s: reading boot %lld: %s", cmd, (long long)id,
			  rc == SQLITE_DONE ? "no such boot" : sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	b->id = id;
	b->start_ns = sqlite3_column_int64(st, 0);
	b->end_ns = sqlite3_column_int64(st, 1);
	b->vmm = db_column_dup(st, 2);
	b->vm_name = db_column_dup(st, 3);
	b->kernel = db_column_dup(st, 4);
	b->impl = db_column_dup(st, 5);
	b->mode = db_column_dup(st, 6);
	b->policy_hash = db_column_dup(st, 7);
	b->end_reason = db_column_dup(st, 8);
	b->slide = (uint64_t)sqlite3_column_int64(st, 9);
	b->image_base = (uint64_t)sqlite3_column_int64(st, 10);
	b->midr = (uint64_t)sqlite3_column_int64(st, 11);
	b->vcpus = (uint32_t)sqlite3_column_int64(st, 12);
	b->accesses = sqlite3_column_int64(st, 13);
	b->undefs = sqlite3_column_int64(st, 14);
	b->rows_dropped = sqlite3_column_int64(st, 15);
	b->divergences = sqlite3_column_int64(st, 16);
	b->boot_uid = db_column_dup(st, 17);
	b->host = db_column_dup(st, 18);
	sqlite3_finalize(st);
	return 0;
}

void cli_boot_free(struct cli_boot *b)
{
	free(b->vmm);
	free(b->vm_name);
	free(b->kernel);
	free(b->impl);
	free(b->mode);
	free(b->policy_hash);
	free(b->end_reason);
	free(b->boot_uid);
	free(b->host);
	memset(b, 0, sizeof(*b));
}
