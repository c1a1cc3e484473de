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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_split_reads),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_largest_frame_grows_buffer),
		cmocka_unit_test(test_undecodable_and_empty),
		cmocka_unit_test(test_blocking_send_recv_and_truncation),
		cmocka_unit_test(test_pack_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
