/* SPDX-License-Identifier: MIT */
/*
 * The batch as SQLite reads it: its rows put in key order, and the virtual
 * table (idsrd_batch) the writer's one INSERT ... SELECT a run of rows reads
 * them from. Both cut SQLite's work a row (docs/performance.md, "A row
 * cheaper to write"): the statements and the queue are store_sql.c and store.c.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- the rows' order ------------------------------------------------------ */

/* (boot, vCPU) pairs a run of rows is put in order over at most; a run with
 * more is written as it came. */
#define STORE_ORDER_GROUPS	64

struct order_group {
	int64_t boot_id;
	uint32_t vcpu;
	size_t count, at;
};

static bool group_before(const struct order_group *a, const struct order_group *b)
{
	return a->boot_id < b->boot_id || (a->boot_id == b->boot_id && a->vcpu < b->vcpu);
}

/* The group of r among g[0..ng-1], trying *last first (rows come in runs). */
static size_t group_of(const struct order_group *g, size_t ng, size_t last, const struct store_row *r)
{
	size_t k = last;

	if (k < ng && g[k].boot_id == r->boot_id && g[k].vcpu == r->vcpu)
		return k;
	for (k = 0; k < ng && (g[k].boot_id != r->boot_id || g[k].vcpu != r->vcpu); k++)
		;
	return k;
}

/* Rows it[0..n-1] grouped by (boot, vCPU) in that order, each group's rows
 * in the order they came (a vCPU's seq order; a duplicate key stays behind
 * the row it repeats, which is the one kept), through scratch. Left as they
 * came if there are more than STORE_ORDER_GROUPS groups. */
static void order_run(struct store_item *it, size_t n, struct store_item *scratch)
{
	struct order_group g[STORE_ORDER_GROUPS], t;
	size_t ng = 0, k = 0, at = 0;

	for (size_t i = 0; i < n; i++) {
		k = group_of(g, ng, k, &it[i].row);
		if (k == ng) {
			if (ng == STORE_ORDER_GROUPS)
				return;
			g[ng++] = (struct order_group){ it[i].row.boot_id, it[i].row.vcpu, 0, 0 };
		}
		g[k].count++;
	}
	if (ng == 1)
		return;
	for (size_t i = 1; i < ng; i++)		/* a handful: insertion sort */
		for (size_t j = i; j > 0 && group_before(&g[j], &g[j - 1]); j--) {
			t = g[j];
			g[j] = g[j - 1];
			g[j - 1] = t;
		}
	for (k = 0; k < ng; k++) {
		g[k].at = at;
		at += g[k].count;
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		k = group_of(g, ng, k, &it[i].row);
		scratch[g[k].at++] = it[i];
	}
	memcpy(it, scratch, n * sizeof(*it));
}

/*
 * SQLite skips the descent from the B-tree's root only for a key that goes
 * on the table's last page (sqlite3BtreeIndexMoveto); rows of several vCPUs
 * interleaved each descend. In key order the last vCPU's rows append, and
 * each vCPU's rows go where its previous one went (its path in the cache).
 * Key order is the database's order anyway: the rows are the same.
 */
void store_batch_order(struct store *s, struct store_item *batch, size_t n)
{
	if (!s->order_scratch && !(s->order_scratch = malloc(STORE_BATCH * sizeof(*batch))))
		return;		/* out of memory: written as they came, as well */
	for (size_t i = 0, end; i < n; i = end) {
		for (end = i; end < n && batch[end].kind == ITEM_ROW; end++)
			;
		if (end > i + 1)
			order_run(batch + i, end - i, s->order_scratch);
		if (end == i)
			end++;
	}
}

/* ---- the virtual table ------------------------------------------------------ */

/*
 * idsrd_batch: the rows store_batch_rows points it at, read in place. One
 * INSERT ... SELECT over it writes a run of rows with no binding: eleven
 * sqlite3_bind_* calls a row (and the statement's start and reset each 32
 * rows) cost more than SQLite's reading a column from a module. Eponymous
 * and direct-only: only the writer's own statement reads it, on the
 * writer's private connection.
 */

enum batch_col { COL_BOOT, COL_VCPU, COL_SEQ, COL_TS, COL_KEY, COL_PC, COL_EL, COL_WRITE, COL_VALUE,
		 COL_ACTION, COL_RULE };

struct batch_vtab {
	sqlite3_vtab base;
	struct store *s;
};

struct batch_cursor {
	sqlite3_vtab_cursor base;
	const struct store_item *it;
	size_t i, n;
};

static int batch_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
			 char **err)
{
	struct batch_vtab *t;
	int rc;

	(void)argc;
	(void)argv;
	(void)err;
	rc = sqlite3_declare_vtab(db, "CREATE TABLE x(boot_id INTEGER, vcpu INTEGER, seq INTEGER, ts_ns INTEGER,"
				  " key INTEGER, pc INTEGER, el INTEGER, is_write INTEGER, value INTEGER,"
				  " action TEXT, rule INTEGER)");
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
	t = sqlite3_malloc(sizeof(*t));
	if (!t)
		return SQLITE_NOMEM;
	memset(t, 0, sizeof(*t));
	t->s = aux;
	*out = &t->base;
	return SQLITE_OK;
}

static int batch_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

static int batch_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	(void)vt;
	info->estimatedCost = 1;
	info->estimatedRows = STORE_BATCH;
	return SQLITE_OK;
}

static int batch_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	struct batch_cursor *c = sqlite3_malloc(sizeof(*c));

	(void)vt;
	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	*out = &c->base;
	return SQLITE_OK;
}

static int batch_close(sqlite3_vtab_cursor *cur)
{
	sqlite3_free(cur);
	return SQLITE_OK;
}

static int batch_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc, sqlite3_value **argv)
{
	struct batch_cursor *c = (struct batch_cursor *)cur;
	struct store *s = ((struct batch_vtab *)cur->pVtab)->s;

	(void)idx;
	(void)idx_str;
	(void)argc;
	(void)argv;
	c->it = s->batch_rows;
	c->n = s->batch_nrows;
	c->i = 0;
	return SQLITE_OK;
}

static int batch_next(sqlite3_vtab_cursor *cur)
{
	((struct batch_cursor *)cur)->i++;
	return SQLITE_OK;
}

static int batch_eof(sqlite3_vtab_cursor *cur)
{
	const struct batch_cursor *c = (const struct batch_cursor *)cur;

	return c->i >= c->n;
}

static int batch_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	const struct batch_cursor *c = (const struct batch_cursor *)cur;
	const struct store_row *r = &c->it[c->i].row;

	switch ((enum batch_col)col) {
	case COL_BOOT: sqlite3_result_int64(ctx, r->boot_id); break;
	case COL_VCPU: sqlite3_result_int64(ctx, r->vcpu); break;
	case COL_SEQ: sqlite3_result_int64(ctx, (int64_t)r->seq); break;
	case COL_TS: sqlite3_result_int64(ctx, r->ts_ns); break;
	case COL_KEY: sqlite3_result_int64(ctx, r->key); break;
	case COL_PC: sqlite3_result_int64(ctx, (int64_t)r->pc); break;
	case COL_EL: sqlite3_result_int(ctx, r->el); break;
	case COL_WRITE: sqlite3_result_int(ctx, r->is_write); break;
	case COL_VALUE: sqlite3_result_int64(ctx, (int64_t)r->value); break;
	case COL_ACTION:
		if (r->undef)
			sqlite3_result_text(ctx, "undef", 5, SQLITE_STATIC);
		else
			sqlite3_result_text(ctx, "emulate", 7, SQLITE_STATIC);
		break;
	case COL_RULE: sqlite3_result_int(ctx, r->rule); break;
	}
	return SQLITE_OK;
}

static int batch_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((struct batch_cursor *)cur)->i;
	return SQLITE_OK;
}

static const sqlite3_module batch_module = {
	.iVersion = 0,
	.xCreate = NULL,		/* eponymous only: no CREATE VIRTUAL TABLE */
	.xConnect = batch_connect,
	.xBestIndex = batch_best_index,
	.xDisconnect = batch_disconnect,
	.xOpen = batch_open,
	.xClose = batch_close,
	.xFilter = batch_filter,
	.xNext = batch_next,
	.xEof = batch_eof,
	.xColumn = batch_column,
	.xRowid = batch_rowid,
};

int store_batch_register(struct store *s)
{
	return sqlite3_create_module_v2(s->db, "idsrd_batch", &batch_module, s, NULL);
}
