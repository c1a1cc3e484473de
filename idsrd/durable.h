/* SPDX-License-Identifier: MIT */
/* What a VMM may forget and what it sends again: Verdict.committed and Resend. */
#ifndef IDSRD_DURABLE_H
#define IDSRD_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct boot;
struct live_policy;

/* Rows awaited per vCPU at most (durable.c). */
#define DURABLE_MARKS	8

/* A row pushed at place (its queue place) whose commit means every row of
 * its vCPU below next is committed. */
struct durable_mark {
	uint64_t place, next;
};

/* Per vCPU of one connection: rows whose commit is awaited, oldest first,
 * its last row, and the committed bound last published. */
struct durable_vcpu {
	struct durable_mark marks[DURABLE_MARKS];
	uint8_t first, count;
	struct durable_mark last;	/* place 0: none since the last publication */
	uint64_t published;		/* last bound published */
};

struct durable {
	struct durable_vcpu *vcpus;
	uint32_t n;
};

/* Notes the row of vcpu's seq, pushed at place (0: dropped), and returns the
 * Verdict.committed to send with its verdict: 0 unless it moved on. */
uint64_t durable_note(struct durable *d, uint32_t vcpu, uint64_t seq, uint64_t place);
/* Without a new row (the fast path's idle ticks): vcpu's bound if it moved
 * on since last published, else 0. */
uint64_t durable_poll(struct durable *d, uint32_t vcpu);
/* Whether some vCPU has rows pushed whose commit is not yet published. */
bool durable_pending(const struct durable *d);
/* Logs a Resend's accesses into b as the idsrd before answered them (rule
 * POLICY_RULE_RESENT), checking their form and order only. 0; -EINVAL (bad
 * form) or -EPROTO (a seq out of order) with why filled: nothing from the bad
 * access on is logged. */
int durable_resend(struct boot *b, const struct live_policy *lp, const Idsr__V1__Resend *r,
		   char *why, size_t whylen);
void durable_free(struct durable *d);

#endif
