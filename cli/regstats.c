/* SPDX-License-Identifier: MIT */
/* Per-register statistics of one boot: counts, reads/writes, UNDEFs, distinct PCs, first/last seen; read incrementally per vCPU. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "encoding.h"
#include "regnames.h"
#include "regstats.h"
#include "replay/access_rows.h"

static char *regstats_dup(const unsigned char *s)
{
	return strdup(s ? (const char *)s : "");
}

int regstats_init(struct regstats *s, sqlite3 *db, int64_t boot_id, const char *cmd)
{
	sqlite3_stmt *st;
	int rc;

	memset(s, 0, sizeof(*s));
	s->boot_id = boot_id;
	if (sqlite3_prepare_v2(db, "SELECT vm_name, impl, start_ns FROM boots WHERE id = ?", -1, &st, NULL)) {
		if (cmd)
			cli_error("%s: reading the trace: %s", cmd, sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, boot_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->vm_name = regstats_dup(sqlite3_column_text(st, 0));
		s->impl = regstats_dup(sqlite3_column_text(st, 1));
		s->start_ns = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		if (cmd)
			cli_error("%s: there is no boot %" PRId64 " in the trace (idsrctl boots lists them)", cmd, boot_id);
		return -ENOENT;
	}
	return s->vm_name && s->impl ? 0 : -ENOMEM;
}

void regstats_free(struct regstats *s)
{
	for (size_t i = 0; i < s->nregs; i++)
		free(s->regs[i].pcs);
	free(s->regs);
	free(s->next_seq);
	free(s->vm_name);
	free(s->impl);
	memset(s, 0, sizeof(*s));
}

static struct regstat *regstats_find(struct regstats *s, uint32_t key)
{
	size_t lo = 0, hi = s->nregs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->regs[mid].key == key)
			return &s->regs[mid];
		if (s->regs[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->nregs == s->regs_cap) {
		size_t cap = s->regs_cap ? s->regs_cap * 2 : 32;
		struct regstat *p = realloc(s->regs, cap * sizeof(*p));

		if (!p)
			return NULL;
		s->regs = p;
		s->regs_cap = cap;
	}
	if (s->nregs > lo)
		memmove(&s->regs[lo + 1], &s->regs[lo], (s->nregs - lo) * sizeof(*s->regs));
	memset(&s->regs[lo], 0, sizeof(*s->regs));
	s->regs[lo].key = key;
	s->nregs++;
	return &s->regs[lo];
}

static size_t pc_slot(uint64_t pc, size_t cap)
{
	return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static int regstat_add_pc(struct regstat *r, uint64_t pc)
{
	size_t i;

	if (pc == 0) {
		r->npcs += !r->pc_zero;
		r->pc_zero = true;
		return 0;
	}
	if ((r->npcs + 1) * 2 > r->pcs_cap) {
		size_t cap = r->pcs_cap ? r->pcs_cap * 2 : 16;
		uint64_t *p = calloc(cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		for (size_t j = 0; j < r->pcs_cap; j++) {
			if (!r->pcs[j])
				continue;
			for (i = pc_slot(r->pcs[j], cap); p[i]; i = (i + 1) & (cap - 1))
				;
			p[i] = r->pcs[j];
		}
		free(r->pcs);
		r->pcs = p;
		r->pcs_cap = cap;
	}
	for (i = pc_slot(pc, r->pcs_cap); r->pcs[i]; i = (i + 1) & (r->pcs_cap - 1))
		if (r->pcs[i] == pc)
			return 0;
	r->pcs[i] = pc;
	r->npcs++;
	return 0;
}

static int regstats_row(struct regstats *s, const struct access_row *row)
{
	int64_t ts = row->ts_ns;
	struct regstat *r = regstats_find(s, row->key);

	if (!r)
		return -ENOMEM;
	if (!r->count || ts < r->first_ns)
		r->first_ns = ts;
	if (!r->count || ts > r->last_ns)
		r->last_ns = ts;
	if (!s->total || ts < s->first_ns)
		s->first_ns = ts;
	if (!s->total || ts > s->last_ns)
		s->last_ns = ts;
	r->count++;
	s->total++;
	if (row->is_write)
		r->writes++;
	else
		r->reads++;
	r->undefs += row->undef;
	s->undefs += row->undef;
	return regstat_add_pc(r, row->pc);
}

/* Per vCPU from where the last call stopped: rows of one vCPU are committed in
 * seq order. Every row is checked on the way (access_rows.h): a damaged one
 * is named and nothing is counted from it. */
int regstats_update(struct regstats *s, sqlite3 *db, const char *cmd)
{
	struct access_cursor *rows = NULL;
	struct access_row row;
	char why[512];
	uint32_t v;
	int rc;

	for (int64_t after = -1;
	     (rc = access_next_vcpu(db, cli_db_path(db), s->boot_id, after, &v, why, sizeof(why))) > 0;
	     after = v) {
		struct access_range range = { .boot_id = s->boot_id, .vcpu = v, .limit = -1 };

		if (v >= s->nvcpus) {
			size_t n = (size_t)v + 1;
			uint64_t *p = realloc(s->next_seq, n * sizeof(*p));

			if (!p)
				goto nomem;
			memset(p + s->nvcpus, 0, (n - s->nvcpus) * sizeof(*p));
			s->next_seq = p;
			s->nvcpus = n;
		}
		range.from_seq = s->next_seq[v];
		if (!rows)
			rc = access_cursor_open(db, cli_db_path(db), &range, &rows, why, sizeof(why));
		else
			rc = access_cursor_restart(rows, v, range.from_seq, -1, why, sizeof(why));
		while (rc >= 0 && (rc = access_cursor_next(rows, &row, why, sizeof(why))) > 0) {
			if (regstats_row(s, &row) < 0)
				goto nomem;
			s->next_seq[v] = row.seq + 1;
		}
		if (rc < 0)
			break;
	}
	if (rc < 0)
		cli_error("%s: %s", cmd, why);
	goto out;
nomem:
	cli_error("%s: out of memory", cmd);
	rc = -ENOMEM;
out:
	access_cursor_close(rows);
	return rc < 0 ? rc : 0;
}

static int regstat_by_count(const void *x, const void *y)
{
	const struct regstat *a = *(const struct regstat *const *)x, *b = *(const struct regstat *const *)y;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

static void regstat_print_json(FILE *f, const struct regstats *s, const struct regstat *r)
{
	char enc[ENC_TEXT_MAX];
	struct json j;

	enc_format(r->key, enc, sizeof(enc));
	json_begin(&j, f);
	json_int(&j, "boot_id", s->boot_id);
	json_uint(&j, "key", r->key);
	json_str(&j, "name", regnames_name(r->key, s->impl));
	json_str(&j, "encoding", enc);
	json_uint(&j, "count", r->count);
	json_uint(&j, "reads", r->reads);
	json_uint(&j, "writes", r->writes);
	json_uint(&j, "undefs", r->undefs);
	json_uint(&j, "pcs", r->npcs);
	json_int(&j, "first_ns", r->first_ns);
	json_int(&j, "last_ns", r->last_ns);
	json_end(&j);
}

void regstats_print(FILE *f, const struct regstats *s, bool json, size_t limit)
{
	const struct regstat **order = malloc((s->nregs ? s->nregs : 1) * sizeof(*order));
	char first[32], last[32], name[REGNAME_TEXT_MAX], enc[ENC_TEXT_MAX];
	size_t n = limit && limit < s->nregs ? limit : s->nregs;

	if (!order)
		return;
	for (size_t i = 0; i < s->nregs; i++)
		order[i] = &s->regs[i];
	if (s->nregs > 1)
		qsort(order, s->nregs, sizeof(*order), regstat_by_count);
	if (!json)
		fprintf(f, "%-24s %-16s %10s %9s %9s %9s %6s %10s %10s\n", "register", "encoding", "count",
			"reads", "writes", "undefs", "pcs", "first", "last");
	for (size_t i = 0; i < n; i++) {
		const struct regstat *r = order[i];
		const char *nm = regnames_name(r->key, s->impl);

		if (json) {
			regstat_print_json(f, s, r);
			continue;
		}
		enc_format(r->key, enc, sizeof(enc));
		snprintf(name, sizeof(name), "%s", nm ? nm : "-");
		/* seen times from the boot's start: comparable across boots */
		snprintf(first, sizeof(first), "+%s", cli_duration(r->first_ns - s->start_ns, last, sizeof(last)));
		cli_duration(r->last_ns - s->start_ns, last + 1, sizeof(last) - 1);
		last[0] = '+';
		fprintf(f, "%-24s %-16s %10" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %6zu %10s %10s\n",
			name, enc, r->count, r->reads, r->writes, r->undefs, r->npcs, first, last);
	}
	if (!json && n < s->nregs)
		fprintf(f, "(%zu more registers)\n", s->nregs - n);
	free(order);
}
