/* SPDX-License-Identifier: MIT */
/* Framing on idsrd's sockets: u32 little-endian length (1..65536), then one protobuf Frame. */
#ifndef IDSR_FRAME_H
#define IDSR_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idsr.pb-c.h"

/* Bump when the wire contract changes incompatibly (proto/idsr.proto). The
 * daemon refuses peers that speak another version, naming the ones it speaks. */
#define IDSR_PROTOCOL_VERSION	1
#define FRAME_HEADER		4
#define FRAME_MAX		65536	/* largest payload */
/* The most vCPUs a boot has (Hello.vcpus); vCPU numbers are below it. idsrd
 * refuses more, and a replay follows no more. */
#define IDSR_MAX_VCPUS		4096

typedef Idsr__V1__Frame Frame;

/* Accumulates bytes from a stream and cuts them into frames. Never trusts the
 * length before checking it against FRAME_MAX. */
struct frame_reader {
	uint8_t *buf;			/* grows up to FRAME_HEADER + FRAME_MAX */
	size_t cap;
	size_t len;			/* bytes held */
	size_t start;			/* where the next frame begins */
};

/* Starts small, so that many idle connections cost little; 0 or -ENOMEM. */
int frame_reader_init(struct frame_reader *r);
void frame_reader_free(struct frame_reader *r);
/* Space to read into: moves held bytes to the front, grows the buffer when
 * the frame being read needs it (n is 0 only when out of memory). */
void frame_reader_space(struct frame_reader *r, uint8_t **p, size_t *n);
void frame_reader_commit(struct frame_reader *r, size_t n);
/* 1 and the payload of the next whole frame; 0 if more bytes are needed;
 * -EMSGSIZE if the length field is 0 or over FRAME_MAX (the stream is lost). */
int frame_reader_next(struct frame_reader *r, const uint8_t **payload, size_t *len);
/* The length the next frame's header announces, 0 until its 4 bytes are
 * held (to refuse a frame over a limit before its bytes arrive). */
uint32_t frame_reader_announced(const struct frame_reader *r);
/* Bytes of an incomplete frame held (at EOF: a truncated frame if > 0). */
size_t frame_reader_pending(const struct frame_reader *r);

/* Packs f with its header into out (FRAME_HEADER + FRAME_MAX bytes is always
 * enough); returns the total length or -EMSGSIZE. */
int frame_pack(const Frame *f, uint8_t *out, size_t cap);
/* Unpacks a payload; NULL if it is not a valid Frame. Free with frame_free. */
Frame *frame_unpack(const uint8_t *payload, size_t len);
void frame_free(Frame *f);
/* Name of a frame's body ("hello", "access", …) for messages. */
const char *frame_body_name(const Frame *f);

/* Decoding without malloc, for the trap path: protobuf-c allocates from a
 * bump arena reset for each frame, and falls back to malloc past its size. */
#define FRAME_ARENA		2048
struct frame_arena {
	size_t used;
	size_t spilled;			/* allocations that went to malloc */
	uint8_t buf[FRAME_ARENA] __attribute__((aligned(16)));
};
/* Like frame_unpack, into a (which then holds only this frame). */
Frame *frame_unpack_in(struct frame_arena *a, const uint8_t *payload, size_t len);
/* Frees what of f is not in a (usually nothing). */
void frame_release(struct frame_arena *a, Frame *f);

/* Blocking helpers for clients (fd in blocking mode). Return 0 or -errno;
 * frame_recv gives -ECONNRESET at EOF, -EBADMSG for a bad frame. */
int frame_send(int fd, const Frame *f);
/* Sends all of p[0..n) (send flags: MSG_NOSIGNAL always, e.g. MSG_DONTWAIT
 * more), retrying on EINTR. 0 or -errno. */
int frame_write_all(int fd, const uint8_t *p, size_t n, int flags);
int frame_recv(int fd, struct frame_reader *r, Frame **out);
/* frame_recv decoding into a; release the frame with frame_release. */
int frame_recv_in(int fd, struct frame_reader *r, struct frame_arena *a, Frame **out);

#endif
