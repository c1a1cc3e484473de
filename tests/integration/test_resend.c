/* SPDX-License-Identifier: MIT */
/* Verdict.committed and Resend on the wire: what idsrd publishes, and what it takes back after a resume. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "frame.h"
#include "harness.h"

#define HID1 0xc788u	/* s3_0_c15_c1_0: reads 0x1111 */
#define HID2 0xc790u	/* s3_0_c15_c2_0: writes ignored */

static const char policy_text[] =
	"impl apple\n"
	"HID1       read  value 0x1111\n"
	"HID2_EL1   write ignore\n"
	"*          undef\n";

static struct harness h;

static int setup(void **state)
{
	harness_init(&h, policy_text);
	return harness_start(&h, NULL);
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

#define q(...) harness_queryf(&h, __VA_ARGS__)

struct raw {
	int fd;
	struct frame_reader r;
};

static void raw_send(struct raw *c, Idsr__V1__Frame *f)
{
	assert_int_equal(frame_send(c->fd, f), 0);
}

/* The next frame; NULL at the connection's end. */
static Frame *raw_recv(struct raw *c)
{
	Frame *f = NULL;

	return frame_recv(c->fd, &c->r, &f) == 0 ? f : NULL;
}

/* Connects and says Hello; returns the Welcome's boot id. */
static uint64_t raw_hello(struct raw *c, uint64_t resume, uint64_t *next_seq0)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	Frame *w;
	uint64_t boot;

	c->fd = harness_raw_connect(&h);
	assert_true(c->fd >= 0);
	frame_reader_init(&c->r);
	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.vm_name = "resend";
	hello.instance.data = (uint8_t *)"resend-instance";
	hello.instance.len = 15;
	hello.vcpus = 1;
	hello.resume_boot = resume;
	f.body_case = IDSR__V1__FRAME__BODY_HELLO;
	f.hello = &hello;
	raw_send(c, &f);
	w = raw_recv(c);
	assert_non_null(w);
	assert_int_equal(w->body_case, IDSR__V1__FRAME__BODY_WELCOME);
	boot = w->welcome->boot_id;
	/* said only to a resume, where a Resend may follow */
	assert_int_equal(w->welcome->takes_resend, resume != 0);
	if (next_seq0)
		*next_seq0 = w->welcome->n_next_seq ? w->welcome->next_seq[0] : 0;
	frame_free(w);
	return boot;
}

/* Access seq on vCPU 0 (a read of HID1); returns its Verdict.committed. */
static uint64_t raw_access(struct raw *c, uint64_t seq)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access a = IDSR__V1__ACCESS__INIT;
	Frame *v;
	uint64_t committed;

	a.seq = seq;
	a.key = HID1;
	a.el = 1;
	f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	f.access = &a;
	raw_send(c, &f);
	v = raw_recv(c);
	assert_non_null(v);
	assert_int_equal(v->body_case, IDSR__V1__FRAME__BODY_VERDICT);
	assert_int_equal(v->verdict->seq, seq);
	assert_int_equal(v->verdict->value, 0x1111);
	committed = v->verdict->committed;
	frame_free(v);
	return committed;
}

/* Sends a Resend of n accesses from list (a good one has no answer). */
static void raw_resend(struct raw *c, Idsr__V1__Answered *list, size_t n)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Resend r = IDSR__V1__RESEND__INIT;
	Idsr__V1__Answered *ptrs[8];

	for (size_t i = 0; i < n; i++)
		ptrs[i] = &list[i];
	r.accesses = ptrs;
	r.n_accesses = n;
	f.body_case = IDSR__V1__FRAME__BODY_RESEND;
	f.resend = &r;
	raw_send(c, &f);
}

/* Sends a Resend of n accesses and expects idsrd's Error (text, code), then the close. */
static void resend_refused(struct raw *c, Idsr__V1__Answered *list, size_t n, const char *text, int code)
{
	Frame *e;

	raw_resend(c, list, n);
	e = raw_recv(c);
	assert_non_null(e);
	assert_int_equal(e->body_case, IDSR__V1__FRAME__BODY_ERROR);
	assert_string_equal(e->error->message, text);
	assert_int_equal(e->error->code, code);
	frame_free(e);
	assert_null(raw_recv(c));
}

static void raw_close(struct raw *c)
{
	close(c->fd);
	frame_reader_free(&c->r);
}

static Idsr__V1__Answered answered(uint64_t seq, uint32_t key, bool is_write, uint64_t value, bool undef)
{
	Idsr__V1__Answered a = IDSR__V1__ANSWERED__INIT;

	a.seq = seq;
	a.key = key;
	a.pc = 0x8000 + seq;
	a.el = 1;
	a.is_write = is_write;
	a.value = value;
	a.action = undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
	return a;
}

/* Verdict.committed comes from time to time and never runs ahead of the database. */
static void test_committed_published(void **state)
{
	struct raw c;
	uint64_t boot = raw_hello(&c, 0, NULL), committed = 0, seq;

	for (seq = 0; seq < 5000 && !committed; seq++) {
		committed = raw_access(&c, seq);
		if (!committed)
			harness_sleep_ms(2);	/* the writer commits within STORE_LINGER_MS */
	}
	printf("# first Verdict.committed %llu, on seq %llu\n", (unsigned long long)committed,
	       (unsigned long long)seq - 1);
	assert_true(committed > 0);
	assert_true(committed < seq);
	/* every row it covers is in the database */
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND seq < %llu",
			   (unsigned long long)boot, (unsigned long long)committed), (long long)committed);
	raw_close(&c);
}

/* Resend is taken only after a resumed Welcome, in order and in form; what it
 * takes is logged as answered, with rule -5. */
static void test_resend_checked(void **state)
{
	struct raw a, b, bad;
	Idsr__V1__Answered list[3];
	uint64_t boot, next;

	boot = raw_hello(&a, 0, NULL);
	raw_access(&a, 0);
	raw_access(&a, 1);
	raw_access(&a, 2);

	/* not after a resume */
	raw_hello(&bad, 0, NULL);
	list[0] = answered(3, HID1, false, 0x1111, false);
	resend_refused(&bad, list, 1, "Resend not right after a resumed Welcome (Hello.resume_boot)",
		       IDSR__V1__ERROR_CODE__BAD_SEQUENCE);
	raw_close(&bad);

	/* a seq that skips */
	assert_int_equal(raw_hello(&bad, boot, &next), boot);
	assert_int_equal(next, 3);
	list[0] = answered(4, HID1, false, 0x1111, false);
	resend_refused(&bad, list, 1, "vCPU 0 sent seq 4, expected 3 (a seq skips)",
		       IDSR__V1__ERROR_CODE__BAD_SEQ);
	raw_close(&bad);

	/* not an encoding: nothing of the frame from it on is logged */
	assert_int_equal(raw_hello(&bad, boot, &next), boot);
	list[0] = answered(3, HID1, false, 0x1111, false);
	list[1] = answered(4, 0xffffffffu, false, 0, false);
	resend_refused(&bad, list, 2, "Resend: vCPU 0 seq 4 has key 0xffffffff, not a valid encoding",
		       IDSR__V1__ERROR_CODE__BAD_FRAME);
	raw_close(&bad);

	/* a good one: seq 4 on (the bad frame's seq 3 was taken), then an Access */
	assert_int_equal(raw_hello(&b, boot, &next), boot);
	assert_int_equal(next, 4);
	list[0] = answered(4, HID2, true, 0xabcd, false);
	list[1] = answered(5, 0xc798u, false, 0, true);
	list[2] = answered(6, HID1, false, 0x2222, false);
	raw_resend(&b, list, 3);
	/* no answer to it: the next frame is the Access's Verdict */
	raw_access(&b, 7);
	raw_close(&b);
	raw_close(&a);
	for (int i = 0; i < 2000 && q("SELECT count(*) FROM boots WHERE id = %llu AND end_ns IS NOT NULL",
				      (unsigned long long)boot) < 1; i++)
		harness_sleep_ms(10);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)boot), 8);
	assert_int_equal(q("SELECT max(seq) FROM accesses WHERE boot_id = %llu", (unsigned long long)boot), 7);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND rule = -5",
			   (unsigned long long)boot), 4);
	/* as the VMM said, answers included (0x2222 is not this policy's) */
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND ("
			   "(seq = 3 AND key = %u AND is_write = 0 AND value = 4369 AND action = 'emulate') OR"
			   "(seq = 4 AND key = %u AND is_write = 1 AND value = 43981 AND action = 'emulate') OR"
			   "(seq = 5 AND key = 51096 AND action = 'undef' AND value = 0) OR"
			   "(seq = 6 AND key = %u AND value = 8738 AND pc = 32774 AND el = 1))",
			   (unsigned long long)boot, HID1, HID2, HID1), 4);
	assert_int_equal(q("SELECT accesses FROM boots WHERE id = %llu", (unsigned long long)boot), 8);
	assert_int_equal(q("SELECT undefs FROM boots WHERE id = %llu", (unsigned long long)boot), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_committed_published, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resend_checked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
