/* SPDX-License-Identifier: MIT */
/* Replay cursors: match a live boot's accesses, per vCPU, against a recorded boot and name divergences. */
#ifndef IDSR_REPLAY_CURSOR_H
#define IDSR_REPLAY_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

/* Matched accesses kept per vCPU to show before a divergence. */
#define REPLAY_CONTEXT		4
/* How far past a mismatch a live access is looked for in the recording to
 * get back in step (accesses removed from, or replaced in, the guest). */
#define REPLAY_LOOKAHEAD	8

enum replay_kind {
	REPLAY_KIND_NONE = 0,		/* the recorded access itself: no divergence */
	REPLAY_KIND_KEY,		/* a different register */
	REPLAY_KIND_DIRECTION,		/* read where a write was recorded, or back */
	REPLAY_KIND_PC,			/* from another PC (after slide normalization; never when
					   the recording has no PCs: replay_trace_info.has_pcs) */
	REPLAY_KIND_VALUE,		/* the same write of another value */
	REPLAY_KIND_EXTRA,		/* past the end of the vCPU's recording */
	REPLAY_KIND_MISSING,		/* recorded accesses never reached by the boot's end */
};

/* The `divergences.kind` text: "key", "direction", "pc", "value", "extra", "missing"
 * ("none" for REPLAY_KIND_NONE, which is never stored). */
const char *replay_kind_name(enum replay_kind kind);

/* A live access as the VMM sent it. */
struct replay_access {
	uint64_t seq;
	uint64_t pc;
	uint64_t value;			/* the written value (writes) */
	uint32_t vcpu;
	uint32_t key;
	uint8_t el;
	bool is_write;
};

struct replay_divergence {
	enum replay_kind kind;
	uint32_t vcpu;
	uint64_t seq;			/* the live access's; missing: the first unreached record's */
	bool has_expected, has_actual;
	struct replay_record expected;	/* the recorded side */
	struct replay_access actual;	/* the live side */
	uint64_t missing;		/* missing: how many recorded accesses were not reached */
	/* The live access still has a recorded answer (in *answer): it wrote
	 * another value, or records before it were skipped to get back in step. */
	bool has_answer;
	/* What the live access was answered (filled by whoever answered it, for
	 * reports): without it a report could only guess the live side's action. */
	bool answered, answer_undef;
	uint64_t answer_value;
	int32_t answer_rule;
	size_t ncontext;
	struct replay_record context[REPLAY_CONTEXT];	/* matched before it, oldest first */
};

enum replay_match {
	REPLAY_MATCHED,			/* answer with the recorded access */
	REPLAY_DIVERGED,		/* a new divergence: report it */
	REPLAY_UNMATCHED,		/* no recorded answer, nothing new to report (past the end again) */
};

struct replay_cursor;

/* One cursor per replayed boot; it uses t (which must outlive it). live_slide:
 * the replaying boot's KASLR slide, so PCs compare as link-time addresses. */
int replay_cursor_new(struct replay_trace *t, uint64_t live_slide, struct replay_cursor **out);
void replay_cursor_free(struct replay_cursor *c);

/*
 * Matches live access a (the next one of its vCPU) against the recording.
 * REPLAY_MATCHED: *answer is the recorded access to answer with.
 * REPLAY_DIVERGED: *d describes it (and *answer is set if d->has_answer). After a divergence the cursor gets back in
 * step when it can: an inserted access, a removed one or a replaced one each
 * make one divergence, not one per access after it.
 * Fails with -ERANGE (a->vcpu is IDSR_MAX_VCPUS or more), -EIO (the
 * recording cannot be read: an SQLite error), -EINVAL (a damaged row: idsrctl
 * replay refuses such a trace before arming) or -ENOMEM; replay_cursor_strerror
 * says which. Thread-safe: vCPUs may be served from different threads (one
 * access of one vCPU at a time).
 */
int replay_cursor_match(struct replay_cursor *c, const struct replay_access *a,
			struct replay_record *answer, struct replay_divergence *d);

/* At the boot's end: calls fn for each vCPU that left recorded accesses
 * unreached (kind missing). Returns how many. */
size_t replay_cursor_finish(struct replay_cursor *c,
			    void (*fn)(void *arg, const struct replay_divergence *d), void *arg);

/* What a replay_cursor_match failure means, for messages. */
const char *replay_cursor_strerror(int err);

/* Accesses matched so far on vCPU vcpu. */
uint64_t replay_cursor_matched(struct replay_cursor *c, uint32_t vcpu);

#endif
