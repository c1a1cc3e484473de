/* SPDX-License-Identifier: MIT */
/* A recorded boot opened for replay: its facts, and one streamed, bounded-memory cursor per vCPU. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "trace.h"

struct replay_trace {
	sqlite3 *db;
	struct replay_trace_info info;
};

struct replay_stream {
	struct replay_trace *t;
	sqlite3_stmt *stmt;
	uint32_t vcpu;
	uint64_t pos;			/* records consumed */
	uint64_t fetched;		/* seq of the next row to fetch */
	size_t head, n;			/* rows[head..n) are buffered */
	bool eof;
	struct replay_record rows[REPLAY_TRACE_CHUNK];
};

static char *trace_dup_column(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? strdup((const char *)s) : NULL;
}

/* One int64 from a query with up to two int64 parameters; 1 row, 0 none, <0 error. */
static int trace_query_int(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_bind_parameter_count(st) > 1)
		sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

/* Reads the boot's row and refuses boots whose streams are not whole. */
static int trace_read_boot(struct replay_trace *t, char *why, size_t whylen)
{
	struct replay_trace_info *in = &t->info;
	sqlite3_stmt *st;
	int ret = -EIO;

	if (sqlite3_prepare_v2(t->db, "SELECT vm_name, impl, slide, end_ns IS NULL, rows_dropped"
			       " FROM boots WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "%s: cannot read its boots: %s", in->path, sqlite3_errmsg(t->db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, in->boot_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, whylen, "%s: cannot read boot %" PRId64 ": %s", in->path, in->boot_id,
			 sqlite3_errmsg(t->db));
		goto out;
	}
	in->vm_name = trace_dup_column(st, 0);
	in->impl = trace_dup_column(st, 1);
	in->slide = (uint64_t)sqlite3_column_int64(st, 2);
	in->has_pcs = db_boot_has_pcs(t->db, in->boot_id);
	ret = -EINVAL;
	if (sqlite3_column_int(st, 3)) {
		snprintf(why, whylen, "%s: boot %" PRId64 " has not ended (still running, or its idsrd "
			 "is writing it): wait for it to end, or replay another boot", in->path, in->boot_id);
		goto out;
	}
	if (sqlite3_column_int64(st, 4) > 0) {
		snprintf(why, whylen, "%s: boot %" PRId64 " lost %lld rows when it was recorded, so it "
			 "cannot be replayed exactly: record it again", in->path, in->boot_id,
			 (long long)sqlite3_column_int64(st, 4));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* Finds each recorded vCPU and its length through the primary key: a few
 * index probes per vCPU, however long the boot. */
static int trace_count_streams(struct replay_trace *t, char *why, size_t whylen)
{
	struct replay_trace_info *in = &t->info;
	int64_t vcpu = -1, last;
	int rc;

	for (;;) {
		rc = trace_query_int(t->db, "SELECT vcpu FROM accesses WHERE boot_id = ?1 AND vcpu > ?2"
				     " ORDER BY vcpu LIMIT 1", in->boot_id, vcpu, &vcpu);
		if (rc <= 0)
			break;
		if (vcpu < 0 || vcpu >= IDSR_MAX_VCPUS) {
			snprintf(why, whylen, "%s: boot %" PRId64 " has an access of vCPU %" PRId64
				 ", outside 0..%d: the file is damaged", in->path, in->boot_id, vcpu,
				 IDSR_MAX_VCPUS - 1);
			return -EINVAL;
		}
		rc = trace_query_int(t->db, "SELECT seq FROM accesses WHERE boot_id = ?1 AND vcpu = ?2"
				     " ORDER BY seq DESC LIMIT 1", in->boot_id, vcpu, &last);
		if (rc <= 0)
			break;
		uint64_t *p = realloc(in->recorded, (size_t)(vcpu + 1) * sizeof(*p));

		if (!p) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		memset(p + in->nvcpus, 0, (size_t)(vcpu + 1 - in->nvcpus) * sizeof(*p));
		in->recorded = p;
		in->nvcpus = (uint32_t)vcpu + 1;
		in->recorded[vcpu] = (uint64_t)last + 1;
		in->total += (uint64_t)last + 1;
	}
	if (rc < 0) {
		snprintf(why, whylen, "%s: reading boot %" PRId64 "'s accesses: %s", in->path,
			 in->boot_id, sqlite3_errmsg(t->db));
		return -EIO;
	}
	return 0;
}

int replay_trace_open(const char *path, int64_t boot_id, struct replay_trace **out,
		      char *why, size_t whylen)
{
	struct replay_trace *t = calloc(1, sizeof(*t));
	char reason[256];
	int rc;

	if (!t || !(t->info.path = strdup(path))) {
		free(t);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rc = db_open(path, DB_READONLY, &t->db, why, whylen);
	if (rc < 0)
		goto fail;
	t->info.boot_id = boot_id;
	rc = db_resolve_boot(t->db, &t->info.boot_id, reason, sizeof(reason));
	if (rc < 0) {
		snprintf(why, whylen, "%s: %s", path, reason);
		goto fail;
	}
	rc = trace_read_boot(t, why, whylen);
	if (rc == 0)
		rc = trace_count_streams(t, why, whylen);
	if (rc < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	replay_trace_close(t);
	return rc;
}

void replay_trace_close(struct replay_trace *t)
{
	if (!t)
		return;
	db_close(t->db);
	free(t->info.path);
	free(t->info.vm_name);
	free(t->info.impl);
	free(t->info.recorded);
	free(t);
}

const struct replay_trace_info *replay_trace_info(const struct replay_trace *t)
{
	return &t->info;
}

int replay_stream_open(struct replay_trace *t, uint32_t vcpu, struct replay_stream **out)
{
	struct replay_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->t = t;
	s->vcpu = vcpu;
	s->eof = vcpu >= t->info.nvcpus || t->info.recorded[vcpu] == 0;
	if (!s->eof && sqlite3_prepare_v3(t->db, "SELECT seq, ts_ns, key, pc, el, is_write, value,"
					  " action = 'undef', rule FROM accesses WHERE boot_id = ?"
					  " AND vcpu = ? AND seq >= ? ORDER BY seq LIMIT ?", -1,
					  SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL) != SQLITE_OK) {
		free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void replay_stream_close(struct replay_stream *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->stmt);
	free(s);
}

/* Keeps what is buffered and reads the next rows behind it. A row whose seq
 * is not the next one means a hole in the recording: an error, not a guess. */
static int stream_refill(struct replay_stream *s)
{
	sqlite3_stmt *st = s->stmt;
	size_t want;
	int rc;

	memmove(s->rows, s->rows + s->head, (s->n - s->head) * sizeof(s->rows[0]));
	s->n -= s->head;
	s->head = 0;
	want = REPLAY_TRACE_CHUNK - s->n;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, s->t->info.boot_id);
	sqlite3_bind_int64(st, 2, s->vcpu);
	sqlite3_bind_int64(st, 3, (int64_t)s->fetched);
	sqlite3_bind_int64(st, 4, (int64_t)want);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct replay_record *r = &s->rows[s->n];

		r->seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (r->seq != s->fetched)
			return -EIO;
		r->ts_ns = sqlite3_column_int64(st, 1);
		r->key = (uint32_t)sqlite3_column_int64(st, 2);
		r->pc = (uint64_t)sqlite3_column_int64(st, 3);
		r->el = (uint8_t)sqlite3_column_int(st, 4);
		r->is_write = sqlite3_column_int(st, 5) != 0;
		r->value = (uint64_t)sqlite3_column_int64(st, 6);
		r->undef = sqlite3_column_int(st, 7) != 0;
		r->rule = sqlite3_column_int(st, 8);
		s->n++;
		s->fetched++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	if (s->n < REPLAY_TRACE_CHUNK)
		s->eof = true;
	return 0;
}

int replay_stream_peek(struct replay_stream *s, size_t ahead, struct replay_record *r)
{
	if (s->head + ahead >= s->n && !s->eof) {
		int rc = stream_refill(s);

		if (rc < 0)
			return rc;
	}
	if (s->head + ahead >= s->n)
		return 0;
	*r = s->rows[s->head + ahead];
	return 1;
}

void replay_stream_advance(struct replay_stream *s, size_t n)
{
	if (n > s->n - s->head)
		n = s->n - s->head;
	s->head += n;
	s->pos += n;
}

uint64_t replay_stream_pos(const struct replay_stream *s)
{
	return s->pos;
}
