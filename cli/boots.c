/* SPDX-License-Identifier: MIT */
/* idsrctl boots: lists the boots in a trace database. */
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"

static const char boots_usage[] =
	"Usage: idsrctl boots [DB] [--json]\n"
	"\n"
	"Lists the boots recorded in a trace database (default: idsrd's default database):\n"
	"id, start time, duration, VM, VMM, kernel, vCPUs, mode, accesses, UNDEFs, rows\n"
	"dropped, divergences and how the boot ended.\n"
	"\n"
	"  --json   one JSON object per boot (keys: the boots table's columns)\n";

static void boots_print_json(sqlite3_stmt *st)
{
	struct json j;

	json_begin(&j, stdout);
	for (int c = 0; c < sqlite3_column_count(st); c++) {
		const char *name = sqlite3_column_name(st, c);

		switch (sqlite3_column_type(st, c)) {
		case SQLITE_INTEGER:
			json_int(&j, name, sqlite3_column_int64(st, c));
			break;
		case SQLITE_NULL:
			json_str(&j, name, NULL);
			break;
		default:
			json_str(&j, name, (const char *)sqlite3_column_text(st, c));
		}
	}
	json_end(&j);
}

static void boots_print_human(sqlite3_stmt *st)
{
	char when[32], dur[32];
	time_t t = (time_t)(sqlite3_column_int64(st, 1) / 1000000000);
	struct tm tm;
	const char *reason = (const char *)sqlite3_column_text(st, 8);

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	cli_duration(sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 :
		     sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 1), dur, sizeof(dur));
	printf("%5lld  %s  %9s  %-14s %-12s %5d  %-6s %10lld %7lld %7lld %6lld  %s\n",
	       sqlite3_column_int64(st, 0), when, dur,
	       sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "",
	       sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "",
	       sqlite3_column_int(st, 5), (const char *)sqlite3_column_text(st, 6),
	       sqlite3_column_int64(st, 9), sqlite3_column_int64(st, 10), sqlite3_column_int64(st, 11),
	       sqlite3_column_int64(st, 12), reason ? reason : "running");
}

int boots_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 } };
	const char *path;
	bool json = false;
	sqlite3 *db;
	sqlite3_stmt *st;
	int c, rc;

	if (cli_wants_help(argc, argv, boots_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			fprintf(stderr, "%s", boots_usage);
			return CLI_ERROR;
		}
		json = true;
	}
	if (argc - optind > 1)
		return cli_error("boots: one database at most, got `%s' too", argv[optind + 1]);
	path = optind < argc ? argv[optind] : cli_default_db();
	if (cli_open_trace("boots", path, &db, NULL) < 0)
		return CLI_ERROR;
	rc = sqlite3_prepare_v2(db, json ?
		"SELECT id AS boot_id, start_ns, end_ns, vm_name, vmm, vcpus, mode, kernel, end_reason,"
		" accesses, undefs, rows_dropped, divergences, replay_of, replay_source, impl, policy_hash,"
		" image_base, slide, midr, peer_uid, peer_pid FROM boots ORDER BY id" :
		"SELECT id, start_ns, end_ns, vm_name, vmm, vcpus, mode, kernel, end_reason,"
		" accesses, undefs, rows_dropped, divergences FROM boots ORDER BY id", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		cli_error("boots: reading %s: %s", path, sqlite3_errmsg(db));
		db_close(db);
		return CLI_ERROR;
	}
	if (!json)
		printf("%5s  %-19s  %9s  %-14s %-12s %5s  %-6s %10s %7s %7s %6s  %s\n", "boot", "started",
		       "took", "vm", "vmm", "vcpus", "mode", "accesses", "undefs", "dropped", "diverg",
		       "ended");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json ? boots_print_json(st) : boots_print_human(st);
	if (rc != SQLITE_DONE)
		cli_error("boots: reading %s: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	return rc == SQLITE_DONE ? CLI_OK : CLI_ERROR;
}
