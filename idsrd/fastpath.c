/* SPDX-License-Identifier: MIT */
/*
 * The fast path, idsrd's side (docs/design.md, "The fast path"). The VMM
 * answers (key, direction) itself when the table of the current epoch has it,
 * writes a record of the access to the ring and goes on; idsrd takes the
 * records before any frame of that connection (so each vCPU's rows keep the
 * guest's order), and, while records come, every FP_TICK_MS.
 *
 * The table is filled by the round trips: one that a stateless rule without
 * qualifiers answered puts its verdict in the table (fastpath_learn). A new
 * policy gets a new, empty table and epoch before the command returns, so
 * the first access after it goes to idsrd and the new policy answers it.
 *
 * Nothing the VMM writes is trusted: idsrd keeps its own copy of the ring's
 * head, reads the tail once, copies each record out before checking it, and
 * checks every record against the policy of its epoch (kept until no record
 * can name it: a round trip, or a record of a newer epoch, retires it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "daemon.h"
#include "db.h"
#include "durable.h"
#include "encoding.h"
#include "fastpath.h"
#include "fp_layout.h"
#include "store.h"

struct fp_epoch {
	uint64_t epoch;
	struct live_policy *lp;		/* a reference */
};

struct fp_region {
	struct fp_region *prev, *next;	/* regions (fastpath_publish) */
	pthread_mutex_t lock;		/* the table and epochs: the connection's thread vs publish */
	struct fp_header *hdr;
	struct fp_entry *tables;	/* 2 x FP_TABLE_ENTRIES */
	struct fp_record *ring;
	size_t size;			/* of the mapping */
	uint64_t head;			/* idsrd's copy: never read back from the region */
	uint32_t nvcpus;
	struct fp_epoch *epochs;	/* oldest first; the last is current */
	size_t nepochs, cap;
	bool sealed;			/* FP_CLOSED is set in tail: the VMM publishes no more */
};

static struct {
	pthread_mutex_t lock;
	struct fp_region *head;
} regions = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Since idsrd started (`status`): relaxed counters, read without a lock. */
static struct {
	atomic_uint_fast64_t records, ring_full, dropped;
	atomic_uint regions;
} stats;

/* Shared fields are read and written atomically: the other side may write
 * them at any time. */
#define LOAD(p, mo)	__atomic_load_n((p), (mo))
#define STORE(p, v, mo)	__atomic_store_n((p), (v), (mo))

static int push_epoch_locked(struct fp_region *r, uint64_t epoch, struct live_policy *lp)
{
	if (r->nepochs == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct fp_epoch *e = realloc(r->epochs, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		r->epochs = e;
		r->cap = cap;
	}
	atomic_fetch_add(&lp->refs, 1);
	r->epochs[r->nepochs++] = (struct fp_epoch){ epoch, lp };
	return 0;
}

struct fp_region *fastpath_open(struct boot *b, int *fdp, char *why, size_t whylen)
{
	struct live_policy *lp;
	struct fp_region *r = calloc(1, sizeof(*r));
	uint32_t nvcpus = b->nseq < FP_MAX_VCPUS ? b->nseq : FP_MAX_VCPUS;
	uint64_t header_size = fp_header_size(nvcpus);
	size_t size = header_size + FP_TABLES_SIZE + FP_RING_SIZE;
	int fd = memfd_create("idsrd-fastpath", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *map = MAP_FAILED;
	int rc;

	if (!r || fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		snprintf(why, whylen, "cannot make the fast path's shared region: %s", strerror(errno));
		free(r);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->hdr = map;
	r->size = size;
	r->tables = (struct fp_entry *)((char *)map + header_size);
	r->ring = (struct fp_record *)(r->tables + 2 * FP_TABLE_ENTRIES);
	r->nvcpus = nvcpus;
	*r->hdr = (struct fp_header){
		.magic = FP_MAGIC, .layout_version = FP_LAYOUT_VERSION, .header_size = (uint32_t)header_size,
		.table_entries = FP_TABLE_ENTRIES, .ring_entries = FP_RING_ENTRIES,
		.record_size = FP_RECORD_SIZE, .entry_size = sizeof(struct fp_entry), .nvcpus = r->nvcpus,
		.table_offset = header_size, .ring_offset = (uint64_t)((char *)r->ring - (char *)map),
		.region_size = size, .vcpu_offset = sizeof(struct fp_header), .epoch = 1,
	};
	/* A resumed boot's rows so far are committed. Zeros are not written:
	 * the pages of a boot of many vCPUs stay untouched until used. */
	for (uint32_t v = 0; v < r->nvcpus; v++) {
		uint64_t next = boot_next_seq(b, v);

		if (next)
			r->hdr->vcpus[v] = (struct fp_vcpu){ next, next };
	}
	/* The live policy is taken and the region registered under
	 * regions.lock: one that goes live meanwhile is either lp or published
	 * to it (daemon_policy_install swaps it, then publishes). */
	pthread_mutex_lock(&regions.lock);
	lp = daemon_policy_get();
	rc = push_epoch_locked(r, 1, lp);
	daemon_policy_put(lp);
	if (rc < 0) {
		pthread_mutex_unlock(&regions.lock);
		snprintf(why, whylen, "out of memory for the fast path");
		munmap(map, size);
		close(fd);
		free(r);
		return NULL;
	}
	r->next = regions.head;
	if (r->next)
		r->next->prev = r;
	regions.head = r;
	pthread_mutex_unlock(&regions.lock);
	atomic_fetch_add_explicit(&stats.regions, 1, memory_order_relaxed);
	*fdp = fd;
	return r;
}

void fastpath_close(struct fp_region *r)
{
	if (!r)
		return;
	fastpath_seal(r);	/* the VMM's next access is a round trip, which finds the end */
	pthread_mutex_lock(&regions.lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		regions.head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	pthread_mutex_unlock(&regions.lock);
	atomic_fetch_sub_explicit(&stats.regions, 1, memory_order_relaxed);
	for (size_t i = 0; i < r->nepochs; i++)
		daemon_policy_put(r->epochs[i].lp);
	free(r->epochs);
	munmap(r->hdr, r->size);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Under r->lock. */
static void publish_locked(struct fp_region *r, struct live_policy *lp)
{
	uint64_t epoch = r->epochs[r->nepochs - 1].epoch + 1;
	struct fp_entry *t = r->tables + (epoch & 1) * FP_TABLE_ENTRIES;

	if (r->epochs[r->nepochs - 1].lp == lp || push_epoch_locked(r, epoch, lp) < 0)
		return;		/* out of memory: the old table stays, checked against its own policy */
	/* The slot last held epoch - 1's table: a VMM still reading it finds
	 * the epoch changed when it checks again, and takes the round trip. */
	for (uint32_t i = 0; i < FP_TABLE_ENTRIES; i++)
		STORE(&t[i].meta, 0, __ATOMIC_RELAXED);
	STORE(&r->hdr->epoch, epoch, __ATOMIC_RELEASE);
}

void fastpath_publish(struct live_policy *lp)
{
	pthread_mutex_lock(&regions.lock);
	for (struct fp_region *r = regions.head; r; r = r->next) {
		pthread_mutex_lock(&r->lock);
		publish_locked(r, lp);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_unlock(&regions.lock);
}

void fastpath_learn(struct fp_region *r, struct live_policy *lp, uint32_t key, bool is_write)
{
	struct policy_verdict v;
	struct enc_fields f;

	if (!enc_unpack(key, &f) || !policy_stateless(lp->policy, key, is_write, &v))
		return;
	pthread_mutex_lock(&r->lock);
	if (r->epochs[r->nepochs - 1].lp == lp) {
		uint64_t epoch = r->epochs[r->nepochs - 1].epoch;
		struct fp_entry *t = r->tables + (epoch & 1) * FP_TABLE_ENTRIES;
		uint32_t slot = fp_slot(key, is_write, FP_TABLE_ENTRIES);

		for (int i = 0; i < FP_TABLE_PROBES; i++, slot = (slot + 1) & (FP_TABLE_ENTRIES - 1)) {
			struct fp_entry *e = &t[slot];
			uint32_t meta = LOAD(&e->meta, __ATOMIC_RELAXED);

			if (meta && e->key == key && !!(meta & FP_WRITE) == is_write)
				break;		/* there already */
			if (meta)
				continue;
			STORE(&e->key, key, __ATOMIC_RELAXED);
			STORE(&e->value, v.value, __ATOMIC_RELAXED);
			STORE(&e->rule, v.rule, __ATOMIC_RELAXED);
			STORE(&e->meta, FP_VALID | (is_write ? FP_WRITE : 0) | (v.undef ? FP_UNDEF : 0),
			      __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* Drops the epochs before `epoch` (no record can name them any more). */
static void retire_before(struct fp_region *r, uint64_t epoch)
{
	size_t n = 0;

	pthread_mutex_lock(&r->lock);
	while (n + 1 < r->nepochs && r->epochs[n].epoch < epoch)
		daemon_policy_put(r->epochs[n++].lp);
	memmove(r->epochs, r->epochs + n, (r->nepochs - n) * sizeof(*r->epochs));
	r->nepochs -= n;
	pthread_mutex_unlock(&r->lock);
}

void fastpath_retire(struct fp_region *r)
{
	retire_before(r, UINT64_MAX);
}

/* The policy of epoch (a new reference) and when the next one went live
 * (INT64_MAX: it is current), or NULL. */
static struct live_policy *epoch_policy(struct fp_region *r, uint64_t epoch, int64_t *until_ns)
{
	struct live_policy *lp = NULL;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->nepochs; i++)
		if (r->epochs[i].epoch == epoch) {
			lp = r->epochs[i].lp;
			atomic_fetch_add(&lp->refs, 1);
			*until_ns = i + 1 < r->nepochs ? r->epochs[i + 1].lp->since_ns : INT64_MAX;
			break;
		}
	pthread_mutex_unlock(&r->lock);
	return lp;
}

void fastpath_committed(struct fp_region *r, uint32_t vcpu, uint64_t below)
{
	if (vcpu < r->nvcpus && below)
		STORE(&r->hdr->vcpus[vcpu].committed, below, __ATOMIC_RELEASE);
}

int fastpath_drain(struct fp_region *r, struct boot *b, struct durable *d, char *why, size_t whylen)
{
	uint64_t tail = LOAD(&r->hdr->tail, __ATOMIC_ACQUIRE) & (r->sealed ? ~FP_CLOSED : ~0ull);
	uint64_t n = tail - r->head;
	struct live_policy *lp = NULL;
	uint64_t lp_epoch = 0;
	int64_t until_ns = 0, now;
	int rc = 0;

	if (n > FP_RING_ENTRIES)
		return snprintf(why, whylen, "the fast path's ring claims %llu records (it holds %d)",
				(unsigned long long)n, FP_RING_ENTRIES), -EPROTO;
	/* Full: the VMM's next fast-path access finds no room and waits for
	 * this drain in a round trip (client_fast.c); each full ring found is
	 * one such wait, or one coming. */
	if (n == FP_RING_ENTRIES)
		atomic_fetch_add_explicit(&stats.ring_full, 1, memory_order_relaxed);
	for (; r->head != tail; r->head++) {
		struct fp_record rec;
		struct store_row row;
		uint64_t place;

		memcpy(&rec, &r->ring[r->head & (FP_RING_ENTRIES - 1)], sizeof(rec));
		if (!lp || rec.epoch != lp_epoch) {
			daemon_policy_put(lp);
			lp = epoch_policy(r, rec.epoch, &until_ns);
			lp_epoch = rec.epoch;
			if (!lp) {
				snprintf(why, whylen, "a fast-path record of vCPU %u seq %llu names epoch %llu, "
					 "which this connection does not have", rec.vcpu,
					 (unsigned long long)rec.seq, (unsigned long long)rec.epoch);
				rc = -EPROTO;
				break;
			}
			retire_before(r, rec.epoch);	/* the VMM's later records are of this epoch or newer */
		}
		if ((rc = fastpath_check(&rec, lp->policy, why, whylen)) < 0 ||
		    (rc = boot_check_seq(b, rec.vcpu, rec.seq, why, whylen)) < 0)
			break;
		/* The row's time must name the policy that answered (daemon_policy_at). */
		if (rec.ts_ns < lp->since_ns)
			rec.ts_ns = lp->since_ns;
		if (rec.ts_ns >= until_ns)
			rec.ts_ns = until_ns - 1;
		if (rec.ts_ns > (now = db_now_ns()))
			rec.ts_ns = now;
		row = (struct store_row){
			.boot_id = b->id, .ts_ns = rec.ts_ns, .seq = rec.seq, .pc = rec.pc,
			.value = rec.value, .vcpu = rec.vcpu, .key = rec.key,
			.rule = rec.rule, .el = rec.el, .is_write = rec.is_write, .undef = rec.undef,
		};
		place = boot_log(b, &row, lp);
		atomic_fetch_add_explicit(&stats.records, 1, memory_order_relaxed);
		if (!place)	/* past the store's pace limit: counted on the boot too */
			atomic_fetch_add_explicit(&stats.dropped, 1, memory_order_relaxed);
		fastpath_committed(r, rec.vcpu, durable_note(d, rec.vcpu, rec.seq, place));
		if (rec.vcpu < r->nvcpus)
			STORE(&r->hdr->vcpus[rec.vcpu].next_seq, rec.seq + 1, __ATOMIC_RELAXED);
	}
	daemon_policy_put(lp);
	STORE(&r->hdr->head, r->head, __ATOMIC_RELEASE);
	return rc < 0 ? rc : (int)n;
}

void fastpath_seal(struct fp_region *r)
{
	if (!r->sealed)
		__atomic_fetch_or(&r->hdr->tail, FP_CLOSED, __ATOMIC_SEQ_CST);
	r->sealed = true;
}

bool fastpath_arm_wake(struct fp_region *r)
{
	STORE(&r->hdr->need_wake, 1, __ATOMIC_SEQ_CST);
	/* Pairs with the VMM's fence between its tail store and its need_wake
	 * load: either it sees the flag or this sees its record. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (LOAD(&r->hdr->tail, __ATOMIC_SEQ_CST) == r->head)
		return true;
	STORE(&r->hdr->need_wake, 0, __ATOMIC_RELAXED);
	return false;
}

void fastpath_stats(struct fastpath_stats *st)
{
	*st = (struct fastpath_stats){
		.records = atomic_load_explicit(&stats.records, memory_order_relaxed),
		.ring_full = atomic_load_explicit(&stats.ring_full, memory_order_relaxed),
		.dropped = atomic_load_explicit(&stats.dropped, memory_order_relaxed),
		.regions = atomic_load_explicit(&stats.regions, memory_order_relaxed),
	};
}
