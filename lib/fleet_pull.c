/* SPDX-License-Identifier: MIT */
/*
 * Boots read back from ClickHouse into a trace database: the `boots' row, the
 * accesses (streamed in (vcpu, seq) order, a line at a time, so a boot of any
 * size takes the memory of a line), the policy versions. Every value is
 * parsed strictly from TabSeparated text (u64 columns as unsigned, stored as
 * SQLite's two's complement like idsrd writes them; \N as NULL), and the
 * rows written are counted against the server's count(): what a reading
 * command then reads through replay/access_rows.c is the trace as pushed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_pull.h"

/* Splits line into TabSeparated fields, unescaping each in place (an
 * escape is longer than its character, so the text written never passes the
 * text read); a field that is \N alone is NULL. The count, max + 1 when
 * there are more than max. */
static size_t tsv_split(char *line, char **f, size_t max)
{
	char *r = line, *w = line, end;
	size_t n = 0;

	for (;;) {
		if (n == max)
			return max + 1;
		if (r[0] == '\\' && r[1] == 'N' && (r[2] == '\t' || !r[2])) {
			f[n++] = NULL;
			r += 2;
		} else {
			f[n++] = w;
			for (; *r && *r != '\t'; r++) {
				if (*r != '\\' || !r[1]) {
					*w++ = *r;
					continue;
				}
				switch (*++r) {
				case 'b': *w++ = '\b'; break;
				case 'f': *w++ = '\f'; break;
				case 'r': *w++ = '\r'; break;
				case 'n': *w++ = '\n'; break;
				case 't': *w++ = '\t'; break;
				case '0': *w++ = '\0'; break;
				default: *w++ = *r;	/* \\ \' and any other: the character */
				}
			}
		}
		end = *r;
		if (f[n - 1])
			*w++ = '\0';	/* may be where r is: end was read first */
		if (!end)
			return n;
		r++;
	}
}

/* A whole decimal number (a '-' first only when min < 0) within [min, max]. */
static bool num_i64(const char *s, int64_t min, int64_t max, int64_t *v)
{
	char *end;
	long long x;

	if (!s || !*s || (*s == '-' && min >= 0) || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return false;
	*v = x;
	return true;
}

static bool num_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* SQL text of s as a ClickHouse string literal's inside (' and \ escaped) into buf. */
static const char *sql_quote(const char *s, char *buf, size_t len)
{
	size_t w = 0;

	for (; *s && w + 3 < len; s++) {
		if (*s == '\'' || *s == '\\')
			buf[w++] = '\\';
		buf[w++] = *s;
	}
	buf[w] = '\0';
	return buf;
}

/* ---- the server ---------------------------------------------------------- */

int pull_open(struct pull *p, const char *url, const char *credentials, char *why, size_t whylen)
{
	char *out = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->url, sizeof(p->url), "%s", url);
	p->sfx = "";
	rc = ch_open(url, credentials, &p->ch, why, whylen);
	if (rc < 0)
		return rc;
	/* one question that also says whether the server answers, and to whom */
	if (ch_query(&p->ch, "SELECT name FROM system.tables WHERE database = currentDatabase()"
		     " AND name IN ('boots', 'boots_all') ORDER BY name FORMAT TSV", NULL, 0, &out, why, whylen) < 0) {
		size_t l = strlen(why);

		if (strstr(why, "connect") || strstr(why, "resolve"))
			snprintf(why + l, whylen - l, " (is ClickHouse running there? check the URL)");
		else if (strstr(why, "Code: 192") || strstr(why, "Code: 193") || strstr(why, "Code: 516"))
			snprintf(why + l, whylen - l, " (check the credentials: --credentials FILE, or "
				 "~/.config/idsrd/clickhouse)");
		else if (strstr(why, "Code: 81"))
			snprintf(why + l, whylen - l, " (no such database: check the URL)");
		pull_close(p);
		return -EIO;
	}
	if (strstr(out, "boots_all\n"))
		p->sfx = "_all";
	else if (!strstr(out, "boots\n")) {
		snprintf(why, whylen, "%s: no boots there (its database has no table `boots'): push boots to it "
			 "first (idsrctl push TRACE --to URL)", url);
		free(out);
		pull_close(p);
		return -ENOENT;
	}
	free(out);
	return 0;
}

void pull_close(struct pull *p)
{
	ch_close(&p->ch);
}

/* ---- finding boots ------------------------------------------------------- */

struct pull_found {
	struct push_boot *boots;
	size_t n;
	char *why;
	size_t whylen;
};

/* One line of SELECT PUSH_BOOT_COLUMNS into a push_boot. */
static int pull_boot_line(void *arg, char *line, size_t len)
{
	struct pull_found *f = arg;
	char *c[32];
	struct push_boot *more, *b;
	int64_t v[32] = { 0 };
	uint64_t u[3];
	bool ok;

	if (tsv_split(line, c, 32) != 30)
		goto bad;
	ok = c[0] && strlen(c[0]) < sizeof(b->uid) && num_i64(c[2], 1, INT64_MAX, &v[2]) &&
	     num_i64(c[3], INT64_MIN, INT64_MAX, &v[3]) && num_i64(c[4], INT64_MIN, INT64_MAX, &v[4]) &&
	     num_u64(c[9], &u[0]) && num_u64(c[10], &u[1]) && num_u64(c[11], &u[2]) &&
	     num_i64(c[13], 0, UINT32_MAX, &v[13]) && c[14] && num_i64(c[15], 0, INT64_MAX, &v[15]);
	for (int i = 18; ok && i <= 22; i++)
		ok = num_i64(c[i], INT64_MIN, INT64_MAX, &v[i]);
	for (int i = 27; ok && i <= 29; i++)
		ok = !c[i] || num_i64(c[i], INT64_MIN, INT64_MAX, &v[i]);
	if (!ok)
		goto bad;
	more = realloc(f->boots, (f->n + 1) * sizeof(*more));
	if (!more) {
		snprintf(f->why, f->whylen, "out of memory");
		return -ENOMEM;
	}
	f->boots = more;
	b = &more[f->n++];
	memset(b, 0, sizeof(*b));
	snprintf(b->uid, sizeof(b->uid), "%s", c[0]);
	b->host = dup_or_null(c[1]);
	b->id = v[2];
	b->start_ns = v[3];
	b->end_ns = v[4];
	b->vmm = dup_or_null(c[5]);
	b->vm_name = dup_or_null(c[6]);
	b->kernel = dup_or_null(c[7]);
	b->build_id_hex = dup_or_null(c[8]);
	b->image_base = u[0];
	b->slide = u[1];
	b->midr = u[2];
	b->impl = dup_or_null(c[12]);
	b->vcpus = (uint32_t)v[13];
	b->mode = dup_or_null(c[14]);
	b->replay_of = v[15];
	b->policy_hash = dup_or_null(c[16]);
	b->end_reason = dup_or_null(c[17]);
	b->accesses = v[18];
	b->undefs = v[19];
	b->rows_dropped = v[20];
	b->divergences = v[21];
	b->has_pcs = (int)v[22];
	b->imported_from = dup_or_null(c[23]);
	b->instance_hex = dup_or_null(c[25]);
	b->replay_source = dup_or_null(c[26]);
	b->has_peer_uid = c[27] != NULL;
	b->peer_uid = v[27];
	b->has_peer_gid = c[28] != NULL;
	b->peer_gid = v[28];
	b->has_peer_pid = c[29] != NULL;
	b->peer_pid = v[29];
	b->finished = b->end_ns != 0 && (!b->end_reason || strncmp(b->end_reason, "cut off", 7));
	return 0;
bad:
	snprintf(f->why, f->whylen, "an unexpected row of boots: `%.200s'", line);
	(void)len;
	return -EPROTO;
}

int pull_find(struct pull *p, const struct pull_select *sel, size_t max, struct push_boot **boots, size_t *n,
	      char *why, size_t whylen)
{
	struct pull_found f = { .why = why, .whylen = whylen };
	char sql[2048], q[600];
	size_t len;
	int rc;

	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " PUSH_BOOT_COLUMNS " FROM boots%s WHERE 1", p->sfx);
	if (sel->uid && strlen(sel->uid) == 36)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND boot_uid = toUUID('%s')",
					sql_quote(sel->uid, q, sizeof(q)));
	else if (sel->uid)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND startsWith(toString(boot_uid), '%s')",
					sql_quote(sel->uid, q, sizeof(q)));
	if (sel->vm)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND vm_name = '%s'",
					sql_quote(sel->vm, q, sizeof(q)));
	if (sel->kernel)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND kernel = '%s'",
					sql_quote(sel->kernel, q, sizeof(q)));
	/* a boot pushed twice at once has two rows: the first is as good as the other */
	len += (size_t)snprintf(sql + len, sizeof(sql) - len, " ORDER BY start_ns DESC, boot_uid LIMIT 1 BY boot_uid");
	if (sel->latest || max)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " LIMIT %zu", sel->latest ? 1 : max);
	snprintf(sql + len, sizeof(sql) - len, " FORMAT TabSeparated");
	rc = ch_query_lines(&p->ch, sql, pull_boot_line, &f, why, whylen);
	if (rc < 0) {
		for (size_t i = 0; i < f.n; i++)
			push_boot_free(&f.boots[i]);
		free(f.boots);
		return rc;
	}
	*boots = f.boots;
	*n = f.n;
	return 0;
}

/* ---- writing into the trace ---------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* A blob from its lower-case hex (push wrote it so); false if not hex. */
static bool bind_hex(sqlite3_stmt *st, int i, const char *hex)
{
	size_t n = hex ? strlen(hex) / 2 : 0;
	unsigned char *b;

	if (!hex) {
		sqlite3_bind_null(st, i);
		return true;
	}
	if (strlen(hex) % 2 || strspn(hex, "0123456789abcdef") != strlen(hex) || !(b = malloc(n + 1)))
		return false;
	for (size_t k = 0; k < n; k++) {
		unsigned hi = (unsigned)(hex[2 * k] <= '9' ? hex[2 * k] - '0' : hex[2 * k] - 'a' + 10);
		unsigned lo = (unsigned)(hex[2 * k + 1] <= '9' ? hex[2 * k + 1] - '0' : hex[2 * k + 1] - 'a' + 10);

		b[k] = (unsigned char)(hi << 4 | lo);
	}
	sqlite3_bind_blob(st, i, b, (int)n, free);
	return true;
}

static void bind_opt_int(sqlite3_stmt *st, int i, bool set, int64_t v)
{
	if (set)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

int pull_boot_row(sqlite3 *db, const struct push_boot *b, int64_t id, char *why, size_t whylen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, instance, kernel, build_id,"
			       " image_base, slide, midr, impl, vcpus, mode, replay_of, replay_source, policy_hash,"
			       " end_reason, accesses, undefs, rows_dropped, divergences, peer_uid, peer_gid, peer_pid,"
			       " has_pcs, imported_from, boot_uid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
			       " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "writing the boot: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, b->start_ns);
	bind_opt_int(st, 3, b->end_ns != 0, b->end_ns);
	bind_text(st, 4, b->vmm);
	bind_text(st, 5, b->vm_name);
	if (!bind_hex(st, 6, b->instance_hex) || !bind_hex(st, 8, b->build_id_hex)) {
		sqlite3_finalize(st);
		snprintf(why, whylen, "boot %s: its instance or build_id is not hex", b->uid);
		return -EPROTO;
	}
	bind_text(st, 7, b->kernel);
	sqlite3_bind_int64(st, 9, (int64_t)b->image_base);
	sqlite3_bind_int64(st, 10, (int64_t)b->slide);
	sqlite3_bind_int64(st, 11, (int64_t)b->midr);
	bind_text(st, 12, b->impl);
	sqlite3_bind_int64(st, 13, b->vcpus);
	bind_text(st, 14, b->mode);
	bind_opt_int(st, 15, b->replay_of != 0, b->replay_of);
	bind_text(st, 16, b->replay_source);
	bind_text(st, 17, b->policy_hash);
	bind_text(st, 18, b->end_reason);
	sqlite3_bind_int64(st, 19, b->accesses);
	sqlite3_bind_int64(st, 20, b->undefs);
	sqlite3_bind_int64(st, 21, b->rows_dropped);
	sqlite3_bind_int64(st, 22, b->divergences);
	bind_opt_int(st, 23, b->has_peer_uid, b->peer_uid);
	bind_opt_int(st, 24, b->has_peer_gid, b->peer_gid);
	bind_opt_int(st, 25, b->has_peer_pid, b->peer_pid);
	sqlite3_bind_int(st, 26, b->has_pcs);
	bind_text(st, 27, b->imported_from);
	bind_text(st, 28, b->uid);
	bind_text(st, 29, b->host);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(why, whylen, "writing boot %s: %s", b->uid, sqlite3_errmsg(db));
		return -EIO;
	}
	return 0;
}

struct pull_rows {
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t id, rows;
	const char *uid;
	char *why;
	size_t whylen;
};

/* One access: vcpu seq ts_ns key pc el is_write value action rule. */
static int pull_access_line(void *arg, char *line, size_t len)
{
	struct pull_rows *r = arg;
	char *c[12], copy[160];
	int64_t v[10];
	uint64_t pc, value;

	snprintf(copy, sizeof(copy), "%s", line);
	if (tsv_split(line, c, 12) != 10 || !num_i64(c[0], 0, UINT32_MAX, &v[0]) ||
	    !num_i64(c[1], 0, INT64_MAX, &v[1]) || !num_i64(c[2], INT64_MIN, INT64_MAX, &v[2]) ||
	    !num_i64(c[3], 0, UINT32_MAX, &v[3]) || !num_u64(c[4], &pc) || !num_i64(c[5], 0, 255, &v[5]) ||
	    !num_i64(c[6], 0, 255, &v[6]) || !num_u64(c[7], &value) || !c[8] ||
	    !num_i64(c[9], INT32_MIN, INT32_MAX, &v[9])) {
		snprintf(r->why, r->whylen, "boot %s: an unexpected row of accesses: `%s'", r->uid, copy);
		return -EPROTO;
	}
	sqlite3_bind_int64(r->st, 1, r->id);
	sqlite3_bind_int64(r->st, 2, v[0]);
	sqlite3_bind_int64(r->st, 3, v[1]);
	sqlite3_bind_int64(r->st, 4, v[2]);
	sqlite3_bind_int64(r->st, 5, v[3]);
	sqlite3_bind_int64(r->st, 6, (int64_t)pc);
	sqlite3_bind_int64(r->st, 7, v[5]);
	sqlite3_bind_int64(r->st, 8, v[6]);
	sqlite3_bind_int64(r->st, 9, (int64_t)value);
	sqlite3_bind_text(r->st, 10, c[8], -1, SQLITE_STATIC);
	sqlite3_bind_int64(r->st, 11, v[9]);
	if (sqlite3_step(r->st) != SQLITE_DONE) {
		snprintf(r->why, r->whylen, "boot %s: writing vCPU %" PRId64 " seq %" PRId64 ": %s", r->uid, v[0],
			 v[1], sqlite3_errmsg(r->db));
		sqlite3_reset(r->st);
		return -EIO;
	}
	sqlite3_reset(r->st);
	r->rows++;
	(void)len;
	return 0;
}

/* boot_policies (hash, since_ns) and policies (hash, text, source, first_ns) lines. */
static int pull_policy_line(void *arg, char *line, size_t len)
{
	struct pull_rows *r = arg;
	char *c[6];
	size_t n = tsv_split(line, c, 6);
	int64_t ns;
	int i = n == 2 ? 1 : 3;

	if ((n != 2 && n != 4) || !c[0] || (n == 4 && !c[1]) || !num_i64(c[i], INT64_MIN, INT64_MAX, &ns)) {
		snprintf(r->why, r->whylen, "boot %s: an unexpected row of policies", r->uid);
		return -EPROTO;
	}
	if (n == 2) {
		sqlite3_bind_int64(r->st, 1, r->id);
		sqlite3_bind_text(r->st, 2, c[0], -1, SQLITE_STATIC);
		sqlite3_bind_int64(r->st, 3, ns);
	} else {
		sqlite3_bind_text(r->st, 1, c[0], -1, SQLITE_STATIC);
		sqlite3_bind_text(r->st, 2, c[1], -1, SQLITE_STATIC);
		bind_text(r->st, 3, c[2]);
		sqlite3_bind_int64(r->st, 4, ns);
	}
	if (sqlite3_step(r->st) != SQLITE_DONE) {
		snprintf(r->why, r->whylen, "boot %s: writing its policies: %s", r->uid, sqlite3_errmsg(r->db));
		sqlite3_reset(r->st);
		return -EIO;
	}
	sqlite3_reset(r->st);
	(void)len;
	return 0;
}

/* Runs sql on the server and insert (its parameters from line) on each line. */
static int pull_lines(struct pull *p, struct pull_rows *r, const char *sql, const char *insert,
		      int (*line)(void *, char *, size_t))
{
	int rc;

	if (sqlite3_prepare_v2(r->db, insert, -1, &r->st, NULL) != SQLITE_OK) {
		snprintf(r->why, r->whylen, "writing the trace: %s", sqlite3_errmsg(r->db));
		return -EIO;
	}
	rc = ch_query_lines(&p->ch, sql, line, r, r->why, r->whylen);
	sqlite3_finalize(r->st);
	r->st = NULL;
	return rc;
}

int pull_boot(struct pull *p, const struct push_boot *b, sqlite3 *db, int64_t id, int64_t *rows, char *why,
	      size_t whylen)
{
	struct pull_rows r = { .db = db, .id = id, .uid = b->uid, .why = why, .whylen = whylen };
	char sql[1024], *out;
	int rc;

	if (strlen(b->uid) != 36 || strspn(b->uid, "0123456789abcdef-") != 36) {
		snprintf(why, whylen, "boot_uid `%s' is not a UUID", b->uid);
		return -EPROTO;
	}
	rc = pull_boot_row(db, b, id, why, whylen);
	if (rc < 0)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule FROM accesses%s"
		 " WHERE boot_uid = toUUID('%s') ORDER BY vcpu, seq FORMAT TabSeparated", p->sfx, b->uid);
	rc = pull_lines(p, &r, sql, "INSERT INTO accesses(boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value,"
			" action, rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", pull_access_line);
	if (rc < 0)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT count() FROM accesses%s WHERE boot_uid = toUUID('%s') FORMAT TSV",
		 p->sfx, b->uid);
	if (ch_query(&p->ch, sql, NULL, 0, &out, why, whylen) < 0)
		return -EIO;
	if (strtoll(out, NULL, 10) != r.rows) {
		snprintf(why, whylen, "boot %s: %" PRId64 " rows read, but the server counts %lld: read it again",
			 b->uid, r.rows, strtoll(out, NULL, 10));
		free(out);
		return -EIO;
	}
	free(out);
	*rows = r.rows;
	snprintf(sql, sizeof(sql), "SELECT policy_hash, since_ns FROM boot_policies%s WHERE boot_uid = toUUID('%s')"
		 " ORDER BY since_ns FORMAT TabSeparated", p->sfx, b->uid);
	rc = pull_lines(p, &r, sql, "INSERT OR IGNORE INTO boot_policies(boot_id, policy_hash, since_ns)"
			" VALUES (?, ?, ?)", pull_policy_line);
	if (rc < 0)
		return rc;
	/* GLOBAL: through Distributed tables the subquery runs once, here (ClickHouse
	 * refuses a distributed IN inside a distributed query otherwise) */
	snprintf(sql, sizeof(sql), "SELECT hash, any(text), any(source), min(first_ns) FROM policies%s WHERE hash %sIN"
		 " (SELECT policy_hash FROM boot_policies%s WHERE boot_uid = toUUID('%s') UNION ALL"
		 " SELECT assumeNotNull(policy_hash) FROM boots%s WHERE boot_uid = toUUID('%s'))"
		 " GROUP BY hash FORMAT TabSeparated", p->sfx, *p->sfx ? "GLOBAL " : "", p->sfx, b->uid, p->sfx,
		 b->uid);
	return pull_lines(p, &r, sql, "INSERT OR IGNORE INTO policies(hash, text, source, first_ns)"
			  " VALUES (?, ?, ?, ?)", pull_policy_line);
}
