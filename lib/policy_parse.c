/* SPDX-License-Identifier: MIT */
/* The policy language's parser: reads a policy text line by line into rules
 * (selector, qualifiers, action) with FILE:LINE:COLUMN errors; policy.c
 * compiles what it reads and answers accesses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "number.h"
#include "policy_parser.h"
#include "policy_rules.h"
#include "regnames.h"

/*
 * The language is idsrd-policy(5) (docs/design.md, section 5): one rule a line, `#` starts
 * a comment, the first rule that matches an access answers it:
 *
 *   SELECTOR [read|write] [el=N] [vcpu=N] [pc=A-B]  ACTION [ARGS]
 *
 * Two directives, each alone on its line:
 *   impl NAME   register names in the rules are looked up in NAME's table
 *               (once, before the first rule: names are resolved as rules are
 *               read).
 *   allow-el0   lets EL0 accesses reach the rules. Without it every EL0 access
 *               is UNDEF (POLICY_RULE_EL0) whatever the rules say, as the
 *               kernel discussion requires; being a line of the text, the
 *               relaxation is part of the policy hash every boot records.
 *               (A rule with `el=0' in a policy without it is legal and never
 *               answers: EL0 is UNDEF whatever the policy says.)
 */

int policy_fail(struct parser *ps, int column, const char *fmt, ...)
{
	va_list ap;

	ps->err->line = ps->lineno;
	ps->err->column = column;
	va_start(ap, fmt);
	vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool next_token(struct parser *ps, struct token *t)
{
	while (ps->pos < ps->len && is_blank(ps->line[ps->pos]))
		ps->pos++;
	if (ps->pos >= ps->len)
		return false;
	t->s = ps->line + ps->pos;
	t->column = (int)ps->pos + 1;
	while (ps->pos < ps->len && !is_blank(ps->line[ps->pos]))
		ps->pos++;
	t->n = (size_t)(ps->line + ps->pos - t->s);
	return true;
}

/* The column just past the line's last token: where a missing word belongs. */
static int end_column(const struct parser *ps)
{
	size_t n = ps->len;

	while (n > 0 && is_blank(ps->line[n - 1]))
		n--;
	return (int)n + 1;
}

static bool token_is(const struct token *t, const char *word)
{
	return t->n == strlen(word) && !memcmp(t->s, word, t->n);
}

bool policy_token_has_prefix(const struct token *t, const char *prefix)
{
	size_t n = strlen(prefix);

	return t->n >= n && !memcmp(t->s, prefix, n);
}

int policy_qlen(size_t n)
{
	return n > QUOTE_MAX ? QUOTE_MAX : (int)n;
}

/* ---- numbers ------------------------------------------------------------ */

/* A number at column; after names what it follows, for an empty one. */
static int number(struct parser *ps, const char *s, size_t n, int column,
		  const char *after, size_t after_len, uint64_t *out)
{
	int ret;

	if (n == 0)
		return policy_fail(ps, column, "expected a number after `%.*s', got nothing", policy_qlen(after_len), after);
	ret = num_parse_u64(s, n, out);
	if (ret == -ERANGE)
		return policy_fail(ps, column, "number `%.*s' does not fit in 64 bits", policy_qlen(n), s);
	if (ret < 0)
		return policy_fail(ps, column, "bad number `%.*s': expected decimal or 0x-prefixed hex",
			    policy_qlen(n), s);
	return 0;
}

/* ---- qualifiers and actions --------------------------------------------- */

static const struct {
	const char *name;
	enum policy_action action;
	const char *options;		/* for messages; NULL: takes none */
} actions[] = {
	{ "undef", POLICY_UNDEF, NULL },
	{ "raz-wi", POLICY_RAZ_WI, NULL },
	{ "value", POLICY_VALUE, NULL },
	{ "ignore", POLICY_IGNORE, NULL },
	{ "storage", POLICY_STORAGE, "init=V, wmask=M or scope=vcpu|vm" },
	{ "counter", POLICY_COUNTER, "start=V, step=S or scope=vcpu|vm" },
	{ "random", POLICY_RANDOM, "seed=S or scope=vcpu|vm" },
};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static const char actions_expected[] =
	"an action (undef, raz-wi, value, ignore, storage, counter, random)";

static int find_action(const struct token *t)
{
	for (size_t i = 0; i < NACTIONS; i++)
		if (token_is(t, actions[i].name))
			return (int)i;
	return -1;
}

bool policy_is_keyword(const struct token *t)
{
	return find_action(t) >= 0 || token_is(t, "read") || token_is(t, "write");
}

enum { SEEN_DIR = 1, SEEN_EL = 2, SEEN_VCPU = 4, SEEN_PC = 8 };

static int duplicate(struct parser *ps, const struct token *t, unsigned *seen, unsigned flag,
		     const char *what)
{
	if (*seen & flag)
		return policy_fail(ps, t->column, "duplicate qualifier `%.*s': this rule already gives %s",
			    policy_qlen(t->n), t->s, what);
	*seen |= flag;
	return 0;
}

static int parse_pc(struct parser *ps, const struct token *t, struct compiled_rule *cr)
{
	const char *v = t->s + 3, *dash = memchr(v, '-', t->n - 3);
	size_t n = t->n - 3, lon = dash ? (size_t)(dash - v) : n;
	int ret;

	ret = number(ps, v, lon, t->column + 3, t->s, 3, &cr->rule.pc_lo);
	if (ret < 0)
		return ret;
	cr->rule.pc_hi = cr->rule.pc_lo;
	if (dash) {
		ret = number(ps, dash + 1, n - lon - 1, t->column + 4 + (int)lon, t->s, 4 + lon, &cr->rule.pc_hi);
		if (ret < 0)
			return ret;
		if (cr->rule.pc_lo > cr->rule.pc_hi)
			return policy_fail(ps, t->column + 3, "bad range `%.*s' in `pc=': the low end is above the high end",
				    policy_qlen(n), v);
	}
	cr->rule.has_pc = true;
	return 0;
}

/* Returns 1 if t is a qualifier (and records it), 0 if not, or -EINVAL. */
static int parse_qualifier(struct parser *ps, const struct token *t, struct compiled_rule *cr, unsigned *seen)
{
	struct policy_rule *r = &cr->rule;
	uint64_t v = 0;
	int ret;

	if (token_is(t, "read") || token_is(t, "write")) {
		ret = duplicate(ps, t, seen, SEEN_DIR, "read or write");
		r->dir = token_is(t, "read") ? POLICY_READ : POLICY_WRITE;
	} else if (policy_token_has_prefix(t, "el=")) {
		ret = duplicate(ps, t, seen, SEEN_EL, "el=");
		if (!ret)
			ret = number(ps, t->s + 3, t->n - 3, t->column + 3, t->s, 3, &v);
		if (!ret && v > 3)
			ret = policy_fail(ps, t->column + 3, "bad exception level `%.*s': expected 0, 1, 2 or 3",
				   policy_qlen(t->n - 3), t->s + 3);
		r->el = (int)v;
	} else if (policy_token_has_prefix(t, "vcpu=")) {
		ret = duplicate(ps, t, seen, SEEN_VCPU, "vcpu=");
		if (!ret)
			ret = number(ps, t->s + 5, t->n - 5, t->column + 5, t->s, 5, &v);
		if (!ret && v > UINT32_MAX)
			ret = policy_fail(ps, t->column + 5, "bad vCPU `%.*s': expected 0 to 4294967295",
				   policy_qlen(t->n - 5), t->s + 5);
		r->vcpu = (int64_t)v;
	} else if (policy_token_has_prefix(t, "pc=")) {
		ret = duplicate(ps, t, seen, SEEN_PC, "pc=");
		if (!ret)
			ret = parse_pc(ps, t, cr);
	} else if (memchr(t->s, '=', t->n)) {
		return policy_fail(ps, t->column, "unknown qualifier `%.*s': expected read, write, el=N, vcpu=N "
			    "or pc=A-B before the action", policy_qlen(t->n), t->s);
	} else {
		return 0;
	}
	return ret < 0 ? ret : 1;
}

static int parse_scope(struct parser *ps, const struct token *t, size_t vofs, struct policy_rule *r)
{
	const char *v = t->s + vofs;
	size_t n = t->n - vofs;

	if (n == 4 && !memcmp(v, "vcpu", 4))
		r->scope_vm = false;
	else if (n == 2 && !memcmp(v, "vm", 2))
		r->scope_vm = true;
	else
		return policy_fail(ps, t->column + (int)vofs, "bad scope `%.*s': expected scope=vcpu or scope=vm",
			    policy_qlen(n), v);
	return 0;
}

/* storage/counter/random options: name=value, each at most once. */
static int parse_options(struct parser *ps, int ai, struct policy_rule *r)
{
	struct token t;
	unsigned seen = 0;

	while (next_token(ps, &t)) {
		const char *eq = memchr(t.s, '=', t.n);
		size_t kn = eq ? (size_t)(eq - t.s) + 1 : 0;
		unsigned flag = 0;
		uint64_t *dest = NULL;
		int ret;

		if (kn == 6 && !memcmp(t.s, "scope=", 6))
			flag = 1;
		else if (r->action == POLICY_STORAGE && kn == 5 && !memcmp(t.s, "init=", 5))
			flag = 2, dest = &r->value;
		else if (r->action == POLICY_STORAGE && kn == 6 && !memcmp(t.s, "wmask=", 6))
			flag = 4, dest = &r->wmask;
		else if (r->action == POLICY_COUNTER && kn == 6 && !memcmp(t.s, "start=", 6))
			flag = 2, dest = &r->value;
		else if (r->action == POLICY_COUNTER && kn == 5 && !memcmp(t.s, "step=", 5))
			flag = 4, dest = &r->step;
		else if (r->action == POLICY_RANDOM && kn == 5 && !memcmp(t.s, "seed=", 5))
			flag = 2, dest = &r->seed, r->has_seed = true;
		else
			return policy_fail(ps, t.column, "unknown option `%.*s' for %s: expected %s",
				    policy_qlen(t.n), t.s, actions[ai].name, actions[ai].options);
		if (seen & flag)
			return policy_fail(ps, t.column, "duplicate option `%.*s' for %s", policy_qlen(t.n), t.s,
				    actions[ai].name);
		seen |= flag;
		ret = dest ? number(ps, t.s + kn, t.n - kn, t.column + (int)kn, t.s, kn, dest)
			   : parse_scope(ps, &t, kn, r);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int junk(struct parser *ps, const struct token *t, const char *after)
{
	return policy_fail(ps, t->column, "unexpected `%.*s' after `%s': one rule a line (comments start with #)",
		    policy_qlen(t->n), t->s, after);
}

static int parse_action(struct parser *ps, const struct token *t, struct compiled_rule *cr)
{
	struct policy_rule *r = &cr->rule;
	int ai = find_action(t);
	struct token v;

	if (ai < 0)
		return policy_fail(ps, t->column, "expected %s, got `%.*s'", actions_expected, policy_qlen(t->n), t->s);
	r->action = actions[ai].action;
	switch (r->action) {
	case POLICY_IGNORE:
		if (r->dir != POLICY_WRITE)
			return policy_fail(ps, t->column, "`ignore' is for write rules only: add `write' before it, "
				    "or answer reads with raz-wi or value V");
		break;
	case POLICY_VALUE:
		if (!next_token(ps, &v))
			return policy_fail(ps, end_column(ps), "expected a value after `value', got end of line");
		if (number(ps, v.s, v.n, v.column, "value", 5, &r->value) < 0)
			return -EINVAL;
		break;
	case POLICY_STORAGE:
	case POLICY_COUNTER:
	case POLICY_RANDOM:
		return parse_options(ps, ai, r);
	default:
		break;
	}
	if (next_token(ps, &v))
		return junk(ps, &v, r->action == POLICY_VALUE ? "value V" : actions[ai].name);
	return 0;
}

/* ---- lines -------------------------------------------------------------- */

static int add_rule(struct policy *p, struct compiled_rule **out)
{
	if (p->nrules == p->rules_cap) {
		size_t cap = p->rules_cap ? p->rules_cap * 2 : 16;
		struct compiled_rule *r = realloc(p->rules, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		p->rules = r;
		p->rules_cap = cap;
	}
	*out = &p->rules[p->nrules];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static int parse_rule(struct parser *ps, const struct token *first)
{
	struct compiled_rule *cr;
	struct token t;
	unsigned seen = 0;
	int ret;

	ret = add_rule(ps->p, &cr);
	if (ret < 0) {
		policy_fail(ps, 0, "out of memory");
		return -ENOMEM;
	}
	cr->rule.line = ps->lineno;
	cr->rule.el = -1;
	cr->rule.vcpu = -1;
	cr->rule.wmask = UINT64_MAX;
	cr->rule.step = 1;
	ret = policy_parse_selector(ps, first, &cr->sel);
	if (ret < 0)
		return ret;
	for (;;) {
		if (!next_token(ps, &t))
			return policy_fail(ps, end_column(ps), "expected %s, got end of line", actions_expected);
		ret = parse_qualifier(ps, &t, cr, &seen);
		if (ret < 0)
			return ret;
		if (ret == 0)
			break;
	}
	ret = parse_action(ps, &t, cr);
	if (ret < 0)
		return ret;
	/* The rule's text: the line without comment or surrounding blanks. */
	while (ps->len > 0 && is_blank(ps->line[ps->len - 1]))
		ps->len--;
	ps->line[ps->len] = 0;
	cr->rule.text = first->s;
	if (!ps->first_rule_line)
		ps->first_rule_line = ps->lineno;
	ps->p->nrules++;
	return 0;
}

static int parse_impl(struct parser *ps, const struct token *kw)
{
	struct token t, extra;
	char known[512] = "";

	if (!next_token(ps, &t))
		return policy_fail(ps, end_column(ps), "expected an implementation name after `impl', got end of line");
	if (ps->impl_line)
		return policy_fail(ps, kw->column, "duplicate `impl': the implementation is already %s (line %d)",
			    ps->p->impl, ps->impl_line);
	if (ps->first_rule_line)
		return policy_fail(ps, kw->column, "`impl' must come before the first rule (line %d): "
			    "names are looked up as rules are read", ps->first_rule_line);
	ps->p->impl = strndup(t.s, t.n);
	if (!ps->p->impl) {
		policy_fail(ps, 0, "out of memory");
		return -ENOMEM;
	}
	if (!regnames_impl_known(ps->p->impl)) {
		/* List what the table knows, so the fix is in the message. */
		const char *impls[64];
		size_t n = regnames_impls(impls, 64);

		for (size_t i = 0; i < n && i < 64; i++)
			snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
				 i ? ", " : "", impls[i]);
		return policy_fail(ps, t.column, "unknown implementation `%.*s': expected one of %s",
			    policy_qlen(t.n), t.s, known);
	}
	ps->impl_line = ps->lineno;
	if (next_token(ps, &extra))
		return junk(ps, &extra, "impl NAME");
	return 0;
}

static int parse_line(struct parser *ps)
{
	struct token t;
	char *nul = memchr(ps->line, 0, ps->len), *hash;

	/* Even in a comment: policy_text() is a C string, and the store keeps it. */
	if (nul)
		return policy_fail(ps, (int)(nul - ps->line) + 1, "unexpected NUL byte: a policy is text");
	hash = memchr(ps->line, '#', ps->len);
	if (hash)
		ps->len = (size_t)(hash - ps->line);
	ps->pos = 0;
	if (!next_token(ps, &t))
		return 0;
	if (token_is(&t, "impl"))
		return parse_impl(ps, &t);
	if (token_is(&t, "allow-el0")) {
		struct token extra;

		ps->p->allow_el0 = true;
		if (next_token(ps, &extra))
			return junk(ps, &extra, "allow-el0 (it takes no arguments)");
		return 0;
	}
	return parse_rule(ps, &t);
}

int policy_parse_lines(struct policy *p, size_t len, struct policy_error *err)
{
	struct parser ps = { .p = p, .err = err };
	char *s, *end, *nl;
	int ret;

	for (s = p->lines, end = p->lines + len;; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		ps.lineno++;
		ps.line = s;
		ps.len = (size_t)((nl ? nl : end) - s);
		ret = parse_line(&ps);
		if (ret < 0)
			return ret;
		if (!nl)
			return 0;
	}
}

const char *policy_action_name(enum policy_action action)
{
	for (size_t i = 0; i < NACTIONS; i++)
		if (actions[i].action == action)
			return actions[i].name;
	return "?";
}
