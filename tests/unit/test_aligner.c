/* SPDX-License-Identifier: MIT */
/* Unit tests of the sequence aligner: valid, ordered and minimal edit scripts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay/aligner.h"

struct run {
	enum aligner_op op;
	size_t i, j, len;
};

struct script {
	const uint64_t *a, *b;
	size_t na, nb;
	struct run runs[4096];
	size_t n;
	struct run last;
	size_t matched;
	int stop_after;		/* > 0: return -EINTR from the nth run */
};

/* Checks each run as it arrives: contiguous, alternating, matches really equal. */
static int collect(enum aligner_op op, size_t i, size_t j, size_t len, void *arg)
{
	struct script *s = arg;
	size_t ei = 0, ej = 0;

	if (s->n) {
		struct run *p = &s->last;
		assert_int_not_equal(p->op, op);
		/* a gap is deletions then insertions, never the other way round */
		assert_false(p->op == ALIGNER_INSERT && op == ALIGNER_DELETE);
		ei = p->i + (p->op == ALIGNER_INSERT ? 0 : p->len);
		ej = p->j + (p->op == ALIGNER_DELETE ? 0 : p->len);
	}
	assert_int_equal(i, ei);
	assert_int_equal(j, ej);
	assert_true(len > 0);
	if (op == ALIGNER_MATCH) {
		assert_true(i + len <= s->na && j + len <= s->nb);
		assert_memory_equal(s->a + i, s->b + j, len * sizeof(uint64_t));
		s->matched += len;
	}
	if (s->n < sizeof(s->runs) / sizeof(s->runs[0]))
		s->runs[s->n] = (struct run){ op, i, j, len };
	s->last = (struct run){ op, i, j, len };
	s->n++;
	if (s->stop_after && (int)s->n == s->stop_after)
		return -EINTR;
	return 0;
}

/* Aligns and checks the script covers both sides; returns the edit count. */
static size_t align(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, size_t max_cost,
		    struct script *s, struct aligner_stats *st)
{
	memset(s, 0, sizeof(*s));
	s->a = a;
	s->b = b;
	s->na = na;
	s->nb = nb;
	assert_int_equal(aligner_diff(a, na, b, nb, max_cost, collect, s, st), 0);
	if (s->n) {
		struct run *p = &s->last;
		assert_int_equal(p->i + (p->op == ALIGNER_INSERT ? 0 : p->len), na);
		assert_int_equal(p->j + (p->op == ALIGNER_DELETE ? 0 : p->len), nb);
	} else {
		assert_int_equal(na + nb, 0);
	}
	assert_int_equal(st->edits, na + nb - 2 * s->matched);
	return st->edits;
}

/* Longest common subsequence by dynamic programming: the reference for minimality. */
static size_t lcs(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
	size_t *row = calloc(nb + 1, sizeof(*row)), best;

	for (size_t i = 1; i <= na; i++) {
		size_t diag = 0;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j];
			row[j] = a[i - 1] == b[j - 1] ? diag + 1 : (row[j] > row[j - 1] ? row[j] : row[j - 1]);
			diag = up;
		}
	}
	best = row[nb];
	free(row);
	return best;
}

static uint64_t rng_state = 0x1234567;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_empty_sides(void **state)
{
	uint64_t a[] = { 1, 2, 3 };
	struct script s;
	struct aligner_stats st;

	assert_int_equal(align(a, 0, a, 0, 0, &s, &st), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(align(a, 3, a, 0, 0, &s, &st), 3);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.runs[0].op, ALIGNER_DELETE);
	assert_int_equal(s.runs[0].len, 3);
	assert_int_equal(align(a, 0, a, 3, 0, &s, &st), 3);
	assert_int_equal(s.runs[0].op, ALIGNER_INSERT);
	assert_int_equal(s.runs[0].len, 3);
}

static void test_all_same(void **state)
{
	static uint64_t a[100000];
	struct script s;
	struct aligner_stats st;

	for (size_t i = 0; i < 100000; i++)
		a[i] = i % 7;
	assert_int_equal(align(a, 100000, a, 100000, 0, &s, &st), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.runs[0].op, ALIGNER_MATCH);
	assert_int_equal(s.runs[0].len, 100000);
}

static void test_all_different(void **state)
{
	static uint64_t a[50000], b[60000];
	struct script s;
	struct aligner_stats st;

	for (size_t i = 0; i < 50000; i++)
		a[i] = i;
	for (size_t j = 0; j < 60000; j++)
		b[j] = 1000000 + j;
	assert_int_equal(align(a, 50000, b, 60000, 0, &s, &st), 110000);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.runs[0].op, ALIGNER_DELETE);
	assert_int_equal(s.runs[1].op, ALIGNER_INSERT);
	assert_int_equal(st.heuristic, 0);
}

static void test_single_edits_at_ends(void **state)
{
	uint64_t a[] = { 10, 11, 12, 13, 14 };
	uint64_t ins_start[] = { 9, 10, 11, 12, 13, 14 };
	uint64_t ins_end[] = { 10, 11, 12, 13, 14, 15 };
	struct script s;
	struct aligner_stats st;

	assert_int_equal(align(a, 5, ins_start, 6, 0, &s, &st), 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.runs[0].op, ALIGNER_INSERT);
	assert_int_equal(s.runs[0].j, 0);
	assert_int_equal(align(a, 5, ins_end, 6, 0, &s, &st), 1);
	assert_int_equal(s.runs[1].op, ALIGNER_INSERT);
	assert_int_equal(s.runs[1].j, 5);
	/* deletions: the same pairs the other way round */
	assert_int_equal(align(ins_start, 6, a, 5, 0, &s, &st), 1);
	assert_int_equal(s.runs[0].op, ALIGNER_DELETE);
	assert_int_equal(s.runs[0].i, 0);
	assert_int_equal(align(ins_end, 6, a, 5, 0, &s, &st), 1);
	assert_int_equal(s.runs[1].op, ALIGNER_DELETE);
	assert_int_equal(s.runs[1].i, 5);
}

static void test_replacement_in_middle(void **state)
{
	uint64_t a[] = { 1, 2, 3, 4, 5 }, b[] = { 1, 2, 9, 4, 5 };
	struct script s;
	struct aligner_stats st;

	assert_int_equal(align(a, 5, b, 5, 0, &s, &st), 2);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.runs[0].op, ALIGNER_MATCH);
	assert_int_equal(s.runs[1].op, ALIGNER_DELETE);
	assert_int_equal(s.runs[1].i, 2);
	assert_int_equal(s.runs[2].op, ALIGNER_INSERT);
	assert_int_equal(s.runs[2].j, 2);
	assert_int_equal(s.runs[3].op, ALIGNER_MATCH);
	assert_int_equal(s.runs[3].len, 2);
}

/* Small alphabets make many equally long paths and spurious snakes:
 * the script must still be minimal (checked against the DP LCS). */
static void test_minimal_against_lcs(void **state)
{
	uint64_t a[80], b[80];
	struct script s;
	struct aligner_stats st;

	for (int trial = 0; trial < 3000; trial++) {
		size_t na = rng() % 80, nb = rng() % 80, alpha = 1 + rng() % 4;
		for (size_t i = 0; i < na; i++)
			a[i] = rng() % alpha;
		for (size_t j = 0; j < nb; j++)
			b[j] = rng() % alpha;
		if (trial % 3 == 0 && na) {
			/* related inputs: b is a with a few edits */
			nb = 0;
			for (size_t i = 0; i < na && nb < 78; i++) {
				if (rng() % 10 == 0)
					b[nb++] = rng() % (alpha + 1);
				if (rng() % 10)
					b[nb++] = a[i];
			}
		}
		size_t edits = align(a, na, b, nb, 1000, &s, &st);
		assert_int_equal(edits, na + nb - 2 * lcs(a, na, b, nb));
		assert_int_equal(st.heuristic, 0);
	}
}

/* Long runs of one token with edits inside them. */
static void test_long_common_runs(void **state)
{
	static uint64_t a[20000], b[20010];
	struct script s;
	struct aligner_stats st;
	size_t nb = 0;

	for (size_t i = 0; i < 20000; i++)
		a[i] = i < 10000 ? 5 : 6;
	for (size_t i = 0; i < 20000; i++) {
		if (i == 5000 || i == 15000)
			b[nb++] = 7;
		if (i != 12000)
			b[nb++] = a[i];
	}
	assert_int_equal(align(a, 20000, b, nb, 0, &s, &st), 3);
}

/* A million tokens with known scattered edits: the script is at most as long
 * as the edits made (minimal can only be shorter) and reproduces b. */
static void test_large_random_known_edits(void **state)
{
	size_t na = 1000000, nb = 0, made = 0;
	uint64_t *a = malloc(na * sizeof(*a)), *b = malloc((na + na / 50) * sizeof(*b));
	struct script s;
	struct aligner_stats st;

	for (size_t i = 0; i < na; i++)
		a[i] = rng() % 24;	/* a guest touches few registers */
	for (size_t i = 0; i < na; i++) {
		uint64_t r = rng() % 300;
		if (r == 0) {
			/* from the same registers, so only the search can tell */
			b[nb++] = rng() % 24;
			made++;
		}
		if (r == 1) {
			made++;
			continue;
		}
		b[nb++] = a[i];
	}
	size_t edits = align(a, na, b, nb, 0, &s, &st);
	assert_true(edits <= made);
	assert_true(edits >= made / 2);
	free(a);
	free(b);
}

/* Large inputs are cut at unique runs first: a moved block and periodic
 * stretches (where no run is unique) must still come out right. */
static void test_anchored_moves_and_repeats(void **state)
{
	size_t n = 300000, nb = 0;
	uint64_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	struct script s;
	struct aligner_stats st;

	for (size_t i = 0; i < n; i++)
		a[i] = i >= 100000 && i < 150000 ? i % 3 : rng() % 24;
	/* b: a with a[10000..11000) moved to after a[200000] */
	for (size_t i = 0; i < n; i++) {
		if (i >= 10000 && i < 11000)
			continue;
		b[nb++] = a[i];
		if (i == 200000)
			for (size_t k = 10000; k < 11000; k++)
				b[nb++] = a[k];
	}
	assert_int_equal(nb, n);
	assert_true(align(a, n, b, nb, 0, &s, &st) <= 2000);
	/* and a shift of the periodic stretch by one element */
	memcpy(b, a, n * sizeof(*a));
	memmove(b + 100001, b + 100000, 49999 * sizeof(*b));
	b[100000] = 7;
	assert_true(align(a, n, b, n, 0, &s, &st) <= 2);
	free(a);
	free(b);
}

/* With a tiny cost bound the heuristic splits: correct but not minimal. */
static void test_cost_bound(void **state)
{
	size_t n = 3000;
	uint64_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	struct script s;
	struct aligner_stats st;

	for (size_t i = 0; i < n; i++) {
		a[i] = rng() % 4;
		b[i] = rng() % 4;
	}
	size_t edits = align(a, n, b, n, 8, &s, &st);
	assert_true(st.heuristic > 0);
	assert_true(edits >= 2 * n - 2 * lcs(a, n, b, n));
	assert_true(edits < 2 * n);
	free(a);
	free(b);
}

static void test_emit_error_stops(void **state)
{
	uint64_t a[] = { 1, 2, 3, 4 }, b[] = { 1, 9, 3, 8 };
	struct script s = { .a = a, .b = b, .na = 4, .nb = 4, .stop_after = 2 };

	assert_int_equal(aligner_diff(a, 4, b, 4, 0, collect, &s, NULL), -EINTR);
	assert_int_equal(s.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_sides),
		cmocka_unit_test(test_all_same),
		cmocka_unit_test(test_all_different),
		cmocka_unit_test(test_single_edits_at_ends),
		cmocka_unit_test(test_replacement_in_middle),
		cmocka_unit_test(test_minimal_against_lcs),
		cmocka_unit_test(test_long_common_runs),
		cmocka_unit_test(test_large_random_known_edits),
		cmocka_unit_test(test_anchored_moves_and_repeats),
		cmocka_unit_test(test_cost_bound),
		cmocka_unit_test(test_emit_error_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
