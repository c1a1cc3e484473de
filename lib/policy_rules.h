/* SPDX-License-Identifier: MIT */
/* The compiled form of a policy, shared by its parser (policy_parse.c) and its
 * compiler and matcher (policy.c); nothing outside lib/policy*.c includes it. */
#ifndef IDSR_POLICY_RULES_H
#define IDSR_POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define TABLE_EMPTY	UINT32_MAX	/* no packed key has every bit set */

enum selector_kind { SEL_ANY, SEL_KEY, SEL_AARCH64, SEL_AARCH32, SEL_AARCH32_WIDE };

/* Field ranges, indexed as op0|coproc, op1|opc1, CRn, CRm, op2|opc2. */
#define SEL_FIELDS 5

struct selector {
	enum selector_kind kind;
	uint32_t key;			/* SEL_KEY */
	uint8_t lo[SEL_FIELDS], hi[SEL_FIELDS];
};

struct compiled_rule {
	struct policy_rule rule;
	struct selector sel;
};

struct table_entry {
	uint32_t key;			/* TABLE_EMPTY when free */
	uint32_t first, count;		/* a slice of policy.candidates */
};

struct policy {
	char *text;			/* the text as given, NUL-terminated */
	char *lines;			/* a copy cut into NUL-terminated rule texts */
	char *source;
	char *impl;
	char hash[17];
	bool allow_el0;
	struct compiled_rule *rules;
	size_t nrules, rules_cap;
	uint32_t *candidates;		/* rule indices, sliced per key */
	size_t ncandidates, candidates_cap;
	struct table_entry *table;
	uint32_t table_mask;		/* size - 1; table is NULL when empty */
};

/* Parses p->lines (len bytes, a copy of the text that the parser cuts into the
 * rules' texts) into p->rules and p->impl/allow_el0. Returns 0, -EINVAL or
 * -ENOMEM, with err's line, column and message filled (policy_parse.c). */
int policy_parse_lines(struct policy *p, size_t len, struct policy_error *err);

#endif
