/* SPDX-License-Identifier: MIT */
/* Rules that can never answer: shadowed by earlier ones, outside the trapped space, EL0 without allow-el0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "policy.h"

struct shadow_walk {
	const struct policy *p, *alone;
	const struct policy_rule *rule;
	struct policy_shadow *out;
};

static void shadow_key(uint32_t key, void *arg)
{
	struct shadow_walk *w = arg;
	const struct policy_rule *r = w->rule, *first;
	/* One access the rule's qualifiers accept. */
	struct policy_access a = {
		.key = key, .vcpu = r->vcpu >= 0 ? (uint32_t)r->vcpu : 0, .pc = r->has_pc ? r->pc_lo : 0,
		.el = (uint8_t)(r->el >= 0 ? r->el : 1), .is_write = r->dir == POLICY_WRITE,
	};

	if (!policy_match(w->alone, &a))
		return;
	w->out->named++;
	first = policy_match(w->p, &a);
	if (first && first->line != r->line) {
		w->out->shadowed++;
		if (!w->out->by)
			w->out->by = first;
	}
}

int policy_rule_shadow(const struct policy *p, size_t i, struct policy_shadow *out)
{
	const struct policy_rule *r = policy_rule_at(p, i);
	struct shadow_walk w = { .p = p, .rule = r, .out = out };
	struct policy_error err;
	struct policy *alone;
	char *text = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* The rule alone (with the policy's impl, for names): what it names. */
	if (asprintf(&text, "%s%s%s%s\n", policy_impl(p) ? "impl " : "", policy_impl(p) ? policy_impl(p) : "",
		     policy_impl(p) ? "\n" : "", r->text) < 0)
		return -1;
	rc = policy_parse(text, strlen(text), "rule", &alone, &err);
	free(text);
	if (rc < 0)
		return rc;
	w.alone = alone;
	enc_for_each_idsr(shadow_key, &w);
	policy_free(alone);
	return 0;
}

size_t policy_lint(const struct policy *p, void (*warn)(void *arg, const struct policy_rule *r, const char *msg),
		   void *arg)
{
	size_t n = 0;
	char msg[512];

	for (size_t i = 0; i < policy_rule_count(p); i++) {
		const struct policy_rule *r = policy_rule_at(p, i);
		struct policy_shadow sh;

		msg[0] = 0;
		if (r->el == 0 && !policy_allows_el0(p)) {
			snprintf(msg, sizeof(msg), "never answers: an access from EL0 is UNDEF before any rule "
				 "unless the policy has an `allow-el0' line");
		} else if (policy_rule_shadow(p, i, &sh) == 0 && sh.named == 0) {
			snprintf(msg, sizeof(msg), "never answers: it names no register in the trapped IDSR "
				 "space (HCR_EL2.TIDCP traps op0=3 CRn=11/15 and the AArch32 cp15 c9-c11, c15 "
				 "blocks; `idsrctl decode' tells)");
		} else if (sh.named && sh.shadowed == sh.named) {
			snprintf(msg, sizeof(msg), "never answers: line %d (`%s') comes first for every access "
				 "it names", sh.by->line, sh.by->text);
		}
		if (msg[0]) {
			warn(arg, r, msg);
			n++;
		}
	}
	return n;
}
