/* SPDX-License-Identifier: MIT */
/* Register names per implementation (lib/regtable.c loads them), looked up both ways; MIDR -> implementation. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"
#include "log.h"
#include "regnames.h"
#include "regtable.h"

#define IMPL_ARCH "arm-architectural"

/* Built once (regnames_init, else the built-in tables on first use), read-only
 * afterwards: no locks on lookups. */
static struct regtable *regnames;
static pthread_once_t regnames_once = PTHREAD_ONCE_INIT;

static void regnames_load_builtin(void)
{
	char why[256];

	if (regnames)
		return;
	regnames = regtable_load(NULL, 0, 0, why, sizeof(why));
	if (!regnames) {
		/* names are a convenience: without them we print generic encodings */
		log_err("register names: %s; showing encodings only", why);
		regnames = calloc(1, sizeof(*regnames));
		if (!regnames)
			abort();
	}
}

static void regnames_ensure(void)
{
	pthread_once(&regnames_once, regnames_load_builtin);
}

int regnames_init(const char *const *files, size_t nfiles, unsigned dirs, char *why, size_t whylen)
{
	struct regtable *t = regtable_load(files, nfiles, dirs, why, whylen);

	if (!t)
		return -EINVAL;
	regnames_ensure();
	regtable_free(regnames);
	regnames = t;
	return 0;
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
	return regnames->base_len[r - regnames->rows];
}

const struct regname *regnames_table(size_t *count)
{
	regnames_ensure();
	*count = regnames->count;
	return regnames->rows;
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
	const struct regname **idx = by_base ? regnames->by_base : regnames->by_name;
	size_t len = strlen(name), lo = 0, hi = regnames->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct regname *r = idx[mid];

		if (cmp_text(r->name, by_base ? row_base_len(r) : strlen(r->name), name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < regnames->count; lo++) {
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

const char *regnames_candidates(const char *name, const char *impl, char *buf, size_t len)
{
	const struct regname *m[256];
	size_t n = regnames_matches(name, impl, m, 256), used = 0;
	char enc[ENC_TEXT_MAX];

	if (n > 256)
		n = 256;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t more = 0;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = m[j]->key == m[i]->key;
		if (seen)
			continue;
		for (size_t j = i + 1; j < n; j++)
			more += m[j]->key == m[i]->key;
		enc_format(m[i]->key, enc, sizeof(enc));
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, more ? "%s%s on %s and %zu more" : "%s%s on %s",
						 used ? ", " : "", enc, m[i]->impl, more);
	}
	return buf;
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
	for (size_t i = 0; i < regnames->nimpls && i < max; i++)
		out[i] = regnames->impls[i];
	return regnames->nimpls;
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

/* MIDR_EL1: Implementer [31:24], Variant [23:20], PartNum [15:4], Revision [3:0]
 * (ARM DDI 0487, MIDR_EL1). The rows are data/midr.tsv's and the user's. */
const struct regtable_midr *regnames_midr(uint64_t midr)
{
	unsigned implementer = (unsigned)(midr >> 24) & 0xff, part = (unsigned)(midr >> 4) & 0xfff;
	unsigned rv = ((unsigned)(midr >> 20) & 0xf) << 4 | ((unsigned)midr & 0xf);

	regnames_ensure();
	for (size_t i = 0; i < regnames->nmidrs; i++) {
		const struct regtable_midr *m = &regnames->midrs[i];

		if (m->implementer == implementer && (m->part < 0 || (unsigned)m->part == part) &&
		    rv >= m->rv_min && rv <= m->rv_max)
			return m;
	}
	return NULL;
}

const char *regnames_impl_from_midr(uint64_t midr)
{
	const struct regtable_midr *m = regnames_midr(midr);

	return m ? m->impl : NULL;
}

int regnames_impl_known(const char *impl)
{
	regnames_ensure();
	if (!impl)
		return 0;
	for (size_t i = 0; i < regnames->nimpls; i++)
		if (!strcasecmp(regnames->impls[i], impl))
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
	size_t n = 0, cap = strlen(name) / 3 + 1, dist[16];

	regnames_ensure();
	if (max > 16)
		max = 16;
	/* One pass, keeping the max nearest in out (by distance, then table order). */
	for (size_t i = 0; i < regnames->count; i++) {
		const struct regname *r = regnames->by_name[i];
		size_t d, at;
		bool dup = false;

		if (impl && *impl && strcasecmp(r->impl, impl) && strcmp(r->impl, IMPL_ARCH))
			continue;
		d = name_distance(name, r->name, cap);
		if (d > cap || (n == max && d >= dist[n - 1]))
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = !strcasecmp(out[k], r->name);
		if (dup)
			continue;
		for (at = n < max ? n : max - 1; at > 0 && dist[at - 1] > d; at--) {
			out[at] = out[at - 1];
			dist[at] = dist[at - 1];
		}
		out[at] = r->name;
		dist[at] = d;
		n += n < max;
	}
	return n;
}
