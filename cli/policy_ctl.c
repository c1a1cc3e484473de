/* SPDX-License-Identifier: MIT */
/* idsrctl policy show/load/set/unset/reload: the running daemon's live policy. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "frame.h"

static const char show_usage[] =
	"Usage: idsrctl policy show [--text|--json|--json-lines] [--control PATH]\n"
	"       idsrctl policy show --hash H [--db FILE] [--text|--json|--json-lines]\n\n"
	"Shows idsrd's live policy: its hash and source, when it went live, each rule with\n"
	"its number (for `policy unset'), line, where it came from (FILE:LINE, or who set\n"
	"it) and how many accesses it answered since, then the policy text.\n\n"
	"  --text           only the policy text (to save it or edit it)\n"
	"  --json           one JSON array, an object per rule: index, line, text, origin,\n"
	"                   hits, policy_hash\n"
	"  --json-lines     one JSON object per rule and line instead\n"
	"  --control PATH   the daemon's control socket (default $IDSRD_CONTROL or idsrd's default)\n"
	"  --hash H         the policy version H (or a unique prefix) from the trace database,\n"
	"                   with or without a daemon: the version a row's rule is a line of\n"
	"                   (show and tail print it, or its FILE:LINE, with the row)\n"
	"  --db FILE        that database (default $IDSRD_DB, else the running daemon's, else\n"
	"                   idsrd's default file)\n";
static const char load_usage[] =
	"Usage: idsrctl policy load FILE [--control PATH]\n\n"
	"Sends FILE to idsrd, which checks it and, if it is valid, swaps it in atomically:\n"
	"the next access is answered by it. Prints what changed. A bad file is rejected as\n"
	"FILE:LINE:COLUMN and the old policy stays in force. The change is recorded with\n"
	"your uid. Storage, counters and random streams keep their state.\n";
static const char set_usage[] =
	"Usage: idsrctl policy set [--first|--before N] 'RULE' [--control PATH]\n\n"
	"Adds one rule to the live policy, before its trailing catch-all `*' rules (or at\n"
	"the end), e.g.  idsrctl policy set 'HID4 read value 0x44'\n"
	"The first rule that matches answers: a rule after one that answers the same\n"
	"registers never does (set says so); put it in front with --first or --before.\n"
	"A directive works too: idsrctl policy set allow-el0 lets EL0 accesses reach the rules.\n\n"
	"  --first          put the rule first\n"
	"  --before N       put it before rule number N (as `policy show' numbers them)\n"
	"  --control PATH   the daemon's control socket\n\n"
	"The change is recorded with your uid; `policy show' lists who set which rule.\n";
static const char unset_usage[] =
	"Usage: idsrctl policy unset N [--control PATH]\n\n"
	"Removes rule number N (as `policy show' numbers them) from the live policy.\n";
static const char reload_usage[] =
	"Usage: idsrctl policy reload [--control PATH]\n\n"
	"Makes idsrd re-read its --policy file (as SIGHUP does) and prints what changed.\n";

/* policy show --hash H --db FILE: a version from the database. */
static const char *show_hash, *show_db;
/* policy set --first (1) or --before N: the position; 0: before the catch-all. */
static uint32_t set_before;

/* Parses [--control PATH] [--json] [--text] [--json-lines] (and show's --hash,
 * --db) and at most `nargs' operands; flags: 1 --json, 2 --text, 4 --json-lines
 * (with 1). */
static int policy_args(int argc, char **argv, const char *usage, const char **control,
		       unsigned *flags, char **args, int nargs)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' }, { "json", no_argument, NULL, 'j' },
		{ "text", no_argument, NULL, 't' }, { "json-lines", no_argument, NULL, 'J' },
		{ "hash", required_argument, NULL, 'H' }, { "db", required_argument, NULL, 'D' },
		{ "first", no_argument, NULL, 'F' }, { "before", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' }, { 0 } };
	int c, n = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': *control = optarg; break;
		case 'j': *flags |= 1; break;
		case 't': *flags |= 2; break;
		case 'J': *flags |= 1 | 4; break;
		case 'H':
		case 'D':
			if (strcmp(argv[0], "show"))
				return cli_error("policy %s: --%s is for policy show", argv[0],
						 c == 'H' ? "hash" : "db"), -1;
			*(c == 'H' ? &show_hash : &show_db) = optarg;
			break;
		case 'F':
		case 'B':
			if (strcmp(argv[0], "set"))
				return cli_error("policy %s: --%s is for policy set", argv[0],
						 c == 'F' ? "first" : "before"), -1;
			if (c == 'F') {
				set_before = 1;
			} else {
				uint64_t v;

				if (!cli_parse_u64("policy set", "--before", optarg, UINT32_MAX, &v))
					return -1;
				if (v < 1)
					return cli_error("policy set: --before: `%s' is not a rule number (1 or "
							 "more; see idsrctl policy show)", optarg), -1;
				set_before = (uint32_t)v;
			}
			break;
		default:
			fprintf(stderr, "%s", usage);
			return -1;
		}
	}
	for (; optind < argc; optind++) {
		if (n == nargs)
			return cli_error("policy %s: unexpected argument `%s' (try idsrctl policy %s --help)",
					 argv[0], argv[optind], argv[0]), -1;
		args[n++] = argv[optind];
	}
	if (n < nargs)
		return cli_error("policy %s: missing argument (try idsrctl policy %s --help)", argv[0],
				 argv[0]), -1;
	return 0;
}

/* Sends one PolicyRequest; on success *reply is the daemon's answer (ok). */
static int policy_call(const char *cmd, const char *control, Idsr__V1__PolicyRequest *preq,
		       Idsr__V1__Frame **reply)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	char what[32];
	int fd, rc;

	snprintf(what, sizeof(what), "policy %s", cmd);
	if (cli_control_connect(what, cli_control_path(control), &fd) < 0)
		return -1;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_POLICY;
	req.policy = preq;
	rc = cli_control_call(what, fd, &req, reply);
	close(fd);
	if (rc < 0)
		return -1;
	if (!(*reply)->reply->ok) {
		cli_error("%s: %s", what, (*reply)->reply->message);
		frame_free(*reply);
		return -1;
	}
	return 0;
}

/* The rule with its alignment blanks cut to one, for a table. */
static const char *squeeze(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		if (!((*s == ' ' || *s == '\t') && (n == 0 || buf[n - 1] == ' ')))
			buf[n++] = *s == '\t' ? ' ' : *s;
	buf[n] = 0;
	return buf;
}

static void show_human(const Idsr__V1__ControlReply *r)
{
	time_t t = (time_t)(r->policy_since_ns / 1000000000);
	char when[32];
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("policy %s from %s, live since %s\n\n", r->policy_hash, r->policy_source, when);
	printf("%4s %5s %10s  %-44s %s\n", "rule", "line", "hits", "text", "origin");
	for (size_t i = 0; i < r->n_rules; i++) {
		const Idsr__V1__PolicyRule *pr = r->rules[i];
		char text[256];

		printf("%4u %5d %10" PRIu64 "  %-44s %s\n", pr->index, pr->line, pr->hits,
		       squeeze(pr->text, text, sizeof(text)), pr->origin);
	}
	printf("%4s %5s %10" PRIu64 "  %s\n", "-", "-", r->hits_default, "(no rule matched: UNDEF, the default)");
	printf("%4s %5s %10" PRIu64 "  %s\n", "-", "-", r->hits_el0, "(from EL0: UNDEF, built in)");
	printf("\n--- text ---\n%s", r->policy_text);
	if (*r->policy_text && r->policy_text[strlen(r->policy_text) - 1] != '\n')
		putchar('\n');
}

int policy_show_main(int argc, char **argv)
{
	Idsr__V1__PolicyRequest preq = IDSR__V1__POLICY_REQUEST__INIT;
	const char *control = NULL;
	Idsr__V1__Frame *reply;
	unsigned flags = 0;

	if (cli_wants_help(argc, argv, show_usage))
		return CLI_OK;
	if (policy_args(argc, argv, show_usage, &control, &flags, NULL, 0) < 0)
		return CLI_ERROR;
	if ((flags & 3) == 3)
		return cli_error("policy show: --text and --json exclude each other");
	if (show_db && !show_hash)
		return cli_error("policy show: --db goes with --hash (the live policy is the daemon's)");
	if (show_hash)
		return policy_show_version(show_hash, show_db, control,
					   flags & 2 ? POLICY_SHOW_TEXT : flags & 4 ? POLICY_SHOW_JSON_LINES :
					   flags & 1 ? POLICY_SHOW_JSON : POLICY_SHOW_HUMAN);
	preq.op = IDSR__V1__POLICY_REQUEST__OP__SHOW;
	if (policy_call("show", control, &preq, &reply) < 0)
		return CLI_ERROR;
	if (flags & 2) {
		fputs(reply->reply->policy_text, stdout);
	} else if (flags & 1) {
		if (!(flags & 4))
			json_list_begin(stdout);
		for (size_t i = 0; i < reply->reply->n_rules; i++) {
			const Idsr__V1__PolicyRule *pr = reply->reply->rules[i];
			struct json j;

			json_begin(&j, stdout);
			json_uint(&j, "index", pr->index);
			json_int(&j, "line", pr->line);
			json_str(&j, "text", pr->text);
			json_str(&j, "origin", pr->origin);
			json_uint(&j, "hits", pr->hits);
			json_str(&j, "policy_hash", reply->reply->policy_hash);
			json_end(&j);
		}
		json_list_end();
	} else {
		show_human(reply->reply);
	}
	frame_free(reply);
	return CLI_OK;
}

/* Prints a change's summary; `ok' lines go to stdout. */
static int policy_change(const char *cmd, const char *control, Idsr__V1__PolicyRequest *preq)
{
	Idsr__V1__Frame *reply;

	if (policy_call(cmd, control, preq, &reply) < 0)
		return CLI_ERROR;
	printf("%s\n", reply->reply->message);
	frame_free(reply);
	return CLI_OK;
}

static char *read_file(const char *path, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(text, cap = cap ? cap * 2 : 8192);

			if (!p) {
				snprintf(why, whylen, "out of memory reading %s", path);
				free(text);
				fclose(f);
				return NULL;
			}
			text = p;
		}
		n = fread(text + len, 1, 4096, f);
		len += n;
	} while (n > 0 && len < FRAME_MAX);
	text[len] = 0;
	if (ferror(f) || len >= FRAME_MAX - 1024 || strlen(text) != len) {
		snprintf(why, whylen, ferror(f) ? "cannot read %s" : len >= FRAME_MAX - 1024 ?
			 "%s is too large to send to idsrd (put it in idsrd's --policy file)" :
			 "%s has a NUL byte: a policy is text", path);
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

int policy_load_main(int argc, char **argv)
{
	Idsr__V1__PolicyRequest preq = IDSR__V1__POLICY_REQUEST__INIT;
	const char *control = NULL;
	char *file, *text, why[512];
	unsigned flags = 0;
	int rc;

	if (cli_wants_help(argc, argv, load_usage))
		return CLI_OK;
	if (policy_args(argc, argv, load_usage, &control, &flags, &file, 1) < 0)
		return CLI_ERROR;
	text = read_file(file, why, sizeof(why));
	if (!text)
		return cli_error("policy load: %s", why);
	preq.op = IDSR__V1__POLICY_REQUEST__OP__LOAD;
	preq.text = text;
	preq.source = file;
	rc = policy_change("load", control, &preq);
	free(text);
	return rc;
}

int policy_set_main(int argc, char **argv)
{
	Idsr__V1__PolicyRequest preq = IDSR__V1__POLICY_REQUEST__INIT;
	const char *control = NULL;
	unsigned flags = 0;
	char *rule;

	if (cli_wants_help(argc, argv, set_usage))
		return CLI_OK;
	if (policy_args(argc, argv, set_usage, &control, &flags, &rule, 1) < 0)
		return CLI_ERROR;
	preq.op = set_before ? IDSR__V1__POLICY_REQUEST__OP__SET_AT : IDSR__V1__POLICY_REQUEST__OP__SET;
	preq.index = set_before;
	preq.text = rule;
	return policy_change("set", control, &preq);
}

int policy_unset_main(int argc, char **argv)
{
	Idsr__V1__PolicyRequest preq = IDSR__V1__POLICY_REQUEST__INIT;
	const char *control = NULL;
	unsigned flags = 0;
	uint64_t n;
	char *arg;

	if (cli_wants_help(argc, argv, unset_usage))
		return CLI_OK;
	if (policy_args(argc, argv, unset_usage, &control, &flags, &arg, 1) < 0)
		return CLI_ERROR;
	if (!cli_parse_u64("policy unset", NULL, arg, UINT32_MAX, &n))
		return CLI_ERROR;
	if (n < 1)
		return cli_error("policy unset: `%s' is not a rule number (1 or more; see idsrctl policy show)", arg);
	preq.op = IDSR__V1__POLICY_REQUEST__OP__UNSET;
	preq.index = (uint32_t)n;
	return policy_change("unset", control, &preq);
}

int policy_reload_main(int argc, char **argv)
{
	Idsr__V1__PolicyRequest preq = IDSR__V1__POLICY_REQUEST__INIT;
	const char *control = NULL;
	unsigned flags = 0;

	if (cli_wants_help(argc, argv, reload_usage))
		return CLI_OK;
	if (policy_args(argc, argv, reload_usage, &control, &flags, NULL, 0) < 0)
		return CLI_ERROR;
	preq.op = IDSR__V1__POLICY_REQUEST__OP__RELOAD;
	return policy_change("reload", control, &preq);
}
