/* SPDX-License-Identifier: MIT */
/*
 * idsrctl push: sends finished boots to ClickHouse (docs/fleet.md). Exactly
 * once as queries see it, though ClickHouse 18.16 does not deduplicate
 * MergeTree inserts: before sending a boot the server is asked, per vCPU,
 * the highest seq it holds of the boot_uid, and only later rows are sent, in
 * (vcpu, seq) order, one INSERT a batch, each batch waiting for the last's
 * answer. A batch is one block (fewer rows than max_insert_block_size, one
 * partition) so it lands whole or not at all; even a cut stream keeps a
 * per-vCPU prefix. The boot's row in `boots` goes last, after the count was
 * checked: it says the boot is complete there.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

#include "clickhouse.h"
#include "db.h"
#include "fleet_push.h"

/* The tables, for ClickHouse; the columns of schema.sql's plus boot_uid and host. */
static const char *const push_ddl[] = {
	"CREATE TABLE IF NOT EXISTS accesses (boot_uid UUID, host String, vcpu UInt32, seq UInt64,"
	" ts_ns Int64, key UInt32, pc UInt64, el UInt8, is_write UInt8, value UInt64, action String,"
	" rule Int32) ENGINE = MergeTree ORDER BY (boot_uid, vcpu, seq)",
	"CREATE TABLE IF NOT EXISTS boots (boot_uid UUID, host String, boot_id Int64, start_ns Int64,"
	" end_ns Int64, vmm String, vm_name String, kernel String, build_id String, image_base UInt64,"
	" slide UInt64, midr UInt64, impl String, vcpus UInt32, mode String, replay_of Int64,"
	" policy_hash String, end_reason String, accesses Int64, undefs Int64, rows_dropped Int64,"
	" divergences Int64, has_pcs UInt8, imported_from String, pushed_ns Int64)"
	" ENGINE = MergeTree ORDER BY boot_uid",
};

int push_tables(struct ch *ch, const char *cluster, char *why, size_t whylen)
{
	char sql[512];

	for (size_t i = 0; i < sizeof(push_ddl) / sizeof(push_ddl[0]); i++)
		if (ch_query(ch, push_ddl[i], NULL, 0, NULL, why, whylen) < 0)
			return -EIO;
	for (int i = 0; cluster && i < 2; i++) {
		const char *t = i ? "boots" : "accesses";

		snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS %s_all AS %s ENGINE = Distributed(%s, %s, %s)",
			 t, t, cluster, ch->database, t);
		if (ch_query(ch, sql, NULL, 0, NULL, why, whylen) < 0)
			return -EIO;
	}
	return 0;
}

/* TSV text of s (ClickHouse's escaping), NULL as the empty string. */
static void tsv_str(struct push_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '\t': push_buf_add(b, "\\t"); break;
		case '\n': push_buf_add(b, "\\n"); break;
		case '\\': push_buf_add(b, "\\\\"); break;
		default: push_buf_addn(b, s, 1);
		}
	}
}

void push_buf_addn(struct push_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 65536) + n;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void push_buf_add(struct push_buf *b, const char *s)
{
	push_buf_addn(b, s, strlen(s));
}

static void push_buf_printf(struct push_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push_buf_printf(struct push_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	push_buf_addn(b, tmp, n < 0 ? 0 : (size_t)n >= sizeof(tmp) ? sizeof(tmp) - 1 : (size_t)n);
}

/* The server's highest seq per vCPU of the boot: *max[vcpu] + 1, 0 for none. */
static int push_held(struct ch *ch, const char *uid, uint64_t **next, size_t *n, char *why, size_t whylen)
{
	char sql[256], *out, *line, *save;

	snprintf(sql, sizeof(sql), "SELECT vcpu, max(seq) FROM accesses WHERE boot_uid = toUUID('%s')"
		 " GROUP BY vcpu FORMAT TSV", uid);
	if (ch_query(ch, sql, NULL, 0, &out, why, whylen) < 0)
		return -EIO;
	*next = NULL;
	*n = 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long v;
		unsigned long long seq;

		if (sscanf(line, "%lu\t%llu", &v, &seq) != 2 || v > 1u << 20) {
			snprintf(why, whylen, "unexpected answer `%.60s'", line);
			free(out);
			return -EPROTO;
		}
		if (v >= *n) {
			uint64_t *more = realloc(*next, (v + 1) * sizeof(**next));

			if (!more) {
				free(out);
				return -ENOMEM;
			}
			memset(more + *n, 0, (v + 1 - *n) * sizeof(*more));
			*next = more;
			*n = v + 1;
		}
		(*next)[v] = seq + 1;
	}
	free(out);
	return 0;
}

/* count() and distinct (vcpu, seq) of the boot on the server. */
int push_server_count(struct ch *ch, const char *uid, int64_t *count, int64_t *distinct, char *why,
		      size_t whylen)
{
	char sql[256], *out;
	long long c, d;

	snprintf(sql, sizeof(sql), "SELECT count(), uniqExact(vcpu, seq) FROM accesses"
		 " WHERE boot_uid = toUUID('%s') FORMAT TSV", uid);
	if (ch_query(ch, sql, NULL, 0, &out, why, whylen) < 0)
		return -EIO;
	if (sscanf(out, "%lld\t%lld", &c, &d) != 2) {
		snprintf(why, whylen, "unexpected answer `%.60s'", out);
		free(out);
		return -EPROTO;
	}
	free(out);
	*count = c;
	*distinct = d;
	return 0;
}

static int push_insert(struct ch *ch, const char *table, struct push_buf *b, char *why, size_t whylen)
{
	char sql[128];

	if (b->failed) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	snprintf(sql, sizeof(sql), "INSERT INTO %s FORMAT TabSeparated", table);
	return ch_query(ch, sql, b->p, b->len, NULL, why, whylen);
}

/* Sends the rows of boot b the server does not have; counts them in *sent, *batches. */
static int push_rows(struct ch *ch, sqlite3 *db, const struct push_boot *b, size_t batch,
		     int64_t *sent, int64_t *batches, char *why, size_t whylen)
{
	struct push_buf buf = { 0 };
	uint64_t *next = NULL;
	size_t nvcpu = 0, rows = 0;
	sqlite3_stmt *st;
	int rc = 0;

	if (push_held(ch, b->uid, &next, &nvcpu, why, whylen) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule"
			       " FROM accesses WHERE boot_id = ? ORDER BY vcpu, seq", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "reading the trace: %s", sqlite3_errmsg(db));
		free(next);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, b->id);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		int64_t vcpu = sqlite3_column_int64(st, 0), seq = sqlite3_column_int64(st, 1);

		if ((uint64_t)vcpu < nvcpu && (uint64_t)seq < next[vcpu])
			continue;
		push_buf_printf(&buf, "%s\t", b->uid);
		tsv_str(&buf, b->host);
		push_buf_printf(&buf, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRIu32 "\t%" PRIu64 "\t%d\t%d\t%"
				PRIu64 "\t%s\t%d\n", vcpu, seq, (int64_t)sqlite3_column_int64(st, 2),
				(uint32_t)sqlite3_column_int64(st, 3), (uint64_t)sqlite3_column_int64(st, 4),
				sqlite3_column_int(st, 5), sqlite3_column_int(st, 6),
				(uint64_t)sqlite3_column_int64(st, 7), (const char *)sqlite3_column_text(st, 8),
				sqlite3_column_int(st, 9));
		if (++rows == batch) {
			rc = push_insert(ch, "accesses", &buf, why, whylen);
			*sent += (int64_t)rows;
			++*batches;
			rows = buf.len = 0;
		}
	}
	if (rc == 0 && rows) {
		rc = push_insert(ch, "accesses", &buf, why, whylen);
		*sent += rc == 0 ? (int64_t)rows : 0;
		++*batches;
	}
	sqlite3_finalize(st);
	free(buf.p);
	free(next);
	return rc;
}

static int push_boot_row(struct ch *ch, const struct push_boot *b, int64_t pushed_ns, char *why, size_t whylen)
{
	struct push_buf buf = { 0 };
	const char *text[] = { b->vmm, b->vm_name, b->kernel, b->build_id_hex, NULL };
	int rc;

	push_buf_printf(&buf, "%s\t", b->uid);
	tsv_str(&buf, b->host);
	push_buf_printf(&buf, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64, b->id, b->start_ns, b->end_ns);
	for (int i = 0; text[i] || i < 4; i++) {
		push_buf_add(&buf, "\t");
		tsv_str(&buf, text[i]);
	}
	push_buf_printf(&buf, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t", b->image_base, b->slide, b->midr);
	tsv_str(&buf, b->impl);
	push_buf_printf(&buf, "\t%" PRIu32 "\t", b->vcpus);
	tsv_str(&buf, b->mode);
	push_buf_printf(&buf, "\t%" PRId64 "\t", b->replay_of);
	tsv_str(&buf, b->policy_hash);
	push_buf_add(&buf, "\t");
	tsv_str(&buf, b->end_reason);
	push_buf_printf(&buf, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%d\t", b->accesses,
			b->undefs, b->rows_dropped, b->divergences, b->has_pcs);
	tsv_str(&buf, b->imported_from);
	push_buf_printf(&buf, "\t%" PRId64 "\n", pushed_ns);
	rc = push_insert(ch, "boots", &buf, why, whylen);
	free(buf.p);
	return rc;
}

int push_one(struct ch *ch, sqlite3 *db, const struct push_boot *b, size_t batch, struct push_result *r,
	     char *why, size_t whylen)
{
	char sql[256], *out;
	int64_t count, distinct;
	struct timespec ts;

	memset(r, 0, sizeof(*r));
	snprintf(sql, sizeof(sql), "SELECT count() FROM boots WHERE boot_uid = toUUID('%s') FORMAT TSV", b->uid);
	if (ch_query(ch, sql, NULL, 0, &out, why, whylen) < 0)
		return -EIO;
	r->already = atoll(out) > 0;
	free(out);
	if (!r->already && push_rows(ch, db, b, batch, &r->sent, &r->batches, why, whylen) < 0)
		return -EIO;
	if (push_server_count(ch, b->uid, &count, &distinct, why, whylen) < 0)
		return -EIO;
	r->on_server = count;
	if (count != b->rows || distinct != count) {
		snprintf(why, whylen, "the server holds %" PRId64 " rows (%" PRId64 " distinct) of the boot, "
			 "the trace %" PRId64, count, distinct, b->rows);
		return -EPROTO;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!r->already && push_boot_row(ch, b, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, why, whylen) < 0)
		return -EIO;
	return 0;
}

size_t push_shard(const char *uid, size_t n)
{
	uint64_t h = 0;

	for (int i = 0; uid[i] && i < 18; i++)
		if (uid[i] != '-')
			h = h << 4 | (uint64_t)(uid[i] <= '9' ? uid[i] - '0' : uid[i] - 'a' + 10);
	return n ? (size_t)(h % n) : 0;
}

static char *col_dup(sqlite3_stmt *st, int c)
{
	const unsigned char *t = sqlite3_column_text(st, c);

	return t ? strdup((const char *)t) : NULL;
}

int push_boot_read(sqlite3 *db, int64_t id, struct push_boot *b, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int rc;

	memset(b, 0, sizeof(*b));
	if (!db_has_column(db, "boots", "boot_uid")) {
		snprintf(why, whylen, "the trace is older than schema 4 (its boots have no boot_uid): "
			 "idsrd upgrades it when it opens it (idsrd --db FILE)");
		return -EPROTO;
	}
	if (sqlite3_prepare_v2(db, "SELECT boot_uid, host, start_ns, coalesce(end_ns, 0), vmm, vm_name, kernel,"
			       " lower(hex(build_id)), image_base, slide, midr, impl, vcpus, mode, coalesce(replay_of, 0),"
			       " policy_hash, end_reason, accesses, undefs, rows_dropped, divergences, has_pcs,"
			       " imported_from, (SELECT count(*) FROM accesses WHERE boot_id = ?1),"
			       " end_ns IS NOT NULL AND coalesce(end_reason, '') NOT LIKE 'cut off%'"
			       " FROM boots WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "reading the trace: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			snprintf(why, whylen, "no boot %lld in the trace", (long long)id);
		else
			snprintf(why, whylen, "reading the trace: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	b->id = id;
	snprintf(b->uid, sizeof(b->uid), "%s", (const char *)sqlite3_column_text(st, 0));
	b->host = col_dup(st, 1);
	b->start_ns = sqlite3_column_int64(st, 2);
	b->end_ns = sqlite3_column_int64(st, 3);
	b->vmm = col_dup(st, 4);
	b->vm_name = col_dup(st, 5);
	b->kernel = col_dup(st, 6);
	b->build_id_hex = col_dup(st, 7);
	b->image_base = (uint64_t)sqlite3_column_int64(st, 8);
	b->slide = (uint64_t)sqlite3_column_int64(st, 9);
	b->midr = (uint64_t)sqlite3_column_int64(st, 10);
	b->impl = col_dup(st, 11);
	b->vcpus = (uint32_t)sqlite3_column_int64(st, 12);
	b->mode = col_dup(st, 13);
	b->replay_of = sqlite3_column_int64(st, 14);
	b->policy_hash = col_dup(st, 15);
	b->end_reason = col_dup(st, 16);
	b->accesses = sqlite3_column_int64(st, 17);
	b->undefs = sqlite3_column_int64(st, 18);
	b->rows_dropped = sqlite3_column_int64(st, 19);
	b->divergences = sqlite3_column_int64(st, 20);
	b->has_pcs = sqlite3_column_int(st, 21);
	b->imported_from = col_dup(st, 22);
	b->rows = sqlite3_column_int64(st, 23);
	b->finished = sqlite3_column_int(st, 24) != 0;
	sqlite3_finalize(st);
	return 0;
}

void push_boot_free(struct push_boot *b)
{
	char **s[] = { &b->host, &b->vmm, &b->vm_name, &b->kernel, &b->build_id_hex, &b->impl, &b->mode,
		       &b->policy_hash, &b->end_reason, &b->imported_from };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
}
