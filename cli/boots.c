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
	"Usage: idsrctl boots [TRACE] [--db FILE] [--json|--json-lines]\n"
	"       idsrctl boots URL[#BOOT_UID] [--vm NAME] [--kernel K] [--latest] [--credentials FILE]\n"
	"\n"
	"Lists the boots recorded in a trace database: id, start time, duration, VM, VMM,\n"
	"kernel, vCPUs, mode, accesses, UNDEFs, rows dropped, divergences and how the boot\n"
	"ended. With a boot (FILE:BOOT, :BOOT or BOOT), that boot alone. With a URL, the\n"
	"boots pushed to ClickHouse there (those --vm and --kernel select), oldest first,\n"
	"each with its boot_uid and host first and its id in its own trace.\n"
	"\n"
	CLI_TRACE_USAGE
	CLI_FLEET_USAGE
	"  --json      one JSON array of the boots, an object each (keys: the boots table's\n"
	"              columns, id as boot_id)\n"
	"  --json-lines  one JSON object per line instead\n";

#define BOOTS_JSON_REST ", start_ns, end_ns, vm_name, vmm, vcpus, mode, kernel, end_reason, accesses," \
	" undefs, rows_dropped, divergences, replay_of, replay_source, impl, policy_hash, image_base, slide," \
	" midr, peer_uid, peer_pid"
#define BOOTS_JSON_SELECT "SELECT id AS boot_id" BOOTS_JSON_REST
#define BOOTS_JSON_FROM " FROM boots WHERE ?1 = 0 OR id = ?1 ORDER BY id"
#define BOOTS_HUMAN_REST ", start_ns, end_ns, vm_name, vmm, vcpus, mode, kernel, end_reason, accesses, undefs," \
	" rows_dropped, divergences"

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

/* A fleet listing's line starts with the boot_uid and host (columns 13, 14). */
static void boots_print_human(sqlite3_stmt *st, bool fleet)
{
	char when[32], dur[32];
	time_t t = (time_t)(sqlite3_column_int64(st, 1) / 1000000000);
	struct tm tm;
	const char *reason = (const char *)sqlite3_column_text(st, 8);

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (fleet)
		printf("%-36s  %-16s ", (const char *)sqlite3_column_text(st, 13),
		       sqlite3_column_text(st, 14) ? (const char *)sqlite3_column_text(st, 14) : "-");
	cli_duration(sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 :
		     sqlite3_column_int64(st, 2) - sqlite3_column_int64(st, 1), dur, sizeof(dur));
	printf("%5lld  %s  %9s  %-14s %-12s %-14s %5d  %-8s %8lld %7lld %7lld %6lld  %s\n",
	       sqlite3_column_int64(st, 0), when, dur,
	       sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "",
	       sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "",
	       sqlite3_column_text(st, 7) ? (const char *)sqlite3_column_text(st, 7) : "",
	       sqlite3_column_int(st, 5), (const char *)sqlite3_column_text(st, 6),
	       sqlite3_column_int64(st, 9), sqlite3_column_int64(st, 10), sqlite3_column_int64(st, 11),
	       sqlite3_column_int64(st, 12), reason ? reason : "running");
}

int boots_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "json-lines", no_argument, NULL, 'J' },
		{ "db", required_argument, NULL, 'd' }, CLI_FLEET_OPTIONS,
		{ "control", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' }, { 0 } };
	struct cli_fleet fleet = { 0 };
	const char *db_opt = NULL, *control = NULL, *path;
	struct cli_trace_arg trace;
	bool json = false, lines = false, fleet_list;
	int64_t boot_id;
	sqlite3 *db;
	sqlite3_stmt *st;
	int c, rc;

	if (cli_wants_help(argc, argv, boots_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'J': json = lines = true; break;
		case 'd': db_opt = optarg; break;
		case 'c': control = optarg; break;
		default:
			if (cli_fleet_option(c, optarg, &fleet))
				break;
			fprintf(stderr, "Try `idsrctl boots --help'.\n");
			return CLI_ERROR;
		}
	}
	if (argc - optind > 1)
		return cli_error("boots: one trace at most, got `%s' too", argv[optind + 1]);
	if (cli_trace_arg("boots", optind < argc ? argv[optind] : NULL, db_opt, control, &trace) < 0 ||
	    cli_trace_fleet("boots", &trace, &fleet) < 0)
		return CLI_ERROR;
	fleet_list = trace.source == CLI_TRACE_FROM_URL;
	path = trace.path;
	/* A boot named must exist (cli_trace_open says so); none: all of them. */
	if (cli_trace_open("boots", &trace, &db, trace.boot_id ? &boot_id : NULL) < 0)
		return CLI_ERROR;
	/* --json: the later schemas' columns too, when the file has them (3: has_pcs,
	 * imported_from; 4: boot_uid, host); older files are read as they are. */
	/* A fleet listing's copy (cli_fleet_copy) has each boot's own id aside. */
	rc = sqlite3_prepare_v2(db, fleet_list ? (!json ?
		"SELECT trace_boot_id" BOOTS_HUMAN_REST ", boot_uid, host FROM boots ORDER BY id" :
		"SELECT trace_boot_id AS boot_id" BOOTS_JSON_REST ", has_pcs, imported_from, boot_uid, host"
		" FROM boots ORDER BY id") :
		!json ? "SELECT id" BOOTS_HUMAN_REST " FROM boots WHERE ?1 = 0 OR id = ?1 ORDER BY id" :
		db_has_column(db, "boots", "boot_uid") ?
		BOOTS_JSON_SELECT ", has_pcs, imported_from, boot_uid, host" BOOTS_JSON_FROM :
		db_has_column(db, "boots", "has_pcs") ? BOOTS_JSON_SELECT ", has_pcs, imported_from" BOOTS_JSON_FROM :
		BOOTS_JSON_SELECT BOOTS_JSON_FROM,
		-1, &st, NULL);
	if (rc != SQLITE_OK) {
		cli_error("boots: reading %s: %s", path, sqlite3_errmsg(db));
		db_close(db);
		return CLI_ERROR;
	}
	if (!fleet_list)
		sqlite3_bind_int64(st, 1, trace.boot_id);
	if (!json && fleet_list)
		printf("%-36s  %-16s ", "boot_uid", "host");
	if (!json)
		printf("%5s  %-19s  %9s  %-14s %-12s %-14s %5s  %-8s %8s %7s %7s %6s  %s\n", "boot", "started",
		       "took", "vm", "vmm", "kernel", "vcpus", "mode", "accesses", "undefs", "dropped", "diverg",
		       "ended");
	if (json && !lines)
		json_list_begin(stdout);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json ? boots_print_json(st) : boots_print_human(st, fleet_list);
	json_list_end();
	if (rc != SQLITE_DONE)
		cli_error("boots: reading %s: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	return rc == SQLITE_DONE ? CLI_OK : CLI_ERROR;
}
