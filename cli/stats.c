/* SPDX-License-Identifier: MIT */
/* idsrctl stats: per-register counts of one boot from the trace database. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "regstats.h"

static const char stats_usage[] =
	"Usage: idsrctl stats [TRACE] [--db FILE] [--limit N] [--json|--json-lines]\n"
	"\n"
	"Summarizes one boot: accesses, time span and accesses per second, UNDEFs, and per\n"
	"register (most accessed first) its count, reads, writes, UNDEFs, distinct PCs, and\n"
	"when it was first and last seen (from the boot's start). A boot still running is\n"
	"counted as far as the database has it; `idsrctl top' follows it live.\n"
	"\n"
	CLI_TRACE_USAGE	"  --limit N     at most N registers\n"
	"  --json-lines  one JSON object per line instead of --json's array\n"
	"  --json        one JSON array, an object per register: boot_id, key, name, encoding, count,\n"
	"                reads, writes, undefs, pcs, first_ns, last_ns\n";

static void stats_summary(const struct regstats *s)
{
	char span[32];
	int64_t ns = s->total ? s->last_ns - s->first_ns : 0;

	printf("boot %" PRId64 ": vm `%s'%s%s%s, %" PRIu64 " accesses over %s", s->boot_id, s->vm_name,
	       *s->impl ? " (" : "", s->impl, *s->impl ? ")" : "", s->total, cli_duration(ns, span, sizeof(span)));
	if (ns > 0)
		printf(" (%.0f/s)", (double)s->total * 1e9 / (double)ns);
	printf(", %" PRIu64 " UNDEF, %zu register%s\n\n", s->undefs, s->nregs, s->nregs == 1 ? "" : "s");
}

int stats_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "json-lines", no_argument, NULL, 'J' },
		{ "db", required_argument, NULL, 'd' },
		{ "limit", required_argument, NULL, 'n' }, { "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { 0 } };
	const char *dbpath = NULL, *control = NULL;
	struct regstats s;
	bool json = false, lines = false;
	uint64_t limit = 0;
	struct cli_trace_arg trace;
	int64_t boot_id;
	sqlite3 *db;
	int c, rc;

	if (cli_wants_help(argc, argv, stats_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'J': json = lines = true; break;
		case 'd': dbpath = optarg; break;
		case 'c': control = optarg; break;
		case 'n':
			if (!cli_parse_u64("stats", "--limit", optarg, SIZE_MAX, &limit))
				return CLI_ERROR;
			break;
		default:
			fprintf(stderr, "Try `idsrctl stats --help'.\n");
			return CLI_ERROR;
		}
	}
	if (argc - optind > 1)
		return cli_error("stats: one trace at most, got `%s' too", argv[optind + 1]);
	if (cli_trace_arg("stats", optind < argc ? argv[optind] : NULL, dbpath, control, &trace) < 0 ||
	    cli_trace_open("stats", &trace, &db, &boot_id) < 0)
		return CLI_ERROR;
	rc = regstats_init(&s, db, boot_id, "stats");
	if (rc == 0)
		rc = regstats_update(&s, db, "stats");
	if (rc == 0) {
		if (!json)
			stats_summary(&s);
		if (json && !lines)
			json_list_begin(stdout);
		regstats_print(stdout, &s, json, (size_t)limit);
		json_list_end();
	}
	regstats_free(&s);
	db_close(db);
	return rc == 0 ? CLI_OK : CLI_ERROR;
}
