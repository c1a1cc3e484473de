/* SPDX-License-Identifier: MIT */
/* libidsr-client's fast path (client_fast.c), for client.c. */
#ifndef IDSR_CLIENT_FAST_H
#define IDSR_CLIENT_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "idsr_client.h"

struct fp_client {
	void *map;			/* the region, NULL: none */
	size_t size;
	struct fp_header *hdr;
	struct fp_entry *tables;
	struct fp_record *ring;
	struct fp_vcpu *vcpus;		/* nvcpus of them, in the header */
	uint64_t *released;		/* per vCPU: the committed seq last acted on */
	uint32_t table_entries, ring_entries, nvcpus;
	uint64_t tail;			/* this side's copy of the ring's tail */
	bool on;			/* idsr_set_fast_path */
	uint64_t answered, ring_full;
};

/* One recvmsg into r, taking a file descriptor sent with it (*fd, else -1). */
int fp_recv_fd(int sock, struct frame_reader *r, int *fd);
/* Maps the region idsrd sent, checking its layout: 0, or -EPROTO/-errno. */
int fp_attach(struct fp_client *f, int fd);
void fp_detach(struct fp_client *f);
/* Answers a from the table with seq: 0, or 1 when a Wake frame must be sent;
 * -1 when the round trip must answer it (nothing written). */
int fp_access(struct fp_client *f, uint64_t seq, const struct idsr_access *a, struct idsr_verdict *v);
/* The seq below which idsrd committed vcpu's rows, if it moved on since the
 * last call (the caller releases its records below it), else 0. */
uint64_t fp_committed(struct fp_client *f, uint32_t vcpu);

#endif
