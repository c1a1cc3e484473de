/* SPDX-License-Identifier: MIT */
/* What a VMM may forget and what it sends again: Verdict.committed and Resend. */
#ifndef IDSRD_DURABLE_H
#define IDSRD_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct boot;
struct live_policy;

/* Per vCPU of one connection: a row it pushed (its queue place) whose commit
 * is awaited, and the committed bound last published. */
struct durable_vcpu {
	uint64_t mark_place;		/* 0: none awaited */
	uint64_t mark_next;		/* that row's seq + 1 */
	uint64_t published;		/* last Verdict.committed sent */
};

struct durable {
	struct durable_vcpu *vcpus;
	uint32_t n;
};

/* Notes the row of vcpu's seq, pushed at place (0: dropped), and returns the
 * Verdict.committed to send with its verdict: 0 unless it moved on. */
uint64_t durable_note(struct durable *d, uint32_t vcpu, uint64_t seq, uint64_t place);
/* Logs a Resend's accesses into b as the idsrd before answered them (rule
 * POLICY_RULE_RESENT), checking their form and order only. 0; -EINVAL (bad
 * form) or -EPROTO (a seq out of order) with why filled: nothing from the bad
 * access on is logged. */
int durable_resend(struct boot *b, const struct live_policy *lp, const Idsr__V1__Resend *r,
		   char *why, size_t whylen);
void durable_free(struct durable *d);

#endif
