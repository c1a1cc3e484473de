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

/* The tables, for ClickHouse; the columns of schema.sql's plus boot_uid and host.
 * A column SQLite may hold NULL in is Nullable here, so a boot pulled back
 * (lib/fleet_pull.c) is the trace's, NULLs and all; end_ns and replay_of are
 * never 0 in a trace, so 0 stands for their NULL. */
static const char *const push_ddl[] = {
	"CREATE TABLE IF NOT EXISTS accesses (boot_uid UUID, host String, vcpu UInt32, seq UInt64,"
	" ts_ns Int64, key UInt32, pc UInt64, el UInt8, is_write UInt8, value UInt64, action String,"
	" rule Int32) ENGINE = MergeTree ORDER BY (boot_uid, vcpu, seq)",
	"CREATE TABLE IF NOT EXISTS boots (boot_uid UUID, host Nullable(String), boot_id Int64, start_ns Int64,"
	" end_ns Int64, vmm Nullable(String), vm_name Nullable(String), kernel Nullable(String),"
	" build_id Nullable(String), image_base UInt64, slide UInt64, midr UInt64, impl Nullable(String),"
	" vcpus UInt32, mode String, replay_of Int64, policy_hash Nullable(String), end_reason Nullable(String),"
	" accesses Int64, undefs Int64, rows_dropped Int64, divergences Int64, has_pcs UInt8,"
	" imported_from Nullable(String), pushed_ns Int64, instance Nullable(String),"
	" replay_source Nullable(String), peer_uid Nullable(Int64), peer_gid Nullable(Int64),"
	" peer_pid Nullable(Int64)) ENGINE = MergeTree ORDER BY boot_uid",
	/* the policy versions a boot ran under, and their texts (rule identity, docs/design.md 4.2) */
	"CREATE TABLE IF NOT EXISTS boot_policies (boot_uid UUID, policy_hash String, since_ns Int64)"
	" ENGINE = MergeTree ORDER BY (boot_uid, since_ns)",
	"CREATE TABLE IF NOT EXISTS policies (hash String, text String, source Nullable(String), first_ns Int64)"
	" ENGINE = ReplacingMergeTree ORDER BY hash",
};

int push_tables(struct ch *ch, const char *cluster, char *why, size_t whylen)
{
	char sql[512];

	for (size_t i = 0; i < sizeof(push_ddl) / sizeof(push_ddl[0]); i++)
		if (ch_query(ch, push_ddl[i], NULL, 0, NULL, why, whylen) < 0)
			return -EIO;
	for (int i = 0; cluster && i < 4; i++) {
		const char *t = (const char *const[]){ "accesses", "boots", "boot_policies", "policies" }[i];

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

/* The same, NULL as \\N (a Nullable column's NULL). */
static void tsv_str_or_null(struct push_buf *b, const char *s)
{
	if (s)
		tsv_str(b, s);
	else
		push_buf_add(b, "\\N");
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
	char sql[512];

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

static void tsv_int_or_null(struct push_buf *b, bool set, int64_t v)
{
	if (set)
		push_buf_printf(b, "%" PRId64, v);
	else
		push_buf_add(b, "\\N");
}

/* The boot's row of `boots', columns PUSH_BOOT_COLUMNS. */
static int push_boot_row(struct ch *ch, const struct push_boot *b, int64_t pushed_ns, char *why, size_t whylen)
{
	struct push_buf buf = { 0 };
	const char *text[] = { b->vmm, b->vm_name, b->kernel, b->build_id_hex };
	int rc;

	push_buf_printf(&buf, "%s\t", b->uid);
	tsv_str_or_null(&buf, b->host);
	push_buf_printf(&buf, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64, b->id, b->start_ns, b->end_ns);
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		push_buf_add(&buf, "\t");
		tsv_str_or_null(&buf, text[i]);
	}
	push_buf_printf(&buf, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t", b->image_base, b->slide, b->midr);
	tsv_str_or_null(&buf, b->impl);
	push_buf_printf(&buf, "\t%" PRIu32 "\t", b->vcpus);
	tsv_str(&buf, b->mode);
	push_buf_printf(&buf, "\t%" PRId64 "\t", b->replay_of);
	tsv_str_or_null(&buf, b->policy_hash);
	push_buf_add(&buf, "\t");
	tsv_str_or_null(&buf, b->end_reason);
	push_buf_printf(&buf, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%d\t", b->accesses,
			b->undefs, b->rows_dropped, b->divergences, b->has_pcs);
	tsv_str_or_null(&buf, b->imported_from);
	push_buf_printf(&buf, "\t%" PRId64 "\t", pushed_ns);
	tsv_str_or_null(&buf, b->instance_hex);
	push_buf_add(&buf, "\t");
	tsv_str_or_null(&buf, b->replay_source);
	push_buf_add(&buf, "\t");
	tsv_int_or_null(&buf, b->has_peer_uid, b->peer_uid);
	push_buf_add(&buf, "\t");
	tsv_int_or_null(&buf, b->has_peer_gid, b->peer_gid);
	push_buf_add(&buf, "\t");
	tsv_int_or_null(&buf, b->has_peer_pid, b->peer_pid);
	push_buf_add(&buf, "\n");
	rc = push_insert(ch, "boots (" PUSH_BOOT_COLUMNS ")", &buf, why, whylen);
	free(buf.p);
	return rc;
}

/*
 * The boot's boot_policies rows, and the texts of those versions the server
 * lacks, so that a boot read back names its rules as the trace does. Each is
 * one INSERT (atomic), sent only when the server has none of it; they go
 * before the `boots' row, which says the boot is whole.
 */
static int push_policies(struct ch *ch, sqlite3 *db, const struct push_boot *b, char *why, size_t whylen)
{
	struct push_buf vers = { 0 }, texts = { 0 };
	char sql[512], *out = NULL;
	sqlite3_stmt *st = NULL;
	long long n;
	int rc = -EIO;

	snprintf(sql, sizeof(sql), "SELECT count() FROM boot_policies WHERE boot_uid = toUUID('%s') FORMAT TSV",
		 b->uid);
	if (ch_query(ch, sql, NULL, 0, &out, why, whylen) < 0)
		return -EIO;
	if (atoll(out) == 0) {
		if (sqlite3_prepare_v2(db, "SELECT policy_hash, since_ns FROM boot_policies WHERE boot_id = ?"
				       " ORDER BY since_ns", -1, &st, NULL) != SQLITE_OK)
			goto sql_error;
		sqlite3_bind_int64(st, 1, b->id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			push_buf_printf(&vers, "%s\t", b->uid);
			tsv_str(&vers, (const char *)sqlite3_column_text(st, 0));
			push_buf_printf(&vers, "\t%" PRId64 "\n", (int64_t)sqlite3_column_int64(st, 1));
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	free(out);
	out = NULL;
	/* the texts: of the versions in boot_policies and the one at the start */
	if (sqlite3_prepare_v2(db, "SELECT hash, text, source, first_ns FROM policies WHERE hash IN"
			       " (SELECT policy_hash FROM boot_policies WHERE boot_id = ?1"
			       " UNION SELECT policy_hash FROM boots WHERE id = ?1) ORDER BY hash", -1, &st,
			       NULL) != SQLITE_OK)
		goto sql_error;
	sqlite3_bind_int64(st, 1, b->id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(st, 0);

		/* a hash is hex (policy_hash_text); anything else is sent, not put in a query */
		if (hash && *hash && strspn(hash, "0123456789abcdef") == strlen(hash) && strlen(hash) < 64) {
			snprintf(sql, sizeof(sql), "SELECT count() FROM policies WHERE hash = '%s' FORMAT TSV", hash);
			if (ch_query(ch, sql, NULL, 0, &out, why, whylen) < 0)
				goto out;
			n = atoll(out);
			free(out);
			out = NULL;
			if (n > 0)
				continue;
		}
		tsv_str(&texts, hash);
		push_buf_add(&texts, "\t");
		tsv_str(&texts, (const char *)sqlite3_column_text(st, 1));
		push_buf_add(&texts, "\t");
		tsv_str_or_null(&texts, (const char *)sqlite3_column_text(st, 2));
		push_buf_printf(&texts, "\t%" PRId64 "\n", (int64_t)sqlite3_column_int64(st, 3));
	}
	rc = 0;
	if (vers.len || vers.failed)
		rc = push_insert(ch, "boot_policies", &vers, why, whylen);
	if (rc == 0 && (texts.len || texts.failed))
		rc = push_insert(ch, "policies", &texts, why, whylen);
	goto out;
sql_error:
	snprintf(why, whylen, "reading the trace's policies: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	free(out);
	free(vers.p);
	free(texts.p);
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
	if (!r->already && push_policies(ch, db, b, why, whylen) < 0)
		return -EIO;
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
	/* the blobs as hex, a NULL one as NULL (hex(NULL) is '') */
	if (sqlite3_prepare_v2(db, "SELECT boot_uid, host, start_ns, coalesce(end_ns, 0), vmm, vm_name, kernel,"
			       " CASE WHEN build_id IS NOT NULL THEN lower(hex(build_id)) END, image_base, slide,"
			       " midr, impl, vcpus, mode, coalesce(replay_of, 0),"
			       " policy_hash, end_reason, accesses, undefs, rows_dropped, divergences, has_pcs,"
			       " imported_from, (SELECT count(*) FROM accesses WHERE boot_id = ?1),"
			       " end_ns IS NOT NULL AND coalesce(end_reason, '') NOT LIKE 'cut off%',"
			       " CASE WHEN instance IS NOT NULL THEN lower(hex(instance)) END, replay_source,"
			       " peer_uid, peer_gid, peer_pid"
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
	b->host = db_column_dup(st, 1);
	b->start_ns = sqlite3_column_int64(st, 2);
	b->end_ns = sqlite3_column_int64(st, 3);
	b->vmm = db_column_dup(st, 4);
	b->vm_name = db_column_dup(st, 5);
	b->kernel = db_column_dup(st, 6);
	b->build_id_hex = db_column_dup(st, 7);
	b->image_base = (uint64_t)sqlite3_column_int64(st, 8);
	b->slide = (uint64_t)sqlite3_column_int64(st, 9);
	b->midr = (uint64_t)sqlite3_column_int64(st, 10);
	b->impl = db_column_dup(st, 11);
	b->vcpus = (uint32_t)sqlite3_column_int64(st, 12);
	b->mode = db_column_dup(st, 13);
	b->replay_of = sqlite3_column_int64(st, 14);
	b->policy_hash = db_column_dup(st, 15);
	b->end_reason = db_column_dup(st, 16);
	b->accesses = sqlite3_column_int64(st, 17);
	b->undefs = sqlite3_column_int64(st, 18);
	b->rows_dropped = sqlite3_column_int64(st, 19);
	b->divergences = sqlite3_column_int64(st, 20);
	b->has_pcs = sqlite3_column_int(st, 21);
	b->imported_from = db_column_dup(st, 22);
	b->rows = sqlite3_column_int64(st, 23);
	b->finished = sqlite3_column_int(st, 24) != 0;
	b->instance_hex = db_column_dup(st, 25);
	b->replay_source = db_column_dup(st, 26);
	b->has_peer_uid = sqlite3_column_type(st, 27) != SQLITE_NULL;
	b->peer_uid = sqlite3_column_int64(st, 27);
	b->has_peer_gid = sqlite3_column_type(st, 28) != SQLITE_NULL;
	b->peer_gid = sqlite3_column_int64(st, 28);
	b->has_peer_pid = sqlite3_column_type(st, 29) != SQLITE_NULL;
	b->peer_pid = sqlite3_column_int64(st, 29);
	sqlite3_finalize(st);
	return 0;
}

void push_boot_free(struct push_boot *b)
{
	char **s[] = { &b->host, &b->vmm, &b->vm_name, &b->kernel, &b->build_id_hex, &b->impl, &b->mode,
		       &b->policy_hash, &b->end_reason, &b->imported_from, &b->instance_hex, &b->replay_source };

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
}
