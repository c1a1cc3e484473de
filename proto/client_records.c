/* SPDX-License-Identifier: MIT */
/* libidsr-client: the answered accesses a connection keeps until idsrd has committed their rows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_records.h"
#include "frame.h"

/* The ring starts this small and doubles: a connection whose rows idsrd
 * commits promptly never holds more than a few hundred. */
#define RECORDS_FIRST_CAP	256
/* Records per Resend frame: about 40 bytes each packed, so a frame stays
 * far below any sensible idsrd --max-frame. */
#define RECORDS_PER_FRAME	64

void records_init(struct client_records *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void records_free(struct client_records *r)
{
	free(r->ring);
	r->ring = NULL;
	r->cap = r->count = r->head = r->held = 0;
}

static struct client_record *records_at(struct client_records *r, size_t i)
{
	return &r->ring[(r->head + i) % r->cap];
}

/* Forgets released records at the head. */
static void records_pop(struct client_records *r)
{
	while (r->count && r->ring[r->head].released) {
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	if (!r->count)
		r->head = 0;
}

/* Releases the head record before its commit (it stays unprotected). */
static void records_shed(struct client_records *r)
{
	r->ring[r->head].released = true;
	r->held--;
	r->unprotected++;
	records_pop(r);
}

static bool records_grow(struct client_records *r)
{
	size_t cap = r->cap ? r->cap * 2 : RECORDS_FIRST_CAP;
	struct client_record *p;

	if (cap > r->max)
		cap = r->max;
	if (cap <= r->cap || !(p = malloc(cap * sizeof(*p))))
		return false;
	for (size_t i = 0; i < r->count; i++)
		p[i] = *records_at(r, i);
	free(r->ring);
	r->ring = p;
	r->cap = cap;
	r->head = 0;
	return true;
}

void records_keep(struct client_records *r, const struct client_record *rec)
{
	if (!r->max)
		return;
	if (r->count == r->cap && !records_grow(r)) {
		if (!r->count) {
			r->unprotected++;	/* out of memory for even one */
			return;
		}
		records_shed(r);
	}
	*records_at(r, r->count) = *rec;
	records_at(r, r->count)->released = false;
	r->count++;
	r->held++;
}

void records_committed(struct client_records *r, uint32_t vcpu, uint64_t below)
{
	/* A vCPU's records are in seq order: stop at its first one kept. */
	for (size_t i = 0; i < r->count; i++) {
		struct client_record *rec = records_at(r, i);

		if (rec->vcpu != vcpu || rec->released)
			continue;
		if (rec->seq >= below)
			break;
		rec->released = true;
		r->held--;
	}
	records_pop(r);
}

void records_abandon(struct client_records *r)
{
	r->unprotected += r->held;
	r->count = r->head = r->held = 0;
}

static int records_send(int fd, Idsr__V1__Answered **list, size_t n)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Resend resend = IDSR__V1__RESEND__INIT;

	resend.accesses = list;
	resend.n_accesses = n;
	frame.body_case = IDSR__V1__FRAME__BODY_RESEND;
	frame.resend = &resend;
	return frame_send(fd, &frame);
}

/* Which vCPUs' records can be sent: those holding every access from from[v]
 * to next[v] - 1. The others' are released, and they continue from from[v]. */
static void records_plan(struct client_records *r, const uint64_t *from, size_t nfrom,
			 uint64_t *next, uint32_t nvcpus, uint64_t *held)
{
	memset(held, 0, nvcpus * sizeof(*held));
	for (size_t i = 0; i < r->count; i++) {
		struct client_record *rec = records_at(r, i);
		uint64_t start = rec->vcpu < nfrom ? from[rec->vcpu] : 0;

		if (rec->released)
			continue;
		if (rec->seq < start) {
			rec->released = true;	/* idsrd has it */
			r->held--;
		} else if (rec->seq == start + held[rec->vcpu])
			held[rec->vcpu]++;
	}
	for (uint32_t v = 0; v < nvcpus; v++) {
		uint64_t start = v < nfrom ? from[v] : 0;

		if (next[v] >= start && next[v] - start == held[v])
			continue;
		for (size_t i = 0; i < r->count; i++) {
			struct client_record *rec = records_at(r, i);

			if (rec->vcpu == v && !rec->released) {
				rec->released = true;
				r->held--;
				r->unprotected++;
			}
		}
		next[v] = start;
	}
}

int records_resend(struct client_records *r, int fd, const uint64_t *from, size_t nfrom,
		   uint64_t *next, uint32_t nvcpus)
{
	Idsr__V1__Answered msgs[RECORDS_PER_FRAME], *list[RECORDS_PER_FRAME];
	uint64_t *held = calloc(nvcpus ? nvcpus : 1, sizeof(*held));
	size_t n = 0;
	int rc = 0;

	if (!held)
		return -ENOMEM;
	records_plan(r, from, nfrom, next, nvcpus, held);
	free(held);
	for (size_t i = 0; i < r->count && rc == 0; i++) {
		const struct client_record *rec = records_at(r, i);
		Idsr__V1__Answered *a = &msgs[n];

		if (rec->released)
			continue;
		idsr__v1__answered__init(a);
		a->seq = rec->seq;
		a->vcpu = rec->vcpu;
		a->key = rec->key;
		a->pc = rec->pc;
		a->el = rec->el;
		a->is_write = rec->is_write;
		a->value = rec->value;
		a->action = rec->undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
		list[n++] = a;
		if (n == RECORDS_PER_FRAME) {
			rc = records_send(fd, list, n);
			n = 0;
		}
	}
	if (rc == 0 && n)
		rc = records_send(fd, list, n);
	records_pop(r);
	return rc;
}
