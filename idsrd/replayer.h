/* SPDX-License-Identifier: MIT */
/* Replay mode: arming a recorded boot, answering the next boot from it, reporting its progress. */
#ifndef IDSRD_REPLAYER_H
#define IDSRD_REPLAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "boot.h"
#include "policy.h"
#include "store.h"

struct control_client;

/* Progress reports to watchers are sent from a timer on loop. */
void replayer_start(uv_loop_t *loop);
void replayer_stop(void);
/* Frees every replay once the connections' threads are gone. */
void replayer_cleanup(void);

/*
 * Arms a replay of boot boot_id (0: the last) of the trace at path, for the
 * next new boot, or the next one named vm_name if not empty. owner: the
 * control client that armed it (the arm is dropped if it leaves before the
 * boot starts), NULL for idsrd --replay. Main loop only. 0 and *arm_id, or
 * -errno with why filled (-EBUSY: already armed).
 */
int replayer_arm(const char *path, int64_t boot_id, bool lenient, const char *vm_name,
		 struct control_client *owner, uint64_t *arm_id, char *why, size_t whylen);
/* Drops the armed replay (not a running one). 0, or -ENOENT with why. */
int replayer_disarm(char *why, size_t whylen);
/* Sends c the progress of arm_id now, then while it runs, and its outcome. */
int replayer_watch(struct control_client *c, uint64_t arm_id, char *why, size_t whylen);
/* A control client closed: stop sending to it, drop what it armed. */
void replayer_client_gone(struct control_client *c);

/* boot_new, under boots_lock: if an armed replay wants this boot, the boot
 * takes it (b->replay, b->replay_of; sb's replay fields). */
void replayer_attach(struct boot *b, const char *vm_name, uint64_t slide, struct store_boot *sb);
/* Answers access pa (seq) of a replaying boot from its recording; live
 * answers the accesses the recording cannot (lenient mode). */
void replayer_answer(struct boot *b, const struct policy *live, const struct policy_access *pa,
		     uint64_t seq, struct policy_verdict *pv);
/* The replaying boot b ends: unreached records are reported, the outcome set. */
void replayer_boot_end(struct boot *b, const char *reason);

#endif
