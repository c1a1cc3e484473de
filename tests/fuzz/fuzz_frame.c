/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the frame decoder (proto/frame.c) and the checks idsrd makes on each message. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What idsrd and the client library look at in a decoded frame: every string
 * and bytes field is read to its end, so a bad length or pointer shows up. */
static size_t touch_frame(const Frame *f)
{
	size_t n = strlen(frame_body_name(f));

	switch (f->body_case) {
	case IDSR__V1__FRAME__BODY_HELLO:
		n += strlen(f->hello->vmm) + strlen(f->hello->vm_name) + f->hello->instance.len;
		if (f->hello->instance.len)
			n += f->hello->instance.data[f->hello->instance.len - 1];
		if (f->hello->guest)
			n += strlen(f->hello->guest->kernel) + strlen(f->hello->guest->impl) +
			     f->hello->guest->build_id.len;
		break;
	case IDSR__V1__FRAME__BODY_ERROR:
		n += strlen(f->error->message);
		break;
	case IDSR__V1__FRAME__BODY_BYE:
		n += strlen(f->bye->reason);
		break;
	case IDSR__V1__FRAME__BODY_CONTROL:
		if (f->control->req_case == IDSR__V1__CONTROL_REQUEST__REQ_POLICY)
			n += strlen(f->control->policy->text) + strlen(f->control->policy->source);
		if (f->control->req_case == IDSR__V1__CONTROL_REQUEST__REQ_SUBSCRIBE)
			n += f->control->subscribe->n_keys + strlen(f->control->subscribe->key_pattern);
		break;
	default:
		break;
	}
	return n;
}

/* frame_unpack takes a short way for the trap path's frames (proto/frame.c):
 * it must decode what protobuf-c's Frame decodes, to the same message. */
static void same_as_protobuf_c(const Frame *f, const uint8_t *payload, size_t len)
{
	static uint8_t a[FRAME_MAX], b[FRAME_MAX];
	Frame *g = idsr__v1__frame__unpack(NULL, len, payload);
	struct frame_arena arena;
	Frame *h = frame_unpack_in(&arena, payload, len);

	if (g && g->body_case == IDSR__V1__FRAME__BODY__NOT_SET) {
		idsr__v1__frame__free_unpacked(g, NULL);
		g = NULL;
	}
	assert(!f == !g && !h == !g);
	if (g) {
		size_t n = protobuf_c_message_get_packed_size(&g->base);

		assert(n <= FRAME_MAX && protobuf_c_message_get_packed_size(&f->base) == n &&
		       protobuf_c_message_get_packed_size(&h->base) == n);
		protobuf_c_message_pack(&g->base, a);
		protobuf_c_message_pack(&f->base, b);
		assert(memcmp(a, b, n) == 0);
		protobuf_c_message_pack(&h->base, b);
		assert(memcmp(a, b, n) == 0);
		idsr__v1__frame__free_unpacked(g, NULL);
	}
	frame_release(&arena, h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_reader r;
	const uint8_t *payload;
	size_t off = 0, len;
	uint8_t out[FRAME_HEADER + FRAME_MAX];
	int rc;

	if (frame_reader_init(&r) < 0)
		return 0;
	/* Bytes arrive in reads of uneven sizes, as from a socket; the first
	 * byte picks the read size so that every split gets explored. */
	while (off < size) {
		size_t chunk = 1 + (data[off] % 97u), space;
		uint8_t *p;

		frame_reader_space(&r, &p, &space);
		assert(space > 0);
		if (chunk > space)
			chunk = space;
		if (chunk > size - off)
			chunk = size - off;
		memcpy(p, data + off, chunk);
		frame_reader_commit(&r, chunk);
		off += chunk;
		while ((rc = frame_reader_next(&r, &payload, &len)) == 1) {
			Frame *f;

			assert(len >= 1 && len <= FRAME_MAX);
			f = frame_unpack(payload, len);
			same_as_protobuf_c(f, payload, len);
			if (!f)
				continue;
			(void)touch_frame(f);
			/* What decodes must encode again, within the frame limit. */
			rc = frame_pack(f, out, sizeof(out));
			assert(rc > 0 || rc == -EMSGSIZE);
			frame_free(f);
		}
		if (rc < 0)
			break;		/* the daemon sends an Error and closes here */
	}
	assert(frame_reader_pending(&r) <= FRAME_HEADER + FRAME_MAX);
	frame_reader_free(&r);
	return 0;
}
