/* SPDX-License-Identifier: MIT */
/* Answers accesses under a policy: the EL0 rule, the UNDEF default, and the per-boot state of storage, counters and random streams. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/*
 * State lives in slots keyed by (kind, register key, vCPU) — or (kind, key,
 * VM) for scope=vm — never by rule, so a reloaded policy with a storage rule on
 * the same register sees what the guest stored (init= applies only when the
 * slot is created). The slot table is preallocated; it grows (under the lock)
 * only when a boot touches more stateful (register, vCPU) pairs than fit, which
 * happens a handful of times per boot at most, never per access.
 *
 * Random streams use splitmix64 (Steele, Lea, Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014): one 64-bit word of state, a
 * fixed increment and a finalizer. Each (seed, key, vCPU) starts its own stream
 * at mix(seed ^ mix(key, vCPU)), so every register of every vCPU replays the
 * same values every boot whatever the interleaving of vCPUs.
 */

enum slot_kind { SLOT_FREE, SLOT_STORAGE, SLOT_COUNTER, SLOT_RANDOM };

#define SLOTS_INITIAL	4096		/* 128 KiB: every IMPDEF register of a few vCPUs */
#define GOLDEN_GAMMA	0x9e3779b97f4a7c15ull

struct slot {
	uint64_t value;			/* storage contents, next counter value, PRNG state */
	uint64_t seed;			/* random: the seed the stream started from */
	uint32_t key;
	uint32_t vcpu;
	uint8_t kind;			/* enum slot_kind */
	bool vm;
};

struct policy_state {
	pthread_mutex_t lock;
	uint64_t seed;
	struct slot *slots;
	size_t cap, used;		/* cap is a power of two */
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t splitmix64_next(uint64_t *state)
{
	*state += GOLDEN_GAMMA;
	return mix64(*state);
}

static uint64_t slot_hash(enum slot_kind kind, uint32_t key, uint32_t vcpu, bool vm)
{
	return mix64(((uint64_t)key << 32 | vcpu) ^ ((uint64_t)kind << 61) ^ (vm ? GOLDEN_GAMMA : 0));
}

struct policy_state *policy_state_new(uint64_t seed)
{
	struct policy_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->slots = calloc(SLOTS_INITIAL, sizeof(*st->slots));
	if (!st->slots || pthread_mutex_init(&st->lock, NULL)) {
		free(st->slots);
		free(st);
		return NULL;
	}
	st->seed = seed;
	st->cap = SLOTS_INITIAL;
	return st;
}

void policy_state_free(struct policy_state *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st->slots);
	free(st);
}

static struct slot *probe(struct slot *slots, size_t cap, enum slot_kind kind, uint32_t key,
			  uint32_t vcpu, bool vm)
{
	size_t i = slot_hash(kind, key, vcpu, vm) & (cap - 1);

	while (slots[i].kind != SLOT_FREE &&
	       !(slots[i].kind == kind && slots[i].key == key && slots[i].vcpu == vcpu && slots[i].vm == vm))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void grow(struct policy_state *st)
{
	size_t cap = st->cap * 2;
	struct slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return;		/* keep filling the old table; find_slot stops at full */
	for (size_t i = 0; i < st->cap; i++)
		if (st->slots[i].kind != SLOT_FREE)
			*probe(slots, cap, st->slots[i].kind, st->slots[i].key, st->slots[i].vcpu,
			       st->slots[i].vm) = st->slots[i];
	free(st->slots);
	st->slots = slots;
	st->cap = cap;
}

/* The slot for (kind, a's key, a's vCPU or the VM), created if new (*created
 * says so); NULL only if it is new and memory ran out. Call with the lock held. */
static struct slot *find_slot(struct policy_state *st, enum slot_kind kind,
			      const struct policy_access *a, bool vm, bool *created)
{
	uint32_t vcpu = vm ? 0 : a->vcpu;
	struct slot *s = probe(st->slots, st->cap, kind, a->key, vcpu, vm);

	*created = s->kind == SLOT_FREE;
	if (!*created)
		return s;
	if (st->used + 1 > st->cap / 4 * 3) {
		grow(st);
		s = probe(st->slots, st->cap, kind, a->key, vcpu, vm);
		if (st->used + 1 >= st->cap)
			return NULL;	/* growing failed and one free slot must stay */
	}
	st->used++;
	s->kind = (uint8_t)kind;
	s->key = a->key;
	s->vcpu = vcpu;
	s->vm = vm;
	return s;
}

/* Storage, counter or random: returns false if no slot could be made. */
static bool stateful(struct policy_state *st, const struct policy_rule *r,
		     const struct policy_access *a, uint64_t *value)
{
	enum slot_kind kind = r->action == POLICY_STORAGE ? SLOT_STORAGE :
			      r->action == POLICY_COUNTER ? SLOT_COUNTER : SLOT_RANDOM;
	uint64_t seed = r->has_seed ? r->seed : st->seed;
	bool created;
	struct slot *s;

	pthread_mutex_lock(&st->lock);
	s = find_slot(st, kind, a, r->scope_vm, &created);
	if (!s) {
		pthread_mutex_unlock(&st->lock);
		return false;
	}
	/* A reload that changes a stream's seed starts the new stream. */
	if (created || (kind == SLOT_RANDOM && s->seed != seed)) {
		s->value = kind == SLOT_RANDOM ? mix64(seed ^ slot_hash(kind, a->key, s->vcpu, s->vm)) : r->value;
		s->seed = seed;
	}
	*value = 0;
	if (kind == SLOT_STORAGE && a->is_write) {
		s->value = (s->value & ~r->wmask) | (a->value & r->wmask);
	} else if (kind == SLOT_STORAGE) {
		*value = s->value;
	} else if (!a->is_write && kind == SLOT_COUNTER) {
		*value = s->value;
		s->value += r->step;
	} else if (!a->is_write) {
		*value = splitmix64_next(&s->value);
	}
	pthread_mutex_unlock(&st->lock);
	return true;
}

void policy_decide(const struct policy *p, struct policy_state *st,
		   const struct policy_access *a, struct policy_verdict *v)
{
	const struct policy_rule *r;

	v->undef = true;
	v->value = 0;
	if (a->el == 0 && !policy_allows_el0(p)) {
		v->rule = POLICY_RULE_EL0;
		return;
	}
	r = policy_match(p, a);
	if (!r) {
		v->rule = POLICY_RULE_DEFAULT;
		return;
	}
	v->rule = r->line;
	switch (r->action) {
	case POLICY_UNDEF:
		return;
	case POLICY_RAZ_WI:
	case POLICY_IGNORE:
		break;
	case POLICY_VALUE:
		v->value = a->is_write ? 0 : r->value;
		break;
	case POLICY_STORAGE:
	case POLICY_COUNTER:
	case POLICY_RANDOM:
		/* Out of memory for a new slot: UNDEF from this rule, visible in the log. */
		if (!stateful(st, r, a, &v->value))
			return;
		break;
	}
	v->undef = false;
}
