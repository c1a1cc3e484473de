/* SPDX-License-Identifier: MIT */
/* The live policy: loaded, swapped atomically between accesses, reference-counted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "daemon.h"
#include "db.h"
#include "log.h"

struct daemon *idsrd;

/* ---- protocol errors per uid ------------------------------------------------ */

#define ERROR_WINDOW_NS		60000000000LL
#define ERROR_UIDS		64	/* uids tracked at once; the oldest window goes */

static struct error_window {
	int64_t uid;
	int64_t start_ns;
	unsigned count;
	bool refused_logged;
} error_windows[ERROR_UIDS];
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

/* The uid's window, restarted if over; call with error_lock held. */
static struct error_window *error_window_locked(int64_t uid, bool create)
{
	struct error_window *w = NULL, *oldest = &error_windows[0];
	int64_t now = db_now_ns();

	for (int i = 0; i < ERROR_UIDS; i++) {
		if (error_windows[i].count && error_windows[i].uid == uid)
			w = &error_windows[i];
		if (error_windows[i].start_ns < oldest->start_ns)
			oldest = &error_windows[i];
	}
	if (w && now - w->start_ns >= ERROR_WINDOW_NS)
		*w = (struct error_window){ .uid = uid, .start_ns = now };
	if (!w && create) {
		w = oldest;
		*w = (struct error_window){ .uid = uid, .start_ns = now };
	}
	return w;
}

void daemon_note_error(int64_t uid)
{
	struct error_window *w;

	if (!idsrd->cfg.max_errors)
		return;
	pthread_mutex_lock(&error_lock);
	w = error_window_locked(uid, true);
	w->count++;
	pthread_mutex_unlock(&error_lock);
}

bool daemon_errors_over(int64_t uid, bool *first)
{
	struct error_window *w;
	bool over = false;

	*first = false;
	if (!idsrd->cfg.max_errors)
		return false;
	pthread_mutex_lock(&error_lock);
	w = error_window_locked(uid, false);
	if (w && w->count >= idsrd->cfg.max_errors) {
		over = true;
		*first = !w->refused_logged;
		w->refused_logged = true;
	}
	pthread_mutex_unlock(&error_lock);
	return over;
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
	int64_t now = db_now_ns();

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
	lp->since_ns = now;
	atomic_init(&lp->refs, 1);
	pthread_mutex_lock(&idsrd->policy_lock);
	old = idsrd->policy;
	if (old)
		snprintf(old_hash, sizeof(old_hash), "%s", policy_hash(old->policy));
	lp->generation = atomic_load(&idsrd->policy_generation) + 1;
	idsrd->policy = lp;
	atomic_store_explicit(&idsrd->policy_generation, lp->generation, memory_order_release);
	pthread_mutex_unlock(&idsrd->policy_lock);
	daemon_policy_put(old);

	store_policy(idsrd->store, policy_hash(p), policy_text(p), policy_source(p), how,
		     *old_hash ? old_hash : NULL, peer ? peer : &self);
	/* Every boot in progress now also runs under this policy. */
	pthread_mutex_lock(&idsrd->boots_lock);
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
