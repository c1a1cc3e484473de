/* SPDX-License-Identifier: MIT */
/* The fast path, idsrd's side: a connection's shared region, its table and its ring (docs/design.md). */
#ifndef IDSRD_FASTPATH_H
#define IDSRD_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct boot;
struct durable;
struct live_policy;
struct fp_region;

/* Makes b's region for one connection, answering under the live policy
 * (its epoch 1), and registers it for fastpath_publish. *fd: the sealed memfd to send
 * (the caller closes it). NULL with why filled. */
struct fp_region *fastpath_open(struct boot *b, int *fd, char *why, size_t whylen);
void fastpath_close(struct fp_region *r);

/* Takes every record the VMM wrote, checks each, logs it on b and notes it
 * in d (publishing what d says is committed). The count taken, or -EPROTO
 * with why filled for a record that lies (the caller fails the connection
 * as for a bad frame). Only the connection's thread. */
int fastpath_drain(struct fp_region *r, struct boot *b, struct durable *d, char *why, size_t whylen);
/* Publishes that vcpu's rows below `below` are committed (0: nothing new):
 * the VMM's library forgets its records of them. */
void fastpath_committed(struct fp_region *r, uint32_t vcpu, uint64_t below);
/* The connection ends: the VMM can publish no record after this, so a
 * drain after it takes every record there will be. */
void fastpath_seal(struct fp_region *r);
/* Nothing undrained: asks for a Wake frame with the next record and returns
 * true; false if a record came meanwhile (drain again). */
bool fastpath_arm_wake(struct fp_region *r);
/* The VMM is blocked in a round trip: no record of an older epoch can come. */
void fastpath_retire(struct fp_region *r);
/* After a round trip answered (key, direction) under lp: if every EL>=1
 * access of it gets that answer and lp is the region's current policy, the
 * table answers it from now on. */
void fastpath_learn(struct fp_region *r, struct live_policy *lp, uint32_t key, bool is_write);
/* lp went live: every region gets an empty table of a new epoch before this
 * returns (daemon_policy_install). */
void fastpath_publish(struct live_policy *lp);
/* Checks one record (a copy out of the region) against p, the policy of its
 * epoch: EL 1-3, a valid key, 0/1 flags, and the verdict p's table gives.
 * 0, or -EPROTO with why filled (idsrd/fastpath_check.c). The seq is the
 * boot's to check. */
struct fp_record;
struct policy;
int fastpath_check(const struct fp_record *rec, const struct policy *p, char *why, size_t whylen);
/* Since idsrd started, over every connection (Status fields 18-21). */
struct fastpath_stats {
	uint64_t records;		/* records taken and logged */
	uint64_t ring_full;		/* drains that found a ring full: a VMM's fast path waited */
	uint64_t dropped;		/* of the records, rows dropped past the store's pace limit */
	uint32_t regions;		/* connections with a region now */
};
void fastpath_stats(struct fastpath_stats *st);

#endif
