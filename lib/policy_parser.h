/* SPDX-License-Identifier: MIT */
/* The policy parser's state and the helpers its two files share: the lines,
 * qualifiers and actions (policy_parse.c) and the selectors (policy_selector.c). */
#ifndef IDSR_POLICY_PARSER_H
#define IDSR_POLICY_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "policy_rules.h"

#define QUOTE_MAX	64		/* longest quoted token in a message */

struct token {
	const char *s;
	size_t n;
	int column;
};

struct parser {
	struct policy *p;
	struct policy_error *err;
	char *line;			/* the current line, comment cut off */
	size_t len, pos;
	int lineno;
	int first_rule_line;		/* 0 until a rule was read */
	int impl_line;
};

/* Fills the error at column of the current line; returns -EINVAL. */
int policy_fail(struct parser *ps, int column, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Messages quote at most QUOTE_MAX bytes of a token: the length to print. */
int policy_qlen(size_t n);
bool policy_token_has_prefix(const struct token *t, const char *prefix);
/* An action or direction word: not a register name. */
bool policy_is_keyword(const struct token *t);
/* policy_selector.c: t as a selector into *sel. 0 or -EINVAL (ps's error filled). */
int policy_parse_selector(struct parser *ps, const struct token *t, struct selector *sel);

#endif
