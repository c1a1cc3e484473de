/* SPDX-License-Identifier: MIT */
/* libidsr-client: the answered accesses a connection keeps until idsrd has committed their rows. */
#ifndef IDSR_CLIENT_RECORDS_H
#define IDSR_CLIENT_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One answered access, as idsrd logs it. Every path that answers an access
 * (the round trip, a local fast path) keeps one with records_keep. */
struct client_record {
	uint64_t seq, pc;
	uint64_t value;			/* the written value, or what the read was answered */
	uint32_t vcpu, key;
	uint8_t el;
	bool is_write, undef;
	bool released;			/* committed, left behind an older vCPU's record */
};

/* A ring in answer order, grown on demand up to max records. */
struct client_records {
	struct client_record *ring;
	size_t cap, max, head, count;	/* count: slots in use, released ones behind a kept one too */
	size_t held;			/* records kept, awaiting their commit */
	uint64_t unprotected;		/* released before committed: overflow, or no resend possible */
};

void records_init(struct client_records *r, size_t max);
void records_free(struct client_records *r);
/* Keeps rec; never fails nor waits: when full (or out of memory) the oldest
 * record is released and counted as unprotected. */
void records_keep(struct client_records *r, const struct client_record *rec);
/* idsrd committed vcpu's rows below seq `below` (Verdict.committed). */
void records_committed(struct client_records *r, uint32_t vcpu, uint64_t below);
/*
 * After a resume: from[v] (v < nfrom; 0 past it) is where idsrd's rows of
 * vCPU v end, next[v] where this connection's accesses do. Records below
 * from[v] are released (idsrd has them). If the records of v cover
 * from[v]..next[v]-1 they are sent (fd) in Resend frames and kept until
 * committed; if not (overflow released some), v's records are released as
 * unprotected and next[v] becomes from[v]. 0, or a negative errno of the send.
 */
int records_resend(struct client_records *r, int fd, const uint64_t *from, size_t nfrom,
		   uint64_t *next, uint32_t nvcpus);
/* Drops every record as unprotected (the boot they belong to is over). */
void records_abandon(struct client_records *r);

#endif
