/* SPDX-License-Identifier: MIT */
/* idsrctl push: finished boots of trace databases to ClickHouse (lib/fleet_push.c does the sending). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "fleet_push.h"

static const char push_usage[] =
	"Usage: idsrctl push TRACE[:BOOT]... --to URL [--to URL]... [--credentials FILE]\n"
	"                    [--cluster NAME] [--batch ROWS] [--force]\n"
	"\n"
	"Sends finished boots to ClickHouse (URL http://HOST:PORT/DATABASE), creating its\n"
	"tables `accesses' and `boots' if missing. Rows the server already holds are not\n"
	"sent again, so a push interrupted at any point is completed by running it again.\n"
	"A TRACE without a boot sends all its finished boots (running or cut-off ones are\n"
	"skipped and said); a running or cut-off boot named is refused unless --force.\n"
	"\n"
	"  --to URL    the server; several --to are the shards of a cluster: each boot goes\n"
	"              to the local tables of one shard, chosen by its boot_uid\n"
	CH_CREDENTIALS_USAGE
	"  --cluster NAME  also create accesses_all and boots_all, Distributed tables over\n"
	"              the cluster NAME of the servers' config, on every --to\n"
	"  --batch ROWS  rows per INSERT (default 100000, at most 1000000)\n"
	"  --force     push running and cut-off boots too (what is logged so far)\n";

#define PUSH_MAX_SHARDS 64

struct push_run {
	struct ch shards[PUSH_MAX_SHARDS];
	const char *urls[PUSH_MAX_SHARDS];
	bool ready[PUSH_MAX_SHARDS];	/* tables made in this run */
	size_t nshards, batch;
	const char *cluster;
	bool force;
	int failed;
};

/* Pushes boot id of db; named: the user asked for this boot (refusals are errors). */
static void push_boot(struct push_run *p, sqlite3 *db, const char *path, int64_t id, bool named)
{
	char why[1024];
	struct push_boot b;
	struct push_result r;
	size_t s;

	if (push_boot_read(db, id, &b, why, sizeof(why)) < 0) {
		cli_error("push: %s:%" PRId64 ": %s", path, id, why);
		p->failed++;
		return;
	}
	if (!b.finished && !p->force) {
		if (named) {
			cli_error("push: %s:%" PRId64 ": the boot is %s: only finished boots are pushed "
				  "(--force sends what is logged so far)", path, id,
				  b.end_ns ? "cut off (idsrd stopped without ending it)" : "still running");
			p->failed++;
		} else {
			printf("%s:%" PRId64 " %s: skipped (%s)\n", path, id, b.uid,
			       b.end_ns ? "cut off" : "running");
		}
		push_boot_free(&b);
		return;
	}
	s = push_shard(b.uid, p->nshards);
	if (!p->ready[s] && push_tables(&p->shards[s], p->cluster, why, sizeof(why)) < 0) {
		cli_error("push: creating the tables: %s", why);
		p->failed++;
		push_boot_free(&b);
		return;
	}
	p->ready[s] = true;
	if (push_one(&p->shards[s], db, &b, p->batch, &r, why, sizeof(why)) < 0) {
		cli_error("push: %s:%" PRId64 " %s: %s (run the push again: it sends only what is missing)",
			  path, id, b.uid, why);
		p->failed++;
	} else if (r.already) {
		printf("%s:%" PRId64 " %s -> %s: already there (%" PRId64 " rows)\n", path, id, b.uid, p->urls[s],
		       r.on_server);
	} else {
		printf("%s:%" PRId64 " %s -> %s: %" PRId64 " rows sent in %" PRId64 " batch%s, %" PRId64
		       " on the server\n", path, id, b.uid, p->urls[s], r.sent, r.batches,
		       r.batches == 1 ? "" : "es", r.on_server);
	}
	push_boot_free(&b);
}

static void push_trace(struct push_run *p, const struct cli_trace_arg *t)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t id;

	if (cli_trace_open("push", t, &db, t->boot_id ? &id : NULL) < 0) {
		p->failed++;
		return;
	}
	if (t->boot_id) {
		push_boot(p, db, t->path, id, true);
	} else if (sqlite3_prepare_v2(db, "SELECT id FROM boots ORDER BY id", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW)
			push_boot(p, db, t->path, sqlite3_column_int64(st, 0), false);
		sqlite3_finalize(st);
	} else {
		cli_error("push: reading %s: %s", t->path, sqlite3_errmsg(db));
		p->failed++;
	}
	db_close(db);
}

int push_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "credentials", required_argument, NULL, 'C' },
		{ "cluster", required_argument, NULL, 'k' }, { "batch", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { 0 } };
	static struct push_run p;
	const char *credentials = NULL;
	char why[1024];
	uint64_t batch = PUSH_BATCH_DEFAULT;
	int c;

	memset(&p, 0, sizeof(p));
	if (cli_wants_help(argc, argv, push_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (p.nshards == PUSH_MAX_SHARDS)
				return cli_error("push: at most %d --to", PUSH_MAX_SHARDS);
			p.urls[p.nshards++] = optarg;
			break;
		case 'C': credentials = optarg; break;
		case 'k':
			for (const char *s = optarg; *s; s++)
				if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", *s))
					return cli_error("push: --cluster: `%s': letters, digits and _ only", optarg);
			p.cluster = optarg;
			break;
		case 'b':
			if (!cli_parse_u64("push", "--batch", optarg, PUSH_BATCH_MAX, &batch))
				return CLI_ERROR;
			break;
		case 'f': p.force = true; break;
		default:
			fprintf(stderr, "Try `idsrctl push --help'.\n");
			return CLI_ERROR;
		}
	}
	if (!p.nshards)
		return cli_error("push: no server: give --to http://HOST:PORT/DATABASE");
	if (optind == argc)
		return cli_error("push: no trace: give TRACE or TRACE:BOOT");
	if (!batch)
		return cli_error("push: --batch: at least 1 row");
	p.batch = (size_t)batch;
	for (size_t i = 0; i < p.nshards; i++)
		if (ch_open(p.urls[i], credentials, &p.shards[i], why, sizeof(why)) < 0) {
			while (i--)
				ch_close(&p.shards[i]);
			return cli_error("push: %s", why);
		}
	for (int i = optind; i < argc; i++) {
		struct cli_trace_arg t;

		if (cli_trace_arg("push", argv[i], NULL, NULL, &t) < 0)
			p.failed++;
		else
			push_trace(&p, &t);
	}
	for (size_t i = 0; i < p.nshards; i++)
		ch_close(&p.shards[i]);
	return p.failed ? CLI_ERROR : CLI_OK;
}
