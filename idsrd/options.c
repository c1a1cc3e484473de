/* SPDX-License-Identifier: MIT */
/* idsrd's command line: its options, their checks and their defaults. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "frame.h"
#include "number.h"
#include "log.h"
#include "clickhouse.h"
#include "options.h"
#include "paths.h"

static const char usage_text[] =
	"Usage: idsrd [options]\n"
	"\n"
	"Logs and answers the IMPLEMENTATION DEFINED system register accesses that VMMs\n"
	"forward to it, from a live policy; see idsrd(8) and idsrd-policy(5).\n"
	"\n"
	"  --socket PATH         VMM socket (default %s)\n"
	"  --control PATH        control socket for idsrctl (default: beside the VMM socket,\n"
	"                        %s)\n"
	"  --db PATH             trace database (default %s)\n"
	"  --policy PATH         policy file (default: none, every access is UNDEF)\n"
	"  --impl NAME           register names for boots whose MIDR names nothing\n"
	"  --names FILE          more register names and MIDR rows (repeatable; read after\n"
	"                        " IDSR_SYSCONFDIR "/idsrd/registers.d/*.tsv and\n"
	"                        $XDG_CONFIG_HOME/idsrd/registers.d/*.tsv; see idsrd-names(5))\n"
	"  --poll[=USEC]         low latency: after answering, a connection keeps polling\n"
	"                        for the next frame for up to USEC µs (default 50) before sleeping;\n"
	"                        costs CPU while VMMs trap often, for boots given a core\n"
	"  --no-fast-path        answer every access by a round trip: VMMs get no shared\n"
	"                        region (the fast path answers stateless rules in the VMM)\n"
	"  --workers N           accepted for old scripts and ignored: each VMM connection\n"
	"                        is served by a thread of its own\n"
	"  --queue ROWS          store queue size (default 1048576)\n"
	"  --max-connections N   refuse VMM connections past N (default 4096)\n"
	"  --max-boots N         refuse new boots past N in progress (default 1024)\n"
	"  --max-frame BYTES     refuse VMM frames longer than this (default and most 65536)\n"
	"  --max-errors N        after N protocol errors in a minute from one VMM process,\n"
	"                        each of its new connections waits 200 ms before it is read,\n"
	"                        for the rest of the minute; nothing is refused (default\n"
	"                        100; 0: never)\n"
	"  --socket-mode MODE    VMM socket mode (default 0660)\n"
	"  --socket-group GROUP  VMM socket group\n"
	"  --control-mode MODE   control socket mode (default 0600)\n"
	"  --control-group GROUP control socket group\n"
	"  --admin-group GROUP   members may see and change every user's boots and the\n"
	"                        policy through the control socket (root and idsrd's own\n"
	"                        user always may; others only their own boots)\n"
	"  --replay TRACE[:BOOT] answer the first boot from a recorded one (strict)\n"
	"  --push URL            send each boot, once it has ended, to the ClickHouse server\n"
	"                        http://HOST:PORT/DATABASE from a thread of its own; queued in\n"
	"                        the database, retried while the server is down (status)\n"
	"  --credentials FILE    for --push: `user NAME' and `password SECRET' lines (mode\n"
	"                        0600 or stricter); default $XDG_CONFIG_HOME/idsrd/clickhouse\n"
	"                        or ~/.config/idsrd/clickhouse when it exists\n"
	"  --foreground          stay in the foreground (idsrd never forks; accepted for scripts)\n"
	"  -h, --help            this text\n"
	"  --version             print the version\n"
	"\n"
	"SIGHUP reloads the policy file; SIGTERM or SIGINT drain, flush and stop.\n"
	"The defaults: /run/idsrd/ and /var/lib/idsrd/ for root; $XDG_RUNTIME_DIR/idsrd/\n"
	"(else /tmp/idsrd-UID/) and $XDG_STATE_HOME/idsrd/ (else ~/.local/state/idsrd/)\n"
	"for others; idsrctl and libidsr-client look in the same places (idsrd(8)).\n";

/* --help with the defaults as this user gets them (or why there is none). */
static void usage(void)
{
	char p[3][4096], why[512];

	for (int k = PATH_VMM_SOCKET; k <= PATH_DB; k++)
		if (paths_default(k, 0, p[k], sizeof(p[k]), why, sizeof(why)) < 0)
			snprintf(p[k], sizeof(p[k]), "none: %s", why);
	printf(usage_text, p[PATH_VMM_SOCKET], p[PATH_CONTROL_SOCKET], p[PATH_DB]);
}

enum { OPT_SOCKET = 256, OPT_CONTROL, OPT_DB, OPT_POLICY, OPT_IMPL, OPT_WORKERS, OPT_QUEUE,
       OPT_MAXCONN, OPT_MAXBOOTS, OPT_SMODE, OPT_SGROUP, OPT_CMODE, OPT_CGROUP, OPT_FG,
       OPT_VERSION, OPT_REPLAY, OPT_AGROUP, OPT_POLL, OPT_MAXFRAME, OPT_MAXERRORS, OPT_NAMES, OPT_NOFAST,
       OPT_PUSH, OPT_CREDENTIALS };

static const struct option options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "db", required_argument, NULL, OPT_DB },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "impl", required_argument, NULL, OPT_IMPL },
	{ "names", required_argument, NULL, OPT_NAMES },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "poll", optional_argument, NULL, OPT_POLL },
	{ "no-fast-path", no_argument, NULL, OPT_NOFAST },
	{ "max-connections", required_argument, NULL, OPT_MAXCONN },
	{ "max-boots", required_argument, NULL, OPT_MAXBOOTS },
	{ "max-frame", required_argument, NULL, OPT_MAXFRAME },
	{ "max-errors", required_argument, NULL, OPT_MAXERRORS },
	{ "socket-mode", required_argument, NULL, OPT_SMODE },
	{ "socket-group", required_argument, NULL, OPT_SGROUP },
	{ "control-mode", required_argument, NULL, OPT_CMODE },
	{ "control-group", required_argument, NULL, OPT_CGROUP },
	{ "admin-group", required_argument, NULL, OPT_AGROUP },
	{ "foreground", no_argument, NULL, OPT_FG },
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "push", required_argument, NULL, OPT_PUSH },
	{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Decimal or 0x hex, read as idsrctl reads numbers (num_parse_u64: a digit
 * first, no blank or sign); a mode (base 8) is octal digits, as chmod's. */
static bool parse_uint(const char *opt, const char *s, unsigned long max, int base, unsigned long *out)
{
	uint64_t v = 0;
	bool ok;

	if (base == 8) {
		ok = *s && strlen(s) <= 6 && strspn(s, "01234567") == strlen(s);
		if (ok)
			v = strtoull(s, NULL, 8);
		if (!ok || v > max) {
			fprintf(stderr, "idsrd: --%s: `%s' is not a mode (octal digits, at most 0%lo)\n", opt, s, max);
			return false;
		}
	} else if (num_parse_u64(s, strlen(s), &v) < 0 || v > max) {
		fprintf(stderr, "idsrd: --%s: `%s' is not a number from 0 to %lu\n", opt, s, max);
		return false;
	}
	*out = (unsigned long)v;
	return true;
}

bool options_parse(int argc, char **argv, struct daemon_config *cfg)
{
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET: cfg->socket_path = optarg; break;
		case OPT_CONTROL: cfg->control_path = optarg; break;
		case OPT_DB: cfg->db_path = optarg; break;
		case OPT_POLICY: cfg->policy_path = optarg; break;
		case OPT_IMPL: cfg->impl = optarg; break;
		case OPT_NAMES:
			/* argv outlives the daemon: keep pointers, argc of them at most */
			if (!cfg->names_files && !(cfg->names_files = calloc((size_t)argc, sizeof(char *))))
				return fprintf(stderr, "idsrd: out of memory\n"), false;
			cfg->names_files[cfg->nnames_files++] = optarg;
			break;
		case OPT_REPLAY: cfg->replay_ref = optarg; break;
		case OPT_PUSH: cfg->push_url = optarg; break;
		case OPT_CREDENTIALS: cfg->push_credentials = optarg; break;
		case OPT_WORKERS:
			/* Old scripts' option: each connection has its own thread now. */
			if (!parse_uint("workers", optarg, 64, 10, &v) || v == 0)
				return v == 0 ? fprintf(stderr, "idsrd: --workers: at least 1\n"), false : false;
			break;
		case OPT_POLL:
			v = 50;
			if (optarg && (!parse_uint("poll", optarg, 10000, 10, &v) || v == 0))
				return v == 0 ? fprintf(stderr, "idsrd: --poll: at least 1 µs\n"), false : false;
			cfg->poll_us = (unsigned)v;
			break;
		case OPT_NOFAST: cfg->no_fast_path = true; break;
		case OPT_QUEUE:
			if (!parse_uint("queue", optarg, 1ul << 28, 10, &v))
				return false;
			cfg->queue_cap = v;
			break;
		case OPT_MAXCONN:
			if (!parse_uint("max-connections", optarg, 1000000, 10, &v))
				return false;
			cfg->max_connections = (unsigned)v;
			break;
		case OPT_MAXFRAME:
			if (!parse_uint("max-frame", optarg, FRAME_MAX, 10, &v))
				return false;
			if (v < 64)
				return fprintf(stderr, "idsrd: --max-frame: at least 64 bytes\n"), false;
			cfg->max_frame = (unsigned)v;
			break;
		case OPT_MAXERRORS:
			if (!parse_uint("max-errors", optarg, 1000000, 10, &v))
				return false;
			cfg->max_errors = v ? (unsigned)v : UINT_MAX;	/* UINT_MAX: never */
			break;
		case OPT_MAXBOOTS:
			if (!parse_uint("max-boots", optarg, 1000000, 10, &v))
				return false;
			cfg->max_boots = (unsigned)v;
			break;
		case OPT_SMODE:
			if (!parse_uint("socket-mode", optarg, 0777, 8, &v))
				return false;
			cfg->socket_mode = (unsigned)v;
			break;
		case OPT_CMODE:
			if (!parse_uint("control-mode", optarg, 0777, 8, &v))
				return false;
			cfg->control_mode = (unsigned)v;
			break;
		case OPT_SGROUP: cfg->socket_group = optarg; break;
		case OPT_CGROUP: cfg->control_group = optarg; break;
		case OPT_AGROUP:
			if (!getgrnam(optarg)) {
				fprintf(stderr, "idsrd: --admin-group: no group `%s'\n", optarg);
				return false;
			}
			cfg->admin_group = optarg;
			break;
		case OPT_FG: cfg->foreground = true; break;
		case 'h':
			usage();
			exit(0);
		case OPT_VERSION:
			printf("idsrd %s\n", IDSR_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try `idsrd --help'.\n");
			return false;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "idsrd: unexpected argument `%s' (try idsrd --help)\n", argv[optind]);
		return false;
	}
	if (cfg->push_credentials && !cfg->push_url) {
		fprintf(stderr, "idsrd: --credentials is for --push URL, which is not given\n");
		return false;
	}
	if (cfg->push_url) {
		/* The URL's form and the credentials file, now: a misuse, not a failure later. */
		struct ch ch;
		char why[1024];

		if (ch_open(cfg->push_url, cfg->push_credentials, &ch, why, sizeof(why)) < 0) {
			fprintf(stderr, "idsrd: --push: %s\n", why);
			return false;
		}
		ch_close(&ch);
	}
	return true;
}

bool options_paths(struct daemon_config *cfg, char bufs[3][4096])
{
	const char **given[3] = { &cfg->socket_path, &cfg->control_path, &cfg->db_path };
	char why[512];

	/* Beside an explicit VMM socket, else the default place. */
	if (!cfg->control_path && cfg->socket_path && strrchr(cfg->socket_path, '/')) {
		snprintf(bufs[1], 4096, "%.*s/control.sock",
			 (int)(strrchr(cfg->socket_path, '/') - cfg->socket_path), cfg->socket_path);
		cfg->control_path = bufs[1];
	}
	for (int k = PATH_VMM_SOCKET; k <= PATH_DB; k++) {
		if (*given[k])
			continue;
		if (paths_default(k, PATHS_CREATE, bufs[k], 4096, why, sizeof(why)) < 0) {
			log_err("no default %s: %s", k == PATH_DB ? "--db" : k == PATH_VMM_SOCKET ?
				"--socket" : "--control", why);
			return false;
		}
		*given[k] = bufs[k];
	}
	return true;
}

void options_defaults(struct daemon_config *cfg)
{
	cfg->journal = getenv("JOURNAL_STREAM") != NULL;
	/* the system's service: it reads no home directory's registers.d */
	cfg->system = getenv("INVOCATION_ID") && getuid() == 0;
	if (!cfg->queue_cap)
		cfg->queue_cap = 1u << 20;
	if (!cfg->max_connections)
		cfg->max_connections = 4096;
	if (!cfg->max_boots)
		cfg->max_boots = 1024;
	if (!cfg->max_frame)
		cfg->max_frame = FRAME_MAX;
	if (!cfg->max_errors)
		cfg->max_errors = 100;
	else if (cfg->max_errors == UINT_MAX)
		cfg->max_errors = 0;
	if (!cfg->socket_mode)
		cfg->socket_mode = 0660;
	if (!cfg->control_mode)
		cfg->control_mode = 0600;
}
