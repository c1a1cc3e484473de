/* SPDX-License-Identifier: MIT */
/* Reading a recorded boot: its metadata and its per-vCPU access streams, from SQLite. */
#ifndef IDSR_BOOTSTREAM_H
#define IDSR_BOOTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The boot's row in `boots` (the parts readers need). */
struct bootstream_info {
	int64_t boot_id;
	char *path;		/* the database file */
	char *kernel;		/* NULL if not recorded */
	char *impl;		/* register-name implementation; NULL if unknown */
	uint64_t slide;		/* KASLR slide: recorded PC = link-time PC + slide */
	uint64_t image_base;
	uint32_t vcpus;		/* as announced in Hello (accesses may name fewer) */
	int64_t accesses;	/* the boot's counter (rows actually read may differ) */
	bool has_pcs;		/* false: imported without PCs (they are all 0) */
};

/* A row of `accesses` (struct access_row, checked) kept compact in memory
 * for a whole boot: 32 bytes. */
struct bootstream_access {
	uint64_t seq;
	uint64_t pc;
	uint64_t value;		/* written value, or what the read returned */
	uint32_t key;		/* packed encoding */
	uint8_t el;
	uint8_t is_write;
	uint8_t undef;		/* action was 'undef' */
	uint8_t pad;
};

/* All accesses of one vCPU, in seq order. */
struct bootstream_vcpu {
	uint32_t vcpu;
	size_t count;
	struct bootstream_access *rows;
};

struct bootstream;
struct bootstream_cursor;

/*
 * Opens boot boot_id of the trace at path (0: its last boot) read-only.
 * Returns 0, or a negative errno with a sentence in why: -EINVAL (not a
 * trace), -ENOENT (no file, no such boot), -EPROTO (newer schema), -ENOMEM.
 */
int bootstream_open(const char *path, int64_t boot_id, struct bootstream **out, char *why, size_t whylen);
void bootstream_close(struct bootstream *bs);
const struct bootstream_info *bootstream_info(const struct bootstream *bs);

/*
 * Streams the boot's accesses ordered by (vcpu, seq); vcpu < 0 for all vCPUs,
 * else that one only. One cursor at a time per bootstream.
 * bootstream_cursor_next returns 1 with *vcpu and *row filled, 0 at the end,
 * -EINVAL at a damaged row (access_row_read) or -EIO if the database fails
 * mid-way, with why.
 */
int bootstream_cursor_open(struct bootstream *bs, int64_t vcpu, struct bootstream_cursor **out,
			   char *why, size_t whylen);
int bootstream_cursor_next(struct bootstream_cursor *c, uint32_t *vcpu, struct bootstream_access *row,
			   char *why, size_t whylen);
void bootstream_cursor_close(struct bootstream_cursor *c);

/*
 * Reads every access into per-vCPU arrays (ascending vcpu; only vCPUs with at
 * least one access). Free with bootstream_free_vcpus.
 */
int bootstream_load(struct bootstream *bs, struct bootstream_vcpu **vcpus, size_t *count,
		    char *why, size_t whylen);
void bootstream_free_vcpus(struct bootstream_vcpu *vcpus, size_t count);

#endif
