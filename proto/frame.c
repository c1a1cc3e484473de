/* SPDX-License-Identifier: MIT */
/* Framing on idsrd's sockets: u32 little-endian length (1..65536), then one protobuf Frame. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

#define FRAME_READER_INITIAL 512

int frame_reader_init(struct frame_reader *r)
{
	r->len = 0;
	r->start = 0;
	r->cap = FRAME_READER_INITIAL;
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -ENOMEM;
}

void frame_reader_free(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void frame_reader_space(struct frame_reader *r, uint8_t **p, size_t *n)
{
	/* Keep the buffer able to hold one whole frame after the held bytes. */
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	/* Grow only for a frame whose (checked) length says it needs it. */
	if (r->len == r->cap && r->cap < FRAME_HEADER + FRAME_MAX) {
		size_t want = FRAME_HEADER + FRAME_MAX;
		uint8_t *nb;

		if (r->len >= FRAME_HEADER) {
			uint32_t need = load_le32(r->buf);

			if (need > 0 && need <= FRAME_MAX)
				want = FRAME_HEADER + need;
		}
		if (want < r->cap * 2 && r->cap * 2 <= FRAME_HEADER + FRAME_MAX)
			want = r->cap * 2;
		nb = realloc(r->buf, want);
		if (nb) {
			r->buf = nb;
			r->cap = want;
		}
	}
	*p = r->buf + r->len;
	*n = r->cap - r->len;
}

void frame_reader_commit(struct frame_reader *r, size_t n)
{
	r->len += n;
}

int frame_reader_next(struct frame_reader *r, const uint8_t **payload, size_t *len)
{
	size_t held = r->len - r->start;
	uint32_t n;

	if (held < FRAME_HEADER)
		return 0;
	n = load_le32(r->buf + r->start);
	if (n == 0 || n > FRAME_MAX)
		return -EMSGSIZE;
	if (held < FRAME_HEADER + (size_t)n)
		return 0;
	*payload = r->buf + r->start + FRAME_HEADER;
	*len = n;
	r->start += FRAME_HEADER + n;
	if (r->start == r->len)
		r->start = r->len = 0;
	return 1;
}

uint32_t frame_reader_announced(const struct frame_reader *r)
{
	return r->len - r->start >= FRAME_HEADER ? load_le32(r->buf + r->start) : 0;
}

size_t frame_reader_pending(const struct frame_reader *r)
{
	return r->len - r->start;
}

int frame_pack(const Frame *f, uint8_t *out, size_t cap)
{
	size_t n = protobuf_c_message_get_packed_size(&f->base);

	if (n == 0 || n > FRAME_MAX || n + FRAME_HEADER > cap)
		return -EMSGSIZE;
	out[0] = n & 0xff;
	out[1] = (n >> 8) & 0xff;
	out[2] = (n >> 16) & 0xff;
	out[3] = (n >> 24) & 0xff;
	protobuf_c_message_pack(&f->base, out + FRAME_HEADER);
	return (int)(n + FRAME_HEADER);
}

Frame *frame_unpack(const uint8_t *payload, size_t len)
{
	Frame *f = idsr__v1__frame__unpack(NULL, len, payload);

	/* An empty oneof decodes fine but means nothing to us. */
	if (f && f->body_case == IDSR__V1__FRAME__BODY__NOT_SET) {
		idsr__v1__frame__free_unpacked(f, NULL);
		return NULL;
	}
	return f;
}

void frame_free(Frame *f)
{
	if (f)
		idsr__v1__frame__free_unpacked(f, NULL);
}

const char *frame_body_name(const Frame *f)
{
	switch (f->body_case) {
	case IDSR__V1__FRAME__BODY_HELLO: return "Hello";
	case IDSR__V1__FRAME__BODY_WELCOME: return "Welcome";
	case IDSR__V1__FRAME__BODY_ACCESS: return "Access";
	case IDSR__V1__FRAME__BODY_VERDICT: return "Verdict";
	case IDSR__V1__FRAME__BODY_BYE: return "Bye";
	case IDSR__V1__FRAME__BODY_ERROR: return "Error";
	case IDSR__V1__FRAME__BODY_CONTROL: return "ControlRequest";
	case IDSR__V1__FRAME__BODY_REPLY: return "ControlReply";
	case IDSR__V1__FRAME__BODY_EVENT: return "Event";
	default: return "unknown";
	}
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: a daemon that went away must not kill the VMM. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int frame_send(int fd, const Frame *f)
{
	uint8_t buf[FRAME_HEADER + FRAME_MAX];
	int n = frame_pack(f, buf, sizeof(buf));

	if (n < 0)
		return n;
	return write_all(fd, buf, (size_t)n);
}

int frame_recv(int fd, struct frame_reader *r, Frame **out)
{
	const uint8_t *payload;
	size_t len;
	int rc;

	for (;;) {
		uint8_t *p;
		size_t space;
		ssize_t got;

		rc = frame_reader_next(r, &payload, &len);
		if (rc < 0)
			return -EBADMSG;
		if (rc == 1)
			break;
		frame_reader_space(r, &p, &space);
		got = read(fd, p, space);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -ECONNRESET;
		frame_reader_commit(r, (size_t)got);
	}
	*out = frame_unpack(payload, len);
	return *out ? 0 : -EBADMSG;
}
