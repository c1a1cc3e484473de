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

struct boot {
	struct boot *next;		/* daemon's list (boots_lock) */
	int64_t id;
	int64_t start_ns;
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

	_Atomic uint64_t *next_seq;	/* per vCPU: the seq it must send next */
	uint32_t nseq;			/* the vCPUs counted: Hello's, or IDSR_MAX_VCPUS */
	pthread_mutex_t lock;		/* guards what follows */
	unsigned connections;
	char *end_reason;		/* first error, else Bye's reason */

	atomic_uint_fast64_t accesses, undefs, rows_dropped, divergences;
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
