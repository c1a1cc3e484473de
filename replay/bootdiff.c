/* SPDX-License-Identifier: MIT */
/* Comparing two boots vCPU by vCPU: alignment tokens, line scripts, per-register counts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aligner.h"
#include "bootdiff.h"

/* ---- alignment tokens ---------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t hash_string(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/*
 * The alignment token of an access. By key it is exact (key and direction
 * fit in 33 bits); with a function or PC it is a 64-bit hash, where a
 * collision (about 2^-64 per pair) could only pair two accesses wrongly.
 */
static uint64_t access_token(const struct bootstream_access *r, const struct bootdiff_side *side,
			     enum bootdiff_align how)
{
	uint64_t base = (uint64_t)r->key << 1 | r->is_write;
	uint64_t off;
	const char *fn;

	switch (how) {
	case BOOTDIFF_BY_SYMBOL:
		fn = symbols_lookup(side->syms, r->pc - side->slide, &off);
		return mix64(base) ^ hash_string(fn ? fn : "");
	case BOOTDIFF_BY_PC:
		return mix64(base) ^ mix64(r->pc - side->slide + 0x9e3779b97f4a7c15ull);
	case BOOTDIFF_BY_KEY:
	default:
		return base;
	}
}

static uint64_t *side_tokens(const struct bootstream_access *rows, size_t n,
			     const struct bootdiff_side *side, enum bootdiff_align how)
{
	uint64_t *t = malloc((n + 1) * sizeof(*t));

	for (size_t i = 0; t && i < n; i++)
		t[i] = access_token(&rows[i], side, how);
	return t;
}

/* ---- per-register counts ------------------------------------------------ */

struct regtable {
	struct bootdiff_register *v;
	size_t n, cap;
	uint32_t *slots;		/* index + 1 into v, 0 empty */
	size_t mask;
};

static int regtable_grow(struct regtable *t)
{
	size_t mask = t->mask ? t->mask * 2 + 1 : 255;
	uint32_t *slots = calloc(mask + 1, sizeof(*slots));
	struct bootdiff_register *v = realloc(t->v, (mask + 1) / 2 * sizeof(*v));

	if (!slots || !v) {
		free(slots);
		if (v)
			t->v = v;
		return -ENOMEM;
	}
	t->v = v;
	t->cap = (mask + 1) / 2;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = (t->v[i].key * 2654435761u) & mask;
		while (slots[s])
			s = (s + 1) & mask;
		slots[s] = (uint32_t)i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = mask;
	return 0;
}

static struct bootdiff_register *regtable_get(struct regtable *t, uint32_t key)
{
	size_t s;

	if (t->n == t->cap && regtable_grow(t))
		return NULL;
	s = (key * 2654435761u) & t->mask;
	while (t->slots[s]) {
		if (t->v[t->slots[s] - 1].key == key)
			return &t->v[t->slots[s] - 1];
		s = (s + 1) & t->mask;
	}
	t->slots[s] = (uint32_t)++t->n;
	t->v[t->n - 1] = (struct bootdiff_register){ .key = key };
	return &t->v[t->n - 1];
}

static int register_cmp(const void *pa, const void *pb)
{
	const struct bootdiff_register *a = pa, *b = pb;

	return a->key < b->key ? -1 : a->key > b->key;
}

/* ---- aligning one vCPU -------------------------------------------------- */

struct vcpu_job {
	struct bootdiff_vcpu *v;
	struct bootdiff *d;
	struct regtable *regs;
};

static int note_change(struct vcpu_job *job, enum bootdiff_line kind, const struct bootstream_access *r)
{
	struct bootdiff_register *reg = regtable_get(job->regs, r->key);

	if (!reg)
		return -ENOMEM;
	if (kind == BOOTDIFF_ADDED)
		reg->added++;
	else if (kind == BOOTDIFF_REMOVED)
		reg->removed++;
	else
		reg->changed++;
	if (!reg->changes) {
		reg->changes = true;
		reg->first_line = kind;
		reg->first_vcpu = job->v->vcpu;
		reg->first_seq = r->seq;
	}
	return 0;
}

static int emit_run(enum aligner_op op, size_t i, size_t j, size_t len, void *arg)
{
	struct vcpu_job *job = arg;
	struct bootdiff_vcpu *v = job->v;
	uint8_t *out = v->lines + v->nlines;
	int ret = 0;

	for (size_t t = 0; t < len && !ret; t++) {
		const struct bootstream_access *ra = v->a ? &v->a[i + t] : NULL;
		const struct bootstream_access *rb = v->b ? &v->b[j + t] : NULL;

		switch (op) {
		case ALIGNER_MATCH:
			if (ra->value == rb->value && ra->undef == rb->undef) {
				out[t] = BOOTDIFF_SAME;
				break;
			}
			out[t] = BOOTDIFF_CHANGED;
			v->changed++;
			ret = note_change(job, BOOTDIFF_CHANGED, ra);
			break;
		case ALIGNER_DELETE:
			out[t] = BOOTDIFF_REMOVED;
			v->removed++;
			ret = note_change(job, BOOTDIFF_REMOVED, ra);
			break;
		case ALIGNER_INSERT:
			out[t] = BOOTDIFF_ADDED;
			v->added++;
			ret = note_change(job, BOOTDIFF_ADDED, rb);
			break;
		}
	}
	v->nlines += len;
	return ret;
}

static int align_vcpu(struct vcpu_job *job, const struct bootdiff_side *sa, const struct bootdiff_side *sb,
		      enum bootdiff_align how)
{
	struct bootdiff_vcpu *v = job->v;
	struct aligner_stats st;
	uint64_t *ta, *tb;
	int ret = -ENOMEM;

	for (size_t i = 0; i < v->na; i++) {
		struct bootdiff_register *r = regtable_get(job->regs, v->a[i].key);
		if (!r)
			return -ENOMEM;
		r->count_a++;
	}
	for (size_t j = 0; j < v->nb; j++) {
		struct bootdiff_register *r = regtable_get(job->regs, v->b[j].key);
		if (!r)
			return -ENOMEM;
		r->count_b++;
	}
	v->lines = malloc(v->na + v->nb + 1);
	ta = side_tokens(v->a, v->na, sa, how);
	tb = side_tokens(v->b, v->nb, sb, how);
	if (v->lines && ta && tb) {
		ret = aligner_diff(ta, v->na, tb, v->nb, 0, emit_run, job, &st);
		job->d->heuristic += st.heuristic;
	}
	free(ta);
	free(tb);
	job->d->added += v->added;
	job->d->removed += v->removed;
	job->d->changed += v->changed;
	return ret;
}

int bootdiff_run(const struct bootdiff_side *a, const struct bootdiff_side *b, enum bootdiff_align how,
		 struct bootdiff *out, char *why, size_t whylen)
{
	struct regtable regs = { 0 };
	size_t ia = 0, ib = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->vcpus = calloc(a->nvcpus + b->nvcpus + 1, sizeof(*out->vcpus));
	if (!out->vcpus) {
		ret = -ENOMEM;
		goto out;
	}
	/* both sides list their vCPUs ascending: walk the union */
	while (ia < a->nvcpus || ib < b->nvcpus) {
		const struct bootstream_vcpu *va = ia < a->nvcpus ? &a->vcpus[ia] : NULL;
		const struct bootstream_vcpu *vb = ib < b->nvcpus ? &b->vcpus[ib] : NULL;
		struct bootdiff_vcpu *v = &out->vcpus[out->nvcpus++];
		struct vcpu_job job = { .v = v, .d = out, .regs = &regs };

		if (va && vb && va->vcpu != vb->vcpu) {
			if (va->vcpu < vb->vcpu)
				vb = NULL;
			else
				va = NULL;
		}
		v->vcpu = va ? va->vcpu : vb->vcpu;
		if (va) {
			v->a = va->rows;
			v->na = va->count;
			ia++;
		}
		if (vb) {
			v->b = vb->rows;
			v->nb = vb->count;
			ib++;
		}
		if ((ret = align_vcpu(&job, a, b, how)))
			goto out;
	}
	if (regs.n)	/* (qsort of NULL is undefined, even for 0 items) */
		qsort(regs.v, regs.n, sizeof(*regs.v), register_cmp);
	out->regs = regs.v;
	out->nregs = regs.n;
	regs.v = NULL;
out:
	free(regs.slots);
	free(regs.v);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(why, whylen, "out of memory comparing the boots");
		else
			snprintf(why, whylen, "alignment failed: %s", strerror(-ret));
		bootdiff_free(out);
	}
	return ret;
}

void bootdiff_free(struct bootdiff *d)
{
	for (size_t i = 0; d->vcpus && i < d->nvcpus; i++)
		free(d->vcpus[i].lines);
	free(d->vcpus);
	free(d->regs);
	memset(d, 0, sizeof(*d));
}
