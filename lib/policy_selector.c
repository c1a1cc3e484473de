/* SPDX-License-Identifier: MIT */
/* The policy language's selectors: `*', a register name, or an encoding with
 * field ranges (s3_0_c15_*_*, p15:0:c9:c0-c2:*), for policy_parse.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "policy_parser.h"
#include "regnames.h"

struct field_spec {
	const char *name;
	char prefix;			/* 's', 'p', 'c' or 0 */
	unsigned max;
	int slot;			/* index in selector.lo/hi */
};

static const struct field_spec a64_fields[] = {
	{ "op0", 's', 3, 0 }, { "op1", 0, 7, 1 }, { "CRn", 'c', 15, 2 },
	{ "CRm", 'c', 15, 3 }, { "op2", 0, 7, 4 },
};
static const struct field_spec a32_fields[] = {
	{ "coproc", 'p', 15, 0 }, { "opc1", 0, 7, 1 }, { "CRn", 'c', 15, 2 },
	{ "CRm", 'c', 15, 3 }, { "opc2", 0, 7, 4 },
};
/* MCRR/MRRC: coproc, a 4-bit opc1 and CRm; CRn and opc2 are 0 in the key. */
static const struct field_spec a32_wide_fields[] = {
	{ "coproc", 'p', 15, 0 }, { "opc1", 0, 15, 1 }, { "CRm", 'c', 15, 3 },
};

static const char selector_expected[] =
	"a register name, an encoding such as s3_0_c15_c0_0, p15:0:c9:c0:0 or p15:1:c15, or `*'";

/* One end of a field range: an optional prefix letter, then 1-2 digits. */
static bool field_number(const char *s, size_t n, const struct field_spec *fs, unsigned *out)
{
	unsigned v = 0;

	if (fs->prefix && n > 0 && (s[0] | 0x20) == fs->prefix) {
		s++;
		n--;
	}
	if (n == 0 || n > 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > fs->max)
		return false;
	*out = v;
	return true;
}

static int parse_field(struct parser *ps, const struct token *whole, const char *s, size_t n,
		       const struct field_spec *fs, struct selector *sel)
{
	int column = whole->column + (int)(s - whole->s);
	const char *p = fs->prefix ? (const char[]){ fs->prefix, 0 } : "";
	const char *dash = memchr(s, '-', n);
	unsigned lo, hi;

	if ((n == 1 && s[0] == '*') || (n == 2 && fs->prefix && (s[0] | 0x20) == fs->prefix && s[1] == '*')) {
		lo = 0;
		hi = fs->max;
	} else if (!field_number(s, dash ? (size_t)(dash - s) : n, fs, &lo) ||
		   (dash && !field_number(dash + 1, n - (size_t)(dash + 1 - s), fs, &hi))) {
		return policy_fail(ps, column, "bad %s field `%.*s' in `%.*s': expected %s0 to %s%u, `*' or a range lo-hi",
			    fs->name, policy_qlen(n), s, policy_qlen(whole->n), whole->s, p, p, fs->max);
	} else if (!dash) {
		hi = lo;
	} else if (lo > hi) {
		return policy_fail(ps, column, "bad %s range `%.*s' in `%.*s': the low end is above the high end",
			    fs->name, policy_qlen(n), s, policy_qlen(whole->n), whole->s);
	}
	sel->lo[fs->slot] = (uint8_t)lo;
	sel->hi[fs->slot] = (uint8_t)hi;
	return 0;
}

static int parse_encoding(struct parser *ps, const struct token *t, bool aarch32, struct selector *sel)
{
	char sep = aarch32 ? ':' : '_';
	const char *field[SEL_FIELDS];
	size_t flen[SEL_FIELDS], nfields = 0;
	const struct field_spec *specs;
	const char *s = t->s, *end = t->s + t->n;

	for (;;) {
		const char *next = memchr(s, sep, (size_t)(end - s));

		if (nfields == SEL_FIELDS) {
			nfields++;	/* too many */
			break;
		}
		field[nfields] = s;
		flen[nfields++] = (size_t)((next ? next : end) - s);
		if (!next)
			break;
		s = next + 1;
	}
	memset(sel, 0, sizeof(*sel));
	if (!aarch32 && nfields == 5) {
		sel->kind = SEL_AARCH64;
		specs = a64_fields;
	} else if (aarch32 && nfields == 5) {
		sel->kind = SEL_AARCH32;
		specs = a32_fields;
	} else if (aarch32 && nfields == 3) {
		sel->kind = SEL_AARCH32_WIDE;
		specs = a32_wide_fields;
	} else if (!aarch32) {
		return policy_fail(ps, t->column, "bad encoding `%.*s': expected s<op0>_<op1>_c<CRn>_c<CRm>_<op2>, "
			    "e.g. s3_0_c15_c0_0", policy_qlen(t->n), t->s);
	} else {
		return policy_fail(ps, t->column, "bad encoding `%.*s': expected p<coproc>:<opc1>:c<CRn>:c<CRm>:<opc2> "
			    "(MCR/MRC) or p<coproc>:<opc1>:c<CRm> (MCRR/MRRC)", policy_qlen(t->n), t->s);
	}
	for (size_t i = 0; i < nfields; i++) {
		int ret = parse_field(ps, t, field[i], flen[i], &specs[i], sel);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_name(struct parser *ps, const struct token *t, struct selector *sel)
{
	const char *impl = ps->p->impl;
	char name[REGNAME_TEXT_MAX];
	int ret;

	if (policy_is_keyword(t) || memchr(t->s, '=', t->n))
		return policy_fail(ps, t->column, "expected a selector (%s), got `%.*s'",
			    selector_expected, policy_qlen(t->n), t->s);
	if (policy_token_has_prefix(t, "allow"))
		return policy_fail(ps, t->column, "unknown directive `%.*s': the one allow directive is `allow-el0' "
			    "(lets EL0 accesses reach the rules)", policy_qlen(t->n), t->s);
	ret = -ENOENT;
	if (t->n < sizeof(name)) {
		memcpy(name, t->s, t->n);
		name[t->n] = 0;
		ret = regnames_lookup(name, impl, &sel->key);
	}
	if (ret == -ENOTUNIQ) {
		char which[256];

		return policy_fail(ps, t->column, "ambiguous register name `%.*s' (%s): add `impl NAME' "
			    "before the rules or use the encoding", policy_qlen(t->n), t->s,
			    regnames_candidates(name, impl, which, sizeof(which)));
	}
	if (ret < 0 && impl)
		return policy_fail(ps, t->column, "unknown register `%.*s' in implementation %s: "
			    "use its encoding (e.g. s3_0_c15_c0_0) or check `impl'", policy_qlen(t->n), t->s, impl);
	if (ret < 0)
		return policy_fail(ps, t->column, "unknown register `%.*s' (no implementation names it): "
			    "use its encoding, e.g. s3_0_c15_c0_0", policy_qlen(t->n), t->s);
	sel->kind = SEL_KEY;
	return 0;
}

int policy_parse_selector(struct parser *ps, const struct token *t, struct selector *sel)
{
	char c0 = (char)(t->s[0] | 0x20), c1 = t->n > 1 ? t->s[1] : 0;

	memset(sel, 0, sizeof(*sel));
	if (t->n == 1 && t->s[0] == '*') {
		sel->kind = SEL_ANY;
		return 0;
	}
	if ((c0 == 's' || c0 == 'p') && ((c1 >= '0' && c1 <= '9') || c1 == '*'))
		return parse_encoding(ps, t, c0 == 'p', sel);
	return parse_name(ps, t, sel);
}
