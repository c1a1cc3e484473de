/* SPDX-License-Identifier: MIT */
/* Register names per implementation: the embedded data/registers.tsv, parsed once, looked up both ways. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "embed.h"
#include "encoding.h"
#include "log.h"
#include "regnames.h"

#define IMPL_ARCH "arm-architectural"
#define IMPL_MAX 16

/* Built once by regnames_load, read-only afterwards: no locks on lookups. */
static struct {
	char *text;			/* the TSV copy the strings point into */
	struct regname *rows;		/* sorted by key, then by line */
	size_t count;
	const struct regname **by_name;	/* sorted by name, case-insensitive */
	const struct regname **by_base;	/* sorted by name without its _ELn suffix */
	size_t *base_len;		/* per row: length of the name without _ELn */
	const char *impls[IMPL_MAX];
	size_t nimpls;
} regnames;
static pthread_once_t regnames_once = PTHREAD_ONCE_INIT;

struct parsed_row {
	struct regname r;
	size_t line;
};

static int cmp_parsed(const void *a, const void *b)
{
	const struct parsed_row *x = a, *y = b;

	if (x->r.key != y->r.key)
		return x->r.key < y->r.key ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Length of name without a trailing "_EL<digits>" ("HID0_EL1" -> 4). */
static size_t base_length(const char *name)
{
	size_t len = strlen(name), i = len;

	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i == len || i < 4 || strncasecmp(name + i - 3, "_EL", 3))
		return len;
	return i - 3;
}

static int cmp_text(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = strncasecmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static size_t row_base_len(const struct regname *r)
{
	return regnames.base_len[r - regnames.rows];
}

static int cmp_by_name(const void *a, const void *b)
{
	const struct regname *x = *(const struct regname *const *)a, *y = *(const struct regname *const *)b;

	return cmp_text(x->name, strlen(x->name), y->name, strlen(y->name));
}

static int cmp_by_base(const void *a, const void *b)
{
	const struct regname *x = *(const struct regname *const *)a, *y = *(const struct regname *const *)b;

	return cmp_text(x->name, row_base_len(x), y->name, row_base_len(y));
}

static void note_impl(const char *impl)
{
	for (size_t i = 0; i < regnames.nimpls; i++)
		if (!strcmp(regnames.impls[i], impl))
			return;
	if (regnames.nimpls < IMPL_MAX)
		regnames.impls[regnames.nimpls++] = impl;
	else
		log_warn("registers.tsv: more than %d implementations, `%s' ignored by regnames_impl_known",
			 IMPL_MAX, impl);
}

/* Splits one TSV line in place; false (with a warning) if it is not a usable row. */
static bool parse_line(char *line, size_t lineno, struct regname *r)
{
	char *col[5] = { 0 };
	const char *why;
	size_t n = 0;

	for (char *p = line; n < 5; n++) {
		col[n] = p;
		p = strchr(p, '\t');
		if (!p) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (n < 3 || !*col[1] || !*col[2]) {
		log_warn("registers.tsv line %zu: expected encoding, name and implementation columns; row ignored",
			 lineno);
		return false;
	}
	if (enc_parse(col[0], &r->key, &why)) {
		log_warn("registers.tsv line %zu: `%s': %s; row ignored", lineno, col[0], why);
		return false;
	}
	r->name = col[1];
	r->impl = col[2];
	r->description = n > 3 ? col[3] : "";
	return true;
}

static void regnames_load(void)
{
	size_t len = (size_t)(idsr_registers_tsv_end - idsr_registers_tsv), lineno = 0, n = 0, cap = 0;
	struct parsed_row *parsed = NULL;

	regnames.text = malloc(len + 1);
	if (!regnames.text)
		goto nomem;
	memcpy(regnames.text, idsr_registers_tsv, len);
	regnames.text[len] = '\0';
	for (char *p = regnames.text; p && *p; ) {
		char *line = p, *nl = strchr(p, '\n');

		p = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		lineno++;
		if (!*line || *line == '#')
			continue;
		if (n == cap) {
			struct parsed_row *more = realloc(parsed, (cap = cap ? 2 * cap : 1024) * sizeof(*parsed));

			if (!more)
				goto nomem;
			parsed = more;
		}
		if (parse_line(line, lineno, &parsed[n].r))
			parsed[n].line = lineno, n++;
	}
	qsort(parsed, n, sizeof(*parsed), cmp_parsed);
	regnames.rows = calloc(n ? n : 1, sizeof(*regnames.rows));
	regnames.by_name = calloc(n ? n : 1, sizeof(*regnames.by_name));
	regnames.by_base = calloc(n ? n : 1, sizeof(*regnames.by_base));
	regnames.base_len = calloc(n ? n : 1, sizeof(*regnames.base_len));
	if (!regnames.rows || !regnames.by_name || !regnames.by_base || !regnames.base_len)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		regnames.rows[i] = parsed[i].r;
		regnames.by_name[i] = regnames.by_base[i] = &regnames.rows[i];
		regnames.base_len[i] = base_length(parsed[i].r.name);
		note_impl(parsed[i].r.impl);
	}
	regnames.count = n;
	qsort(regnames.by_name, n, sizeof(*regnames.by_name), cmp_by_name);
	qsort(regnames.by_base, n, sizeof(*regnames.by_base), cmp_by_base);
	free(parsed);
	return;
nomem:
	/* names are a convenience: without memory we print generic encodings */
	log_err("register names: out of memory; showing encodings only");
	free(parsed);
	regnames.count = 0;
	regnames.nimpls = 0;
}

static void regnames_ensure(void)
{
	pthread_once(&regnames_once, regnames_load);
}

const struct regname *regnames_table(size_t *count)
{
	regnames_ensure();
	*count = regnames.count;
	return regnames.rows;
}

/* The first row with key, and *end one past the last. */
static const struct regname *key_range(uint32_t key, const struct regname **end)
{
	size_t n, lo = 0, hi;
	const struct regname *rows = regnames_table(&n);

	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < n && rows[hi].key == key; hi++)
		;
	*end = rows + hi;
	return rows + lo;
}

static const char *name_in(const struct regname *r, const struct regname *end, const char *impl)
{
	for (; r < end; r++)
		if (!strcasecmp(r->impl, impl))
			return r->name;
	return NULL;
}

const char *regnames_name(uint32_t key, const char *impl)
{
	const struct regname *end, *r = key_range(key, &end);
	const char *name;

	if (impl && *impl && (name = name_in(r, end, impl)))
		return name;
	if ((name = name_in(r, end, IMPL_ARCH)) || (impl && *impl))
		return name;
	/* no implementation given: a name only if every row agrees on it */
	for (const struct regname *o = r; o < end; o++)
		if (strcasecmp(o->name, r->name))
			return NULL;
	return r < end ? r->name : NULL;
}

/* What one lookup stage found: every matching row (up to max), and whether they share a key. */
struct match {
	const struct regname **out;
	size_t max;
	size_t count;
	uint32_t key;
	bool several_keys;
};

static void match_stage(const char *name, bool by_base, const char *impl, struct match *m)
{
	const struct regname **idx = by_base ? regnames.by_base : regnames.by_name;
	size_t len = strlen(name), lo = 0, hi = regnames.count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct regname *r = idx[mid];

		if (cmp_text(r->name, by_base ? row_base_len(r) : strlen(r->name), name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < regnames.count; lo++) {
		const struct regname *r = idx[lo];

		if (cmp_text(r->name, by_base ? row_base_len(r) : strlen(r->name), name, len))
			break;
		if (impl && strcasecmp(r->impl, impl))
			continue;
		if (m->count < m->max)
			m->out[m->count] = r;
		if (m->count && r->key != m->key)
			m->several_keys = true;
		m->key = r->key;
		m->count++;
	}
}

/* Exact names before suffix-less ones; impl's own names before architectural ones. */
static void match_name(const char *name, const char *impl, struct match *m)
{
	const char *scopes[2] = { impl, IMPL_ARCH };
	size_t nscopes = impl ? 2 : 1;

	regnames_ensure();
	for (int by_base = 0; by_base < 2; by_base++)
		for (size_t s = 0; s < nscopes; s++) {
			match_stage(name, by_base, scopes[s], m);
			if (m->count)
				return;
		}
}

size_t regnames_matches(const char *name, const char *impl, const struct regname **out, size_t max)
{
	struct match m = { .out = out, .max = max };

	match_name(name, impl && *impl ? impl : NULL, &m);
	return m.count;
}

int regnames_lookup(const char *name, const char *impl, uint32_t *key)
{
	struct match m = { .out = NULL, .max = 0 };

	match_name(name, impl && *impl ? impl : NULL, &m);
	if (!m.count)
		return -ENOENT;
	if (m.several_keys)
		return -ENOTUNIQ;
	*key = m.key;
	return 0;
}

const struct regname *regnames_by_key(uint32_t key, size_t *n)
{
	const struct regname *end, *r = key_range(key, &end);

	*n = (size_t)(end - r);
	return r;
}

size_t regnames_impls(const char **out, size_t max)
{
	regnames_ensure();
	for (size_t i = 0; i < regnames.nimpls && i < max; i++)
		out[i] = regnames.impls[i];
	return regnames.nimpls;
}

const char *regnames_format(uint32_t key, const char *impl, char *buf, size_t len)
{
	const char *name = regnames_name(key, impl);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		enc_format(key, buf, len);
	return buf;
}

/*
 * MIDR_EL1: Implementer [31:24], PartNum [15:4] (ARM DDI 0487, D23.2 MIDR_EL1).
 * Implementer 0x41 is Arm, 0x61 Apple (DDI 0487's implementer code list).
 * Part numbers from the Technical Reference Manuals' MIDR_EL1 pages:
 * Cortex-A57 0xD07 (DDI 0488), Cortex-A72 0xD08 (DDI 100095),
 * Cortex-A76 0xD0B (DDI 100798).
 */
const char *regnames_impl_from_midr(uint64_t midr)
{
	unsigned implementer = (unsigned)(midr >> 24) & 0xff, part = (unsigned)(midr >> 4) & 0xfff;

	if (implementer == 0x61)
		return "apple";
	if (implementer != 0x41)
		return NULL;
	switch (part) {
	case 0xd07:
	case 0xd08:
		return "arm-cortex-a57-a72";
	case 0xd0b:
		return "arm-cortex-a76";
	default:
		return NULL;
	}
}

int regnames_impl_known(const char *impl)
{
	regnames_ensure();
	if (!impl)
		return 0;
	for (size_t i = 0; i < regnames.nimpls; i++)
		if (!strcasecmp(regnames.impls[i], impl))
			return 1;
	return 0;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Case-insensitive edit distance counting a swap of two neighbours as one
 * edit (HDI0 is one from HID0), capped: anything past cap is cap + 1. */
static size_t name_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b), d[REGNAME_TEXT_MAX + 1][REGNAME_TEXT_MAX + 1];

	if (la > REGNAME_TEXT_MAX || lb > REGNAME_TEXT_MAX || (la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			int ai = i ? tolower((unsigned char)a[i - 1]) : 0, bj = j ? tolower((unsigned char)b[j - 1]) : 0;

			if (!i || !j) {
				d[i][j] = i + j;
				continue;
			}
			d[i][j] = min_size(min_size(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + (ai != bj));
			if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == bj)
				d[i][j] = min_size(d[i][j], d[i - 2][j - 2] + 1);
		}
	return min_size(d[la][lb], cap + 1);
}

size_t regnames_near(const char *name, const char *impl, const char **out, size_t max)
{
	size_t n = 0, cap = strlen(name) / 3 + 1;

	regnames_ensure();
	for (size_t d = 1; d <= cap && n < max; d++)
		for (size_t i = 0; i < regnames.count && n < max; i++) {
			const struct regname *r = regnames.by_name[i];
			bool dup = false;

			if (impl && *impl && strcasecmp(r->impl, impl) && strcmp(r->impl, IMPL_ARCH))
				continue;
			for (size_t k = 0; k < n && !dup; k++)
				dup = !strcasecmp(out[k], r->name);
			if (!dup && name_distance(name, r->name, cap) == d)
				out[n++] = r->name;
		}
	return n;
}
