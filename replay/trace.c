/* SPDX-License-Identifier: MIT */
/* A recorded boot opened for replay: its facts, and one streamed, bounded-memory cursor per vCPU. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_rows.h"
#include "db.h"
#include "trace.h"

struct replay_trace {
	sqlite3 *db;
	struct replay_trace_info info;
};

struct replay_stream {
	struct replay_trace *t;
	struct access_cursor *rows;
	uint32_t vcpu;
	uint64_t pos;			/* records consumed */
	uint64_t fetched;		/* seq of the next row to fetch */
	size_t head, n;			/* rows[head..n) are buffered */
	bool eof;
	char why[400];			/* what the last failure was */
	struct replay_record buf[REPLAY_TRACE_CHUNK];
};

static char *trace_dup_column(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? strdup((const char *)s) : NULL;
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
 * index probes per vCPU, however long the boot. A vCPU or last seq that is
 * damage is refused here; the rows between, as the streams read them. */
static int trace_count_streams(struct replay_trace *t, char *why, size_t whylen)
{
	struct replay_trace_info *in = &t->info;
	uint32_t vcpu;
	uint64_t last;
	int rc;

	for (int64_t after = -1;
	     (rc = access_next_vcpu(t->db, in->path, in->boot_id, after, &vcpu, why, whylen)) > 0;
	     after = vcpu) {
		uint64_t *p;

		rc = access_last_seq(t->db, in->path, in->boot_id, vcpu, &last, why, whylen);
		if (rc <= 0)
			break;
		p = realloc(in->recorded, ((size_t)vcpu + 1) * sizeof(*p));
		if (!p) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		memset(p + in->nvcpus, 0, ((size_t)vcpu + 1 - in->nvcpus) * sizeof(*p));
		in->recorded = p;
		in->nvcpus = vcpu + 1;
		in->recorded[vcpu] = last + 1;
		in->total += last + 1;
	}
	return rc < 0 ? rc : 0;
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
	struct access_range range = { .boot_id = t->info.boot_id, .vcpu = vcpu,
				      .limit = REPLAY_TRACE_CHUNK };

	if (!s)
		return -ENOMEM;
	s->t = t;
	s->vcpu = vcpu;
	s->eof = vcpu >= t->info.nvcpus || t->info.recorded[vcpu] == 0;
	if (!s->eof && access_cursor_open(t->db, t->info.path, &range, &s->rows, s->why, sizeof(s->why)) < 0) {
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
	access_cursor_close(s->rows);
	free(s);
}

const char *replay_stream_error(const struct replay_stream *s)
{
	return s->why;
}

/* Keeps what is buffered and reads the next rows behind it. A row whose seq
 * is not the next one means a hole in the recording: damage, not a guess. */
static int stream_refill(struct replay_stream *s)
{
	struct access_row row;
	int rc;

	memmove(s->buf, s->buf + s->head, (s->n - s->head) * sizeof(s->buf[0]));
	s->n -= s->head;
	s->head = 0;
	rc = access_cursor_restart(s->rows, s->vcpu, s->fetched, (int64_t)(REPLAY_TRACE_CHUNK - s->n),
				   s->why, sizeof(s->why));
	if (rc < 0)
		return rc;
	while ((rc = access_cursor_next(s->rows, &row, s->why, sizeof(s->why))) > 0) {
		if (row.seq != s->fetched) {
			snprintf(s->why, sizeof(s->why), "%s: boot %" PRId64 ", vCPU %u, seq %" PRIu64
				 ": seq %" PRIu64 " is missing before it (the boot lost no rows, so every seq"
				 " must be there): the file is damaged", s->t->info.path, s->t->info.boot_id,
				 s->vcpu, row.seq, s->fetched);
			return -EINVAL;
		}
		s->buf[s->n++] = (struct replay_record){
			.seq = row.seq, .pc = row.pc, .value = row.value, .ts_ns = row.ts_ns,
			.key = row.key, .rule = row.rule, .el = row.el, .is_write = row.is_write,
			.undef = row.undef,
		};
		s->fetched++;
	}
	if (rc < 0)
		return rc;
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
	*r = s->buf[s->head + ahead];
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

int replay_trace_verify(struct replay_trace *t, char *why, size_t whylen)
{
	struct replay_record r;
	int rc = 0;

	for (uint32_t v = 0; v < t->info.nvcpus && rc == 0; v++) {
		struct replay_stream *s;

		if ((rc = replay_stream_open(t, v, &s)) < 0) {
			snprintf(why, whylen, "%s: cannot read boot %" PRId64 "'s vCPU %u: %s", t->info.path,
				 t->info.boot_id, v, strerror(-rc));
			return rc;
		}
		while ((rc = replay_stream_peek(s, 0, &r)) > 0)
			replay_stream_advance(s, 1);
		if (rc == 0 && replay_stream_pos(s) != t->info.recorded[v]) {
			snprintf(why, whylen, "%s: boot %" PRId64 ", vCPU %u: %" PRIu64 " rows where its last"
				 " seq says %" PRIu64 ": the file is damaged", t->info.path, t->info.boot_id,
				 v, replay_stream_pos(s), t->info.recorded[v]);
			rc = -EINVAL;
		} else if (rc < 0) {
			snprintf(why, whylen, "%s", replay_stream_error(s));
		}
		replay_stream_close(s);
	}
	return rc;
}
