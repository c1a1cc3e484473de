/* SPDX-License-Identifier: MIT */
/* A policy: built from its text (the parser is policy_parse.c), compiled into
 * a per-key table of candidate rules, and the rule that answers an access. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "policy_rules.h"

/*
 * Compiling: every key of the IDSR space (enc_for_each_idsr) gets, in a hash
 * table, the ordered list of the rules whose selector matches it, cut after
 * the first rule without qualifiers (nothing after it can answer). So the trap
 * path hashes the key and checks qualifiers of a few candidates; only keys
 * outside the IDSR space (which a TIDCP trap never produces) scan the rules.
 */

#define FILE_MAX	(16u << 20)	/* a policy is text a person wrote */

/* The key's fields as selectors compare them; false if it has no encoding. */
static bool key_fields(uint32_t key, struct enc_fields *f, unsigned v[SEL_FIELDS])
{
	if (!enc_unpack(key, f))
		return false;
	v[0] = f->aarch32 ? f->coproc : f->op0;
	v[1] = f->op1;
	v[2] = f->crn;
	v[3] = f->crm;
	v[4] = f->op2;
	return true;
}

/* f and v from key_fields, or NULL when the key has no encoding. */
static bool selector_match(const struct selector *sel, uint32_t key, const struct enc_fields *f,
			   const unsigned v[SEL_FIELDS])
{
	if (sel->kind == SEL_ANY)
		return true;
	if (sel->kind == SEL_KEY)
		return key == sel->key;
	if (!f || f->aarch32 != (sel->kind != SEL_AARCH64) || f->wide != (sel->kind == SEL_AARCH32_WIDE))
		return false;
	for (int i = 0; i < SEL_FIELDS; i++)
		if (v[i] < sel->lo[i] || v[i] > sel->hi[i])
			return false;
	return true;
}

/* ---- compiling ---------------------------------------------------------- */

static bool unconditional(const struct policy_rule *r)
{
	return r->dir == POLICY_ANY && r->el < 0 && r->vcpu < 0 && !r->has_pc;
}

static uint32_t table_slot(uint32_t key, uint32_t mask)
{
	return (key * 0x9e3779b1u) & mask;	/* Fibonacci hashing: keys differ in few bits */
}

static int push_candidate(struct policy *p, uint32_t rule)
{
	if (p->ncandidates == p->candidates_cap) {
		size_t cap = p->candidates_cap ? p->candidates_cap * 2 : 1024;
		uint32_t *c = realloc(p->candidates, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		p->candidates = c;
		p->candidates_cap = cap;
	}
	p->candidates[p->ncandidates++] = rule;
	return 0;
}

struct compile_ctx {
	struct policy *p;
	uint32_t prev_first, prev_count;
	int ret;
};

static void compile_key(uint32_t key, void *arg)
{
	struct compile_ctx *c = arg;
	struct policy *p = c->p;
	uint32_t first = (uint32_t)p->ncandidates, count, i;
	struct table_entry *e;
	struct enc_fields f;
	unsigned v[SEL_FIELDS];
	bool has = key_fields(key, &f, v);

	if (c->ret < 0)
		return;
	for (size_t r = 0; r < p->nrules; r++) {
		if (!selector_match(&p->rules[r].sel, key, has ? &f : NULL, v))
			continue;
		if (push_candidate(p, (uint32_t)r) < 0) {
			c->ret = -ENOMEM;
			return;
		}
		if (unconditional(&p->rules[r].rule))
			break;
	}
	count = (uint32_t)p->ncandidates - first;
	/* Neighbouring keys under the same wildcards share one list. */
	if (count == c->prev_count && (count == 0 ||
	    !memcmp(p->candidates + first, p->candidates + c->prev_first, count * sizeof(uint32_t)))) {
		p->ncandidates = first;
		first = c->prev_first;
	}
	c->prev_first = first;
	c->prev_count = count;
	for (i = table_slot(key, p->table_mask); p->table[i].key != TABLE_EMPTY; i = (i + 1) & p->table_mask)
		;
	e = &p->table[i];
	e->key = key;
	e->first = first;
	e->count = count;
}

static void count_key(uint32_t key, void *arg)
{
	(void)key;
	(*(size_t *)arg)++;
}

static int compile(struct policy *p)
{
	struct compile_ctx c = { .p = p, .prev_count = UINT32_MAX };
	size_t nkeys = 0, size = 1;

	if (!p->nrules)
		return 0;
	enc_for_each_idsr(count_key, &nkeys);
	while (size < nkeys * 2)
		size <<= 1;
	p->table = malloc(size * sizeof(*p->table));
	if (!p->table)
		return -ENOMEM;
	memset(p->table, 0xff, size * sizeof(*p->table));
	p->table_mask = (uint32_t)(size - 1);
	enc_for_each_idsr(compile_key, &c);
	return c.ret;
}

static void hash_text(struct policy *p, size_t len)
{
	/* FNV-1a, 64 bits: an identifier for the text, not a cryptographic hash. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p->text[i];
		h *= 0x100000001b3ull;
	}
	snprintf(p->hash, sizeof(p->hash), "%016llx", (unsigned long long)h);
}

/* ---- public interface --------------------------------------------------- */

int policy_parse(const char *text, size_t len, const char *file,
		 struct policy **out, struct policy_error *err)
{
	struct policy *p = calloc(1, sizeof(*p));
	int ret;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "<policy>");
	*out = NULL;
	if (!p || !(p->text = malloc(len + 1)) || !(p->lines = malloc(len + 1)) ||
	    !(p->source = strdup(err->file))) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	memcpy(p->text, text, len);
	p->text[len] = 0;
	memcpy(p->lines, text, len);
	p->lines[len] = 0;
	hash_text(p, len);
	ret = policy_parse_lines(p, len, err);
	if (ret < 0)
		goto out;
	ret = compile(p);
	if (ret < 0) {
		snprintf(err->message, sizeof(err->message), "out of memory compiling the rules");
		goto out;
	}
	*out = p;
	return 0;
out:
	policy_free(p);
	return ret;
}

int policy_load_file(const char *path, struct policy **out, struct policy_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, ret;

	*out = NULL;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		goto fail;
	}
	if (S_ISDIR(st.st_mode) || st.st_size > FILE_MAX) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto fail;
		}
		if (n == 0)
			break;		/* shrank while we read: parse what is there */
		got += (size_t)n;
	}
	close(fd);
	ret = policy_parse(buf, got, path, out, err);
	free(buf);
	return ret;
fail:
	snprintf(err->message, sizeof(err->message), "cannot read the policy: %s", strerror(-ret));
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->table);
	free(p->candidates);
	free(p->rules);
	free(p->impl);
	free(p->source);
	free(p->lines);
	free(p->text);
	free(p);
}

const char *policy_error_format(const struct policy_error *err, char *buf, size_t len)
{
	if (err->line > 0)
		snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line, err->column, err->message);
	else
		snprintf(buf, len, "%s: %s", err->file, err->message);
	return buf;
}

const char *policy_text(const struct policy *p) { return p->text; }
const char *policy_source(const struct policy *p) { return p->source; }
const char *policy_hash(const struct policy *p) { return p->hash; }
const char *policy_impl(const struct policy *p) { return p->impl; }
bool policy_allows_el0(const struct policy *p) { return p && p->allow_el0; }
size_t policy_rule_count(const struct policy *p) { return p->nrules; }

const struct policy_rule *policy_rule_at(const struct policy *p, size_t i)
{
	return i < p->nrules ? &p->rules[i].rule : NULL;
}

static bool qualifiers_match(const struct policy_rule *r, const struct policy_access *a)
{
	if (r->dir != POLICY_ANY && (r->dir == POLICY_WRITE) != a->is_write)
		return false;
	if (r->el >= 0 && r->el != a->el)
		return false;
	if (r->vcpu >= 0 && (uint64_t)r->vcpu != a->vcpu)
		return false;
	return !r->has_pc || (a->pc >= r->pc_lo && a->pc <= r->pc_hi);
}

const struct policy_rule *policy_match(const struct policy *p, const struct policy_access *a)
{
	if (!p || !p->nrules)
		return NULL;
	for (uint32_t i = table_slot(a->key, p->table_mask); p->table[i].key != TABLE_EMPTY;
	     i = (i + 1) & p->table_mask) {
		const struct table_entry *e = &p->table[i];

		if (e->key != a->key)
			continue;
		for (uint32_t c = 0; c < e->count; c++) {
			const struct compiled_rule *cr = &p->rules[p->candidates[e->first + c]];

			if (qualifiers_match(&cr->rule, a))
				return &cr->rule;
		}
		return NULL;
	}
	/* Not an IDSR key (the table holds all of those): scan. */
	struct enc_fields f;
	unsigned v[SEL_FIELDS];
	bool has = key_fields(a->key, &f, v);

	for (size_t r = 0; r < p->nrules; r++)
		if (selector_match(&p->rules[r].sel, a->key, has ? &f : NULL, v) &&
		    qualifiers_match(&p->rules[r].rule, a))
			return &p->rules[r].rule;
	return NULL;
}

/* The first rule that could answer key in that direction, whatever the
 * access's EL, vCPU and PC: the candidates in order, each direction checked
 * and nothing else. */
static const struct policy_rule *first_for_direction(const struct policy *p, uint32_t key, bool is_write)
{
	struct enc_fields f;
	unsigned v[SEL_FIELDS];
	bool has;

	if (!p || !p->nrules)
		return NULL;
	for (uint32_t i = table_slot(key, p->table_mask); p->table[i].key != TABLE_EMPTY;
	     i = (i + 1) & p->table_mask) {
		const struct table_entry *e = &p->table[i];

		if (e->key != key)
			continue;
		for (uint32_t c = 0; c < e->count; c++) {
			const struct policy_rule *r = &p->rules[p->candidates[e->first + c]].rule;

			if (r->dir == POLICY_ANY || (r->dir == POLICY_WRITE) == is_write)
				return r;
		}
		return NULL;
	}
	has = key_fields(key, &f, v);
	for (size_t r = 0; r < p->nrules; r++) {
		const struct policy_rule *rule = &p->rules[r].rule;

		if (selector_match(&p->rules[r].sel, key, has ? &f : NULL, v) &&
		    (rule->dir == POLICY_ANY || (rule->dir == POLICY_WRITE) == is_write))
			return rule;
	}
	return NULL;
}

bool policy_stateless(const struct policy *p, uint32_t key, bool is_write, struct policy_verdict *v)
{
	const struct policy_rule *r = first_for_direction(p, key, is_write);

	v->undef = true;
	v->value = 0;
	v->rule = r ? r->line : POLICY_RULE_DEFAULT;
	if (!r)
		return true;
	if (r->el >= 0 || r->vcpu >= 0 || r->has_pc)
		return false;
	switch (r->action) {
	case POLICY_UNDEF:
		return true;
	case POLICY_VALUE:
		v->value = is_write ? 0 : r->value;
		/* fall through */
	case POLICY_RAZ_WI:
	case POLICY_IGNORE:
		v->undef = false;
		return true;
	default:
		return false;	/* storage, counter, random: state decides */
	}
}
