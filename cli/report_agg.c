/* SPDX-License-Identifier: MIT */
/* idsrctl report's numbers: one pass over a boot's rows into per-register, per-bucket and per-rule aggregates, plus a bounded set of exact accesses. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "replay/access_rows.h"
#include "report.h"

/* ---- a set of 64-bit values -------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* The index of v in the set, adding it; -ENOMEM. */
static int64_t set_add(struct report_set *s, uint64_t v)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct report_set g = { .cap = s->cap ? s->cap * 2 : 64, .n = s->n };

		g.keys = malloc(g.cap * sizeof(*g.keys));
		g.index = calloc(g.cap, sizeof(*g.index));
		if (!g.keys || !g.index) {
			free(g.keys);
			free(g.index);
			return -ENOMEM;
		}
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->index[j])
				continue;
			for (i = mix64(s->keys[j]) & (g.cap - 1); g.index[i]; i = (i + 1) & (g.cap - 1))
				;
			g.keys[i] = s->keys[j];
			g.index[i] = s->index[j];
		}
		free(s->keys);
		free(s->index);
		*s = g;
	}
	for (i = mix64(v) & (s->cap - 1); s->index[i]; i = (i + 1) & (s->cap - 1))
		if (s->keys[i] == v)
			return s->index[i] - 1;
	s->keys[i] = v;
	s->index[i] = (uint32_t)++s->n;
	return (int64_t)s->n - 1;
}

static void set_free(struct report_set *s)
{
	free(s->keys);
	free(s->index);
}

/* ---- growable arrays ---------------------------------------------------------- */

/* GROW(arr, cap, n): room for element n of arr, or ok = false (arr kept). */
#define GROW(arr, cap, n) ((arr) = grow((arr), &(cap), (n), sizeof(*(arr)), &ok))

static void *grow(void *p, size_t *cap, size_t n, size_t size, bool *ok)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *np;

	if (n < *cap)
		return p;
	np = realloc(p, ncap * size);
	if (!np) {
		*ok = false;
		return p;
	}
	*cap = ncap;
	return np;
}

/* ---- registers, cells, rules ------------------------------------------------- */

size_t report_reg_index(const struct report *r, uint32_t key)
{
	size_t lo = 0, hi = r->nregs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->regs[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct report_reg *reg_get(struct report *r, uint32_t key)
{
	size_t i = report_reg_index(r, key);
	bool ok = true;

	if (i < r->nregs && r->regs[i].key == key)
		return &r->regs[i];
	GROW(r->regs, r->capregs, r->nregs);
	if (!ok)
		return NULL;
	memmove(&r->regs[i + 1], &r->regs[i], (r->nregs - i) * sizeof(*r->regs));
	r->nregs++;
	memset(&r->regs[i], 0, sizeof(r->regs[i]));
	r->regs[i].key = key;
	return &r->regs[i];
}

static size_t cell_slot(const struct report_cell *cells, size_t cap, uint32_t vcpu, uint32_t bucket, uint32_t key)
{
	size_t i = mix64(((uint64_t)vcpu << 40) ^ ((uint64_t)bucket << 20) ^ key) & (cap - 1);

	while (cells[i].used && (cells[i].vcpu != vcpu || cells[i].bucket != bucket || cells[i].key != key))
		i = (i + 1) & (cap - 1);
	return i;
}

static struct report_cell *cell_get(struct report *r, uint32_t vcpu, uint32_t bucket, uint32_t key)
{
	size_t i;

	if ((r->ncells + 1) * 2 > r->capcells) {
		size_t cap = r->capcells ? r->capcells * 2 : 1024;
		struct report_cell *cells = calloc(cap, sizeof(*cells));

		if (!cells)
			return NULL;
		for (size_t j = 0; j < r->capcells; j++)
			if (r->cells[j].used)
				cells[cell_slot(cells, cap, r->cells[j].vcpu, r->cells[j].bucket, r->cells[j].key)] =
					r->cells[j];
		free(r->cells);
		r->cells = cells;
		r->capcells = cap;
	}
	i = cell_slot(r->cells, r->capcells, vcpu, bucket, key);
	if (!r->cells[i].used) {
		r->cells[i] = (struct report_cell){ .vcpu = vcpu, .bucket = bucket, .key = key, .used = true };
		r->ncells++;
	}
	return &r->cells[i];
}

/* The policy in force at ts (the last one whose since_ns <= ts), or -1. */
static int policy_at(const struct report *r, int64_t ts)
{
	int found = -1;

	for (size_t i = 0; i < r->npolicies && r->policies[i].since_ns <= ts; i++)
		found = (int)i;
	return found < 0 && r->npolicies ? 0 : found;
}

static int64_t rule_get(struct report *r, int policy, int rule, size_t *hint)
{
	bool ok = true;

	if (*hint < r->nrules && r->rules[*hint].policy == policy && r->rules[*hint].rule == rule)
		return (int64_t)*hint;
	for (size_t i = 0; i < r->nrules; i++)
		if (r->rules[i].policy == policy && r->rules[i].rule == rule)
			return (int64_t)(*hint = i);
	GROW(r->rules, r->caprules, r->nrules);
	if (!ok)
		return -ENOMEM;
	r->rules[r->nrules] = (struct report_rule){ .policy = policy, .rule = rule };
	return (int64_t)(*hint = r->nrules++);
}

/* ---- reading ------------------------------------------------------------------ */

static char *dup_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return strdup(s ? (const char *)s : "");
}

static int read_policies(sqlite3 *db, struct report *r)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	bool ok = true;

	if (sqlite3_prepare_v2(db, "SELECT bp.policy_hash, coalesce(p.source, ''), coalesce(p.text, ''), bp.since_ns"
			       " FROM boot_policies bp LEFT JOIN policies p ON p.hash = bp.policy_hash"
			       " WHERE bp.boot_id = ? ORDER BY bp.since_ns", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, r->boot.id);
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		GROW(r->policies, cap, r->npolicies);
		if (!ok)
			break;
		r->policies[r->npolicies++] = (struct report_policy){
			.hash = dup_text(st, 0), .source = dup_text(st, 1), .text = dup_text(st, 2),
			.since_ns = sqlite3_column_int64(st, 3) };
	}
	sqlite3_finalize(st);
	return ok ? 0 : -ENOMEM;
}

static int read_span(sqlite3 *db, struct report *r)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, "SELECT min(ts_ns), max(ts_ns) FROM accesses WHERE boot_id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, r->boot.id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		r->t0 = sqlite3_column_int64(st, 0);
		r->t1 = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return 0;
}

/* A register's value history: each change of value on a vCPU (the first
 * value counts as one), the first REPORT_HISTORY per vCPU. */
static bool note_value(struct report_reg *g, const struct cli_access *a, int64_t t)
{
	bool ok = true;

	if (!g->has_cur || g->cur_vcpu != a->vcpu) {
		g->has_cur = true;
		g->cur_vcpu = a->vcpu;
		g->cur_changes = 0;
	} else if (g->cur_value == a->value) {
		return true;
	}
	g->cur_value = a->value;
	if (g->cur_changes++ >= REPORT_HISTORY) {
		g->hist_more++;
		return true;
	}
	GROW(g->hist, g->caphist, g->nhist);
	if (ok)
		g->hist[g->nhist++] = (struct report_change){ a->vcpu, a->seq, a->value, t };
	return ok;
}

static int add_row(struct report *r, const struct cli_access *a, uint64_t per_vcpu, uint64_t from_seq,
		   size_t *rule_hint)
{
	int64_t t = a->ts_ns - r->t0, span = r->t1 - r->t0, rule;
	uint32_t bucket = span > 0 ? (uint32_t)((double)t / (double)span * (REPORT_BUCKETS - 1) + 0.5) : 0;
	struct report_reg *g = reg_get(r, a->key);
	struct report_cell *c;
	struct report_vcpu *v;
	bool ok = true;

	if (!g || (c = cell_get(r, a->vcpu, bucket, a->key)) == NULL)
		return -ENOMEM;
	c->count++;
	c->undefs += a->undef;
	if (!g->count || t < g->first_t) {
		g->first_t = t;
		g->first_pc = a->pc;
	}
	if (!g->count || t >= g->last_t) {
		g->last_t = t;
		g->last_pc = a->pc;
	}
	g->count++;
	g->reads += !a->is_write;
	g->writes += a->is_write;
	g->undefs += a->undef;
	if (set_add(&g->values, a->value) < 0 || !note_value(g, a, t))
		return -ENOMEM;
	rule = rule_get(r, policy_at(r, a->ts_ns), a->rule, rule_hint);
	if (rule < 0)
		return -ENOMEM;
	r->rules[rule].hits++;
	r->rules[rule].undefs += a->undef;

	if (!r->nvcpus || r->vcpus[r->nvcpus - 1].vcpu != a->vcpu) {
		GROW(r->vcpus, r->capvcpus, r->nvcpus);
		if (!ok)
			return -ENOMEM;
		r->vcpus[r->nvcpus++] = (struct report_vcpu){ .vcpu = a->vcpu, .first_seq = a->seq };
	}
	v = &r->vcpus[r->nvcpus - 1];
	v->count++;
	v->undefs += a->undef;
	v->last_seq = a->seq;
	r->total++;
	if (a->seq < from_seq)
		return 0;
	if (v->exact >= per_vcpu) {
		v->more = true;
		return 0;
	}
	GROW(r->exact, r->capexact, r->nexact);
	{
		int64_t pc = set_add(&r->pcs, a->pc);

		if (!ok || pc < 0)
			return -ENOMEM;
		r->exact[r->nexact++] = (struct report_exact){
			.t = t, .seq = a->seq, .value = a->value, .vcpu = a->vcpu, .key = a->key, .pc = (uint32_t)pc,
			.rule = (uint32_t)rule, .is_write = a->is_write, .undef = a->undef };
	}
	v->exact++;
	return 0;
}

int report_build(sqlite3 *db, int64_t boot_id, const struct report_opts *o, struct report *r, const char *cmd)
{
	struct access_range range = { .boot_id = boot_id, .vcpu = -1, .limit = -1 };
	struct access_cursor *rows = NULL;
	struct access_row row;
	char why[512];
	uint64_t per_vcpu;
	size_t rule_hint = 0;
	int rc, ret = 0;

	memset(r, 0, sizeof(*r));
	if (cli_boot_read(cmd, db, boot_id, &r->boot) < 0)
		return -EIO;
	r->has_pcs = db_boot_has_pcs(db, boot_id);
	if (read_policies(db, r) < 0 || read_span(db, r) < 0) {
		cli_error("%s: reading boot %" PRId64 ": %s", cmd, boot_id, sqlite3_errmsg(db));
		return -EIO;
	}
	/* the vCPUs the Hello announced share the bound; at least one access each */
	per_vcpu = o->exact / (r->boot.vcpus ? r->boot.vcpus : 1);
	if (!per_vcpu && o->exact)
		per_vcpu = 1;
	rc = access_cursor_open(db, cli_db_path(db), &range, &rows, why, sizeof(why));
	while (!ret && rc >= 0 && (rc = access_cursor_next(rows, &row, why, sizeof(why))) > 0) {
		struct cli_access a;

		cli_access_from(&a, &row);
		ret = add_row(r, &a, per_vcpu, o->from_seq, &rule_hint);
	}
	if (ret)
		cli_error("%s: out of memory aggregating boot %" PRId64, cmd, boot_id);
	else if (rc < 0) {
		cli_error("%s: %s", cmd, why);
		ret = rc;
	}
	access_cursor_close(rows);
	return ret;
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->nregs; i++) {
		set_free(&r->regs[i].values);
		free(r->regs[i].hist);
	}
	for (size_t i = 0; i < r->npolicies; i++) {
		free(r->policies[i].hash);
		free(r->policies[i].source);
		free(r->policies[i].text);
	}
	free(r->regs);
	free(r->cells);
	free(r->exact);
	set_free(&r->pcs);
	free(r->rules);
	free(r->policies);
	free(r->vcpus);
	cli_boot_free(&r->boot);
}
