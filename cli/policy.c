/* SPDX-License-Identifier: MIT */
/* idsrctl policy: checks a policy file offline; the home of the policy subcommands. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "db.h"
#include "policy.h"

static const char check_usage[] =
	"Usage: idsrctl policy check FILE [--json|--json-lines]\n\n"
	"Parses FILE as idsrd would, without a daemon, and prints\n"
	"`FILE: OK, N rules, hash H', or the first error as FILE:LINE:COLUMN and exits 2.\n"
	"Warns (on standard error, exit 0) about rules that can never answer: after rules\n"
	"that answer every access they name, naming no register in the trapped IDSR space,\n"
	"or el=0 without an `allow-el0' line.\n\n"
	"  --json   print the rules as one JSON array, an object each\n"
	"  --json-lines  one JSON object per rule and line instead\n";

static const char *direction_name(enum policy_direction dir)
{
	return dir == POLICY_READ ? "read" : dir == POLICY_WRITE ? "write" : "any";
}

static void print_rule_json(const struct policy_rule *r)
{
	struct json j;
	size_t sel = strcspn(r->text, " \t");
	char selector[256];

	snprintf(selector, sizeof(selector), "%.*s", (int)sel, r->text);
	json_begin(&j, stdout);
	json_int(&j, "line", r->line);
	json_str(&j, "text", r->text);
	json_str(&j, "selector", selector);
	json_str(&j, "direction", direction_name(r->dir));
	if (r->el >= 0)
		json_int(&j, "el", r->el);
	else
		json_raw(&j, "el", "null");
	if (r->vcpu >= 0)
		json_int(&j, "vcpu", r->vcpu);
	else
		json_raw(&j, "vcpu", "null");
	if (r->has_pc) {
		json_uint(&j, "pc_lo", r->pc_lo);
		json_uint(&j, "pc_hi", r->pc_hi);
	} else {
		json_raw(&j, "pc_lo", "null");
		json_raw(&j, "pc_hi", "null");
	}
	json_str(&j, "action", policy_action_name(r->action));
	switch (r->action) {
	case POLICY_VALUE:
		json_uint(&j, "value", r->value);
		break;
	case POLICY_STORAGE:
		json_uint(&j, "init", r->value);
		json_uint(&j, "wmask", r->wmask);
		json_str(&j, "scope", r->scope_vm ? "vm" : "vcpu");
		break;
	case POLICY_COUNTER:
		json_uint(&j, "start", r->value);
		json_uint(&j, "step", r->step);
		json_str(&j, "scope", r->scope_vm ? "vm" : "vcpu");
		break;
	case POLICY_RANDOM:
		if (r->has_seed)
			json_uint(&j, "seed", r->seed);
		else
			json_raw(&j, "seed", "null");
		json_str(&j, "scope", r->scope_vm ? "vm" : "vcpu");
		break;
	default:
		break;
	}
	json_end(&j);
}

/* policy check's warnings: FILE:LINE: warning: … on stderr. */
static void check_warn(void *arg, const struct policy_rule *r, const char *msg)
{
	fprintf(stderr, "%s:%d: warning: `%s' %s\n", (const char *)arg, r->line, r->text, msg);
}

static int policy_check_main(int argc, char **argv)
{
	const char *file = NULL;
	bool json = false, lines = false, options = true;
	struct policy_error err;
	struct policy *p;
	char why[1024];
	size_t n;

	if (cli_wants_help(argc, argv, check_usage))
		return CLI_OK;
	for (int i = 1; i < argc; i++) {
		if (options && !strcmp(argv[i], "--json"))
			json = true;
		else if (options && !strcmp(argv[i], "--json-lines"))
			json = lines = true;
		else if (options && !strcmp(argv[i], "--"))
			options = false;
		else if (options && argv[i][0] == '-' && argv[i][1])
			return cli_error("policy check: unknown option `%s' (try idsrctl policy check --help)", argv[i]);
		else if (file)
			return cli_error("policy check: one FILE at a time, got `%s' after `%s'", argv[i], file);
		else
			file = argv[i];
	}
	if (!file)
		return cli_error("policy check: expected a policy FILE (try idsrctl policy check --help)");
	if (policy_load_file(file, &p, &err) < 0)
		return cli_error("policy check: %s", policy_error_format(&err, why, sizeof(why)));
	n = policy_rule_count(p);
	policy_lint(p, check_warn, (void *)file);
	if (json) {
		if (!lines)
			json_list_begin(stdout);
		for (size_t i = 0; i < n; i++)
			print_rule_json(policy_rule_at(p, i));
		json_list_end();
	} else
		printf("%s: OK, %zu rule%s, hash %s\n", file, n, n == 1 ? "" : "s", policy_hash(p));
	policy_free(p);
	return CLI_OK;
}

/* Finds version `want' (a hash or a unique prefix of one) in db. 0 and a
 * prepared row in *st, or prints why and returns CLI_ERROR. */
static int version_find(sqlite3 *db, const char *path, const char *want, sqlite3_stmt **st)
{
	int rc;

	if (!*want || strspn(want, "0123456789abcdef") != strlen(want) || strlen(want) > 16)
		return cli_error("policy show: --hash `%s': a policy hash is up to 16 hex digits "
				 "(idsrctl show --json gives a row's policy_hash)", want);
	if (sqlite3_prepare_v2(db, "SELECT hash, text, source, first_ns FROM policies WHERE"
			       " substr(hash, 1, length(?1)) = ?1 ORDER BY hash LIMIT 2", -1, st, NULL) != SQLITE_OK)
		return cli_error("policy show: reading %s: %s", path, sqlite3_errmsg(db));
	sqlite3_bind_text(*st, 1, want, -1, SQLITE_STATIC);
	rc = sqlite3_step(*st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(*st);
		return cli_error("policy show: no policy %s in %s (its policies table holds every version "
				 "a boot ran under)", want, path);
	}
	if (strlen(want) < 16) {
		char first[17];

		snprintf(first, sizeof(first), "%s", (const char *)sqlite3_column_text(*st, 0));
		if (sqlite3_step(*st) == SQLITE_ROW) {
			cli_error("policy show: `%s' is the start of %s and %s at least: give more digits",
				  want, first, (const char *)sqlite3_column_text(*st, 0));
			sqlite3_finalize(*st);
			return CLI_ERROR;
		}
		sqlite3_reset(*st);
		sqlite3_step(*st);
	}
	return 0;
}

int policy_show_version(const char *want, const char *db_opt, const char *control, enum policy_show_form form)
{
	struct cli_trace_arg trace;
	struct policy_error err;
	struct policy *p = NULL;
	const char *hash, *text, *source;
	sqlite3_stmt *st;
	sqlite3 *db;
	char when[32], why[512];
	time_t t;
	struct tm tm;
	int ret = CLI_ERROR;

	if (cli_trace_arg("policy show", NULL, db_opt, control, &trace) < 0 ||
	    cli_trace_open("policy show", &trace, &db, NULL) < 0)
		return CLI_ERROR;
	if (version_find(db, trace.path, want, &st)) {
		db_close(db);
		return CLI_ERROR;
	}
	hash = (const char *)sqlite3_column_text(st, 0);
	text = (const char *)sqlite3_column_text(st, 1);
	source = sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "";
	if (form == POLICY_SHOW_TEXT) {
		fputs(text, stdout);
		ret = CLI_OK;
		goto out;
	}
	if (policy_parse(text, strlen(text), source, &p, &err) < 0) {
		cli_error("policy show: policy %s does not parse with this idsrctl (%s): --text prints it",
			  hash, policy_error_format(&err, why, sizeof(why)));
		goto out;
	}
	if (form == POLICY_SHOW_HUMAN) {
		t = (time_t)(sqlite3_column_int64(st, 3) / 1000000000);
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("policy %s from %s, first in force %s\n\n%5s  %s\n", hash, source, when, "line", "rule");
		for (size_t i = 0; i < policy_rule_count(p); i++)
			printf("%5d  %s\n", policy_rule_at(p, i)->line, policy_rule_at(p, i)->text);
		printf("\n--- text ---\n%s", text);
		if (*text && text[strlen(text) - 1] != '\n')
			putchar('\n');
	} else {
		if (form == POLICY_SHOW_JSON)
			json_list_begin(stdout);
		for (size_t i = 0; i < policy_rule_count(p); i++) {
			struct json j;

			json_begin(&j, stdout);
			json_uint(&j, "index", i + 1);
			json_int(&j, "line", policy_rule_at(p, i)->line);
			json_str(&j, "text", policy_rule_at(p, i)->text);
			json_str(&j, "source", source);
			json_str(&j, "policy_hash", hash);
			json_end(&j);
		}
		json_list_end();
	}
	ret = CLI_OK;
out:
	policy_free(p);
	sqlite3_finalize(st);
	db_close(db);
	return ret;
}

/* check and learn work offline; the others talk to the daemon (cli/policy_ctl.c). */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} policy_subcommands[] = {
	{ "show", policy_show_main, "Shows the live policy: rules, where they came from, hit counts" },
	{ "load", policy_load_main, "Checks a file and makes it the live policy; prints what changed" },
	{ "set", policy_set_main, "Adds one rule to the live policy, before the catch-all rules" },
	{ "unset", policy_unset_main, "Removes rule N from the live policy" },
	{ "reload", policy_reload_main, "Makes idsrd re-read its --policy file" },
	{ "check", policy_check_main, "Parses a policy file offline and reports its first error" },
	{ "learn", policy_learn_main, "Writes a policy that answers as recorded boots were answered" },
};
#define NSUBCOMMANDS (sizeof(policy_subcommands) / sizeof(policy_subcommands[0]))

static void policy_usage(FILE *f)
{
	fprintf(f, "Usage: idsrctl policy <command> [options]\n\n"
		   "Works with idsrd's policy (the language is in idsrd-policy(5)).\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", policy_subcommands[i].name, policy_subcommands[i].help);
	fprintf(f, "\nEvery command takes --help.\n");
}

int policy_main(int argc, char **argv)
{
	if (argc < 2) {
		policy_usage(stderr);
		return CLI_ERROR;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		policy_usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		if (!strcmp(argv[1], policy_subcommands[i].name))
			return policy_subcommands[i].fn(argc - 1, argv + 1);
	return cli_error("policy: unknown subcommand `%s' (try idsrctl policy --help)", argv[1]);
}
