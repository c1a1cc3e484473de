/* SPDX-License-Identifier: MIT */
/* The client's records: kept until committed, the oldest released on overflow, re-sent after a resume. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_records.h"
#include "frame.h"

static void keep(struct client_records *r, uint32_t vcpu, uint64_t seq)
{
	records_keep(r, &(struct client_record){ .vcpu = vcpu, .seq = seq, .key = 0xc788,
						 .pc = 0x1000 + seq, .el = 1, .value = seq * 3,
						 .undef = seq % 5 == 0 });
}

/* Resends into a socketpair; returns the (vcpu << 32 | seq) of what was sent, in order. */
static size_t resend(struct client_records *r, const uint64_t *from, size_t nfrom, uint64_t *next,
		     uint32_t nvcpus, uint64_t *sent, size_t cap)
{
	struct frame_reader rd;
	Frame *f;
	size_t n = 0;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(records_resend(r, sv[0], from, nfrom, next, nvcpus), 0);
	close(sv[0]);
	frame_reader_init(&rd);
	while (frame_recv(sv[1], &rd, &f) == 0) {
		assert_int_equal(f->body_case, IDSR__V1__FRAME__BODY_RESEND);
		assert_true(f->resend->n_accesses <= 64);
		for (size_t i = 0; i < f->resend->n_accesses; i++) {
			const Idsr__V1__Answered *a = f->resend->accesses[i];

			assert_true(n < cap);
			assert_int_equal(a->value, a->seq * 3);
			assert_int_equal(a->pc, 0x1000 + a->seq);
			assert_int_equal(a->action, a->seq % 5 == 0 ? IDSR__V1__ACTION__UNDEF :
					 IDSR__V1__ACTION__EMULATE);
			sent[n++] = (uint64_t)a->vcpu << 32 | a->seq;
		}
		frame_free(f);
	}
	frame_reader_free(&rd);
	close(sv[1]);
	return n;
}

static void test_committed_released(void **state)
{
	struct client_records r;

	records_init(&r, 1000);
	for (uint64_t s = 0; s < 10; s++) {
		keep(&r, 0, s);
		keep(&r, 1, s);
	}
	assert_int_equal(r.held, 20);
	records_committed(&r, 1, 4);		/* behind vCPU 0's: held in the ring */
	assert_int_equal(r.count, 20);
	assert_int_equal(r.held, 16);
	records_committed(&r, 0, 3);		/* 0:0 1:0 0:1 1:1 0:2 1:2 go */
	assert_int_equal(r.count, 14);
	records_committed(&r, 0, 10);
	assert_int_equal(r.held, 6);		/* vCPU 1's 4..9 */
	assert_int_equal(r.count, 11);		/* from 1:4 on, 0:5.. released behind it */
	assert_int_equal(r.unprotected, 0);
	records_free(&r);
}

static void test_overflow(void **state)
{
	struct client_records r;

	records_init(&r, 300);			/* grows 256 -> 300 */
	for (uint64_t s = 0; s < 1000; s++)
		keep(&r, 0, s);
	assert_int_equal(r.count, 300);
	assert_int_equal(r.held, 300);
	assert_int_equal(r.unprotected, 700);
	records_committed(&r, 0, 1000);
	assert_int_equal(r.count, 0);
	records_free(&r);
}

static void test_resend(void **state)
{
	struct client_records r;
	uint64_t from[2] = { 3, 0 }, next[3] = { 10, 4, 0 }, sent[64];
	size_t n;

	records_init(&r, 1000);
	for (uint64_t s = 0; s < 10; s++) {
		keep(&r, 0, s);
		if (s < 4)
			keep(&r, 1, s);
	}
	/* vCPU 0 from 3, vCPU 1 from 0 (nothing of it committed), vCPU 2 never ran */
	n = resend(&r, from, 2, next, 3, sent, 64);
	assert_int_equal(n, 11);
	/* in answer order: 1:0 1:1 1:2 0:3 1:3 0:4 .. 0:9 */
	assert_int_equal(sent[0], 1ull << 32 | 0);
	assert_int_equal(sent[2], 1ull << 32 | 2);
	assert_int_equal(sent[3], 3);
	assert_int_equal(sent[4], 1ull << 32 | 3);
	assert_int_equal(sent[10], 9);
	assert_int_equal(next[0], 10);
	assert_int_equal(next[1], 4);
	assert_int_equal(r.held, 11);		/* kept until committed */
	assert_int_equal(r.unprotected, 0);
	records_free(&r);
}

static void test_resend_gap(void **state)
{
	struct client_records r;
	uint64_t from[1] = { 100 }, next[1] = { 1000 }, sent[1];

	/* 1000 answered, the first 700 released by overflow: idsrd's rows end at 100 */
	records_init(&r, 300);
	for (uint64_t s = 0; s < 1000; s++)
		keep(&r, 0, s);
	assert_int_equal(resend(&r, from, 1, next, 1, sent, 1), 0);
	assert_int_equal(next[0], 100);		/* goes on where idsrd's rows end */
	assert_int_equal(r.count, 0);
	assert_int_equal(r.held, 0);
	assert_int_equal(r.unprotected, 1000);
	records_free(&r);
}

static void test_many_frames(void **state)
{
	struct client_records r;
	uint64_t from[1] = { 0 }, next[1] = { 200 }, sent[256];

	records_init(&r, 1000);
	for (uint64_t s = 0; s < 200; s++)
		keep(&r, 0, s);
	assert_int_equal(resend(&r, from, 1, next, 1, sent, 256), 200);
	for (uint64_t s = 0; s < 200; s++)
		assert_int_equal(sent[s], s);
	records_abandon(&r);
	assert_int_equal(r.unprotected, 200);
	records_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_committed_released),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_resend),
		cmocka_unit_test(test_resend_gap),
		cmocka_unit_test(test_many_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
