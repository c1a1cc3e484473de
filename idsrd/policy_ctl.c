/* SPDX-License-Identifier: MIT */
/* Policy requests on the control socket: show the live policy with hit counts, load, set or unset a rule, reload. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "daemon.h"
#include "encoding.h"
#include "log.h"
#include "policy_ctl.h"

#define POLICY_CTL_EDITED	POLICY_SOURCE_EDITED

/* Where each rule of the live policy came from ("FILE:LINE", or who set it).
 * Kept for one policy hash; every change happens on the main loop. */
static char **origins;
static size_t norigins;
static char origins_hash[17];

static void origins_clear(void)
{
	for (size_t i = 0; i < norigins; i++)
		free(origins[i]);
	free(origins);
	origins = NULL;
	norigins = 0;
	origins_hash[0] = 0;
}

/* Takes ownership of list (n entries) as the origins of policy p. */
static void origins_set(const struct policy *p, char **list, size_t n)
{
	origins_clear();
	origins = list;
	norigins = n;
	snprintf(origins_hash, sizeof(origins_hash), "%s", policy_hash(p));
}

/* The origin of rule i of p: recorded, else its line in p's source. */
static const char *origin_of(const struct policy *p, size_t i, char *buf, size_t len)
{
	if (!strcmp(origins_hash, policy_hash(p)) && i < norigins && origins[i])
		return origins[i];
	snprintf(buf, len, "%s:%d", policy_source(p), policy_rule_at(p, i)->line);
	return buf;
}

/* ---- show --------------------------------------------------------------------- */

static void policy_ctl_show(struct control_client *c)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	struct live_policy *lp = daemon_policy_get();
	size_t n = policy_rule_count(lp->policy);
	Idsr__V1__PolicyRule *rules = calloc(n ? n : 1, sizeof(*rules));
	Idsr__V1__PolicyRule **rp = calloc(n ? n : 1, sizeof(*rp));
	char (*bufs)[64] = calloc(n ? n : 1, sizeof(*bufs));

	if (!rules || !rp || !bufs) {
		control_fail(c, "idsrd is out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct policy_rule *pr = policy_rule_at(lp->policy, i);

		idsr__v1__policy_rule__init(&rules[i]);
		rp[i] = &rules[i];
		rules[i].index = (uint32_t)i + 1;
		rules[i].line = pr->line;
		rules[i].text = (char *)pr->text;
		rules[i].origin = (char *)origin_of(lp->policy, i, bufs[i], sizeof(bufs[i]));
		rules[i].hits = (size_t)pr->line < lp->nhits ? atomic_load(&lp->hits[pr->line]) : 0;
	}
	r.ok = true;
	r.policy_text = (char *)policy_text(lp->policy);
	r.policy_hash = (char *)policy_hash(lp->policy);
	r.policy_source = (char *)policy_source(lp->policy);
	r.policy_since_ns = lp->since_ns;
	r.hits_default = atomic_load(&lp->hits[POLICY_RULE_DEFAULT]);
	r.hits_el0 = atomic_load(&lp->hits_el0);
	r.n_rules = n;
	r.rules = rp;
	control_reply(c, &r);
out:
	free(bufs);
	free(rp);
	free(rules);
	daemon_policy_put(lp);
}

/* ---- changes ------------------------------------------------------------------- */

/* Rules of a that are not in b (as a multiset of rule texts), as "<mark> line N: text" lines. */
static size_t rules_missing(FILE *out, char mark, const struct policy *a, const struct policy *b)
{
	size_t na = policy_rule_count(a), nb = policy_rule_count(b), missing = 0;
	bool *used = calloc(nb ? nb : 1, sizeof(*used));

	for (size_t i = 0; i < na && used; i++) {
		const struct policy_rule *ra = policy_rule_at(a, i);
		size_t j;

		for (j = 0; j < nb; j++)
			if (!used[j] && !strcmp(ra->text, policy_rule_at(b, j)->text))
				break;
		if (j < nb) {
			used[j] = true;
		} else {
			fprintf(out, "\n%c line %d: %s", mark, ra->line, ra->text);
			missing++;
		}
	}
	free(used);
	return missing;
}

static const char *impl_or_none(const struct policy *p)
{
	return policy_impl(p) ? policy_impl(p) : "(none)";
}

/* What changed from old to new, for people: counts, then each rule. */
static char *policy_ctl_changes(const struct policy *old, const struct policy *new)
{
	char *text = NULL, *removed = NULL, *added = NULL;
	size_t len = 0, rlen = 0, alen = 0, nr, na;
	FILE *f = open_memstream(&text, &len);
	FILE *rf = open_memstream(&removed, &rlen);
	FILE *af = open_memstream(&added, &alen);

	if (!f || !rf || !af) {
		if (f)
			fclose(f);
		if (rf)
			fclose(rf);
		if (af)
			fclose(af);
		free(text);
		free(removed);
		free(added);
		return NULL;
	}
	nr = rules_missing(rf, '-', old, new);
	na = rules_missing(af, '+', new, old);
	fclose(rf);
	fclose(af);
	if (!strcmp(policy_hash(old), policy_hash(new)))
		fprintf(f, "policy %s unchanged (%zu rules)", policy_hash(new), policy_rule_count(new));
	else
		fprintf(f, "policy %s -> %s: %zu rule%s added, %zu removed, %zu in force",
			policy_hash(old), policy_hash(new), na, na == 1 ? "" : "s", nr,
			policy_rule_count(new));
	if (strcmp(impl_or_none(old), impl_or_none(new)))
		fprintf(f, "\n~ impl %s -> %s", impl_or_none(old), impl_or_none(new));
	if (policy_allows_el0(old) != policy_allows_el0(new))
		fprintf(f, "\n~ allow-el0 %s", policy_allows_el0(new) ? "added: EL0 accesses reach the rules" :
			"removed: EL0 accesses are UNDEF");
	fputs(removed, f);
	fputs(added, f);
	fclose(f);
	free(removed);
	free(added);
	return text;
}

/* An edit keeps the counts of the rules it keeps: rule i of `from' is rule
 * i, or i + delta from `at' on, of `to'. (A connection's thread still on `from' for one
 * more access may count it there: a count, not a ledger.) */
static void hits_carry(struct live_policy *from, struct live_policy *to, size_t at, int delta)
{
	size_t n = policy_rule_count(from->policy);

	for (size_t i = 0; i < n; i++) {
		size_t j = i < at ? i : i + (size_t)(ssize_t)delta;
		int lf = policy_rule_at(from->policy, i)->line;
		const struct policy_rule *rt = policy_rule_at(to->policy, j);

		if ((delta < 0 && i == at) || !rt || (size_t)lf >= from->nhits || (size_t)rt->line >= to->nhits)
			continue;
		atomic_fetch_add(&to->hits[rt->line], atomic_load(&from->hits[lf]));
	}
	atomic_fetch_add(&to->hits[POLICY_RULE_DEFAULT], atomic_load(&from->hits[POLICY_RULE_DEFAULT]));
	atomic_fetch_add(&to->hits_el0, atomic_load(&from->hits_el0));
	to->since_ns = from->since_ns;
}

/* Installs p for c and answers with what changed; list: p's rule origins
 * (owned); an edit (delta +1 set, -1 unset at rule `at') keeps hit counts. */
static void policy_ctl_install(struct control_client *c, struct policy *p, const char *how,
			       char **list, size_t n, size_t at, int delta, const char *note)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	const struct boot_peer *peer = control_peer(c);
	struct live_policy *old = daemon_policy_get();
	char *changes = policy_ctl_changes(old->policy, p);
	char hash[17];

	snprintf(hash, sizeof(hash), "%s", policy_hash(p));
	log_info("policy %s by uid %lld (pid %lld): %s", how, (long long)peer->uid, (long long)peer->pid,
		 changes ? changes : hash);
	daemon_policy_install(p, how, peer);
	origins_set(p, list, n);
	if (delta) {
		/* Installs happen on this loop only: the live one is p's. */
		struct live_policy *now = daemon_policy_get();

		hits_carry(old, now, at, delta);
		daemon_policy_put(now);
	}
	r.ok = true;
	r.message = changes ? changes : (char *)"policy changed";
	if (changes && note && *note) {
		char *both = NULL;

		if (asprintf(&both, "%s\n%s", changes, note) >= 0) {
			free(changes);
			r.message = changes = both;
		}
	}
	r.policy_hash = hash;
	control_reply(c, &r);
	free(changes);
	daemon_policy_put(old);
}

/* "set by uid U (pid P) at YYYY-mm-dd HH:MM:SS" */
static char *origin_set_by(struct control_client *c)
{
	const struct boot_peer *peer = control_peer(c);
	time_t now = time(NULL);
	char when[32], *s = NULL;
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (asprintf(&s, "set by uid %lld (pid %lld) at %s", (long long)peer->uid,
		     (long long)peer->pid, when) < 0)
		return NULL;
	return s;
}

/* Origins for a new policy: old's, with one inserted at `at' (set) or
 * removed at `at' (unset). */
static char **origins_edit(const struct policy *old, size_t at, char *inserted, bool remove, size_t *n)
{
	size_t nold = policy_rule_count(old), nnew = remove ? nold - 1 : nold + 1, j = 0;
	char **list = calloc(nnew ? nnew : 1, sizeof(*list)), buf[64];

	if (!list) {
		free(inserted);
		return NULL;
	}
	for (size_t i = 0; i <= nold && j < nnew; i++) {
		if (i == at && !remove)
			list[j++] = inserted;
		if (i == nold || (i == at && remove))
			continue;
		list[j++] = strdup(origin_of(old, i, buf, sizeof(buf)));
	}
	*n = nnew;
	return list;
}

/* text with line `line' (1-based) removed, or with `insert' put before it
 * (a line past the end appends); *at: the line it lands on. */
static char *text_edit(const char *text, int line, const char *insert, int *at)
{
	const char *p = text;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	int l;

	for (l = 1; l < line && *p; l++) {
		const char *nl = strchr(p, '\n');

		p = nl ? nl + 1 : p + strlen(p);
	}
	*at = l;
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fwrite(text, 1, (size_t)(p - text), f);
	if (p > text && p[-1] != '\n')
		fputc('\n', f);
	if (insert) {
		fprintf(f, "%s\n", insert);
		fputs(p, f);
	} else {
		const char *nl = strchr(p, '\n');

		fputs(nl ? nl + 1 : "", f);
	}
	fclose(f);
	return out;
}

static bool catch_all(const struct policy_rule *r)
{
	return r->text[0] == '*' && (r->text[1] == 0 || r->text[1] == ' ' || r->text[1] == '\t') &&
	       r->dir == POLICY_ANY && r->el < 0 && r->vcpu < 0 && !r->has_pc;
}

/* First match wins: say so when a set rule comes after one that answers its
 * registers already (the catch-all aside, earlier rules stay in front). */
static void shadow_note(const struct policy *p, size_t at, const char *rule, char *note, size_t len)
{
	struct policy_shadow sh;

	note[0] = 0;
	if (policy_rule_shadow(p, at, &sh) < 0)
		return;
	if (sh.shadowed == sh.named && sh.named)
		snprintf(note, len, "note: the new rule never answers: line %d (`%s') comes first for every "
			 "access it names; put it first (policy set --first), unset that rule, or edit the "
			 "file and `policy load' it", sh.by->line, sh.by->text);
	else if (sh.shadowed)
		snprintf(note, len, "note: line %d (`%s') and other earlier rules come first for %zu of the "
			 "%zu registers the new rule names", sh.by->line, sh.by->text, sh.shadowed, sh.named);
}

/* Adds rule before rule number `before' (1-based as policy show numbers them;
 * 0: before the trailing run of `*' rules, else at the end). A directive
 * (allow-el0, impl) is added the same way when it changes the policy. */
static void policy_ctl_set(struct control_client *c, const char *rule, uint32_t before)
{
	struct live_policy *lp = daemon_policy_get();
	const struct policy *old = lp->policy;
	size_t n = policy_rule_count(old), at = n, norig = 0;
	struct policy_error err;
	struct policy *p = NULL;
	char msg[768], note[512], *text = NULL, **list;
	int line, at_line;

	if (!*rule || strchr(rule, '\n')) {
		control_fail(c, "policy set takes one rule on one line");
		goto out;
	}
	if (before > n) {
		snprintf(msg, sizeof(msg), "policy set --before %u: the policy has %zu rule%s (idsrctl policy "
			 "show numbers them)", before, n, n == 1 ? "" : "s");
		control_fail(c, msg);
		goto out;
	}
	if (before) {
		at = before - 1;
	} else {
		/* Before the trailing run of `*' rules, else at the end. */
		while (at > 0 && catch_all(policy_rule_at(old, at - 1)))
			at--;
	}
	line = at < n ? policy_rule_at(old, at)->line : INT32_MAX;
	text = text_edit(policy_text(old), line, rule, &at_line);
	if (!text) {
		control_fail(c, "idsrd is out of memory");
		goto out;
	}
	if (policy_parse(text, strlen(text), POLICY_CTL_EDITED, &p, &err) < 0) {
		if (err.line == at_line)
			snprintf(msg, sizeof(msg), "rule `%s': column %d: %s", rule, err.column, err.message);
		else
			policy_error_format(&err, msg, sizeof(msg));
		control_fail(c, msg);
		goto out;
	}
	if (policy_rule_count(p) == n && (policy_allows_el0(p) != policy_allows_el0(old) ||
					  strcmp(policy_impl(p) ? policy_impl(p) : "", policy_impl(old) ? policy_impl(old) : ""))) {
		/* a directive: the rules stay, with their origins */
		list = origins_edit(old, n, NULL, false, &norig);
		policy_ctl_install(c, p, "set", list, n, 0, 0, NULL);
		goto out;
	}
	if (policy_rule_count(p) != n + 1) {
		snprintf(msg, sizeof(msg), policy_rule_count(p) == n ?
			 "`%s' changes nothing: the policy says so already" :
			 "`%s' is not a rule: expected SELECTOR [read|write] [el=N] "
			 "[vcpu=N] [pc=A-B] ACTION [ARGS], or a directive (allow-el0, impl NAME)", rule);
		control_fail(c, msg);
		policy_free(p);
		goto out;
	}
	list = origins_edit(old, at, origin_set_by(c), false, &norig);
	shadow_note(p, at, rule, note, sizeof(note));
	policy_ctl_install(c, p, "set", list, norig, at, 1, note);
out:
	free(text);
	daemon_policy_put(lp);
}

static void policy_ctl_unset(struct control_client *c, uint32_t index)
{
	struct live_policy *lp = daemon_policy_get();
	const struct policy *old = lp->policy;
	size_t n = policy_rule_count(old), norig = 0;
	struct policy_error err;
	struct policy *p = NULL;
	char msg[768], *text = NULL, **list;
	int at_line;

	if (index < 1 || index > n) {
		snprintf(msg, sizeof(msg), "there is no rule %u: the live policy has %zu rule%s "
			 "(idsrctl policy show numbers them)", index, n, n == 1 ? "" : "s");
		control_fail(c, msg);
		goto out;
	}
	text = text_edit(policy_text(old), policy_rule_at(old, index - 1)->line, NULL, &at_line);
	if (!text) {
		control_fail(c, "idsrd is out of memory");
		goto out;
	}
	if (policy_parse(text, strlen(text), POLICY_CTL_EDITED, &p, &err) < 0) {
		/* Removing the last rule after `impl' cannot break a parse, but
		 * say what happened rather than assume. */
		control_fail(c, policy_error_format(&err, msg, sizeof(msg)));
		goto out;
	}
	list = origins_edit(old, index - 1, NULL, true, &norig);
	policy_ctl_install(c, p, "unset", list, norig, index - 1, -1, NULL);
out:
	free(text);
	daemon_policy_put(lp);
}

static void policy_ctl_load(struct control_client *c, const Idsr__V1__PolicyRequest *req)
{
	const char *source = req->source && *req->source ? req->source : "(idsrctl)";
	struct policy_error err;
	struct policy *p;
	char msg[768];

	if (policy_parse(req->text, strlen(req->text), source, &p, &err) < 0) {
		control_fail(c, policy_error_format(&err, msg, sizeof(msg)));
		return;
	}
	policy_ctl_install(c, p, "load", NULL, 0, 0, 0, NULL);
}

static void policy_ctl_reload(struct control_client *c)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	struct live_policy *old = daemon_policy_get(), *now;
	char why[768], *changes;

	if (daemon_policy_reload("reload", why, sizeof(why)) < 0) {
		control_fail(c, why);
		daemon_policy_put(old);
		return;
	}
	now = daemon_policy_get();
	changes = policy_ctl_changes(old->policy, now->policy);
	r.ok = true;
	r.message = changes ? changes : (char *)"policy reloaded";
	r.policy_hash = (char *)policy_hash(now->policy);
	control_reply(c, &r);
	free(changes);
	daemon_policy_put(now);
	daemon_policy_put(old);
}

void policy_ctl_request(struct control_client *c, const Idsr__V1__PolicyRequest *req)
{
	char why[256];

	if (req->op != IDSR__V1__POLICY_REQUEST__OP__SHOW && !control_may_change_policy(c, why, sizeof(why))) {
		control_fail(c, why);
		return;
	}
	switch (req->op) {
	case IDSR__V1__POLICY_REQUEST__OP__SHOW:
		policy_ctl_show(c);
		break;
	case IDSR__V1__POLICY_REQUEST__OP__LOAD:
		policy_ctl_load(c, req);
		break;
	case IDSR__V1__POLICY_REQUEST__OP__SET:
		policy_ctl_set(c, req->text, 0);
		break;
	case IDSR__V1__POLICY_REQUEST__OP__SET_AT:
		if (req->index < 1) {
			control_fail(c, "policy set: a position is a rule number from 1");
			break;
		}
		policy_ctl_set(c, req->text, req->index);
		break;
	case IDSR__V1__POLICY_REQUEST__OP__UNSET:
		policy_ctl_unset(c, req->index);
		break;
	case IDSR__V1__POLICY_REQUEST__OP__RELOAD:
		policy_ctl_reload(c);
		break;
	default:
		control_fail(c, "unknown policy operation (idsrctl and idsrd differ in version?)");
	}
}
