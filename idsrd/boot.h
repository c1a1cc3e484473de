/* SPDX-License-Identifier: MIT */
/* Boots in progress: every VMM connection of one VM run (one Hello instance) joins one boot. */
#ifndef IDSRD_BOOT_H
#define IDSRD_BOOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "idsr_client.h"
#include "policy.h"

/* The end reason of boots still connected when idsrd stopped: they, and boots
 * cut off by a crash, may be resumed by their VMM (Hello.resume_boot). */
#define BOOT_STOPPED_REASON "idsrd stopped while the VMM was connected"

struct replay_run;

struct boot_peer {
	int64_t uid, gid, pid;
};

/* A vCPU's counters, alone on their cache line: the answering threads of a
 * boot's connections (on different CPUs) each write their own vCPUs' on
 * every access, and with several vCPUs' seqs in one line that line went
 * back and forth between the CPUs on every access (docs/performance.md,
 * "Cutting idsrd's CPU a round trip"). */
struct boot_vcpu {
	_Atomic uint64_t next_seq;	/* the seq it must send next */
	atomic_uint_fast64_t accesses, undefs;	/* logged for this vCPU (status, the end) */
} __attribute__((aligned(64)));

struct boot {
	struct boot *next;		/* daemon's list (boots_lock) */
	int64_t id;
	int64_t start_ns;
	uint64_t begun;			/* its record's place in the store queue (0: resumed) */
	uint8_t instance[IDSR_INSTANCE_LEN];
	size_t instance_len;		/* 0: a boot of its own connection */
	char *vmm, *vm_name, *impl;
	char impl_from[160];		/* where impl came from, for the log */
	uint64_t slide;			/* the Guest's KASLR slide, for tail's symbols */
	uint32_t vcpus;			/* as the Hello said */
	struct boot_peer peer;
	struct policy_state *state;	/* storage, counters, random streams */
	struct replay_run *replay;	/* answering from a recording, or NULL */
	int64_t replay_of;

	struct boot_vcpu *vcpu;		/* nseq of them */
	void *vcpu_mem;			/* vcpu's allocation (vcpu is aligned in it) */
	uint32_t nseq;			/* the vCPUs counted: Hello's, or IDSR_MAX_VCPUS */
	pthread_mutex_t lock;		/* guards what follows */
	unsigned connections;
	char *end_reason;		/* first error, else Bye's reason */

	/* accesses and undefs are the vCPUs' sums (boot_accesses) plus these
	 * (what a resumed boot had logged before) */
	uint64_t accesses_before, undefs_before;
	atomic_uint_fast64_t rows_dropped, divergences;
	/* for the rate in status: accesses at the last sample */
	uint64_t rate_last_accesses;
	int64_t rate_last_ns;
	double rate;
};

/* Finds the boot of hello's instance or starts one (logged to the store).
 * With hello->resume_boot, continues that boot: in progress, or cut off by a
 * crash or stop of idsrd (reopened from the database with its next seqs), if
 * the peer is its owner (or root) and the instance is the same.
 * Returns NULL with why filled if a limit or a check refuses it. */
struct boot *boot_join(const Idsr__V1__Hello *hello, const struct boot_peer *peer,
		       char *why, size_t whylen);
/* A connection of b ends; reason is kept if it is the first error (error=true)
 * or if nothing was said before. The last one out ends the boot. */
void boot_leave(struct boot *b, const char *reason, bool error);
/* Checks and advances vCPU vcpu's seq. 0, or -EPROTO with why filled. */
int boot_check_seq(struct boot *b, uint32_t vcpu, uint64_t seq, char *why, size_t whylen);
/* Counts one logged access of vCPU vcpu (below b->nseq). */
void boot_count(struct boot *b, uint32_t vcpu, bool undef);
/* Accesses and UNDEFs logged so far (all vCPUs'). */
uint64_t boot_accesses(const struct boot *b);
uint64_t boot_undefs(const struct boot *b);
/* The seq vCPU v (below b->nseq) is expected to send next. */
uint64_t boot_next_seq(const struct boot *b, uint32_t v);
/* The seq each vCPU is expected to send next (for Welcome.next_seq): a
 * malloc'd array of *n entries, NULL when *n is 0 or out of memory. */
uint64_t *boot_next_seqs(struct boot *b, size_t *n);
/* Logs one answered access of b (the store, tail -f, the counters); lp
 * answered it. From a round trip or a fast-path record alike. What
 * store_push_row returned (0: dropped). */
struct store_row;
struct live_policy;
uint64_t boot_log(struct boot *b, const struct store_row *row, struct live_policy *lp);

#endif
