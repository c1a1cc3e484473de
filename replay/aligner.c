/* SPDX-License-Identifier: MIT */
/* Myers' O(ND) difference algorithm (linear space) over 64-bit tokens, with a cost bound. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aligner.h"

/*
 * The search works on sequences from which the common prefix and suffix and
 * every token absent from the other side have been removed: such tokens can
 * never be part of a match, so the longest common subsequence (and hence the
 * minimal script) is unchanged, while disjoint inputs shrink to nothing.
 * Coordinates inside the search are int32_t to halve the memory of the two
 * diagonal vectors, which dominate it.
 */
struct search {
	const uint64_t *a, *b;		/* the reduced sequences */
	int32_t *fwd, *bwd;		/* furthest x per diagonal, indexed from the middle */
	int32_t max_cost;		/* edit steps per direction before splitting heuristically */
	unsigned heuristic;
	/* where matches go: reduced coordinates, mapped back by the caller */
	int (*match)(struct search *s, int32_t x, int32_t y, int32_t len);
	void *arg;
};

struct split {
	int32_t x, y;			/* end of the left part */
	int32_t u, v;			/* start of the right part; (x,y)..(u,v) is a snake */
};

/* One direction of the search: the furthest x reached on each diagonal lo..hi. */
struct frontier {
	int32_t *v;
	int32_t lo, hi;
	bool reversed;			/* walks a and b from their ends */
};

/* Widens the diagonal range by one step, staying on the n x m grid; the
 * diagonals just outside it read as -1 (unreached). */
static void frontier_widen(struct frontier *f, int32_t n, int32_t m)
{
	if (f->lo - 1 >= -m)
		f->v[--f->lo - 1] = -1;
	else
		f->lo++;
	if (f->hi + 1 <= n)
		f->v[++f->hi + 1] = -1;
	else
		f->hi--;
}

/*
 * The furthest point on diagonal k after d edit steps: one step from the
 * better neighbour, then along the snake of equal tokens. A point pushed past
 * the grid's edge is pulled back onto it: that point still costs at most d
 * (the LCS grows by at most one per step). *snake gets where the snake began.
 */
/* inlined so that the direction test folds away in each loop (40% of the time) */
static inline __attribute__((always_inline)) int32_t
frontier_advance(struct frontier *f, const uint64_t *a, const uint64_t *b,
		 int32_t n, int32_t m, int32_t k, int32_t d, int32_t *snake)
{
	int32_t x = 0, y;

	if (d > 0)
		x = f->v[k + 1] > f->v[k - 1] + 1 ? f->v[k + 1] : f->v[k - 1] + 1;
	if (x > n)
		x = n;
	if (x - k > m)
		x = m + k;
	y = x - k;
	*snake = x;
	if (f->reversed) {
		while (x < n && y < m && a[n - 1 - x] == b[m - 1 - y])
			x++, y++;
	} else {
		while (x < n && y < m && a[x] == b[y])
			x++, y++;
	}
	return f->v[k] = x;
}

/*
 * Finds a point on an optimal path through a[x0..x1) x b[y0..y1) by running
 * the greedy search from both corners until the paths meet (Myers 1986, 4b).
 * Both sides are non-empty and differ at both ends. Diagonals are k = x - y
 * relative to (x0, y0) for the forward search and to (x1, y1), reversed, for
 * the backward one: forward diagonal k is backward diagonal delta - k.
 */
static void search_split(struct search *s, int32_t x0, int32_t x1, int32_t y0, int32_t y1,
			 struct split *out)
{
	const uint64_t *a = s->a + x0, *b = s->b + y0;
	int32_t n = x1 - x0, m = y1 - y0, delta = n - m;
	struct frontier fw = { .v = s->fwd }, bw = { .v = s->bwd, .reversed = true };
	bool odd = delta & 1;

	for (int32_t d = 0;; d++) {
		if (d > 0)
			frontier_widen(&fw, n, m);
		for (int32_t k = fw.lo; k <= fw.hi; k += 2) {
			int32_t xs, x = frontier_advance(&fw, a, b, n, m, k, d, &xs);
			/* odd delta: the paths can first meet on a forward step */
			if (odd && d > 0 && delta - k >= bw.lo && delta - k <= bw.hi &&
			    x + bw.v[delta - k] >= n) {
				*out = (struct split){ x0 + xs, y0 + xs - k, x0 + x, y0 + x - k };
				return;
			}
		}
		if (d > 0)
			frontier_widen(&bw, n, m);
		for (int32_t k = bw.lo; k <= bw.hi; k += 2) {
			int32_t xs, x = frontier_advance(&bw, a, b, n, m, k, d, &xs);
			if (!odd && delta - k >= fw.lo && delta - k <= fw.hi && x + fw.v[delta - k] >= n) {
				*out = (struct split){ x0 + n - x, y0 + m - (x - k),
						       x0 + n - xs, y0 + m - (xs - k) };
				return;
			}
		}
		if (d >= s->max_cost)
			break;
	}

	/*
	 * Too expensive: split at whichever end point got furthest from its
	 * corner. The left part up to a forward point costs at most d and is
	 * solved exactly; the rest is searched again.
	 */
	int64_t best = -1;
	for (int32_t k = fw.lo; k <= fw.hi; k += 2) {
		int64_t progress = 2 * (int64_t)fw.v[k] - k;
		if (progress > best) {
			int32_t x = x0 + fw.v[k], y = y0 + fw.v[k] - k;
			best = progress;
			*out = (struct split){ x, y, x, y };
		}
	}
	for (int32_t k = bw.lo; k <= bw.hi; k += 2) {
		int64_t progress = 2 * (int64_t)bw.v[k] - k;
		if (progress > best) {
			int32_t x = x0 + n - bw.v[k], y = y0 + m - (bw.v[k] - k);
			best = progress;
			*out = (struct split){ x, y, x, y };
		}
	}
	s->heuristic++;
}

/* Emits the matches of a[x0..x1) x b[y0..y1) in order. */
static int search_run(struct search *s, int32_t x0, int32_t x1, int32_t y0, int32_t y1)
{
	for (;;) {
		int32_t pre = 0, suf = 0;
		struct split sp = { 0 };
		int ret;

		while (x0 + pre < x1 && y0 + pre < y1 && s->a[x0 + pre] == s->b[y0 + pre])
			pre++;
		if (pre > 0 && (ret = s->match(s, x0, y0, pre)))
			return ret;
		x0 += pre;
		y0 += pre;
		while (x1 - suf > x0 && y1 - suf > y0 && s->a[x1 - 1 - suf] == s->b[y1 - 1 - suf])
			suf++;
		if (x0 == x1 - suf || y0 == y1 - suf)
			return suf > 0 ? s->match(s, x1 - suf, y1 - suf, suf) : 0;

		search_split(s, x0, x1 - suf, y0, y1 - suf, &sp);
		/* a split at a corner would recurse forever; the search rules it
		 * out, and this keeps it so if that reasoning were ever wrong */
		if ((sp.x == x0 && sp.y == y0 && sp.u == sp.x) ||
		    (sp.u == x1 - suf && sp.v == y1 - suf && sp.u == sp.x)) {
			return suf > 0 ? s->match(s, x1 - suf, y1 - suf, suf) : 0;
		}
		if ((ret = search_run(s, x0, sp.x, y0, sp.y)))
			return ret;
		if (sp.u > sp.x && (ret = s->match(s, sp.x, sp.y, sp.u - sp.x)))
			return ret;
		/* the right part (and the stripped suffix) by iteration, not recursion:
		 * heuristic splits peel the input off from the front */
		x0 = sp.u;
		y0 = sp.v;
	}
}

/* ---- reduction: tokens present on one side only ------------------------ */

struct tokset {
	uint64_t *keys;
	uint8_t *state;			/* 0 empty, else SEEN_A | SEEN_B */
	size_t mask, used;
};
#define SEEN_A	1
#define SEEN_B	2

static size_t tokset_slot(const struct tokset *t, uint64_t tok)
{
	uint64_t h = tok * 0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h ^ (h >> 29)) & t->mask;

	while (t->state[i] && t->keys[i] != tok)
		i = (i + 1) & t->mask;
	return i;
}

static int tokset_grow(struct tokset *t)
{
	struct tokset big = { .mask = t->mask ? t->mask * 2 + 1 : 1023 };

	big.keys = malloc((big.mask + 1) * sizeof(*big.keys));
	big.state = calloc(big.mask + 1, 1);
	if (!big.keys || !big.state) {
		free(big.keys);
		free(big.state);
		return -ENOMEM;
	}
	for (size_t i = 0; t->state && i <= t->mask; i++) {
		if (t->state[i]) {
			size_t j = tokset_slot(&big, t->keys[i]);
			big.keys[j] = t->keys[i];
			big.state[j] = t->state[i];
		}
	}
	big.used = t->used;
	free(t->keys);
	free(t->state);
	*t = big;
	return 0;
}

static int tokset_mark_a(struct tokset *t, uint64_t tok)
{
	size_t i;

	if ((t->used + 1) * 2 > t->mask && tokset_grow(t))
		return -ENOMEM;
	i = tokset_slot(t, tok);
	if (!t->state[i]) {
		t->keys[i] = tok;
		t->state[i] = SEEN_A;
		t->used++;
	}
	return 0;
}

/* ---- anchors: unique runs both sides share ------------------------------ */

/*
 * On large inputs the search first cuts the problem at anchors, as patience
 * diff does: runs of ANCHOR_LEN tokens that occur exactly once in each side,
 * kept in an order both sides agree on (a longest increasing subsequence).
 * Myers then runs between consecutive anchors, on problems whose cost grows
 * with the square of their own edit distance rather than the whole input's.
 * Only runs whose hash is 0 mod ANCHOR_SAMPLE are considered: the same runs on
 * both sides, an eighth of the memory. The script stays correct; it is
 * minimal whenever the anchors lie on a minimal path, as they do for related
 * inputs with scattered edits.
 */
#define ANCHOR_MIN	32768	/* reduced inputs smaller than this get plain Myers */
#define ANCHOR_LEN	16
#define ANCHOR_SAMPLE	8

struct gram {
	uint64_t h;			/* 0: empty slot */
	uint32_t pos_a, pos_b;
	uint8_t count_a, count_b;	/* saturate at 2 */
};

struct anchor {
	uint32_t a, b;
};

/*
 * A polynomial hash of the ANCHOR_LEN tokens in the window, rolled one token
 * at a time (O(1) per position, not O(ANCHOR_LEN)), then mixed so that its
 * low bits (the sample test and the table slot) depend on every token.
 */
#define GRAM_MUL	0x100000001b3ull

struct gram_roll {
	uint64_t sum;			/* sum of t[k] * GRAM_MUL^(ANCHOR_LEN-1-k) */
	uint64_t top;			/* GRAM_MUL^(ANCHOR_LEN-1): the leaving token's weight */
};

static void gram_start(struct gram_roll *g, const uint64_t *t)
{
	g->sum = 0;
	g->top = 1;
	for (int k = 0; k < ANCHOR_LEN; k++) {
		g->sum = g->sum * GRAM_MUL + t[k];
		if (k)
			g->top *= GRAM_MUL;
	}
}

static void gram_next(struct gram_roll *g, uint64_t out, uint64_t in)
{
	g->sum = (g->sum - out * g->top) * GRAM_MUL + in;
}

static uint64_t gram_hash(const struct gram_roll *g)
{
	uint64_t h = g->sum;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h ? h : 1;
}

static struct gram *gram_slot(struct gram *tab, size_t mask, uint64_t h)
{
	size_t i = (size_t)(h >> 3) & mask;

	while (tab[i].h && tab[i].h != h)
		i = (i + 1) & mask;
	return &tab[i];
}

static int anchor_cmp(const void *pa, const void *pb)
{
	const struct anchor *x = pa, *y = pb;

	return x->a < y->a ? -1 : x->a > y->a;
}

/* The unique runs common to a and b, ordered by their position in a. */
static struct anchor *anchors_find(const uint64_t *a, int32_t n, const uint64_t *b, int32_t m, size_t *count)
{
	size_t mask = 1023, used = 0, r = 0;
	struct gram_roll roll;
	struct gram *tab;
	struct anchor *v;

	*count = 0;
	if (n < ANCHOR_LEN || m < ANCHOR_LEN)
		return calloc(1, sizeof(struct anchor));
	while (mask < (size_t)n / ANCHOR_SAMPLE * 2)
		mask = mask * 2 + 1;
	tab = calloc(mask + 1, sizeof(*tab));
	if (!tab)
		return NULL;
	gram_start(&roll, a);
	for (int32_t i = 0; i + ANCHOR_LEN <= n; i++) {
		uint64_t h;
		struct gram *g;

		if (i)
			gram_next(&roll, a[i - 1], a[i + ANCHOR_LEN - 1]);
		h = gram_hash(&roll);
		if (h % ANCHOR_SAMPLE || used * 2 > mask)
			continue;
		g = gram_slot(tab, mask, h);
		if (!g->h) {
			*g = (struct gram){ .h = h, .pos_a = (uint32_t)i };
			used++;
		}
		if (g->count_a < 2)
			g->count_a++;
	}
	gram_start(&roll, b);
	for (int32_t j = 0; j + ANCHOR_LEN <= m; j++) {
		uint64_t h;
		struct gram *g;

		if (j)
			gram_next(&roll, b[j - 1], b[j + ANCHOR_LEN - 1]);
		h = gram_hash(&roll);
		if (h % ANCHOR_SAMPLE)
			continue;
		g = gram_slot(tab, mask, h);
		if (g->h) {
			if (g->count_b < 2)
				g->count_b++;
			g->pos_b = (uint32_t)j;
		}
	}
	v = malloc((used + 1) * sizeof(*v));
	for (size_t i = 0; v && i <= mask; i++) {
		const struct gram *g = &tab[i];
		/* a hash collision must not pass for a match */
		if (g->count_a == 1 && g->count_b == 1 &&
		    !memcmp(a + g->pos_a, b + g->pos_b, ANCHOR_LEN * sizeof(*a)))
			v[r++] = (struct anchor){ g->pos_a, g->pos_b };
	}
	free(tab);
	if (v)
		qsort(v, r, sizeof(*v), anchor_cmp);
	*count = r;
	return v;
}

/* Keeps the longest chain of anchors increasing in b too (patience sorting);
 * returns its length, the chain moved to the front of v in order. */
static size_t anchors_chain(struct anchor *v, size_t r)
{
	uint32_t *tails = malloc((r + 1) * sizeof(*tails)), *prev = malloc((r + 1) * sizeof(*prev));
	size_t len = 0;

	if (!tails || !prev) {
		free(tails);
		free(prev);
		return 0;
	}
	for (size_t i = 0; i < r; i++) {
		size_t lo = 0, hi = len;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (v[tails[mid]].b < v[i].b)
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[i] = lo ? tails[lo - 1] : UINT32_MAX;
		tails[lo] = (uint32_t)i;
		if (lo == len)
			len++;
	}
	/* the chain's indices, walking back from the last tail (tails[] is not
	 * read again), then moved down in order: index k of the chain is at
	 * least k, so no entry is overwritten before it is read */
	for (size_t k = len, i = len ? tails[len - 1] : 0; k > 0; k--, i = prev[i])
		tails[k - 1] = (uint32_t)i;
	for (size_t k = 0; k < len; k++)
		v[k] = v[tails[k]];
	free(tails);
	free(prev);
	return len;
}

static int search_anchored(struct search *s, int32_t n, int32_t m)
{
	struct anchor *v;
	size_t r = 0, len;
	int32_t x = 0, y = 0;
	int ret = 0;

	v = anchors_find(s->a, n, s->b, m, &r);
	if (!v)
		return search_run(s, 0, n, 0, m);
	len = anchors_chain(v, r);
	for (size_t k = 0; k < len && !ret; k++) {
		int32_t ax = (int32_t)v[k].a, by = (int32_t)v[k].b;

		if (ax < x || by < y)
			continue;	/* overlaps the previous anchor */
		ret = search_run(s, x, ax, y, by);
		if (!ret)
			ret = s->match(s, ax, by, ANCHOR_LEN);
		x = ax + ANCHOR_LEN;
		y = by + ANCHOR_LEN;
	}
	free(v);
	return ret ? ret : search_run(s, x, n, y, m);
}

/* ---- mapping matches back and coalescing runs --------------------------- */

struct emitter {
	const uint32_t *map_a, *map_b;	/* reduced -> original index (after the prefix), or NULL */
	size_t base;			/* the stripped prefix */
	size_t i, j;			/* original positions emitted so far */
	enum aligner_op op;
	size_t op_i, op_j, op_len;
	size_t edits;
	aligner_emit_fn emit;
	void *arg;
};

static int emitter_put(struct emitter *e, enum aligner_op op, size_t len)
{
	int ret = 0;

	if (!len)
		return 0;
	if (e->op_len && e->op != op) {
		ret = e->emit(e->op, e->op_i, e->op_j, e->op_len, e->arg);
		e->op_len = 0;
	}
	if (!e->op_len) {
		e->op = op;
		e->op_i = e->i;
		e->op_j = e->j;
	}
	e->op_len += len;
	if (op != ALIGNER_INSERT)
		e->i += len;
	if (op != ALIGNER_DELETE)
		e->j += len;
	if (op != ALIGNER_MATCH)
		e->edits += len;
	return ret;
}

/* Everything before original (i, j) not yet emitted is a gap: deletions, then insertions. */
static int emitter_gap_to(struct emitter *e, size_t i, size_t j)
{
	int ret = emitter_put(e, ALIGNER_DELETE, i - e->i);
	return ret ? ret : emitter_put(e, ALIGNER_INSERT, j - e->j);
}

static int emitter_match(struct search *s, int32_t x, int32_t y, int32_t len)
{
	struct emitter *e = s->arg;
	int ret = 0;

	if (!e->map_a) {
		ret = emitter_gap_to(e, e->base + (size_t)x, e->base + (size_t)y);
		return ret ? ret : emitter_put(e, ALIGNER_MATCH, (size_t)len);
	}
	for (int32_t t = 0; t < len && !ret; t++) {
		ret = emitter_gap_to(e, e->base + e->map_a[x + t], e->base + e->map_b[y + t]);
		if (!ret)
			ret = emitter_put(e, ALIGNER_MATCH, 1);
	}
	return ret;
}

/* Keeps the tokens of a that b has too (and vice versa); fills the maps. */
static int reduce(const uint64_t *a, size_t na, const uint64_t *b, size_t nb,
		  uint64_t **ra, uint32_t **ma, size_t *rna, uint64_t **rb, uint32_t **mb, size_t *rnb)
{
	struct tokset t = { 0 };
	size_t ka = 0, kb = 0, shared = 0;
	int ret = -ENOMEM;

	for (size_t i = 0; i < na; i++)
		if (tokset_mark_a(&t, a[i]))
			goto out;
	for (size_t j = 0; j < nb; j++) {
		size_t slot = tokset_slot(&t, b[j]);
		if (t.state[slot]) {
			shared += !(t.state[slot] & SEEN_B);
			t.state[slot] |= SEEN_B;
			kb++;
		}
	}
	/* when b has every token of a (the usual case), a keeps all of its own */
	for (size_t i = 0; shared < t.used && i < na; i++)
		ka += t.state[tokset_slot(&t, a[i])] & SEEN_B ? 1 : 0;
	if (shared == t.used)
		ka = na;
	*rna = ka;
	*rnb = kb;
	*ra = *rb = NULL;
	*ma = *mb = NULL;
	if (ka == na && kb == nb) {
		ret = 0;
		goto out;
	}
	*ra = malloc((ka + 1) * sizeof(**ra));
	*rb = malloc((kb + 1) * sizeof(**rb));
	*ma = malloc((ka + 1) * sizeof(**ma));
	*mb = malloc((kb + 1) * sizeof(**mb));
	if (!*ra || !*rb || !*ma || !*mb)
		goto out;
	ka = kb = 0;
	for (size_t i = 0; i < na; i++) {
		if (t.state[tokset_slot(&t, a[i])] & SEEN_B) {
			(*ra)[ka] = a[i];
			(*ma)[ka++] = (uint32_t)i;
		}
	}
	for (size_t j = 0; j < nb; j++) {
		if (t.state[tokset_slot(&t, b[j])]) {
			(*rb)[kb] = b[j];
			(*mb)[kb++] = (uint32_t)j;
		}
	}
	ret = 0;
out:
	free(t.keys);
	free(t.state);
	return ret;
}

static int32_t default_max_cost(size_t n)
{
	size_t r = 1;

	/* about 4 * sqrt(n), within [256, 4096]: exact for the scattered edits of
	 * related boots, bounded (about n * 4096 steps) for unrelated ones */
	while (r * r < n)
		r++;
	r *= 4;
	return r < 256 ? 256 : r > 4096 ? 4096 : (int32_t)r;
}

int aligner_diff(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, size_t max_cost,
		 aligner_emit_fn emit, void *arg, struct aligner_stats *stats)
{
	struct emitter e = { .emit = emit, .arg = arg };
	struct search s = { .match = emitter_match, .arg = &e };
	uint64_t *ra = NULL, *rb = NULL;
	uint32_t *ma = NULL, *mb = NULL;
	size_t pre = 0, suf = 0, rna, rnb;
	int ret;

	if (na > INT32_MAX / 4 || nb > INT32_MAX / 4)
		return -E2BIG;
	while (pre < na && pre < nb && a[pre] == b[pre])
		pre++;
	while (suf < na - pre && suf < nb - pre && a[na - 1 - suf] == b[nb - 1 - suf])
		suf++;
	if ((ret = emitter_put(&e, ALIGNER_MATCH, pre)))
		goto out;
	e.base = pre;

	rna = na - pre - suf;
	rnb = nb - pre - suf;
	if (rna && rnb &&
	    (ret = reduce(a + pre, rna, b + pre, rnb, &ra, &ma, &rna, &rb, &mb, &rnb)))
		goto out;
	s.a = ra ? ra : a + pre;
	s.b = rb ? rb : b + pre;
	e.map_a = ma;
	e.map_b = mb;
	if (rna && rnb) {
		/* diagonals run from -(m + 2) to n + 2 in both searches */
		size_t len = rna + rnb + 5;
		int32_t *vec = malloc(2 * len * sizeof(*vec));
		if (!vec) {
			ret = -ENOMEM;
			goto out;
		}
		s.fwd = vec + rnb + 2;
		s.bwd = vec + len + rnb + 2;
		s.max_cost = max_cost ? (max_cost > INT32_MAX ? INT32_MAX : (int32_t)max_cost)
				      : default_max_cost(rna + rnb);
		if (rna + rnb >= ANCHOR_MIN)
			ret = search_anchored(&s, (int32_t)rna, (int32_t)rnb);
		else
			ret = search_run(&s, 0, (int32_t)rna, 0, (int32_t)rnb);
		free(vec);
		if (ret)
			goto out;
	}
	if ((ret = emitter_gap_to(&e, na - suf, nb - suf)) || (ret = emitter_put(&e, ALIGNER_MATCH, suf)))
		goto out;
	if (e.op_len)
		ret = emit(e.op, e.op_i, e.op_j, e.op_len, arg);
out:
	if (stats) {
		stats->edits = e.edits;
		stats->heuristic = s.heuristic;
	}
	free(ra);
	free(rb);
	free(ma);
	free(mb);
	return ret;
}
