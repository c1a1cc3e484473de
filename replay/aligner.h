/* SPDX-License-Identifier: MIT */
/* Sequence alignment (an edit script) of two arrays of 64-bit tokens, in linear memory. */
#ifndef IDSR_ALIGNER_H
#define IDSR_ALIGNER_H

#include <stddef.h>
#include <stdint.h>

enum aligner_op {
	ALIGNER_MATCH,		/* a[i..i+len) equals b[j..j+len) */
	ALIGNER_DELETE,		/* a[i..i+len) is only in a */
	ALIGNER_INSERT,		/* b[j..j+len) is only in b */
};

/*
 * Called once per run of the edit script, in order: runs cover a and b from
 * start to end; consecutive runs never have the same op, and within a gap
 * between matches the DELETE run comes before the INSERT run. i and j are the
 * positions in a and b where the run starts. A non-zero return stops the
 * alignment and is returned by aligner_diff.
 */
typedef int (*aligner_emit_fn)(enum aligner_op op, size_t i, size_t j, size_t len, void *arg);

struct aligner_stats {
	size_t edits;		/* deleted + inserted elements in the script */
	unsigned heuristic;	/* middle-snake searches cut short by the cost bound */
};

/*
 * Aligns a[0..na) with b[0..nb) (Myers' O(ND) difference algorithm, linear
 * space, divide and conquer). Common prefix and suffix are stripped first and
 * tokens that occur on one side only are set aside, so disjoint inputs cost
 * O(n). When a search needs more than max_cost edit steps (0 picks a bound
 * from the sizes) it splits at the furthest-reaching point instead: the script
 * is then still correct but may be longer than minimal (stats->heuristic > 0).
 * Returns 0, -ENOMEM, -E2BIG (a side longer than INT32_MAX / 4), or what emit
 * returned. stats may be NULL.
 */
int aligner_diff(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, size_t max_cost,
		 aligner_emit_fn emit, void *arg, struct aligner_stats *stats);

#endif
