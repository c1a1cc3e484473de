/* SPDX-License-Identifier: MIT */
/* idsrctl: watch, replay and compare the IDSR traffic idsrd logs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "regnames.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} subcommands[] = {
	{ "tail", tail_main, "Prints the last accesses, then (-f) follows the live ones" },
	{ "stats", stats_main, "Counts a boot's accesses per register" },
	{ "top", top_main, "Follows the running boots' accesses per register, refreshing" },
	{ "status", status_main, "Shows the running daemon: boots, queue, rows written and dropped" },
	{ "boots", boots_main, "Lists the boots in a trace database" },
	{ "show", show_main, "Prints a boot's accesses with register names" },
	{ "decode", decode_main, "Translates a packed key, encoding or register name" },
	{ "report", report_main, "Writes a boot as one HTML page: timeline, registers, rules" },
	{ "export", export_main, "Writes a boot's accesses as CSV, JSON lines or a Perfetto trace" },
	{ "diff", diff_main, "Aligns two boots and shows the accesses added, removed or changed" },
	{ "policy", policy_main, "Shows, loads, changes or checks the live policy" },
	{ "push", push_main, "Sends finished boots to ClickHouse, exactly once (docs/fleet.md)" },
	{ "pull", pull_main, "Writes a boot from ClickHouse into a local trace database" },
	{ "import", import_main, "Makes a boot of a recording made elsewhere (an m1n1 log, CSV, JSON lines)" },
	{ "replay", replay_main, "Answers the next boot from a recorded one; names the first divergence" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: idsrctl [--names FILE]... <command> [options]\n\n"
		   "Watches, replays and compares the IDSR accesses that idsrd logs.\n\n"
		   "  --names FILE  more register names and MIDR rows, read after the built-in\n"
		   "                ones and the registers.d directories (see idsrctl(1))\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\nEvery command takes --help. The daemon is found through --control,\n"
		   "$IDSRD_CONTROL, or the default control socket (here %s);\n"
		   "the default database is $IDSRD_DB, else the running daemon's, else %s.\n"
		   "See idsrctl(1).\n", cli_control_path(NULL), cli_default_db());
}

/* Leading --names FILE / --names=FILE options: the files, and how many argv words they took. */
static int names_options(int argc, char **argv, const char **files, size_t *nfiles)
{
	int i = 1;

	while (i < argc) {
		if (!strncmp(argv[i], "--names=", 8) && argv[i][8]) {
			files[(*nfiles)++] = argv[i] + 8;
			i++;
		} else if (!strcmp(argv[i], "--names")) {
			if (i + 1 >= argc) {
				cli_error("--names needs a file (try idsrctl --help)");
				return -1;
			}
			files[(*nfiles)++] = argv[i + 1];
			i += 2;
		} else {
			break;
		}
	}
	return i - 1;
}

int main(int argc, char **argv)
{
	const char **files = calloc((size_t)argc, sizeof(*files));
	size_t nfiles = 0;
	char why[512];
	int skip, ret;

	if (!files)
		return cli_error("out of memory");
	skip = names_options(argc, argv, files, &nfiles);
	if (skip < 0) {
		free(files);
		return CLI_ERROR;
	}
	argc -= skip;
	argv += skip;
	if (argc < 2) {
		usage(stderr);
		free(files);
		return CLI_ERROR;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		free(files);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("idsrctl %s\n", IDSR_VERSION);
		free(files);
		return CLI_OK;
	}
	ret = regnames_init(files, nfiles, REGNAMES_SYSTEM_DIR | REGNAMES_USER_DIR, why, sizeof(why));
	free(files);
	if (ret < 0)
		return cli_error("register names: %s", why);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "idsrctl: `%s': no such command (try idsrctl --help)\n", argv[1]);
	return CLI_ERROR;
}
