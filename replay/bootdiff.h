/* SPDX-License-Identifier: MIT */
/* Comparing two boots: per-vCPU alignment of their access streams and a per-register summary. */
#ifndef IDSR_BOOTDIFF_H
#define IDSR_BOOTDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bootstream.h"
#include "symbols.h"

/* What two accesses must share to be "the same access" (docs/design.md, section 8). */
enum bootdiff_align {
	BOOTDIFF_BY_KEY,	/* (key, direction): PCs move between kernel versions */
	BOOTDIFF_BY_SYMBOL,	/* (key, direction, function containing pc - slide) */
	BOOTDIFF_BY_PC,		/* (key, direction, pc - slide): the same kernel */
};

/* One line of the comparison, in output order. */
enum bootdiff_line {
	BOOTDIFF_SAME = ' ',	/* matched, same value and action */
	BOOTDIFF_CHANGED = '~',	/* matched, value or action differs */
	BOOTDIFF_REMOVED = '-',	/* only in A */
	BOOTDIFF_ADDED = '+',	/* only in B */
};

/* One side: a loaded boot and how to read its PCs. */
struct bootdiff_side {
	const struct bootstream_vcpu *vcpus;
	size_t nvcpus;
	uint64_t slide;			/* subtracted from PCs before lookup/compare */
	const struct symbols *syms;	/* BOOTDIFF_BY_SYMBOL only */
};

struct bootdiff_vcpu {
	uint32_t vcpu;
	const struct bootstream_access *a, *b;	/* NULL when that side has no such vCPU */
	size_t na, nb;
	uint8_t *lines;			/* enum bootdiff_line, one byte per line */
	size_t nlines;
	size_t added, removed, changed;
};

struct bootdiff_register {
	uint32_t key;
	uint64_t count_a, count_b;
	uint64_t added, removed, changed;
	bool changes;			/* the first_* fields are set */
	enum bootdiff_line first_line;	/* kind of its first change */
	uint32_t first_vcpu;
	uint64_t first_seq;		/* seq in B for an addition, else in A */
};

struct bootdiff {
	struct bootdiff_vcpu *vcpus;	/* union of both sides' vCPUs, ascending */
	size_t nvcpus;
	struct bootdiff_register *regs;	/* every key either side touched, ascending */
	size_t nregs;
	uint64_t added, removed, changed;
	unsigned heuristic;		/* alignments the cost bound cut short */
};

/* Aligns every vCPU of a with the same vCPU of b. Returns 0, or a negative
 * errno with a sentence in why. */
int bootdiff_run(const struct bootdiff_side *a, const struct bootdiff_side *b, enum bootdiff_align how,
		 struct bootdiff *out, char *why, size_t whylen);
void bootdiff_free(struct bootdiff *d);

/* True if the comparison found any addition, removal or change. */
static inline bool bootdiff_differs(const struct bootdiff *d)
{
	return d->added || d->removed || d->changed;
}

#endif
