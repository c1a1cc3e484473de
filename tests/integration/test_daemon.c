/* SPDX-License-Identifier: MIT */
/* idsrd end to end: real daemon, real client library, many vCPU threads, bad input, reloads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "db.h"
#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0 */
#define HID1 0xc788u	/* s3_0_c15_c1_0 */
#define HID2 0xc790u	/* s3_0_c15_c2_0 */
#define HID3 0xc798u	/* s3_0_c15_c3_0 */
#define HID5 0xc7a8u	/* s3_0_c15_c5_0: no rule but the catch-all */

static const char policy_text[] =
	"impl apple\n"
	"HID0_EL1            storage init=0x10\n"
	"HID1                read  value 0x1111\n"
	"s3_0_c15_c2_0       write ignore\n"
	"s3_0_c15_c3_0       counter start=0x100 step=4\n"
	"p15:0:c9:c0-c2:*    raz-wi\n"
	"*                   undef\n";

static struct harness h;

static int setup(void **state)
{
	return harness_setup(&h, policy_text);
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static uint8_t instance[16] = "itest-instance-1";

static struct idsr_conn *connect_vm(const char *vm, uint32_t vcpus, const uint8_t *inst)
{
	struct idsr_hello hello = {
		.vmm = "test_daemon", .vm_name = vm, .vcpus = vcpus,
		.instance = inst, .instance_len = inst ? 16 : 0, .impl = "apple",
	};
	struct idsr_conn *c = NULL;
	int rc = idsr_connect(h.sock, &hello, &c);

	if (rc < 0)
		fprintf(stderr, "# connect: %s\n", idsr_last_error());
	assert_int_equal(rc, 0);
	return c;
}

static uint64_t access1(struct idsr_conn *c, uint32_t vcpu, uint32_t key, bool wr, uint64_t value,
			uint8_t el, bool *undef)
{
	struct idsr_access a = { .vcpu = vcpu, .key = key, .pc = 0x40000000u + key, .el = el,
				 .is_write = wr, .value = value };
	struct idsr_verdict v;
	int rc = idsr_access(c, &a, &v);

	if (rc < 0)
		fprintf(stderr, "# access: %s\n", idsr_last_error());
	assert_int_equal(rc, 0);
	*undef = v.undef;
	return v.value;
}

/* ---- N vCPU threads x M accesses, every verdict per policy --------------- */

#define VCPUS 4
#define ITERS 400
#define PER_ITER 6

struct vcpu_run {
	uint32_t vcpu;
	int errors;
};

/* Every vCPU has said Hello before any says Bye: a vCPU done before another
 * connected (a busy machine) would end the boot, and the late one would
 * start a second. */
static pthread_barrier_t all_joined;

static void *vcpu_thread(void *arg)
{
	struct vcpu_run *r = arg;
	struct idsr_conn *c = connect_vm("many", VCPUS, instance);
	bool undef;

	pthread_barrier_wait(&all_joined);
	for (uint64_t i = 0; i < ITERS; i++) {
		uint64_t mine = (uint64_t)r->vcpu << 32 | i;

		r->errors += access1(c, r->vcpu, HID1, false, 0, 1, &undef) != 0x1111 || undef;
		access1(c, r->vcpu, HID0, true, mine, 1, &undef);
		r->errors += undef;
		r->errors += access1(c, r->vcpu, HID0, false, 0, 1, &undef) != mine || undef;
		r->errors += access1(c, r->vcpu, HID3, false, 0, 1, &undef) != 0x100 + 4 * i || undef;
		access1(c, r->vcpu, HID5, false, 0, 1, &undef);
		r->errors += !undef;
		/* EL0: UNDEF whatever the policy says */
		access1(c, r->vcpu, HID1, false, 0, 0, &undef);
		r->errors += !undef;
	}
	assert_int_equal(idsr_close(c, "done"), 0);
	return NULL;
}

static void wait_boot_ended(const char *where)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM boots WHERE end_ns IS NOT NULL AND %s", where);
	harness_wait_until(harness_query_int(&h, sql) >= 1);
}

static void test_many_vcpus(void **state)
{
	pthread_t t[VCPUS];
	struct vcpu_run r[VCPUS];

	pthread_barrier_init(&all_joined, NULL, VCPUS);
	for (uint32_t v = 0; v < VCPUS; v++) {
		r[v] = (struct vcpu_run){ .vcpu = v };
		pthread_create(&t[v], NULL, vcpu_thread, &r[v]);
	}
	for (uint32_t v = 0; v < VCPUS; v++)
		pthread_join(t[v], NULL);
	pthread_barrier_destroy(&all_joined);
	for (uint32_t v = 0; v < VCPUS; v++)
		assert_int_equal(r[v].errors, 0);
	/* A Bye from the last connection ends the boot and flushes it. */
	wait_boot_ended("vm_name = 'many'");
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name = 'many'"), 1);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
					       " WHERE b.vm_name = 'many'"), VCPUS * ITERS * PER_ITER);
	assert_int_equal(harness_query_int(&h, "SELECT accesses FROM boots WHERE vm_name = 'many'"),
			 VCPUS * ITERS * PER_ITER);
	assert_int_equal(harness_query_int(&h, "SELECT undefs FROM boots WHERE vm_name = 'many'"),
			 VCPUS * ITERS * 2);
	assert_int_equal(harness_query_int(&h, "SELECT rows_dropped FROM boots WHERE vm_name = 'many'"), 0);
	assert_int_equal(harness_query_int(&h, "SELECT vcpus FROM boots WHERE vm_name = 'many'"), VCPUS);
	/* per-vCPU seq complete: 0..n-1 with no gap */
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM (SELECT vcpu, count(*) n, min(seq) lo,"
					       " max(seq) hi FROM accesses a JOIN boots b ON b.id = a.boot_id"
					       " WHERE b.vm_name = 'many' GROUP BY vcpu) WHERE lo = 0 AND hi = n - 1"
					       " AND n = 2400"), VCPUS);
	/* values logged: the read of HID0 after the write returns the write */
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses w JOIN accesses r"
					       " ON r.boot_id = w.boot_id AND r.vcpu = w.vcpu AND r.seq = w.seq + 1"
					       " WHERE w.key = 51072 AND w.is_write = 1 AND r.key = 51072"
					       " AND r.value = w.value AND w.value = (w.vcpu << 32) + w.seq / 6"),
			 VCPUS * ITERS);
	/* rules and actions: EL0 rule -1, catch-all line 7, counter line 5 */
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses WHERE el = 0 AND rule = -1"
					       " AND action = 'undef'"), VCPUS * ITERS);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses WHERE key = 51112"
					       " AND rule = 7 AND action = 'undef'"), VCPUS * ITERS);
	assert_int_equal(harness_query_int(&h, "SELECT max(value) FROM accesses WHERE key = 51096"),
			 0x100 + 4 * (ITERS - 1));
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name = 'many'"
					       " AND end_reason = 'done' AND policy_hash IS NOT NULL"
					       " AND peer_pid = " "(SELECT peer_pid FROM boots WHERE vm_name = 'many')"), 1);
}

/* ---- bad input: Error, closed connection, everything else untouched ------ */

static int send_raw(int fd, const void *p, size_t n)
{
	return write(fd, p, n) == (ssize_t)n ? 0 : -1;
}

static int send_frame(int fd, Frame *f)
{
	return frame_send(fd, f);
}

static void send_hello(int fd, uint32_t protocol)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;

	hello.protocol = protocol;
	hello.vm_name = "bad";
	hello.vcpus = 1;
	f.body_case = IDSR__V1__FRAME__BODY_HELLO;
	f.hello = &hello;
	assert_int_equal(send_frame(fd, &f), 0);
}

static void send_access(int fd, uint64_t seq)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access a = IDSR__V1__ACCESS__INIT;

	a.seq = seq;
	a.key = HID1;
	a.el = 1;
	f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	f.access = &a;
	assert_int_equal(send_frame(fd, &f), 0);
}

/* Reads frames until EOF; returns the Error's message (or NULL), skipping others. */
static char *read_until_error(int fd, Idsr__V1__ErrorCode *code)
{
	struct frame_reader r;
	char *msg = NULL;
	Frame *f;

	frame_reader_init(&r);
	while (frame_recv(fd, &r, &f) == 0) {
		if (f->body_case == IDSR__V1__FRAME__BODY_ERROR && !msg) {
			msg = strdup(f->error->message);
			*code = f->error->code;
		}
		frame_free(f);
	}
	frame_reader_free(&r);
	return msg;
}

enum bad_kind { BAD_ZERO_LEN, BAD_OVERLONG, BAD_TRUNCATED, BAD_GARBAGE, BAD_ACCESS_FIRST,
		BAD_SEQ_GAP, BAD_SEQ_REPEAT, BAD_SECOND_HELLO, BAD_WRONG_TYPE, BAD_VERSION_2,
		BAD_KINDS };

static const struct {
	const char *expect;
	Idsr__V1__ErrorCode code;
} bad_expect[BAD_KINDS] = {
	[BAD_ZERO_LEN] = { "frame length out of range (must be 1..65536 bytes)", IDSR__V1__ERROR_CODE__BAD_FRAME },
	[BAD_OVERLONG] = { "frame length out of range (must be 1..65536 bytes)", IDSR__V1__ERROR_CODE__BAD_FRAME },
	[BAD_TRUNCATED] = { "connection ended inside a frame (10 bytes of a truncated frame)", IDSR__V1__ERROR_CODE__BAD_FRAME },
	[BAD_GARBAGE] = { "a 8-byte frame is not a valid idsr.v1.Frame (undecodable protobuf)", IDSR__V1__ERROR_CODE__BAD_FRAME },
	[BAD_ACCESS_FIRST] = { "Access before Hello", IDSR__V1__ERROR_CODE__BAD_SEQUENCE },
	[BAD_SEQ_GAP] = { "vCPU 0 sent seq 2, expected 1 (a seq skips)", IDSR__V1__ERROR_CODE__BAD_SEQ },
	[BAD_SEQ_REPEAT] = { "vCPU 0 sent seq 0, expected 1 (a seq repeats)", IDSR__V1__ERROR_CODE__BAD_SEQ },
	[BAD_SECOND_HELLO] = { "a second Hello on a connection that already said Hello", IDSR__V1__ERROR_CODE__BAD_SEQUENCE },
	[BAD_WRONG_TYPE] = { "unexpected Verdict frame on the VMM socket (expected Hello, Access, Resend, Wake or Bye)", IDSR__V1__ERROR_CODE__BAD_SEQUENCE },
	[BAD_VERSION_2] = { "Hello speaks protocol version 2; this idsrd speaks version 1", IDSR__V1__ERROR_CODE__BAD_VERSION },
};

static void do_bad(int fd, enum bad_kind k)
{
	static const uint8_t zero[4] = { 0, 0, 0, 0 };
	static const uint8_t overlong[4] = { 0x70, 0x11, 0x01, 0x00 };	/* 70000 */
	static const uint8_t truncated[10] = { 20, 0, 0, 0, 1, 2, 3, 4, 5, 6 };
	static const uint8_t garbage[12] = { 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Verdict v = IDSR__V1__VERDICT__INIT;

	switch (k) {
	case BAD_ZERO_LEN: send_raw(fd, zero, 4); break;
	case BAD_OVERLONG: send_raw(fd, overlong, 4); break;
	case BAD_TRUNCATED:
		send_raw(fd, truncated, sizeof(truncated));
		shutdown(fd, SHUT_WR);
		break;
	case BAD_GARBAGE: send_raw(fd, garbage, sizeof(garbage)); break;
	case BAD_ACCESS_FIRST: send_access(fd, 0); break;
	case BAD_SEQ_GAP: send_hello(fd, 1); send_access(fd, 0); send_access(fd, 2); break;
	case BAD_SEQ_REPEAT: send_hello(fd, 1); send_access(fd, 0); send_access(fd, 0); break;
	case BAD_SECOND_HELLO: send_hello(fd, 1); send_hello(fd, 1); break;
	case BAD_WRONG_TYPE:
		send_hello(fd, 1);
		f.body_case = IDSR__V1__FRAME__BODY_VERDICT;
		f.verdict = &v;
		send_frame(fd, &f);
		break;
	case BAD_VERSION_2: send_hello(fd, 2); break;
	case BAD_KINDS: break;
	}
}

static void test_bad_input(void **state)
{
	struct idsr_conn *good = connect_vm("good", 1, NULL);
	uint64_t good_boot = idsr_boot_id(good);
	bool undef;
	char sql[256];

	for (int i = 0; i < 10; i++)
		assert_int_equal(access1(good, 0, HID1, false, 0, 1, &undef), 0x1111);
	for (int k = 0; k < BAD_KINDS; k++) {
		Idsr__V1__ErrorCode code = 0;
		int fd = harness_raw_connect(&h);
		char *msg;

		assert_true(fd >= 0);
		do_bad(fd, (enum bad_kind)k);
		msg = read_until_error(fd, &code);	/* returns at the daemon's close */
		if (!msg || strcmp(msg, bad_expect[k].expect))
			fprintf(stderr, "# case %d: got `%s'\n", k, msg ? msg : "(no Error)");
		assert_non_null(msg);
		assert_string_equal(msg, bad_expect[k].expect);
		assert_int_equal(code, bad_expect[k].code);
		free(msg);
		close(fd);
		/* the good boot carries on */
		assert_int_equal(access1(good, 0, HID1, false, 0, 1, &undef), 0x1111);
	}
	/* boots that got as far as Hello are marked with the reason */
	wait_boot_ended("end_reason LIKE 'error: vCPU 0 sent seq 2%'");
	wait_boot_ended("end_reason LIKE 'error: unexpected Verdict frame%'");
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name = 'bad'"
					       " AND end_reason LIKE 'error: %'"), 4);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name = 'bad'"
					       " AND end_reason = 'error: vCPU 0 sent seq 2, expected 1 (a seq skips)'"), 1);
	/* the rows the bad boots logged before their error are kept (seq 0 of the gap/repeat cases) */
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
					       " WHERE b.vm_name = 'bad'"), 2);
	assert_int_equal(idsr_close(good, NULL), 0);
	snprintf(sql, sizeof(sql), "id = %llu", (unsigned long long)good_boot);
	wait_boot_ended(sql);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM accesses WHERE boot_id = %llu AND value = 4369",
		 (unsigned long long)good_boot);
	assert_int_equal(harness_query_int(&h, sql), 10 + BAD_KINDS);
}

/* ---- a live reload takes effect between two accesses; a bad one is refused */

static void test_reload(void **state)
{
	struct idsr_conn *c = connect_vm("reload", 1, NULL);
	uint64_t v = 0, seen_new_at = 0;
	bool undef;

	assert_int_equal(access1(c, 0, HID1, false, 0, 1, &undef), 0x1111);
	harness_write_file(h.policy, "HID1_EL1 read value 0x2222\n* undef\n");
	kill(h.pid, SIGHUP);
	for (uint64_t i = 1; i < 100000; i++) {
		v = access1(c, 0, HID1, false, 0, 1, &undef);
		if (v == 0x2222 && !seen_new_at)
			seen_new_at = i;
		if (seen_new_at) {
			/* from the switch on, only the new answer */
			assert_int_equal(v, 0x2222);
			if (i > seen_new_at + 50)
				break;
		} else {
			assert_int_equal(v, 0x1111);
			harness_sleep_ms(1);
		}
	}
	assert_true(seen_new_at > 0);
	/* A bad file: rejected, the old policy stays in force. */
	harness_write_file(h.policy, "HID1_EL1 read valu 0x3333\n");
	kill(h.pid, SIGHUP);
	harness_wait_until(harness_log_has(&h, "policy reload rejected, the old policy stays in force"));
	assert_true(harness_log_has(&h, "policy reload rejected, the old policy stays in force"));
	assert_int_equal(access1(c, 0, HID1, false, 0, 1, &undef), 0x2222);
	assert_int_equal(idsr_close(c, NULL), 0);
	/* the change is recorded, and the boot ran under both hashes */
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM policy_changes WHERE how = 'sighup'"), 1);
	wait_boot_ended("vm_name = 'reload'");
	assert_int_equal(harness_query_int(&h, "SELECT count(DISTINCT p.policy_hash) FROM boot_policies p"
					       " JOIN boots b ON b.id = p.boot_id WHERE b.vm_name = 'reload'"), 2);
}

/* ---- SIGTERM drains and flushes every row ------------------------------- */

static void test_sigterm_flushes(void **state)
{
	struct idsr_conn *c = connect_vm("term", 1, NULL);
	bool undef;

	for (int i = 0; i < 1000; i++)
		access1(c, 0, HID0, true, (uint64_t)i, 1, &undef);
	/* no Bye: the daemon stops under the VMM */
	assert_int_equal(harness_stop(&h), 0);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
					       " WHERE b.vm_name = 'term'"), 1000);
	assert_int_equal(harness_query_int(&h, "SELECT accesses FROM boots WHERE vm_name = 'term'"), 1000);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE end_ns IS NULL"), 0);
	assert_int_equal(harness_query_int(&h, "PRAGMA user_version"), SCHEMA_VERSION);
	idsr_close(c, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_vcpus),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_sigterm_flushes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
