/* SPDX-License-Identifier: MIT */
/* idsrctl show: prints a boot's accesses with register names. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "replay/access_rows.h"
#include "replay/symbols.h"

static const char show_usage[] =
	"Usage: idsrctl show [TRACE] [--db FILE] [--vcpu N] [--limit N] [--symbols FILE]\n"
	"                    [--json|--json-lines]\n"
	"       idsrctl show URL[#BOOT_UID] [--vm NAME] [--kernel K] [--latest] [--credentials FILE] …\n"
	"\n"
	"Prints the accesses of one boot (default: the database's last boot) in per-vCPU\n"
	"order: vCPU, seq, PC, direction, register name and encoding, value, action, and\n"
	"the policy rule that answered.\n"
	"\n"
	CLI_TRACE_USAGE
	CLI_FLEET_USAGE
	"  --vcpu N    only vCPU N\n"
	"  --limit N   at most N accesses\n"
	"  --symbols FILE  print function+0xoffset of each PC (the boot's slide taken off):\n"
	"              FILE is an ELF with a symbol table, or an nm / System.map listing\n"
	"  --json      one JSON array of the accesses, an object each (contract column names,\n"
	"              plus name and encoding)\n"
	"  --json-lines  one JSON object per line instead\n";

int show_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "json-lines", no_argument, NULL, 'J' },
		{ "vcpu", required_argument, NULL, 'v' },
		{ "limit", required_argument, NULL, 'n' }, { "symbols", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' }, { "control", required_argument, NULL, 'c' },
		CLI_FLEET_OPTIONS, { "help", no_argument, NULL, 'h' }, { 0 } };
	struct cli_fleet fleet = { 0 };
	const char *db_opt = NULL, *control = NULL;
	struct cli_trace_arg trace;
	struct cli_rules *rules;
	long long vcpu = -1, limit = -1, nvcpus = 0;
	const char *symfile = NULL;
	struct symbols *syms = NULL;
	char symbol[CLI_SYMBOL_MAX];
	uint64_t slide = 0, v;
	struct access_cursor *rows;
	struct access_range range;
	struct access_row row;
	struct cli_access a;
	char why[512];
	char *impl = NULL;
	bool json = false, lines = false;
	int64_t boot_id;
	sqlite3_stmt *st;
	sqlite3 *db;
	int c, rc;

	if (cli_wants_help(argc, argv, show_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'J': json = lines = true; break;
		case 'v':
			if (!cli_parse_u64("show", "--vcpu", optarg, UINT32_MAX, &v))
				return CLI_ERROR;
			vcpu = (long long)v;
			break;
		case 'n':
			if (!cli_parse_u64("show", "--limit", optarg, INT64_MAX, &v))
				return CLI_ERROR;
			limit = (long long)v;
			break;
		case 's': symfile = optarg; break;
		case 'd': db_opt = optarg; break;
		case 'c': control = optarg; break;
		default:
			if (cli_fleet_option(c, optarg, &fleet))
				break;
			fprintf(stderr, "%s", show_usage);
			return CLI_ERROR;
		}
	}
	if (argc - optind > 1)
		return cli_error("show: one trace at most, got `%s' too", argv[optind + 1]);
	if (cli_trace_arg("show", optind < argc ? argv[optind] : NULL, db_opt, control, &trace) < 0 ||
	    cli_trace_fleet("show", &trace, &fleet) < 0)
		return CLI_ERROR;
	if (symfile && cli_symbols_load("show", symfile, &syms))
		return CLI_ERROR;
	if (cli_trace_open("show", &trace, &db, &boot_id) < 0) {
		symbols_free(syms);
		return CLI_ERROR;
	}
	if (sqlite3_prepare_v2(db, "SELECT impl, slide, vcpus FROM boots WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, boot_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			if (sqlite3_column_text(st, 0))
				impl = strdup((const char *)sqlite3_column_text(st, 0));
			slide = (uint64_t)sqlite3_column_int64(st, 1);
			nvcpus = sqlite3_column_int64(st, 2);
		}
		sqlite3_finalize(st);
	}
	/* An empty table would read as "no accesses"; say what there is. */
	if (vcpu >= nvcpus && nvcpus > 0) {
		cli_error("show: boot %lld has %lld vCPU%s (0-%lld): no vCPU %lld", (long long)boot_id,
			  nvcpus, nvcpus == 1 ? "" : "s", nvcpus - 1, vcpu);
		rc = -EINVAL;
		goto out;
	}
	range = (struct access_range){ .boot_id = boot_id, .vcpu = vcpu, .limit = limit };
	rc = access_cursor_open(db, cli_db_path(db), &range, &rows, why, sizeof(why));
	if (rc < 0) {
		cli_error("show: %s", why);
		goto out;
	}
	if (!json)
		cli_print_access_header_cols(stdout, false, syms);
	else if (!lines)
		json_list_begin(stdout);
	rules = cli_rules_new(db);
	while ((rc = access_cursor_next(rows, &row, why, sizeof(why))) > 0) {
		cli_access_from(&a, &row);
		a.impl = impl;
		cli_rules_resolve(rules, &a);
		if (syms)
			a.symbol = cli_symbol_text(syms, a.pc, slide, symbol, sizeof(symbol));
		cli_print_access(stdout, &a, json);
	}
	if (rc < 0)
		cli_error("show: %s", why);
	access_cursor_close(rows);
	cli_rules_free(rules);
	json_list_end();
out:
	symbols_free(syms);
	free(impl);
	db_close(db);
	return rc == 0 ? CLI_OK : CLI_ERROR;
}
