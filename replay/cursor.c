/* SPDX-License-Identifier: MIT */
/* Replay cursors: match a live boot's accesses, per vCPU, against a recorded boot and name divergences. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

struct cursor_vcpu {
	pthread_mutex_t lock;		/* one access of this vCPU at a time */
	struct replay_stream *stream;
	atomic_uint_fast64_t matched;	/* read by progress reports without the lock */
	/* The last live access diverged without consuming the record at the
	 * cursor: it was inserted, or it replaced that record. The next access
	 * tells which. */
	bool unsure;
	bool past_end_reported;
	size_t nctx, ctx_next;
	struct replay_record ctx[REPLAY_CONTEXT];
};

struct replay_cursor {
	struct replay_trace *t;
	uint64_t live_slide, rec_slide;
	bool has_pcs;			/* the recording has PCs to compare */
	pthread_mutex_t lock;		/* creates vCPU states */
	_Atomic(struct cursor_vcpu *) vcpus[IDSR_MAX_VCPUS];
};

const char *replay_kind_name(enum replay_kind kind)
{
	switch (kind) {
	case REPLAY_KIND_NONE: return "none";
	case REPLAY_KIND_KEY: return "key";
	case REPLAY_KIND_DIRECTION: return "direction";
	case REPLAY_KIND_PC: return "pc";
	case REPLAY_KIND_VALUE: return "value";
	case REPLAY_KIND_EXTRA: return "extra";
	case REPLAY_KIND_MISSING: return "missing";
	}
	return "unknown";
}

int replay_cursor_new(struct replay_trace *t, uint64_t live_slide, struct replay_cursor **out)
{
	struct replay_cursor *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->t = t;
	c->live_slide = live_slide;
	c->rec_slide = replay_trace_info(t)->slide;
	c->has_pcs = replay_trace_info(t)->has_pcs;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

void replay_cursor_free(struct replay_cursor *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < IDSR_MAX_VCPUS; i++) {
		struct cursor_vcpu *v = atomic_load(&c->vcpus[i]);

		if (!v)
			continue;
		replay_stream_close(v->stream);
		pthread_mutex_destroy(&v->lock);
		free(v);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The vCPU's state in *out, made on its first access: 0, -ERANGE (no such
 * vCPU), -ENOMEM or -EIO (its recording cannot be read). */
static int cursor_vcpu(struct replay_cursor *c, uint32_t vcpu, struct cursor_vcpu **out)
{
	struct cursor_vcpu *v;
	int rc = 0;

	if (vcpu >= IDSR_MAX_VCPUS)
		return -ERANGE;
	v = atomic_load_explicit(&c->vcpus[vcpu], memory_order_acquire);
	if (v) {
		*out = v;
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	v = atomic_load(&c->vcpus[vcpu]);
	if (!v) {
		v = calloc(1, sizeof(*v));
		rc = v ? replay_stream_open(c->t, vcpu, &v->stream) : -ENOMEM;
		if (rc == 0) {
			pthread_mutex_init(&v->lock, NULL);
			atomic_store_explicit(&c->vcpus[vcpu], v, memory_order_release);
		} else {
			free(v);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		*out = v;
	return rc;
}

#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)

const char *replay_cursor_strerror(int err)
{
	switch (err) {
	case -ERANGE: return "a vCPU numbered past the " TEXT(IDSR_MAX_VCPUS) " a replay follows";
	case -EIO: return "an SQLite error reading it";
	case -EINVAL: return "a damaged row (idsrctl replay TRACE names it: boot, vCPU, seq and what)";
	case -ENOMEM: return "out of memory";
	}
	return "an unknown error";
}

/* REPLAY_KIND_NONE if a is the recorded access r, else the first thing that differs. */
static enum replay_kind cursor_compare(const struct replay_cursor *c, const struct replay_access *a,
				       const struct replay_record *r)
{
	if (a->key != r->key)
		return REPLAY_KIND_KEY;
	if (a->is_write != r->is_write)
		return REPLAY_KIND_DIRECTION;
	if (c->has_pcs && a->pc - c->live_slide != r->pc - c->rec_slide)
		return REPLAY_KIND_PC;
	if (a->is_write && a->value != r->value)
		return REPLAY_KIND_VALUE;
	return REPLAY_KIND_NONE;
}

static void cursor_remember(struct cursor_vcpu *v, const struct replay_record *r)
{
	v->ctx[v->ctx_next] = *r;
	v->ctx_next = (v->ctx_next + 1) % REPLAY_CONTEXT;
	if (v->nctx < REPLAY_CONTEXT)
		v->nctx++;
	atomic_fetch_add_explicit(&v->matched, 1, memory_order_relaxed);
}

static void cursor_describe(const struct cursor_vcpu *v, enum replay_kind kind, const struct replay_access *a,
			    const struct replay_record *expected, struct replay_divergence *d)
{
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	if (a) {
		d->vcpu = a->vcpu;
		d->seq = a->seq;
		d->has_actual = true;
		d->actual = *a;
	}
	if (expected) {
		d->has_expected = true;
		d->expected = *expected;
	}
	d->ncontext = v->nctx;
	for (size_t i = 0; i < v->nctx; i++)
		d->context[i] = v->ctx[(v->ctx_next + REPLAY_CONTEXT - v->nctx + i) % REPLAY_CONTEXT];
}

/* Where, within REPLAY_LOOKAHEAD records after the cursor, a shows up (same
 * register and direction, and the same PC if same_pc): 1.., 0 if nowhere, or -EIO. */
static int cursor_find_ahead(struct replay_cursor *c, struct cursor_vcpu *v, const struct replay_access *a,
			     bool same_pc, struct replay_record *found)
{
	for (size_t j = 1; j <= REPLAY_LOOKAHEAD; j++) {
		int rc = replay_stream_peek(v->stream, j, found);
		enum replay_kind k;

		if (rc <= 0)
			return rc;
		k = cursor_compare(c, a, found);
		if (k == REPLAY_KIND_NONE || k == REPLAY_KIND_VALUE || (k == REPLAY_KIND_PC && !same_pc))
			return (int)j;
	}
	return 0;
}

static int cursor_match_locked(struct replay_cursor *c, struct cursor_vcpu *v, const struct replay_access *a,
			       struct replay_record *answer, struct replay_divergence *d)
{
	struct replay_record r, later;
	enum replay_kind kind;
	int rc = replay_stream_peek(v->stream, 0, &r);
	int ahead;

	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (v->past_end_reported)
			return REPLAY_UNMATCHED;
		v->past_end_reported = true;
		cursor_describe(v, REPLAY_KIND_EXTRA, a, NULL, d);
		return REPLAY_DIVERGED;
	}
	kind = cursor_compare(c, a, &r);
	if (kind == REPLAY_KIND_NONE || kind == REPLAY_KIND_VALUE) {
		replay_stream_advance(v->stream, 1);
		v->unsure = false;
		if (kind == REPLAY_KIND_VALUE) {
			cursor_describe(v, kind, a, &r, d);
			d->has_answer = true;
			*answer = r;
			return REPLAY_DIVERGED;
		}
		cursor_remember(v, &r);
		*answer = r;
		return REPLAY_MATCHED;
	}
	/* Only a different PC at the cursor: look for that very PC further on
	 * (accesses removed before it), else it is the record's access, moved. */
	ahead = cursor_find_ahead(c, v, a, kind == REPLAY_KIND_PC, &later);
	if (ahead < 0)
		return ahead;
	cursor_describe(v, kind, a, &r, d);
	if (ahead == 0 && kind == REPLAY_KIND_PC) {
		replay_stream_advance(v->stream, 1);
		v->unsure = false;
		d->has_answer = true;
		*answer = r;
		return REPLAY_DIVERGED;
	}
	if (ahead == 0) {
		/* Inserted or replacing the record at the cursor: keep it for the next access. */
		v->unsure = true;
		return REPLAY_DIVERGED;
	}
	replay_stream_advance(v->stream, (size_t)ahead + 1);
	if (v->unsure && ahead == 1 && cursor_compare(c, a, &later) == REPLAY_KIND_NONE) {
		/* The previous access replaced the record at the cursor (already
		 * reported); this one is back in step. */
		v->unsure = false;
		cursor_remember(v, &later);
		*answer = later;
		return REPLAY_MATCHED;
	}
	/* Records before `later` were removed from the guest: one divergence. */
	v->unsure = false;
	d->has_answer = true;
	*answer = later;
	return REPLAY_DIVERGED;
}

int replay_cursor_match(struct replay_cursor *c, const struct replay_access *a,
			struct replay_record *answer, struct replay_divergence *d)
{
	struct cursor_vcpu *v;
	int rc = cursor_vcpu(c, a->vcpu, &v);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&v->lock);
	rc = cursor_match_locked(c, v, a, answer, d);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

size_t replay_cursor_finish(struct replay_cursor *c,
			    void (*fn)(void *arg, const struct replay_divergence *d), void *arg)
{
	const struct replay_trace_info *in = replay_trace_info(c->t);
	struct replay_divergence d;
	struct replay_record r;
	size_t n = 0;

	for (uint32_t i = 0; i < in->nvcpus; i++) {
		struct cursor_vcpu *v;
		uint64_t pos;

		if (in->recorded[i] == 0 || cursor_vcpu(c, i, &v) < 0)
			continue;
		pthread_mutex_lock(&v->lock);
		pos = replay_stream_pos(v->stream);
		if (pos < in->recorded[i] && replay_stream_peek(v->stream, 0, &r) == 1) {
			cursor_describe(v, REPLAY_KIND_MISSING, NULL, &r, &d);
			d.vcpu = i;
			d.seq = r.seq;
			d.missing = in->recorded[i] - pos;
			fn(arg, &d);
			n++;
		}
		pthread_mutex_unlock(&v->lock);
	}
	return n;
}

uint64_t replay_cursor_matched(struct replay_cursor *c, uint32_t vcpu)
{
	struct cursor_vcpu *v;

	if (vcpu >= IDSR_MAX_VCPUS || !(v = atomic_load_explicit(&c->vcpus[vcpu], memory_order_acquire)))
		return 0;
	return atomic_load_explicit(&v->matched, memory_order_relaxed);
}
