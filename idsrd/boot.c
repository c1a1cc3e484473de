/* SPDX-License-Identifier: MIT */
/* Boots in progress: every VMM connection of one VM run (one Hello instance) joins one boot. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "boot.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "regnames.h"

static char *boot_strdup(const char *s)
{
	return strdup(s ? s : "");
}

/* Names come from the Hello's impl, else its MIDR, else idsrd --impl. */
static const char *boot_pick_impl(const Idsr__V1__Guest *g)
{
	const char *impl = NULL;

	if (g && g->impl && *g->impl)
		return g->impl;
	if (g && g->midr)
		impl = regnames_impl_from_midr(g->midr);
	return impl ? impl : idsrd->cfg.impl;
}

static struct boot *boot_find_locked(const ProtobufCBinaryData *inst)
{
	for (struct boot *b = idsrd->boots; b; b = b->next)
		if (b->instance_len && b->instance_len == inst->len &&
		    !memcmp(b->instance, inst->data, inst->len))
			return b;
	return NULL;
}

static void boot_free(struct boot *b)
{
	policy_state_free(b->state);
	pthread_mutex_destroy(&b->lock);
	free(b->next_seq);
	free(b->vmm);
	free(b->vm_name);
	free(b->impl);
	free(b->end_reason);
	free(b);
}

static struct boot *boot_new(const Idsr__V1__Hello *h, const struct boot_peer *peer)
{
	const Idsr__V1__Guest *g = h->guest;
	struct live_policy *lp;
	uint64_t seed;
	struct boot *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)db_now_ns();
	b->state = policy_state_new(seed);
	b->vmm = boot_strdup(h->vmm);
	b->vm_name = boot_strdup(h->vm_name);
	b->impl = boot_pick_impl(g) ? strdup(boot_pick_impl(g)) : NULL;
	if (!b->state || !b->vmm || !b->vm_name) {
		boot_free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->id = store_next_boot_id(idsrd->store);
	b->start_ns = db_now_ns();
	b->rate_last_ns = b->start_ns;
	b->instance_len = h->instance.len;
	if (h->instance.len)
		memcpy(b->instance, h->instance.data, h->instance.len);
	b->vcpus = h->vcpus;
	b->peer = *peer;

	lp = daemon_policy_get();
	struct store_boot sb = {
		.id = b->id,
		.start_ns = b->start_ns,
		.vmm = b->vmm,
		.vm_name = b->vm_name,
		.kernel = g ? g->kernel : NULL,
		.impl = b->impl,
		.policy_hash = policy_hash(lp->policy),
		.instance = h->instance.data,
		.instance_len = h->instance.len,
		.build_id = g ? g->build_id.data : NULL,
		.build_id_len = g ? g->build_id.len : 0,
		.image_base = g ? g->image_base : 0,
		.slide = g ? g->slide : 0,
		.midr = g ? g->midr : 0,
		.vcpus = h->vcpus,
		.peer_uid = peer->uid,
		.peer_gid = peer->gid,
		.peer_pid = peer->pid,
	};
	store_boot_begin(idsrd->store, &sb);
	store_boot_policy(idsrd->store, b->id, policy_hash(lp->policy), b->start_ns);
	daemon_policy_put(lp);
	return b;
}

struct boot *boot_join(const Idsr__V1__Hello *h, const struct boot_peer *peer, char *why, size_t whylen)
{
	struct boot *b = NULL;
	unsigned in_progress = 0;

	if (h->instance.len > sizeof(b->instance)) {
		snprintf(why, whylen, "instance id is %zu bytes, at most %zu", h->instance.len,
			 sizeof(b->instance));
		return NULL;
	}
	if (h->vcpus > BOOT_MAX_VCPUS) {
		snprintf(why, whylen, "%u vCPUs, at most %d", h->vcpus, BOOT_MAX_VCPUS);
		return NULL;
	}
	pthread_mutex_lock(&idsrd->boots_lock);
	if (h->instance.len)
		b = boot_find_locked(&h->instance);
	if (!b) {
		for (struct boot *o = idsrd->boots; o; o = o->next)
			in_progress++;
		if (idsrd->cfg.max_boots && in_progress >= idsrd->cfg.max_boots) {
			snprintf(why, whylen, "%u boots in progress, the limit (--max-boots)", in_progress);
			log_warn("refused a new boot from pid %lld: %s", (long long)peer->pid, why);
			goto out;
		}
		b = boot_new(h, peer);
		if (!b) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		b->next = idsrd->boots;
		idsrd->boots = b;
		idsrd->boots_total++;
		log_info("boot %lld started: vm `%s', vmm `%s', %u vCPUs, pid %lld", (long long)b->id,
			 b->vm_name, b->vmm, b->vcpus, (long long)peer->pid);
	}
	pthread_mutex_lock(&b->lock);
	b->connections++;
	pthread_mutex_unlock(&b->lock);
out:
	pthread_mutex_unlock(&idsrd->boots_lock);
	return b;
}

static void boot_end(struct boot *b)
{
	struct store_boot_end e = {
		.id = b->id,
		.end_ns = db_now_ns(),
		.reason = b->end_reason ? b->end_reason : "eof",
		.accesses = atomic_load(&b->accesses),
		.undefs = atomic_load(&b->undefs),
		.rows_dropped = atomic_load(&b->rows_dropped),
		.divergences = atomic_load(&b->divergences),
	};

	store_boot_end(idsrd->store, &e);
	log_info("boot %lld ended (%s): %llu accesses, %llu UNDEF, %llu rows dropped",
		 (long long)b->id, e.reason, (unsigned long long)e.accesses,
		 (unsigned long long)e.undefs, (unsigned long long)e.rows_dropped);
}

void boot_leave(struct boot *b, const char *reason, bool error)
{
	bool last;

	pthread_mutex_lock(&idsrd->boots_lock);
	pthread_mutex_lock(&b->lock);
	if (reason && (!b->end_reason || (error && strncmp(b->end_reason, "error", 5)))) {
		char *r = error ? NULL : strdup(reason);

		if (error && asprintf(&r, "error: %s", reason) < 0)
			r = NULL;
		if (r) {
			free(b->end_reason);
			b->end_reason = r;
		}
	}
	last = --b->connections == 0;
	pthread_mutex_unlock(&b->lock);
	if (last) {
		for (struct boot **p = &idsrd->boots; *p; p = &(*p)->next) {
			if (*p == b) {
				*p = b->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&idsrd->boots_lock);
	if (last) {
		boot_end(b);
		boot_free(b);
	}
}

int boot_check_seq(struct boot *b, uint32_t vcpu, uint64_t seq, char *why, size_t whylen)
{
	int rc = 0;

	if (vcpu >= BOOT_MAX_VCPUS || (b->vcpus && vcpu >= b->vcpus)) {
		snprintf(why, whylen, "Access names vCPU %u, but the boot has %u vCPUs", vcpu,
			 b->vcpus ? b->vcpus : BOOT_MAX_VCPUS);
		return -EPROTO;
	}
	pthread_mutex_lock(&b->lock);
	if (vcpu >= b->nseq) {
		uint32_t n = vcpu + 1 > b->nseq * 2 ? vcpu + 1 : b->nseq * 2;
		uint64_t *p = realloc(b->next_seq, n * sizeof(*p));

		if (!p) {
			snprintf(why, whylen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		memset(p + b->nseq, 0, (n - b->nseq) * sizeof(*p));
		b->next_seq = p;
		b->nseq = n;
	}
	if (seq != b->next_seq[vcpu]) {
		snprintf(why, whylen, "vCPU %u sent seq %llu, expected %llu (a seq %s)", vcpu,
			 (unsigned long long)seq, (unsigned long long)b->next_seq[vcpu],
			 seq < b->next_seq[vcpu] ? "repeats" : "skips");
		rc = -EPROTO;
		goto out;
	}
	b->next_seq[vcpu]++;
out:
	pthread_mutex_unlock(&b->lock);
	return rc;
}
