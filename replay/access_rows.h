/* SPDX-License-Identifier: MIT */
/* The one reader of the `accesses` table: one row type, one column list, the damage checks, a streaming cursor. */
#ifndef IDSR_ACCESS_ROWS_H
#define IDSR_ACCESS_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"	/* IDSR_MAX_VCPUS: a recording names no more vCPUs than idsrd takes */

struct sqlite3;
struct sqlite3_stmt;

/* One row of `accesses`, checked (access_row_read). */
struct access_row {
	int64_t boot_id;
	uint32_t vcpu;			/* < IDSR_MAX_VCPUS */
	uint64_t seq;			/* 0 .. INT64_MAX */
	int64_t ts_ns;
	uint32_t key;			/* a packed encoding (inside the IDSR space or not) */
	uint64_t pc;
	uint8_t el;			/* 0..3 */
	bool is_write;
	uint64_t value;			/* written value, or what the read returned */
	bool undef;			/* action was 'undef' (else 'emulate') */
	int32_t rule;
};

/* The columns access_row_read reads, in its order, for "SELECT " ACCESS_ROW_COLUMNS. */
#define ACCESS_ROW_COLUMNS "boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule"

/*
 * Fills r from the current row of st (columns ACCESS_ROW_COLUMNS from 0).
 * 0, or -EINVAL when the row is damaged, with why saying so:
 * "PATH: boot B, vCPU V, seq S: WHAT: the file is damaged" — a NULL, a value
 * of the wrong type, a vCPU outside 0..4095, a negative seq, a key with bits
 * outside a packed encoding's fields, an el outside 0..3, is_write not 0 or 1,
 * an action not emulate or undef, a rule outside 32 bits. A key outside the
 * IDSR space is not damage: imported traces may hold them.
 */
int access_row_read(struct sqlite3_stmt *st, const char *path, struct access_row *r,
		    char *why, size_t whylen);

/* What an access_cursor reads: one boot, in (vcpu, seq) order, or backwards. */
struct access_range {
	int64_t boot_id;
	int64_t vcpu;			/* < 0: every vCPU */
	uint64_t from_seq;		/* forwards: the first seq (with one vCPU) */
	int64_t limit;			/* < 0: no limit */
	bool backwards;			/* one vCPU, newest first */
};

struct access_cursor;

/*
 * Streams the rows of range from db (whose file is path, for messages),
 * checking each (access_row_read) and their order: per vCPU, seqs strictly
 * rising (falling backwards); vCPUs rising. 0, or -EIO (why filled).
 */
int access_cursor_open(struct sqlite3 *db, const char *path, const struct access_range *range,
		       struct access_cursor **out, char *why, size_t whylen);
/* 1 with *r filled, 0 at the end, -EINVAL at a damaged row, -EIO if SQLite
 * fails; why filled on error. */
int access_cursor_next(struct access_cursor *c, struct access_row *r, char *why, size_t whylen);
/* Starts c again from from_seq of vCPU vcpu, at most limit rows (chunked
 * readers): 0, or -EIO with why. */
int access_cursor_restart(struct access_cursor *c, int64_t vcpu, uint64_t from_seq, int64_t limit,
			  char *why, size_t whylen);
void access_cursor_close(struct access_cursor *c);

/*
 * The boot's next recorded vCPU above after (-1: the first), through the
 * primary key: 1 with *vcpu, 0 if none, -EINVAL if that vCPU (a NULL, a
 * non-integer or one outside 0..4095) is damage, -EIO; why filled on error.
 */
int access_next_vcpu(struct sqlite3 *db, const char *path, int64_t boot_id, int64_t after,
		     uint32_t *vcpu, char *why, size_t whylen);
/* The highest seq of vCPU vcpu in the boot: 1 with *seq, 0 if it has no rows,
 * -EINVAL (a negative or non-integer seq), -EIO. */
int access_last_seq(struct sqlite3 *db, const char *path, int64_t boot_id, uint32_t vcpu,
		    uint64_t *seq, char *why, size_t whylen);

#endif
