/* SPDX-License-Identifier: MIT */
/* Reading a recorded boot from a trace database: metadata, per-vCPU streams, compact arrays. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_rows.h"
#include "bootstream.h"
#include "db.h"

struct bootstream {
	sqlite3 *db;
	struct bootstream_info info;
	struct bootstream_cursor *cursor;	/* the open one, if any */
};

struct bootstream_cursor {
	struct bootstream *bs;
	struct access_cursor *rows;
};

static char *dup_column(sqlite3_stmt *st, int col, int *err)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	char *copy;

	if (!s)
		return NULL;
	copy = strdup((const char *)s);
	if (!copy)
		*err = -ENOMEM;
	return copy;
}

static int read_info(struct bootstream *bs, char *why, size_t whylen)
{
	struct bootstream_info *in = &bs->info;
	sqlite3_stmt *st = NULL;
	int ret = -EINVAL, rc, err = 0;

	rc = sqlite3_prepare_v2(bs->db,
				"SELECT kernel, impl, slide, image_base, vcpus, accesses FROM boots WHERE id = ?",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "%s: cannot read its boots: %s", in->path, sqlite3_errmsg(bs->db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, in->boot_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
		snprintf(why, whylen, "%s: no boot %" PRId64 "%s%s", in->path, in->boot_id,
			 rc == SQLITE_DONE ? "" : ": ", rc == SQLITE_DONE ? "" : sqlite3_errmsg(bs->db));
		goto out;
	}
	in->kernel = dup_column(st, 0, &err);
	in->impl = dup_column(st, 1, &err);
	in->slide = (uint64_t)sqlite3_column_int64(st, 2);
	in->has_pcs = db_boot_has_pcs(bs->db, in->boot_id);
	in->image_base = (uint64_t)sqlite3_column_int64(st, 3);
	in->vcpus = (uint32_t)sqlite3_column_int64(st, 4);
	in->accesses = sqlite3_column_int64(st, 5);
	if (err) {
		ret = err;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

int bootstream_open(const char *path, int64_t boot_id, struct bootstream **out, char *why, size_t whylen)
{
	struct bootstream *bs;
	int ret;

	*out = NULL;
	bs = calloc(1, sizeof(*bs));
	if (!bs) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	bs->info.boot_id = boot_id;
	bs->info.path = strdup(path);
	if (!bs->info.path) {
		ret = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	ret = db_open(path, DB_READONLY, &bs->db, why, whylen);
	if (ret)
		goto fail;
	ret = db_resolve_boot(bs->db, &bs->info.boot_id, why, whylen);
	if (ret) {
		/* db_resolve_boot does not name the file; a diff has two */
		char detail[256];
		snprintf(detail, sizeof(detail), "%s", why);
		snprintf(why, whylen, "%s: %s", path, detail);
		goto fail;
	}
	ret = read_info(bs, why, whylen);
	if (ret)
		goto fail;
	*out = bs;
	return 0;
fail:
	bootstream_close(bs);
	return ret;
}

void bootstream_close(struct bootstream *bs)
{
	if (!bs)
		return;
	bootstream_cursor_close(bs->cursor);
	if (bs->db)
		db_close(bs->db);
	free(bs->info.path);
	free(bs->info.kernel);
	free(bs->info.impl);
	free(bs);
}

const struct bootstream_info *bootstream_info(const struct bootstream *bs)
{
	return &bs->info;
}

int bootstream_cursor_open(struct bootstream *bs, int64_t vcpu, struct bootstream_cursor **out,
			   char *why, size_t whylen)
{
	struct access_range range = { .boot_id = bs->info.boot_id, .vcpu = vcpu, .limit = -1 };
	struct bootstream_cursor *c;
	int rc;

	*out = NULL;
	if (bs->cursor) {
		snprintf(why, whylen, "%s: boot %" PRId64 " already has a cursor open", bs->info.path,
			 bs->info.boot_id);
		return -EBUSY;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	rc = access_cursor_open(bs->db, bs->info.path, &range, &c->rows, why, whylen);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->bs = bs;
	bs->cursor = c;
	*out = c;
	return 0;
}

int bootstream_cursor_next(struct bootstream_cursor *c, uint32_t *vcpu, struct bootstream_access *row,
			   char *why, size_t whylen)
{
	struct access_row r;
	int rc = access_cursor_next(c->rows, &r, why, whylen);

	if (rc <= 0)
		return rc;
	*vcpu = r.vcpu;
	*row = (struct bootstream_access){ .seq = r.seq, .pc = r.pc, .value = r.value, .key = r.key,
					   .el = r.el, .is_write = r.is_write, .undef = r.undef };
	return 1;
}

void bootstream_cursor_close(struct bootstream_cursor *c)
{
	if (!c)
		return;
	access_cursor_close(c->rows);
	c->bs->cursor = NULL;
	free(c);
}

static int vcpu_append(struct bootstream_vcpu *v, size_t *cap, const struct bootstream_access *row)
{
	if (v->count == *cap) {
		/* doubling keeps appends amortised O(1); glibc moves big blocks
		 * with mremap, so the copy does not double the peak */
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct bootstream_access *n = realloc(v->rows, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		v->rows = n;
		*cap = ncap;
	}
	v->rows[v->count++] = *row;
	return 0;
}

int bootstream_load(struct bootstream *bs, struct bootstream_vcpu **vcpus, size_t *count,
		    char *why, size_t whylen)
{
	struct bootstream_vcpu *vs = NULL, *cur = NULL;
	struct bootstream_cursor *c;
	struct bootstream_access row;
	size_t n = 0, cap = 0;
	uint32_t vcpu;
	int ret;

	*vcpus = NULL;
	*count = 0;
	ret = bootstream_cursor_open(bs, -1, &c, why, whylen);
	if (ret)
		return ret;
	while ((ret = bootstream_cursor_next(c, &vcpu, &row, why, whylen)) > 0) {
		if (!cur || cur->vcpu != vcpu) {
			struct bootstream_vcpu *nvs = realloc(vs, (n + 1) * sizeof(*nvs));
			if (!nvs) {
				ret = -ENOMEM;
				break;
			}
			vs = nvs;
			cur = &vs[n++];
			*cur = (struct bootstream_vcpu){ .vcpu = vcpu };
			cap = 0;
		}
		if ((ret = vcpu_append(cur, &cap, &row)))
			break;
	}
	bootstream_cursor_close(c);
	if (ret == -ENOMEM)
		snprintf(why, whylen, "%s: out of memory reading boot %" PRId64, bs->info.path,
			 bs->info.boot_id);
	if (ret < 0) {
		bootstream_free_vcpus(vs, n);
		return ret;
	}
	*vcpus = vs;
	*count = n;
	return 0;
}

void bootstream_free_vcpus(struct bootstream_vcpu *vcpus, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(vcpus[i].rows);
	free(vcpus);
}
