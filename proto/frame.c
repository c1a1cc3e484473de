/* SPDX-License-Identifier: MIT */
/* Framing on idsrd's sockets: u32 little-endian length (1..65536), then one protobuf Frame. */
#include <errno.h>
#include <pthread.h>
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

/* The longest a message of d can pack to, or 0 if a field has no fixed
 * bound (strings, bytes, messages, repeated fields). */
static size_t packed_max(const ProtobufCMessageDescriptor *d)
{
	size_t n = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];

		if (fd->label == PROTOBUF_C_LABEL_REPEATED)
			return 0;
		n += fd->id < 16 ? 1 : fd->id < 2048 ? 2 : 5;	/* the tag */
		switch (fd->type) {
		case PROTOBUF_C_TYPE_BOOL:
			n += 1;
			break;
		case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
			n += 4;
			break;
		case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
			n += 8;
			break;
		case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_ENUM:
			n += 10;
			break;
		default:
			return 0;
		}
	}
	return n;
}

/*
 * The trap path's frames, Access and Verdict, are packed and unpacked as
 * their body alone. protobuf-c packs a Frame's body by sizing it first (its
 * length goes before it) and then packing it, and unpacks a Frame by
 * scanning it, then unpacking the body as a message of its own. The Frame's
 * own share was ~375 instructions a pack and ~450 an unpack: ~820 of a
 * round trip's in idsrd's answering thread (3,487) and as many in the VMM's
 * (2,594) (bench/instructions.sh; docs/performance.md, "The trap path's
 * frames"). A Frame whose only field is a body under 128 bytes is that
 * field's tag (one byte: the field numbers are under 16), a one-byte length
 * and the body's bytes; the tag is taken from protobuf-c itself, by packing
 * a Frame with an empty body. So the bytes on the wire are the same either
 * way, and any other payload (more than one field, a longer body) goes
 * through the Frame.
 */
struct small_body {
	Idsr__V1__Frame__BodyCase body_case;
	const ProtobufCMessageDescriptor *desc;
	size_t max;			/* the body's longest packed form (< 128), or 0 */
	uint8_t tag;			/* the Frame's first byte before this body */
};
static struct small_body small_bodies[2] = {
	{ IDSR__V1__FRAME__BODY_ACCESS, &idsr__v1__access__descriptor, 0, 0 },
	{ IDSR__V1__FRAME__BODY_VERDICT, &idsr__v1__verdict__descriptor, 0, 0 },
};
static pthread_once_t small_once = PTHREAD_ONCE_INIT;

static void small_init(void)
{
	for (size_t i = 0; i < sizeof(small_bodies) / sizeof(small_bodies[0]); i++) {
		struct small_body *b = &small_bodies[i];
		Frame f = IDSR__V1__FRAME__INIT;
		union { Idsr__V1__Access access; Idsr__V1__Verdict verdict; } body;
		size_t max = packed_max(b->desc);
		uint8_t prefix[16];

		if (b->desc->sizeof_message > sizeof(body))
			continue;
		protobuf_c_message_init(b->desc, &body);
		f.body_case = b->body_case;
		f.access = &body.access;	/* the union's members are all pointers */
		if (max && max < 128 && protobuf_c_message_get_packed_size(&f.base) == 2 &&
		    protobuf_c_message_pack(&f.base, prefix) == 2 && prefix[1] == 0) {
			b->tag = prefix[0];
			b->max = max;
		}
	}
}

/* The small body f carries (and which), or NULL. */
static const ProtobufCMessage *small_body_of(const Frame *f, const struct small_body **which)
{
	for (size_t i = 0; i < sizeof(small_bodies) / sizeof(small_bodies[0]); i++) {
		if (small_bodies[i].body_case == f->body_case && small_bodies[i].max && f->access) {
			*which = &small_bodies[i];
			return &f->access->base;
		}
	}
	return NULL;
}

static void store_le32(uint8_t *p, size_t n)
{
	p[0] = n & 0xff;
	p[1] = (n >> 8) & 0xff;
	p[2] = (n >> 16) & 0xff;
	p[3] = (n >> 24) & 0xff;
}

int frame_pack(const Frame *f, uint8_t *out, size_t cap)
{
	const struct small_body *b;
	const ProtobufCMessage *body;
	size_t n;

	/* A small body is packed in one pass when the buffer holds its
	 * longest form: sizing a message first costs as much as packing it. */
	pthread_once(&small_once, small_init);
	body = small_body_of(f, &b);
	if (body && cap >= FRAME_HEADER + 2 + b->max) {
		n = protobuf_c_message_pack(body, out + FRAME_HEADER + 2);
		out[FRAME_HEADER] = b->tag;
		out[FRAME_HEADER + 1] = (uint8_t)n;	/* n < 128: a one-byte length */
		store_le32(out, n + 2);
		return (int)(n + 2 + FRAME_HEADER);
	}
	n = protobuf_c_message_get_packed_size(&f->base);

	if (n == 0 || n > FRAME_MAX || n + FRAME_HEADER > cap)
		return -EMSGSIZE;
	store_le32(out, n);
	protobuf_c_message_pack(&f->base, out + FRAME_HEADER);
	return (int)(n + FRAME_HEADER);
}

/* A payload that is one small body alone, unpacked as that body into a
 * Frame of alloc's (NULL: malloc's, as protobuf-c's default); NULL if it is
 * not one, or *bad when it is one that does not decode. */
static Frame *unpack_small(ProtobufCAllocator *alloc, const uint8_t *payload, size_t len, bool *bad)
{
	ProtobufCMessage *body;
	Frame *f;

	*bad = false;
	if (len < 2 || len - 2 >= 128 || payload[1] != len - 2)
		return NULL;
	pthread_once(&small_once, small_init);
	for (size_t i = 0; i < sizeof(small_bodies) / sizeof(small_bodies[0]); i++) {
		const struct small_body *b = &small_bodies[i];

		if (!b->max || payload[0] != b->tag)
			continue;
		body = protobuf_c_message_unpack(b->desc, alloc, len - 2, payload + 2);
		f = !body ? NULL : alloc ? alloc->alloc(alloc->allocator_data, sizeof(*f)) : malloc(sizeof(*f));
		if (!f) {
			protobuf_c_message_free_unpacked(body, alloc);
			*bad = true;
			return NULL;
		}
		idsr__v1__frame__init(f);
		f->body_case = b->body_case;
		f->access = (Idsr__V1__Access *)body;
		return f;
	}
	return NULL;
}

Frame *frame_unpack(const uint8_t *payload, size_t len)
{
	bool bad;
	Frame *f = unpack_small(NULL, payload, len, &bad);

	if (f || bad)
		return f;
	f = idsr__v1__frame__unpack(NULL, len, payload);
	/* An empty oneof decodes fine but means nothing to us. */
	if (f && f->body_case == IDSR__V1__FRAME__BODY__NOT_SET) {
		idsr__v1__frame__free_unpacked(f, NULL);
		return NULL;
	}
	return f;
}

static void *arena_alloc(void *data, size_t size)
{
	struct frame_arena *a = data;
	size_t n = (size + 15) & ~(size_t)15;

	if (a->used + n <= sizeof(a->buf)) {
		void *p = a->buf + a->used;

		a->used += n;
		return p;
	}
	a->spilled++;
	return malloc(size);
}

static void arena_free(void *data, void *p)
{
	struct frame_arena *a = data;

	if ((uint8_t *)p < a->buf || (uint8_t *)p >= a->buf + sizeof(a->buf))
		free(p);
}

Frame *frame_unpack_in(struct frame_arena *a, const uint8_t *payload, size_t len)
{
	ProtobufCAllocator alloc = { arena_alloc, arena_free, a };
	bool bad;
	Frame *f;

	a->used = a->spilled = 0;
	f = unpack_small(&alloc, payload, len, &bad);
	if (f || bad)
		return f;
	f = idsr__v1__frame__unpack(&alloc, len, payload);
	if (f && f->body_case == IDSR__V1__FRAME__BODY__NOT_SET) {
		frame_release(a, f);
		return NULL;
	}
	return f;
}

void frame_release(struct frame_arena *a, Frame *f)
{
	ProtobufCAllocator alloc = { arena_alloc, arena_free, a };

	/* A frame held wholly in the arena needs no walk to free it. */
	if (f && a->spilled)
		idsr__v1__frame__free_unpacked(f, &alloc);
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
	case IDSR__V1__FRAME__BODY_RESEND: return "Resend";
	case IDSR__V1__FRAME__BODY_CONTROL: return "ControlRequest";
	case IDSR__V1__FRAME__BODY_REPLY: return "ControlReply";
	case IDSR__V1__FRAME__BODY_EVENT: return "Event";
	default: return "unknown";
	}
}

int frame_write_all(int fd, const uint8_t *p, size_t n, int flags)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: a peer that went away must not kill the sender. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | flags);

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
	return frame_write_all(fd, buf, (size_t)n, 0);
}

int frame_recv(int fd, struct frame_reader *r, Frame **out)
{
	return frame_recv_in(fd, r, NULL, out);
}

int frame_recv_in(int fd, struct frame_reader *r, struct frame_arena *a, Frame **out)
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
	*out = a ? frame_unpack_in(a, payload, len) : frame_unpack(payload, len);
	return *out ? 0 : -EBADMSG;
}
