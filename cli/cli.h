/* SPDX-License-Identifier: MIT */
/* What idsrctl's subcommands share: their entry points, errors, output helpers. */
#ifndef IDSR_CLI_H
#define IDSR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (DESIGN.md): 0 ok/same, 1 diverged/different, 2 error or misuse. */
#define CLI_OK		0
#define CLI_DIFFERENT	1
#define CLI_ERROR	2

/* Each subcommand lives in cli/<name>.c and exports <name>_main(argc, argv);
 * argv[0] is the subcommand's name. */
int boots_main(int argc, char **argv);
int show_main(int argc, char **argv);
int status_main(int argc, char **argv);
int decode_main(int argc, char **argv);
int policy_main(int argc, char **argv);
int replay_main(int argc, char **argv);
int diff_main(int argc, char **argv);
int tail_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int top_main(int argc, char **argv);

/* "idsrctl: <what>: <why>" to stderr. Returns CLI_ERROR for `return cli_error(…)`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The daemon's control socket: --control, else $IDSRD_CONTROL, else the default. */
const char *cli_control_path(const char *opt);
/* The default trace database path (as idsrd's default). */
const char *cli_default_db(void);
/* true if argv has -h/--help; prints usage to stdout. */
bool cli_wants_help(int argc, char **argv, const char *usage);

/* JSON output, one object per line: json_begin, json_* fields, json_end. */
struct json {
	FILE *f;
	bool first;
};
void json_begin(struct json *j, FILE *f);
void json_str(struct json *j, const char *key, const char *val);	/* NULL -> null */
void json_int(struct json *j, const char *key, int64_t val);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_double(struct json *j, const char *key, double val);
void json_raw(struct json *j, const char *key, const char *raw);	/* pre-encoded JSON */
void json_end(struct json *j);		/* "}\n" */
/* Writes s as a JSON string literal. */
void json_write_string(FILE *f, const char *s);

#endif
