/* SPDX-License-Identifier: MIT */
/* What a VMM may forget and what it sends again: Verdict.committed and Resend. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "daemon.h"
#include "db.h"
#include "durable.h"
#include "encoding.h"
#include "subscribe.h"

/*
 * A kill -9 loses the rows not yet committed (up to STORE_PACE_ROWS). The
 * VMM's library keeps every answered access until idsrd says its row is
 * committed, and sends the rest again after a resume (docs/design.md 3.2).
 * idsrd says it in Verdict.committed, and for the fast path, whose answers
 * get no verdict, in the region's header (fastpath_committed).
 *
 * Saying it must cost the trap path nothing: no syscall, no wake-up, no lock.
 * So each vCPU of a connection awaits a few rows, its marks, a new one each
 * DURABLE_GAP places of the store's queue: when the store's committed place
 * passes a mark, the mark's seq + 1 is published. Rows reach the database in
 * queue order, so everything of the vCPU before the mark is committed too.
 * With marks DURABLE_GAP apart the bound lags the store by at most that
 * (plus the rows a mark could not be taken for while DURABLE_MARKS wait),
 * which the library's buffer (IDSR_RECORDS_DEFAULT = 2 x STORE_PACE_ROWS)
 * absorbs even when idsrd keeps STORE_PACE_ROWS uncommitted. The vCPU's
 * last row is checked too, so once the store catches up (an idle vCPU, the
 * fast path's ticks) the bound reaches the vCPU's end.
 */
#define DURABLE_GAP	(STORE_PACE_ROWS / DURABLE_MARKS)

static struct durable_vcpu *durable_vcpu(struct durable *d, uint32_t vcpu)
{
	if (vcpu >= d->n) {
		struct durable_vcpu *p = realloc(d->vcpus, (vcpu + 1) * sizeof(*p));

		if (!p)
			return NULL;	/* nothing published: the VMM keeps its records */
		memset(p + d->n, 0, (vcpu + 1 - d->n) * sizeof(*p));
		d->vcpus = p;
		d->n = vcpu + 1;
	}
	return &d->vcpus[vcpu];
}

/* The bound the store's commits give v now (0: none past what was published). */
static uint64_t durable_settle(struct durable_vcpu *v)
{
	uint64_t committed = store_committed(idsrd->store), safe = 0;

	if (v->last.place && v->last.place <= committed) {
		safe = v->last.next;	/* all of it: the marks are older */
		v->last.place = 0;
		v->count = 0;
	}
	while (v->count && v->marks[v->first].place <= committed) {
		safe = v->marks[v->first].next;
		v->first = (uint8_t)((v->first + 1) % DURABLE_MARKS);
		v->count--;
	}
	if (safe <= v->published)
		return 0;
	v->published = safe;
	return safe;
}

uint64_t durable_note(struct durable *d, uint32_t vcpu, uint64_t seq, uint64_t place)
{
	struct durable_vcpu *v = durable_vcpu(d, vcpu);
	uint64_t safe;

	if (!v)
		return 0;
	safe = durable_settle(v);
	if (!place)
		return safe;	/* dropped: a later row's commit covers it */
	v->last = (struct durable_mark){ place, seq + 1 };
	if (!v->count || (v->count < DURABLE_MARKS &&
			  place - v->marks[(v->first + v->count - 1) % DURABLE_MARKS].place >= DURABLE_GAP)) {
		v->marks[(v->first + v->count) % DURABLE_MARKS] = v->last;
		v->count++;
	}
	return safe;
}

uint64_t durable_poll(struct durable *d, uint32_t vcpu)
{
	return vcpu < d->n ? durable_settle(&d->vcpus[vcpu]) : 0;
}

bool durable_pending(const struct durable *d)
{
	for (uint32_t v = 0; v < d->n; v++)
		if (d->vcpus[v].last.place)
			return true;
	return false;
}

/* Form only: the answers are the dead idsrd's, whose stateful rules (storage,
 * counters) are gone, so they are taken on the VMM's word. */
static int durable_check(const Idsr__V1__Answered *a, char *why, size_t whylen)
{
	struct enc_fields f;

	if (!enc_unpack(a->key, &f)) {
		snprintf(why, whylen, "Resend: vCPU %u seq %llu has key 0x%08x, not a valid encoding",
			 a->vcpu, (unsigned long long)a->seq, a->key);
		return -EINVAL;
	}
	if (a->el > 3) {
		snprintf(why, whylen, "Resend: vCPU %u seq %llu has el %u (0-3)", a->vcpu,
			 (unsigned long long)a->seq, a->el);
		return -EINVAL;
	}
	if (a->action != IDSR__V1__ACTION__EMULATE && a->action != IDSR__V1__ACTION__UNDEF) {
		snprintf(why, whylen, "Resend: vCPU %u seq %llu has action %d (EMULATE or UNDEF)",
			 a->vcpu, (unsigned long long)a->seq, (int)a->action);
		return -EINVAL;
	}
	return 0;
}

int durable_resend(struct boot *b, const struct live_policy *lp, const Idsr__V1__Resend *r,
		   char *why, size_t whylen)
{
	for (size_t i = 0; i < r->n_accesses; i++) {
		const Idsr__V1__Answered *a = r->accesses[i];
		bool undef = a->action == IDSR__V1__ACTION__UNDEF;
		struct store_row row;
		int rc;

		/* boot_check_seq: each vCPU's seqs go on contiguously from
		 * Welcome.next_seq, as an Access's must. */
		if ((rc = durable_check(a, why, whylen)) < 0 ||
		    (rc = boot_check_seq(b, a->vcpu, a->seq, why, whylen)) < 0)
			return rc;
		row = (struct store_row){
			.boot_id = b->id, .ts_ns = db_now_ns(), .seq = a->seq, .pc = a->pc,
			.value = undef && !a->is_write ? 0 : a->value, .vcpu = a->vcpu, .key = a->key,
			.rule = POLICY_RULE_RESENT, .el = (uint8_t)a->el, .is_write = a->is_write ? 1 : 0,
			.undef = undef,
		};
		/* No mark here: the next access's row, queued after these,
		 * publishes them when it is committed. */
		if (!store_push_row(idsrd->store, &row))
			atomic_fetch_add_explicit(&b->rows_dropped, 1, memory_order_relaxed);
		if (atomic_load(&idsrd->subscribers))
			subscribe_publish(b, &row, lp);
		boot_count(b, a->vcpu, undef);
	}
	return 0;
}

void durable_free(struct durable *d)
{
	free(d->vcpus);
	d->vcpus = NULL;
	d->n = 0;
}
