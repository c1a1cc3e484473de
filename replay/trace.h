/* SPDX-License-Identifier: MIT */
/* A recorded boot opened for replay: its facts, and one streamed, bounded-memory cursor per vCPU. */
#ifndef IDSR_REPLAY_TRACE_H
#define IDSR_REPLAY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access_rows.h"
#include "frame.h"

/* Rows a stream holds at a time: memory is O(vCPUs x this), never O(rows). */
#define REPLAY_TRACE_CHUNK	512

/* One recorded access: the columns replay compares and answers with. */
struct replay_record {
	uint64_t seq;
	uint64_t pc;
	uint64_t value;			/* written value, or what the read returned */
	int64_t ts_ns;
	uint32_t key;
	int32_t rule;
	uint8_t el;
	bool is_write;
	bool undef;			/* action was 'undef' */
};

/* What replay needs to know about the recorded boot. */
struct replay_trace_info {
	char *path;			/* the database file */
	int64_t boot_id;
	char *vm_name, *impl;		/* NULL when not recorded */
	uint64_t slide;			/* recorded PCs minus this are link-time PCs */
	bool has_pcs;			/* false: imported without PCs (match without them) */
	uint32_t nvcpus;		/* streams: highest recorded vCPU + 1 */
	uint64_t *recorded;		/* per vCPU: accesses recorded (max seq + 1) */
	uint64_t total;			/* sum of recorded */
};

struct replay_trace;
struct replay_stream;

/*
 * Opens boot boot_id (0: the file's last boot) of the trace at path for
 * replay. The boot must have ended and lost no rows, so that every vCPU
 * stream is whole. Returns 0 or a negative errno with a sentence in why:
 * -ENOENT (no file, no such boot), -EINVAL (not a trace, a boot that cannot
 * be replayed, or a damaged vCPU or length), -EPROTO (newer schema), -EIO,
 * -ENOMEM.
 * Counting the streams costs O(vCPUs x log rows): no scan of the boot.
 */
int replay_trace_open(const char *path, int64_t boot_id, struct replay_trace **out,
		      char *why, size_t whylen);
void replay_trace_close(struct replay_trace *t);
const struct replay_trace_info *replay_trace_info(const struct replay_trace *t);

/*
 * A cursor over vCPU vcpu's recorded accesses in seq order, read
 * REPLAY_TRACE_CHUNK rows at a time. Streams of one trace may be used from
 * different threads (the connection serializes them), one thread per stream.
 */
int replay_stream_open(struct replay_trace *t, uint32_t vcpu, struct replay_stream **out);
void replay_stream_close(struct replay_stream *s);
/* The record `ahead` places past the cursor (0: the next one). 1 with *r
 * filled, 0 past the end, -EINVAL at a damaged row (a hole, or a row
 * access_row_read refuses) or -EIO; replay_stream_error says which and where.
 * ahead must be < REPLAY_TRACE_CHUNK / 2. */
int replay_stream_peek(struct replay_stream *s, size_t ahead, struct replay_record *r);
/* Moves the cursor n records on (n <= what peek has shown to exist). */
void replay_stream_advance(struct replay_stream *s, size_t n);
/* "PATH: boot B, vCPU V, seq S: …: the file is damaged", or SQLite's error:
 * why the last call failed. */
const char *replay_stream_error(const struct replay_stream *s);
/* Reads every stream of t through once, checking each row (the replay of a
 * daemon meets them one access at a time): 0, or -EINVAL/-EIO with why. */
int replay_trace_verify(struct replay_trace *t, char *why, size_t whylen);
/* Records consumed so far. */
uint64_t replay_stream_pos(const struct replay_stream *s);

#endif
