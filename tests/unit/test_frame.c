/* SPDX-License-Identifier: MIT */
/* Framing: split reads, several frames per read, bad lengths, truncation, round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

static int pack_access(uint64_t seq, uint32_t key, uint64_t value, uint8_t *out, size_t cap)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access a = IDSR__V1__ACCESS__INIT;

	a.seq = seq;
	a.vcpu = 3;
	a.key = key;
	a.pc = 0xffff800010001234ull;
	a.el = 1;
	a.is_write = true;
	a.value = value;
	f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	f.access = &a;
	return frame_pack(&f, out, cap);
}

/* Feeds data to r in pieces of `step` bytes, collecting every frame. */
static int feed(struct frame_reader *r, const uint8_t *data, size_t n, size_t step,
		Frame **frames, int max)
{
	int got = 0;

	for (size_t off = 0; off < n;) {
		const uint8_t *payload;
		size_t len, space, chunk;
		uint8_t *p;
		int rc;

		frame_reader_space(r, &p, &space);
		chunk = n - off < step ? n - off : step;
		if (chunk > space)
			chunk = space;
		memcpy(p, data + off, chunk);
		frame_reader_commit(r, chunk);
		off += chunk;
		while ((rc = frame_reader_next(r, &payload, &len)) == 1 && got < max)
			frames[got++] = frame_unpack(payload, len);
		if (rc < 0)
			return rc;
	}
	return got;
}

static void test_round_trip_split_reads(void **state)
{
	uint8_t stream[4096];
	size_t n = 0;
	Frame *frames[40];

	for (int i = 0; i < 40; i++) {
		int len = pack_access((uint64_t)i, 0xc780u + (uint32_t)i, ~(uint64_t)i, stream + n,
				      sizeof(stream) - n);
		assert_true(len > FRAME_HEADER);
		n += (size_t)len;
	}
	/* every split: byte by byte, odd sizes, everything at once */
	static const size_t steps[] = { 1, 3, 7, 64, 4096 };
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		struct frame_reader r;

		assert_int_equal(frame_reader_init(&r), 0);
		assert_int_equal(feed(&r, stream, n, steps[s], frames, 40), 40);
		for (int i = 0; i < 40; i++) {
			assert_non_null(frames[i]);
			assert_int_equal(frames[i]->body_case, IDSR__V1__FRAME__BODY_ACCESS);
			assert_int_equal(frames[i]->access->seq, i);
			assert_int_equal(frames[i]->access->vcpu, 3);
			assert_int_equal(frames[i]->access->key, 0xc780u + (uint32_t)i);
			assert_int_equal(frames[i]->access->pc, 0xffff800010001234ull);
			assert_true(frames[i]->access->is_write);
			assert_int_equal(frames[i]->access->value, ~(uint64_t)i);
			frame_free(frames[i]);
		}
		assert_int_equal(frame_reader_pending(&r), 0);
		frame_reader_free(&r);
	}
}

static void test_bad_lengths(void **state)
{
	static const uint8_t zero[] = { 0, 0, 0, 0, 1 };
	static const uint8_t over[] = { 0x01, 0x00, 0x01, 0x00 };	/* 65537 */
	static const uint8_t max[] = { 0x00, 0x00, 0x01, 0x00 };	/* 65536: allowed */
	struct frame_reader r;
	Frame *frames[1];

	frame_reader_init(&r);
	assert_int_equal(feed(&r, zero, sizeof(zero), 5, frames, 1), -EMSGSIZE);
	frame_reader_free(&r);
	frame_reader_init(&r);
	assert_int_equal(feed(&r, over, sizeof(over), 4, frames, 1), -EMSGSIZE);
	frame_reader_free(&r);
	frame_reader_init(&r);
	assert_int_equal(feed(&r, max, sizeof(max), 4, frames, 1), 0);
	assert_int_equal(frame_reader_pending(&r), 4);	/* waits for 65536 bytes */
	frame_reader_free(&r);
}

static void test_largest_frame_grows_buffer(void **state)
{
	static uint8_t big[FRAME_HEADER + FRAME_MAX];
	struct frame_reader r;
	const uint8_t *payload;
	size_t len;

	big[0] = 0x00; big[1] = 0x00; big[2] = 0x01; big[3] = 0x00;
	memset(big + FRAME_HEADER, 0xab, FRAME_MAX);
	frame_reader_init(&r);
	for (size_t off = 0; off < sizeof(big);) {
		uint8_t *p;
		size_t space, chunk;

		frame_reader_space(&r, &p, &space);
		assert_true(space > 0);
		chunk = sizeof(big) - off < space ? sizeof(big) - off : space;
		memcpy(p, big + off, chunk);
		frame_reader_commit(&r, chunk);
		off += chunk;
	}
	assert_int_equal(frame_reader_next(&r, &payload, &len), 1);
	assert_int_equal(len, FRAME_MAX);
	assert_int_equal(payload[0], 0xab);
	assert_int_equal(payload[FRAME_MAX - 1], 0xab);
	frame_reader_free(&r);
}

static void test_undecodable_and_empty(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t empty_oneof[] = { 0x00 };	/* not even a valid empty message */

	assert_null(frame_unpack(garbage, sizeof(garbage)));
	assert_null(frame_unpack(empty_oneof, 0));
	assert_null(frame_unpack(empty_oneof, sizeof(empty_oneof)));
	assert_string_equal(frame_body_name(&(Frame)IDSR__V1__FRAME__INIT), "unknown");
}

static void test_blocking_send_recv_and_truncation(void **state)
{
	int sv[2];
	uint8_t buf[256];
	struct frame_reader r;
	Frame *f = NULL;
	int n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	n = pack_access(7, 0x800f0808u, 5, buf, sizeof(buf));
	assert_int_equal(write(sv[0], buf, (size_t)n), n);
	/* then half a frame and EOF */
	assert_int_equal(write(sv[0], buf, 6), 6);
	close(sv[0]);
	frame_reader_init(&r);
	assert_int_equal(frame_recv(sv[1], &r, &f), 0);
	assert_int_equal(f->access->seq, 7);
	assert_int_equal(f->access->key, 0x800f0808u);
	frame_free(f);
	assert_int_equal(frame_recv(sv[1], &r, &f), -ECONNRESET);
	assert_int_equal(frame_reader_pending(&r), 6);
	frame_reader_free(&r);
	close(sv[1]);
}

static void test_pack_too_small(void **state)
{
	uint8_t buf[8];

	assert_int_equal(pack_access(1, 1, 1, buf, sizeof(buf)), -EMSGSIZE);
}

/* What protobuf-c itself packs for f: the Frame, with its header. */
static size_t pack_generic(const Frame *f, uint8_t *out)
{
	size_t n = protobuf_c_message_pack(&f->base, out + FRAME_HEADER);

	out[0] = n & 0xff;
	out[1] = (n >> 8) & 0xff;
	out[2] = (n >> 16) & 0xff;
	out[3] = (uint8_t)(n >> 24);
	return n + FRAME_HEADER;
}

/* Packs f both ways, checks the bytes are the same, and unpacks them both
 * ways (arena and malloc) to the message protobuf-c unpacks. */
static void check_same_bytes(const Frame *f)
{
	uint8_t ours[256], theirs[256], again[256];
	struct frame_arena arena;
	Frame *in_arena, *in_heap, *generic;
	size_t n = pack_generic(f, theirs);
	int m = frame_pack(f, ours, sizeof(ours));

	assert_int_equal(m, n);
	assert_memory_equal(ours, theirs, n);
	generic = idsr__v1__frame__unpack(NULL, n - FRAME_HEADER, theirs + FRAME_HEADER);
	assert_non_null(generic);
	in_arena = frame_unpack_in(&arena, ours + FRAME_HEADER, n - FRAME_HEADER);
	in_heap = frame_unpack(ours + FRAME_HEADER, n - FRAME_HEADER);
	assert_non_null(in_arena);
	assert_non_null(in_heap);
	assert_int_equal(in_arena->body_case, f->body_case);
	assert_int_equal(in_heap->body_case, f->body_case);
	/* Unpacked the same: they pack to the same bytes as protobuf-c's own. */
	assert_int_equal(pack_generic(in_arena, again), n);
	assert_memory_equal(again, theirs, n);
	assert_int_equal(pack_generic(in_heap, again), n);
	assert_memory_equal(again, theirs, n);
	assert_int_equal(pack_generic(generic, again), n);
	assert_memory_equal(again, theirs, n);
	assert_int_equal(arena.spilled, 0);
	frame_release(&arena, in_arena);
	frame_free(in_heap);
	frame_free(generic);
}

/* The trap path's frames are packed and unpacked as their body alone
 * (proto/frame.c): the bytes are protobuf-c's, from the shortest body (all
 * fields zero) to the longest (every varint ten bytes). */
static void test_trap_frames_are_protobuf_c_bytes(void **state)
{
	static const uint64_t values[] = { 0, 1, 127, 128, 0x1234, 0x4000000000000000ull,
					   0xffff800010081234ull, UINT64_MAX };
	const size_t nv = sizeof(values) / sizeof(values[0]);

	for (size_t i = 0; i < nv; i++) {
		for (size_t j = 0; j < nv; j++) {
			Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
			Idsr__V1__Access a = IDSR__V1__ACCESS__INIT;
			Idsr__V1__Verdict v = IDSR__V1__VERDICT__INIT;

			a.seq = values[i];
			a.vcpu = (uint32_t)values[j];
			a.key = (uint32_t)values[(i + j) % nv];
			a.pc = values[j];
			a.el = (uint32_t)values[i];
			a.is_write = (i + j) & 1;
			a.value = values[(i * 3 + j) % nv];
			f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
			f.access = &a;
			check_same_bytes(&f);
			v.seq = values[i];
			v.vcpu = (uint32_t)values[j];
			v.action = (i + j) & 1 ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
			v.value = values[j];
			v.committed = values[(i + j) % nv];
			f.body_case = IDSR__V1__FRAME__BODY_VERDICT;
			f.verdict = &v;
			check_same_bytes(&f);
		}
	}
}

/* Payloads that are not one small body alone decode as protobuf-c decodes a
 * Frame: two bodies (the last wins), a body of 128 bytes or more (a two-byte
 * length), a body that does not decode. */
static void test_other_payloads_decode_as_frames(void **state)
{
	/* Access{seq 5} then Verdict{seq 7}: a Verdict. */
	static const uint8_t two[] = { 0x1a, 0x02, 0x08, 0x05, 0x22, 0x02, 0x08, 0x07 };
	/* Access{seq 9} then Access{vcpu 2}: the second Access alone. */
	static const uint8_t twice[] = { 0x1a, 0x02, 0x08, 0x09, 0x1a, 0x02, 0x10, 0x02 };
	/* Access{seq 1 truncated varint}. */
	static const uint8_t bad[] = { 0x1a, 0x02, 0x08, 0x85 };
	uint8_t big[3 + 130];
	struct frame_arena arena;
	Frame *f;

	f = frame_unpack_in(&arena, two, sizeof(two));
	assert_non_null(f);
	assert_int_equal(f->body_case, IDSR__V1__FRAME__BODY_VERDICT);
	assert_int_equal(f->verdict->seq, 7);
	frame_release(&arena, f);
	f = frame_unpack(twice, sizeof(twice));
	assert_non_null(f);
	assert_int_equal(f->body_case, IDSR__V1__FRAME__BODY_ACCESS);
	assert_int_equal(f->access->seq, 0);
	assert_int_equal(f->access->vcpu, 2);
	frame_free(f);
	assert_null(frame_unpack_in(&arena, bad, sizeof(bad)));
	assert_null(frame_unpack(bad, sizeof(bad)));
	/* An Access of 130 bytes: seq 3, then an unknown field 15 of 126 bytes. */
	big[0] = 0x1a;
	big[1] = 0x82;
	big[2] = 0x01;
	big[3] = 0x08;
	big[4] = 0x03;
	big[5] = 0x7a;		/* field 15, length-delimited */
	big[6] = 126;
	memset(big + 7, 0x55, 126);
	f = frame_unpack_in(&arena, big, sizeof(big));
	assert_non_null(f);
	assert_int_equal(f->body_case, IDSR__V1__FRAME__BODY_ACCESS);
	assert_int_equal(f->access->seq, 3);
	frame_release(&arena, f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_split_reads),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_largest_frame_grows_buffer),
		cmocka_unit_test(test_undecodable_and_empty),
		cmocka_unit_test(test_blocking_send_recv_and_truncation),
		cmocka_unit_test(test_pack_too_small),
		cmocka_unit_test(test_trap_frames_are_protobuf_c_bytes),
		cmocka_unit_test(test_other_payloads_decode_as_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
