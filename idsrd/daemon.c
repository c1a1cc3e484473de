/* SPDX-License-Identifier: MIT */
/* The live policy: loaded, swapped atomically between accesses, reference-counted. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "daemon.h"
#include "fastpath.h"
#include "db.h"
#include "log.h"

struct daemon *idsrd;

const struct policy *daemon_policy_at(struct live_policy **cur, int64_t *ts_ns)
{
	for (;;) {
		uint64_t g = atomic_load(&idsrd->policy_generation);

		if (g & 1) {		/* a swap is taking its time: a few instructions */
			sched_yield();
			continue;
		}
		atomic_thread_fence(memory_order_seq_cst);
		*ts_ns = db_now_ns();
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load(&idsrd->policy_generation) != g)
			continue;
		if ((*cur)->generation == g)
			return (*cur)->policy;
		daemon_policy_put(*cur);
		*cur = daemon_policy_get();	/* maybe newer than g already: then again */
		if ((*cur)->generation == g)
			return (*cur)->policy;
	}
}

struct live_policy *daemon_policy_get(void)
{
	struct live_policy *lp;

	pthread_mutex_lock(&idsrd->policy_lock);
	lp = idsrd->policy;
	atomic_fetch_add(&lp->refs, 1);
	pthread_mutex_unlock(&idsrd->policy_lock);
	return lp;
}

void daemon_policy_put(struct live_policy *lp)
{
	if (lp && atomic_fetch_sub(&lp->refs, 1) == 1) {
		policy_free(lp->policy);
		free(lp->hits);
		free(lp);
	}
}

void daemon_policy_install(struct policy *p, const char *how, const struct boot_peer *peer)
{
	struct boot_peer self = { getuid(), getgid(), getpid() };

	struct live_policy *lp = calloc(1, sizeof(*lp)), *old;
	size_t nrules = policy_rule_count(p);
	char old_hash[32] = "";
	int64_t now;
	uint64_t g;

	if (lp) {
		/* Rules are in line order: the last one has the highest line. */
		lp->nhits = nrules ? (size_t)policy_rule_at(p, nrules - 1)->line + 1 : 1;
		lp->hits = calloc(lp->nhits, sizeof(*lp->hits));
		if (!lp->hits) {
			free(lp);
			lp = NULL;
		}
	}
	if (!lp) {
		log_err("out of memory installing a policy; the old one stays");
		policy_free(p);
		return;
	}
	lp->policy = p;
	atomic_init(&lp->refs, 1);
	/* boots_lock first (the lock order): no boot starts during the swap, so
	 * each one either has its start row under the old policy and gets a row
	 * for the new one below, or starts under the new one. */
	pthread_mutex_lock(&idsrd->boots_lock);
	pthread_mutex_lock(&idsrd->policy_lock);
	old = idsrd->policy;
	if (old)
		snprintf(old_hash, sizeof(old_hash), "%s", policy_hash(old->policy));
	g = atomic_load(&idsrd->policy_generation);
	atomic_store(&idsrd->policy_generation, g + 1);		/* odd: accesses wait */
	atomic_thread_fence(memory_order_seq_cst);
	now = db_now_ns();
	lp->since_ns = now;
	lp->generation = g + 2;
	idsrd->policy = lp;
	atomic_store(&idsrd->policy_generation, g + 2);
	pthread_mutex_unlock(&idsrd->policy_lock);
	daemon_policy_put(old);
	fastpath_publish(lp);	/* before the command returns: its next access sees lp */

	store_policy(idsrd->store, policy_hash(p), policy_text(p), policy_source(p), how,
		     *old_hash ? old_hash : NULL, peer ? peer : &self);
	/* Every boot in progress now also runs under this policy. */
	for (struct boot *b = idsrd->boots; b; b = b->next)
		store_boot_policy(idsrd->store, b->id, policy_hash(p), now);
	pthread_mutex_unlock(&idsrd->boots_lock);
	log_info("policy %s (%s, %zu rules) in force (%s)", policy_hash(p),
		 policy_source(p), policy_rule_count(p), how);
}

int daemon_policy_reload(const char *how, char *why, size_t whylen)
{
	struct policy_error err;
	struct policy *p;
	int rc;

	if (!idsrd->cfg.policy_path) {
		snprintf(why, whylen, "idsrd runs without --policy: there is no file to reload");
		return -ENOENT;
	}
	rc = policy_load_file(idsrd->cfg.policy_path, &p, &err);
	if (rc < 0) {
		char msg[512];

		snprintf(why, whylen, "%s", policy_error_format(&err, msg, sizeof(msg)));
		log_err("policy reload rejected, the old policy stays in force: %s", why);
		return rc;
	}
	daemon_policy_install(p, how, NULL);
	return 0;
}
