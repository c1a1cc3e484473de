/* SPDX-License-Identifier: MIT */
/* Which rule answered a row, for good: the policy version in force at its time, and its line there. */
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "policy.h"

/*
 * A row stores the line of the rule that answered it; lines move when a rule
 * is set or unset, so the line alone names a rule only with the version it is
 * a line of. That version is not stored per row (it would cost the hot insert
 * a column): it is the boot_policies entry of the row's boot with the greatest
 * since_ns <= the row's ts_ns, which idsrd makes exact (daemon_policy_at).
 * The versions' texts are in policies, by hash.
 */

#define RULES_VERSIONS_MAX	64	/* versions kept parsed; more are parsed again */

struct rules_version {
	char hash[17];
	char *source;
	struct policy *policy;		/* NULL: the text is not in this database */
};

struct cli_rules {
	sqlite3 *db;
	sqlite3_stmt *at, *text;
	struct rules_version v[RULES_VERSIONS_MAX];
	size_t n, next;			/* next: the slot to reuse when full */
	struct rules_version miss;	/* a version not (yet) in the database: not kept */
};

struct cli_rules *cli_rules_new(sqlite3 *db)
{
	struct cli_rules *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->db = db;
	if (sqlite3_prepare_v2(db, "SELECT policy_hash FROM boot_policies WHERE boot_id = ?1 AND since_ns <= ?2"
			       " ORDER BY since_ns DESC LIMIT 1", -1, &r->at, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT text, source FROM policies WHERE hash = ?1", -1, &r->text,
			       NULL) != SQLITE_OK) {
		cli_rules_free(r);
		return NULL;
	}
	return r;
}

void cli_rules_free(struct cli_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].source);
		policy_free(r->v[i].policy);
	}
	sqlite3_finalize(r->at);
	sqlite3_finalize(r->text);
	free(r);
}

static const struct rules_version *cli_rules_version(struct cli_rules *r, const char *hash)
{
	struct rules_version *v;
	struct policy_error err;
	const char *text;

	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].hash, hash))
			return &r->v[i];
	sqlite3_bind_text(r->text, 1, hash, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(r->text) != SQLITE_ROW || !sqlite3_column_text(r->text, 0)) {
		/* tail -f may see a version before idsrd has committed its text */
		sqlite3_reset(r->text);
		memset(&r->miss, 0, sizeof(r->miss));
		snprintf(r->miss.hash, sizeof(r->miss.hash), "%s", hash);
		return &r->miss;
	}
	if (r->n < RULES_VERSIONS_MAX) {
		v = &r->v[r->n++];
	} else {
		v = &r->v[r->next];
		r->next = (r->next + 1) % RULES_VERSIONS_MAX;
		free(v->source);
		policy_free(v->policy);
	}
	memset(v, 0, sizeof(*v));
	snprintf(v->hash, sizeof(v->hash), "%s", hash);
	text = (const char *)sqlite3_column_text(r->text, 0);
	v->source = strdup(sqlite3_column_text(r->text, 1) ? (const char *)sqlite3_column_text(r->text, 1) : "");
	/* The text idsrd ran; a parse error (a newer syntax) leaves it unnamed. */
	if (policy_parse(text, strlen(text), v->source ? v->source : "", &v->policy, &err) < 0)
		v->policy = NULL;
	sqlite3_reset(r->text);
	return v;
}

/* The rule of version v at line, or NULL. */
static const struct policy_rule *version_rule(const struct rules_version *v, int line)
{
	size_t n = v->policy ? policy_rule_count(v->policy) : 0;

	for (size_t i = 0; i < n; i++)
		if (policy_rule_at(v->policy, i)->line == line)
			return policy_rule_at(v->policy, i);
	return NULL;
}

void cli_rules_name(struct cli_rules *r, const char *hash, struct cli_access *a)
{
	const struct rules_version *v;
	const struct policy_rule *rule;

	snprintf(a->rule_hash, sizeof(a->rule_hash), "%s", hash);
	if (!r)
		return;
	v = cli_rules_version(r, hash);
	rule = version_rule(v, a->rule);

	snprintf(a->rule_hash, sizeof(a->rule_hash), "%s", v->hash);
	if (v->source && *v->source)
		a->rule_source = v->source;
	a->rule_line = rule ? rule->text : NULL;
}

void cli_rules_resolve(struct cli_rules *r, struct cli_access *a)
{
	const char *hash;

	a->rule_hash[0] = '\0';
	if (!r || a->rule <= 0)
		return;
	sqlite3_bind_int64(r->at, 1, a->boot_id);
	sqlite3_bind_int64(r->at, 2, a->ts_ns);
	if (sqlite3_step(r->at) == SQLITE_ROW && (hash = (const char *)sqlite3_column_text(r->at, 0)))
		cli_rules_name(r, hash, a);
	sqlite3_reset(r->at);
}
