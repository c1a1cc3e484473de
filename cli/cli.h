/* SPDX-License-Identifier: MIT */
/* What idsrctl's subcommands share: their entry points, errors, output helpers. */
#ifndef IDSR_CLI_H
#define IDSR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (docs/design.md, section 6.2): 0 ok/same, 1 diverged/different, 2 error or misuse. */
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
/* policy's subcommands that talk to the daemon (cli/policy_ctl.c) */
int policy_show_main(int argc, char **argv);
int policy_load_main(int argc, char **argv);
int policy_set_main(int argc, char **argv);
int policy_unset_main(int argc, char **argv);
int policy_reload_main(int argc, char **argv);
int policy_learn_main(int argc, char **argv);	/* cli/policy_learn.c */
/* policy show --hash H: version H (or a unique prefix) from the trace database
 * (db_opt, control: as a trace argument's default database). cli/policy.c. */
enum policy_show_form { POLICY_SHOW_HUMAN, POLICY_SHOW_TEXT, POLICY_SHOW_JSON, POLICY_SHOW_JSON_LINES };
int policy_show_version(const char *hash, const char *db_opt, const char *control, enum policy_show_form form);
int replay_main(int argc, char **argv);
int diff_main(int argc, char **argv);
int tail_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int top_main(int argc, char **argv);
int export_main(int argc, char **argv);
int import_main(int argc, char **argv);
int report_main(int argc, char **argv);
int push_main(int argc, char **argv);
int pull_main(int argc, char **argv);

/* "idsrctl: <what>: <why>" to stderr. Returns CLI_ERROR for `return cli_error(…)`. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The daemon's control socket: --control, else $IDSRD_CONTROL, else the default.
 * The defaults (proto/paths.c) exit idsrctl with an error when there is none. */
const char *cli_control_path(const char *opt);
/* The default trace database path (as idsrd's default). */
const char *cli_default_db(void);
/* The one number parser of the options: decimal, or hexadecimal after 0x,
 * a digit first (no blanks, no sign), at most max. False after printing
 * `idsrctl: <cmd>: <opt>: `<text>' is not a number …' (or out of range);
 * opt may be NULL for an operand. */
bool cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t max, uint64_t *out);
/* A boot id (1 to INT64_MAX) the same way. */
bool cli_parse_boot_id(const char *cmd, const char *opt, const char *text, int64_t *out);
/* true if argv has -h/--help; prints usage to stdout. */
bool cli_wants_help(int argc, char **argv, const char *usage);

struct Idsr__V1__ControlRequest;
struct Idsr__V1__Frame;
struct sqlite3;
struct sqlite3_stmt;

/* Connects to the daemon's control socket; on failure prints why (and that
 * idsrd may not be running) as `idsrctl: <cmd>: …` and returns -errno.
 * Both these are quiet with cmd NULL (a question idsrctl may do without). */
int cli_control_connect(const char *cmd, const char *path, int *fd);
/* Sends req (protocol filled in) and reads the reply frame (a ControlReply,
 * the caller's to frame_free); prints errors. */
int cli_control_call(const char *cmd, int fd, struct Idsr__V1__ControlRequest *req,
		     struct Idsr__V1__Frame **reply);

/*
 * A reading command's trace argument (cli/trace_arg.c), one form for all:
 *   (none)     the default database, no boot named
 *   FILE       a trace file (write ./3 for a file named 3)
 *   FILE:BOOT  boot BOOT of FILE
 *   :BOOT, BOOT  boot BOOT of the default database
 *   URL[#BOOT_UID]  a boot in ClickHouse (cli/fleet.c): http(s)://HOST:PORT/DATABASE,
 *              the boot named by its boot_uid (or 8 or more of its first
 *              characters), else the one the command's --vm/--kernel select
 * The default database is --db FILE, else $IDSRD_DB, else the running
 * daemon's (asked on its control socket), else idsrd's default file.
 */
enum cli_trace_source {
	CLI_TRACE_FROM_ARG,		/* FILE or FILE:BOOT */
	CLI_TRACE_FROM_DB_OPTION,	/* --db FILE */
	CLI_TRACE_FROM_ENV,		/* $IDSRD_DB */
	CLI_TRACE_FROM_DAEMON,		/* the running idsrd's --db */
	CLI_TRACE_FROM_DEFAULT,		/* idsrd's default path; nothing answered */
	CLI_TRACE_FROM_URL,		/* URL[#BOOT_UID]: path is the argument as given */
};
/* A command's selectors of a boot in ClickHouse (--vm, --kernel, --latest) and
 * --credentials; cli_fleet_option takes them from getopt. */
struct cli_fleet {
	const char *vm, *kernel, *credentials;
	bool latest;
};
struct cli_trace_arg {
	char path[4096];		/* the database file */
	int64_t boot_id;		/* 0: none named (the command's default, e.g. the last) */
	enum cli_trace_source source;	/* where path came from */
	const char *control;		/* --control, for the daemon that owns path */
	uint64_t last_rows;		/* > 0: a reader of each vCPU's last N rows only (tail) */
	char url[1024];			/* CLI_TRACE_FROM_URL: http(s)://HOST:PORT/DATABASE */
	char uid[40];			/* its #BOOT_UID (or a prefix); "" for none */
	const struct cli_fleet *fleet;	/* its selectors (cli_trace_fleet), or NULL */
};
/* The forms, for each reading command's --help. */
#define CLI_TRACE_USAGE \
	"  TRACE       FILE, FILE:BOOT, :BOOT or BOOT (a boot of the default database;\n" \
	"              ./3 is a file named 3); none: the default database\n" \
	"  --db FILE   the default database (else $IDSRD_DB, else the running daemon's,\n" \
	"              else idsrd's default file)\n" \
	"  --control PATH  the daemon asked for its database\n"
/* The selectors, for the --help of the commands that take them. */
#define CLI_FLEET_USAGE \
	"  URL[#BOOT_UID]  a boot in ClickHouse (http://HOST:PORT/DATABASE, where idsrctl\n" \
	"              push sent it), named by its boot_uid (8 or more of its first\n" \
	"              characters do); without one, the boot --vm and --kernel select\n" \
	"  --vm NAME   a boot in ClickHouse of this vm name\n" \
	"  --kernel K  a boot in ClickHouse of this kernel\n" \
	"  --latest    of several boots selected, the newest (else they are listed)\n" \
	"  --credentials FILE  ClickHouse's `user NAME' and `password SECRET' (mode 0600;\n" \
	"              default $XDG_CONFIG_HOME/idsrd/clickhouse or ~/.config/idsrd/clickhouse)\n"
/* getopt values of the selectors, and their struct option entries. */
enum { CLI_OPT_VM = 0x1000, CLI_OPT_KERNEL, CLI_OPT_LATEST, CLI_OPT_CREDENTIALS };
#define CLI_FLEET_OPTIONS \
	{ "vm", required_argument, NULL, CLI_OPT_VM }, { "kernel", required_argument, NULL, CLI_OPT_KERNEL }, \
	{ "latest", no_argument, NULL, CLI_OPT_LATEST }, \
	{ "credentials", required_argument, NULL, CLI_OPT_CREDENTIALS }
/* Takes getopt's c (arg: optarg) into f when it is a selector: true if taken. */
bool cli_fleet_option(int c, const char *arg, struct cli_fleet *f);
/* Gives t the command's selectors f; refuses them (-EINVAL, printed) beside a
 * trace that is not a URL. */
int cli_trace_fleet(const char *cmd, struct cli_trace_arg *t, const struct cli_fleet *f);
/* Parses arg (NULL: none given) with db_opt (--db, or NULL); 0, or prints
 * `idsrctl: <cmd>: …` and returns -errno. */
int cli_trace_arg(const char *cmd, const char *arg, const char *db_opt, const char *control,
		  struct cli_trace_arg *out);
/* Opens t's database read-only and, when boot_id is not NULL, resolves its boot
 * (0: the last); prints errors as `idsrctl: <cmd>: …`. */
int cli_trace_open(const char *cmd, const struct cli_trace_arg *t, struct sqlite3 **db, int64_t *boot_id);
/*
 * The file to read t from (cli/trace_copy.c): t->path itself when this user
 * may read it. When they may not and the running idsrd writes it, a private
 * copy (removed at exit) of what idsrd lets them see (docs/design.md 3.5):
 * their own boots, every boot for an admin, and of them the rows need says:
 * none (a listing), t->boot_id's (0: the last they may see) or all. NULL
 * after printing why with `idsrctl: <cmd>: …`.
 */
enum cli_trace_need { CLI_TRACE_BOOTS, CLI_TRACE_ONE_BOOT, CLI_TRACE_ALL_BOOTS };
const char *cli_trace_path(const char *cmd, const struct cli_trace_arg *t, enum cli_trace_need need);
/* A new private file (mode 0600) for a copy, removed at exit; NULL after
 * saying why. name: a word for its name (a boot_uid), or NULL. */
char *cli_trace_copy_file(const char *cmd, const char *name);
/* Names the copy at path label in messages (cli_db_path); the name of
 * path: its label, else path itself. */
void cli_trace_copy_label(const char *path, const char *label);
const char *cli_trace_copy_name(const char *path);
/* The copy for a URL trace (cli/fleet.c): for need CLI_TRACE_BOOTS, the
 * `boots' rows of the boots selected (their ids 1, 2, … oldest first; each
 * boot's id in its own trace in a column trace_boot_id); else the one boot
 * selected, with its id, rows and policies. NULL after saying why. */
const char *cli_fleet_copy(const char *cmd, const struct cli_trace_arg *t, enum cli_trace_need need);
/* The trace file of URL trace t's boot for idsrd to replay: kept in
 * $XDG_CACHE_HOME/idsrd/fleet/BOOT_UID.db (else ~/.cache/…), pulled there the
 * first time. Fills path and *boot_id; 0, or -errno after saying why. */
int cli_fleet_cached(const char *cmd, const struct cli_trace_arg *t, char *path, size_t len, int64_t *boot_id);
/* Removes the copies now (async-signal-safe: for a handler that _exits). */
void cli_trace_copies_unlink(void);
/* The running daemon's database, asked quietly on its control socket; NULL
 * if none answers. Allocated once, kept. */
const char *cli_daemon_db(const char *control);

/* -o FILE for outputs written whole (export, report, diff --html): a
 * temporary file beside path, renamed over it only when all was written, so
 * a failure never leaves half a file. path NULL or "-": stdout. */
struct cli_output {
	FILE *f;
	const char *path;
	char *tmp;
};
int cli_output_open(const char *cmd, const char *path, struct cli_output *o);
/* Flushes and renames into place (ok), or removes the temporary (!ok).
 * 0, or -errno with why printed. */
int cli_output_close(const char *cmd, struct cli_output *o, bool ok);

/* "1.234s", "12ms" … for durations in ns. */
const char *cli_duration(int64_t ns, char *buf, size_t len);

/* One access as people and scripts read it (show, tail, replay reports). */
struct cli_access {
	int64_t boot_id;
	uint32_t vcpu;
	uint64_t seq;
	int64_t ts_ns;
	uint32_t key;
	uint64_t pc;
	unsigned el;
	bool is_write;
	uint64_t value;
	bool undef;
	int rule;
	const char *impl;		/* for the register name */
	const char *rule_source;	/* the policy file the rule is a line of, or NULL */
	char rule_hash[17];		/* the policy version the rule is a line of, or "" */
	const char *rule_line;		/* the rule's text in that version, or NULL */
	const char *symbol;		/* "function+0xoff" of pc, "-" for none; NULL: no --symbols */
	uint64_t slide;			/* the boot's KASLR slide (for symbol) */
	bool with_time;			/* human lines start with the local time of ts_ns */
	const char *boot_uid, *host;	/* JSON: added as keys when not NULL (export) */
};
/* Human: "boot vcpu seq pc dir NAME (encoding) value action rule"; --json: one
 * object with the contract column names plus name and encoding. */
void cli_print_access(FILE *f, const struct cli_access *a, bool json);
/* "HID0_EL1 (s3_0_c15_c0_0)", or the encoding alone when impl has no name for key. */
const char *cli_register_text(uint32_t key, const char *impl, char *buf, size_t len);
/* The column header for cli_print_access's human lines (with_time: tail's;
 * with_symbol: a symbol column after the PC). */
void cli_print_access_header(FILE *f);
void cli_print_access_header_cols(FILE *f, bool with_time, bool with_symbol);
/* Names the rule that answered rows (cli/rule_origin.c): the policy version
 * in force at the row's time and the rule's text in it, from boot_policies and
 * policies. cli_rules_resolve fills a->rule_hash, rule_source and rule_line
 * for a row with a->rule > 0; cli_rules_name does it for a known version
 * (tail -f's Event.policy_hash). r may be NULL: nothing is filled. */
struct cli_rules;
struct cli_rules *cli_rules_new(struct sqlite3 *db);
void cli_rules_free(struct cli_rules *r);
void cli_rules_resolve(struct cli_rules *r, struct cli_access *a);
void cli_rules_name(struct cli_rules *r, const char *hash, struct cli_access *a);
/* The rule that answered a, as people name it: "default", "el0-rule",
 * "replay", "replay-strict", "imported", "resent"; FILE:LINE of the version that
 * answered; an edited version's rule text; HASH:LINE; or "line N". */
const char *cli_rule_text(const struct cli_access *a, char *buf, size_t len);
/* a with the access of a checked row (replay/access_rows.h: every reader of
 * the accesses table reads through it), the presentation fields zero. */
struct access_row;
void cli_access_from(struct cli_access *a, const struct access_row *r);
/* The file db was opened from, for messages (a copy's label, cli_trace_copy_label). */
const char *cli_db_path(struct sqlite3 *db);

struct symbols;
/* --symbols FILE: an ELF with a symbol table, or an nm / System.map listing.
 * 0, or -errno with why printed as `idsrctl: <cmd>: …'. */
int cli_symbols_load(const char *cmd, const char *path, struct symbols **out);
/* "function+0xoff" of pc in a boot loaded at slide (pc - slide is the
 * link-time address); "-" when pc lies below every symbol. */
const char *cli_symbol_text(const struct symbols *syms, uint64_t pc, uint64_t slide, char *buf, size_t len);
#define CLI_SYMBOL_MAX 160

/* JSON output, one object per line: json_begin, json_* fields, json_end. */
struct json {
	FILE *f;
	bool first;
	bool in_list;		/* an element of the open listing: no newline of its own */
};
/*
 * A listing's --json is one document, an array of its objects; --json-lines
 * (and the streams, tail -f and top) the old form, one object per line. Between
 * json_list_begin and json_list_end every object json_begin starts on f is an
 * element of the array. A listing calls both whatever it printed (an empty
 * listing is []), also when it fails part way, so the output stays one document.
 */
void json_list_begin(FILE *f);
void json_list_end(void);
/* --json, --json-lines: the options' text for each listing's --help. */
#define CLI_JSON_USAGE \
	"  --json      one JSON document: an array of objects\n" \
	"  --json-lines  one JSON object per line instead\n"
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
/* The same, safe inside an HTML <script> element too (<, >, & escaped). */
void json_write_string_html(FILE *f, const char *s);

#endif
