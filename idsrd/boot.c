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
#include "pusher.h"
#include "regnames.h"
#include "regtable.h"
#include "replayer.h"
#include "store.h"
#include "subscribe.h"

static char *boot_strdup(const char *s)
{
	return strdup(s ? s : "");
}

/* Names come from the Hello's impl, else its MIDR, else idsrd --impl, else
 * the policy's `impl` directive (the names its rules were written in). from
 * says which, for the log: a user whose MIDR row did not match sees why. */
static char *boot_impl(const Idsr__V1__Guest *g, const struct policy *p, char *from, size_t fromlen)
{
	const struct regtable_midr *m = g && g->midr ? regnames_midr(g->midr) : NULL;
	unsigned long long midr = g ? (unsigned long long)g->midr : 0;
	const char *impl;

	if (g && g->impl && *g->impl) {
		impl = g->impl;
		snprintf(from, fromlen, "named by the VMM");
	} else if (m) {
		impl = m->impl;
		snprintf(from, fromlen, "MIDR 0x%08llx, %s:%u", midr, m->file, m->line);
	} else if ((impl = idsrd->cfg.impl) || (impl = policy_impl(p))) {
		snprintf(from, fromlen, "%s%s", impl == idsrd->cfg.impl ? "idsrd --impl" : "the policy's impl line",
			 midr ? ": no MIDR row matches the boot's MIDR" : "");
	} else if (midr) {
		snprintf(from, fromlen, "no MIDR row matches MIDR 0x%08llx", midr);
	} else {
		snprintf(from, fromlen, "no MIDR given");
	}
	return impl ? strdup(impl) : NULL;
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
	free(b->vcpu_mem);
	free(b->vmm);
	free(b->vm_name);
	free(b->impl);
	free(b->end_reason);
	free(b);
}

/* A boot in memory, not yet recorded; id 0: a fresh id. */
static struct boot *boot_alloc(const Idsr__V1__Hello *h, const struct boot_peer *peer, int64_t id)
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
	/* Every vCPU's counters from the start, a cache line each (256 KiB of
	 * address space at most when the Hello gives no count, its pages
	 * touched only by the vCPUs that run): the trap path then checks seqs
	 * without a lock. */
	b->nseq = h->vcpus && h->vcpus <= IDSR_MAX_VCPUS ? h->vcpus : IDSR_MAX_VCPUS;
	b->vcpu_mem = calloc(b->nseq + 1, sizeof(*b->vcpu));
	if (b->vcpu_mem)
		b->vcpu = (struct boot_vcpu *)(((uintptr_t)b->vcpu_mem + sizeof(*b->vcpu) - 1) &
					       ~(uintptr_t)(sizeof(*b->vcpu) - 1));
	lp = daemon_policy_get();
	b->impl = boot_impl(g, lp->policy, b->impl_from, sizeof(b->impl_from));
	daemon_policy_put(lp);
	if (!b->state || !b->vmm || !b->vm_name || !b->vcpu_mem) {
		boot_free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->id = id ? id : store_next_boot_id(idsrd->store);
	b->start_ns = db_now_ns();
	b->rate_last_ns = b->start_ns;
	b->instance_len = h->instance.len;
	if (h->instance.len)	/* protobuf-c leaves data NULL when empty */
		memcpy(b->instance, h->instance.data, h->instance.len);
	b->vcpus = h->vcpus;
	b->slide = g ? g->slide : 0;
	b->peer = *peer;
	return b;
}

static struct boot *boot_new(const Idsr__V1__Hello *h, const struct boot_peer *peer)
{
	const Idsr__V1__Guest *g = h->guest;
	struct live_policy *lp;
	struct boot *b = boot_alloc(h, peer, 0);

	if (!b)
		return NULL;
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
		.push = idsrd->cfg.push_url != NULL,
	};
	replayer_attach(b, b->vm_name, sb.slide, &sb);
	store_boot_begin(idsrd->store, &sb);
	store_boot_policy(idsrd->store, b->id, policy_hash(lp->policy), b->start_ns);
	b->begun = store_queued(idsrd->store);
	daemon_policy_put(lp);
	return b;
}

/* ---- resuming a boot after idsrd restarted ------------------------------------- */

/* May this peer and instance continue boot b (in progress)? */
static bool boot_resume_allowed(int64_t id, int64_t owner_uid, const void *inst, size_t inst_len,
				const Idsr__V1__Hello *h, const struct boot_peer *peer,
				char *why, size_t whylen)
{
	if (peer->uid != 0 && peer->uid != owner_uid) {
		snprintf(why, whylen, "cannot resume boot %lld: it belongs to uid %lld, not %lld",
			 (long long)id, (long long)owner_uid, (long long)peer->uid);
		return false;
	}
	if (inst_len != h->instance.len || (inst_len && memcmp(inst, h->instance.data, inst_len))) {
		snprintf(why, whylen, "cannot resume boot %lld: it is another VM run's (the Hello's"
			 " instance differs from the boot's)", (long long)id);
		return false;
	}
	return true;
}

/* Reads boot id's record and next seqs from the database into a new boot in
 * memory. Rare (a VMM reconnecting), and called without boots_lock: a flush,
 * an open and two SELECTs wait up to SQLite's busy timeout (5 s) when another
 * process holds the database, and status and every Hello take that lock. */
/* Held from a boot's last leave until its end record is queued, and by a
 * resume from its look-up until it has read the database: without it a
 * resume could read the boot between the two (gone from the list, its end
 * not yet in the file) and reopen a boot that just ended. Before boots_lock
 * in the lock order (daemon.h). */
static pthread_mutex_t boot_end_lock = PTHREAD_MUTEX_INITIALIZER;

static struct boot *boot_reopen(const Idsr__V1__Hello *h, const struct boot_peer *peer,
				char *why, size_t whylen)
{
	int64_t id = (int64_t)h->resume_boot;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct boot *b = NULL;
	const char *reason;
	int rc;

	/* Records of this boot still queued (it ended moments ago) come first. */
	store_flush(idsrd->store);
	if (db_open(idsrd->cfg.db_path, DB_READONLY, &db, why, whylen) < 0)
		return NULL;
	rc = sqlite3_prepare_v2(db, "SELECT instance, peer_uid, end_reason, mode, accesses, undefs,"
				" rows_dropped, start_ns FROM boots WHERE id = ?", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "cannot resume boot %lld: reading the trace: %s", (long long)id,
			 sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(why, whylen, "cannot resume boot %lld: no such boot in %s", (long long)id,
			 idsrd->cfg.db_path);
		goto out;
	}
	if (!boot_resume_allowed(id, sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 0),
				 (size_t)sqlite3_column_bytes(st, 0), h, peer, why, whylen))
		goto out;
	reason = (const char *)sqlite3_column_text(st, 2);
	if (!reason || (strncmp(reason, "cut off", 7) && strcmp(reason, BOOT_STOPPED_REASON))) {
		snprintf(why, whylen, "cannot resume boot %lld: it ended (%s); only a boot cut off by an"
			 " idsrd crash or stop can be resumed", (long long)id, reason ? reason : "in progress");
		goto out;
	}
	if (!strcmp((const char *)sqlite3_column_text(st, 3), "replay")) {
		snprintf(why, whylen, "cannot resume boot %lld: it was a replay", (long long)id);
		goto out;
	}
	b = boot_alloc(h, peer, id);
	if (!b) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	b->start_ns = sqlite3_column_int64(st, 7);
	b->accesses_before = (uint64_t)sqlite3_column_int64(st, 4);
	b->undefs_before = (uint64_t)sqlite3_column_int64(st, 5);
	atomic_store(&b->rows_dropped, (uint64_t)sqlite3_column_int64(st, 6));
	sqlite3_finalize(st);
	st = NULL;
	/* Each vCPU continues after its last logged row. */
	rc = sqlite3_prepare_v2(db, "SELECT vcpu, max(seq) + 1 FROM accesses WHERE boot_id = ?"
				" GROUP BY vcpu", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			int64_t vcpu = sqlite3_column_int64(st, 0);

			if (vcpu >= 0 && vcpu < b->nseq)
				atomic_store(&b->vcpu[vcpu].next_seq, (uint64_t)sqlite3_column_int64(st, 1));
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(why, whylen, "cannot resume boot %lld: reading its seqs: %s", (long long)id,
			 sqlite3_errmsg(db));
		boot_free(b);
		b = NULL;
		goto out;
	}
out:
	sqlite3_finalize(st);
	db_close(db);
	return b;
}

/* The boot in progress whose id is id, or NULL. boots_lock held. */
static struct boot *boot_find_id_locked(int64_t id)
{
	for (struct boot *b = idsrd->boots; b; b = b->next)
		if (b->id == id)
			return b;
	return NULL;
}

/* The boot Hello.resume_boot names: in progress, or `reopened' (read by
 * boot_reopen before the lock was taken; freed if not used). boots_lock held. */
static struct boot *boot_resume_locked(const Idsr__V1__Hello *h, const struct boot_peer *peer,
				       unsigned in_progress, struct boot *reopened, char *why, size_t whylen)
{
	struct live_policy *lp;
	struct boot *b = boot_find_id_locked((int64_t)h->resume_boot);

	if (b) {
		/* Still in progress, or another connection resumed it meanwhile. */
		if (reopened)
			boot_free(reopened);
		return boot_resume_allowed(b->id, b->peer.uid, b->instance, b->instance_len, h,
					   peer, why, whylen) ? b : NULL;
	}
	if (!reopened) {
		snprintf(why, whylen, "cannot resume boot %llu: it ended while this connection joined it",
			 (unsigned long long)h->resume_boot);
		return NULL;
	}
	if (idsrd->cfg.max_boots && in_progress >= idsrd->cfg.max_boots) {
		snprintf(why, whylen, "%u boots in progress, the limit (--max-boots)", in_progress);
		boot_free(reopened);
		return NULL;
	}
	b = reopened;
	lp = daemon_policy_get();
	store_boot_resume(idsrd->store, b->id);
	store_boot_policy(idsrd->store, b->id, policy_hash(lp->policy), db_now_ns());
	daemon_policy_put(lp);
	b->next = idsrd->boots;
	idsrd->boots = b;
	log_info("boot %lld resumed by pid %lld after an idsrd restart: %llu accesses so far",
		 (long long)b->id, (long long)peer->pid, (unsigned long long)boot_accesses(b));
	return b;
}

/* Before boots_lock is taken for a resume: the boot read from the database
 * into *out (NULL when it is in progress: nothing to read). 0, or -1 when
 * refused (why filled). */
static int boot_resume_read(const Idsr__V1__Hello *h, const struct boot_peer *peer, struct boot **out,
			    char *why, size_t whylen)
{
	unsigned in_progress = 0;
	bool known;

	*out = NULL;
	pthread_mutex_lock(&boot_end_lock);
	pthread_mutex_lock(&idsrd->boots_lock);
	known = boot_find_id_locked((int64_t)h->resume_boot) != NULL;
	for (struct boot *o = idsrd->boots; o; o = o->next)
		in_progress++;
	pthread_mutex_unlock(&idsrd->boots_lock);
	if (known) {
		pthread_mutex_unlock(&boot_end_lock);
		return 0;
	}
	if (idsrd->cfg.max_boots && in_progress >= idsrd->cfg.max_boots) {
		pthread_mutex_unlock(&boot_end_lock);
		snprintf(why, whylen, "%u boots in progress, the limit (--max-boots)", in_progress);
		return -1;
	}
	*out = boot_reopen(h, peer, why, whylen);
	pthread_mutex_unlock(&boot_end_lock);
	if (*out)
		return 0;
	/* Another connection of the boot (its other vCPU) may have resumed it
	 * meanwhile, so that the database says it is in progress: join it. */
	pthread_mutex_lock(&idsrd->boots_lock);
	known = boot_find_id_locked((int64_t)h->resume_boot) != NULL;
	pthread_mutex_unlock(&idsrd->boots_lock);
	return known ? 0 : -1;
}

struct boot *boot_join(const Idsr__V1__Hello *h, const struct boot_peer *peer, char *why, size_t whylen)
{
	struct boot *b = NULL, *reopened = NULL;
	unsigned in_progress = 0;

	if (h->instance.len > sizeof(b->instance)) {
		snprintf(why, whylen, "instance id is %zu bytes, at most %zu", h->instance.len,
			 sizeof(b->instance));
		return NULL;
	}
	if (h->vcpus > IDSR_MAX_VCPUS) {
		snprintf(why, whylen, "%u vCPUs, at most %d", h->vcpus, IDSR_MAX_VCPUS);
		return NULL;
	}
	if (h->resume_boot) {
		if (boot_resume_read(h, peer, &reopened, why, whylen) < 0) {
			log_warn("refused a resume from pid %lld: %s", (long long)peer->pid, why);
			return NULL;
		}
	}
	pthread_mutex_lock(&idsrd->boots_lock);
	for (struct boot *o = idsrd->boots; o; o = o->next)
		in_progress++;
	if (h->resume_boot) {
		b = boot_resume_locked(h, peer, in_progress, reopened, why, whylen);
		if (!b) {
			log_warn("refused a resume from pid %lld: %s", (long long)peer->pid, why);
			goto out;
		}
	} else if (h->instance.len) {
		b = boot_find_locked(&h->instance);
	}
	if (!b) {
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
		log_info("boot %lld started: vm `%s', vmm `%s', %u vCPUs, pid %lld, register names %s (%s)",
			 (long long)b->id, b->vm_name, b->vmm, b->vcpus, (long long)peer->pid,
			 b->impl ? b->impl : "architectural only", b->impl_from);
	}
	pthread_mutex_lock(&b->lock);
	b->connections++;
	pthread_mutex_unlock(&b->lock);
out:
	pthread_mutex_unlock(&idsrd->boots_lock);
	/* No Welcome before the boot's record is in the file: a VMM answered by
	 * an idsrd killed before its first commit would find nothing to resume
	 * and lose what it had been answered. One commit a new boot (the
	 * writer takes a control record at once); joins after it pay one load. */
	if (b && b->begun && !store_wait_for(idsrd->store, b->begun, STORE_PACE_MS))
		log_warn("boot %lld: its record is not committed after %d ms (disk stuck?); answering"
			 " anyway", (long long)b->id, STORE_PACE_MS);
	return b;
}

static void boot_end(struct boot *b)
{
	replayer_boot_end(b, b->end_reason ? b->end_reason : "eof");
	struct store_boot_end e = {
		.id = b->id,
		.end_ns = db_now_ns(),
		.reason = b->end_reason ? b->end_reason : "eof",
		.accesses = boot_accesses(b),
		.undefs = boot_undefs(b),
		.rows_dropped = atomic_load(&b->rows_dropped),
		.divergences = atomic_load(&b->divergences),
	};

	store_boot_end(idsrd->store, &e);
	pusher_kick();		/* --push: its fate is known (a few instructions: no wait) */
	log_info("boot %lld ended (%s): %llu accesses, %llu UNDEF, %llu rows dropped",
		 (long long)b->id, e.reason, (unsigned long long)e.accesses,
		 (unsigned long long)e.undefs, (unsigned long long)e.rows_dropped);
}

void boot_leave(struct boot *b, const char *reason, bool error)
{
	bool last;

	pthread_mutex_lock(&boot_end_lock);
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
	if (last)
		boot_end(b);
	pthread_mutex_unlock(&boot_end_lock);
	if (last)
		boot_free(b);
}

int boot_check_seq(struct boot *b, uint32_t vcpu, uint64_t seq, char *why, size_t whylen)
{
	uint64_t expected = seq;

	if (vcpu >= b->nseq) {
		snprintf(why, whylen, "Access names vCPU %u, but the boot has %u vCPUs", vcpu, b->nseq);
		return -EPROTO;
	}
	/* One compare-and-swap: two connections sending for one vCPU cannot
	 * both take a seq. */
	if (!atomic_compare_exchange_strong(&b->vcpu[vcpu].next_seq, &expected, seq + 1)) {
		snprintf(why, whylen, "vCPU %u sent seq %llu, expected %llu (a seq %s)", vcpu,
			 (unsigned long long)seq, (unsigned long long)expected,
			 seq < expected ? "repeats" : "skips");
		return -EPROTO;
	}
	return 0;
}

uint64_t *boot_next_seqs(struct boot *b, size_t *n)
{
	uint64_t *seqs;

	*n = b->nseq;
	/* Trailing vCPUs that never ran need no entry. */
	while (*n && atomic_load(&b->vcpu[*n - 1].next_seq) == 0)
		(*n)--;
	if (!*n || !(seqs = malloc(*n * sizeof(*seqs)))) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		seqs[i] = atomic_load(&b->vcpu[i].next_seq);
	return seqs;
}

uint64_t boot_log(struct boot *b, const struct store_row *row, struct live_policy *lp)
{
	uint64_t place = store_push_row(idsrd->store, row);

	if (!place)
		atomic_fetch_add_explicit(&b->rows_dropped, 1, memory_order_relaxed);
	daemon_policy_hit(lp, row->rule);
	/* After the push: a subscriber registered before this load sees the row
	 * live; one registered after finds it committed by its store_flush. */
	if (atomic_load(&idsrd->subscribers))
		subscribe_publish(b, row, lp);
	boot_count(b, row->vcpu, row->undef);
	return place;
}

void boot_count(struct boot *b, uint32_t vcpu, bool undef)
{
	struct boot_vcpu *v = &b->vcpu[vcpu];

	/* Atomic: two connections may send for one vCPU (the seq check lets
	 * one access through at a time, not one thread). */
	atomic_fetch_add_explicit(&v->accesses, 1, memory_order_relaxed);
	if (undef)
		atomic_fetch_add_explicit(&v->undefs, 1, memory_order_relaxed);
}

uint64_t boot_accesses(const struct boot *b)
{
	uint64_t n = b->accesses_before;

	for (uint32_t v = 0; v < b->nseq; v++)
		n += atomic_load_explicit(&b->vcpu[v].accesses, memory_order_relaxed);
	return n;
}

uint64_t boot_undefs(const struct boot *b)
{
	uint64_t n = b->undefs_before;

	for (uint32_t v = 0; v < b->nseq; v++)
		n += atomic_load_explicit(&b->vcpu[v].undefs, memory_order_relaxed);
	return n;
}

uint64_t boot_next_seq(const struct boot *b, uint32_t v)
{
	return atomic_load(&b->vcpu[v].next_seq);
}
