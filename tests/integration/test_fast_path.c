/* SPDX-License-Identifier: MIT */
/* The fast path end to end: answers from the shared table, logged in order, live policy
 * changes at the next access, and records that lie refused like bad frames. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "client_fast.h"
#include "fp_layout.h"
#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID1 0xc788u	/* s3_0_c15_c1_0: read value 0x1111 (line 2) */
#define HID2 0xc790u	/* s3_0_c15_c2_0: storage (line 3): always a round trip */
#define HID4 0xc7a0u	/* s3_0_c15_c4_0: the catch-all undef (line 4) */

static const char policy_text[] =
	"impl apple\n"
	"HID1                read  value 0x1111\n"
	"HID2_EL1            storage init=0x22\n"
	"*                   undef\n";

static struct harness h;

static int setup(void **state)
{
	setenv("IDSR_FAST_PATH", "1", 1);	/* off by default for now */
	return harness_setup(&h, policy_text);
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

#define q(...) harness_queryf(&h, __VA_ARGS__)

static struct idsr_conn *connect_vm(const char *vm)
{
	struct idsr_hello hello = { .vmm = "test_fast_path", .vm_name = vm, .vcpus = 1, .impl = "apple" };
	struct idsr_conn *c = NULL;

	assert_int_equal(idsr_connect(h.sock, &hello, &c), 0);
	return c;
}

static uint64_t read1(struct idsr_conn *c, uint32_t key, bool *undef)
{
	struct idsr_access a = { .key = key, .pc = 0x40000000u + key, .el = 1 };
	struct idsr_verdict v;

	assert_int_equal(idsr_access(c, &a, &v), 0);
	*undef = v.undef;
	return v.value;
}

static void wait_ended(const char *vm)
{
	for (int i = 0; i < 2000 && q("SELECT count(*) FROM boots WHERE vm_name = '%s' AND end_ns IS NOT NULL"
				      " AND accesses = (SELECT count(*) FROM accesses a WHERE a.boot_id = boots.id)",
				      vm) < 1; i++)
		harness_sleep_ms(10);
}

/* `idsrctl policy ARGS': its exit status. */
static int policy(const char *args)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "IDSRD_CONTROL='%s' '%s/idsrctl' policy %s >/dev/null", h.ctl,
		 harness_build(), args);
	return system(cmd);
}

/* ---- answers, order and live policy ---------------------------------------- */

static void test_live_policy(void **state)
{
	struct idsr_conn *c = connect_vm("fastlive");
	char file[400], args[500];
	bool undef;

	/* the first read fills the table, the next ones are answered from it */
	for (int i = 0; i < 3; i++)
		assert_int_equal(read1(c, HID1, &undef), 0x1111);
	assert_int_equal(idsr_fast_answers(c), 2);
	/* a stateful rule never is; an interleaved round trip keeps the order */
	assert_int_equal(read1(c, HID2, &undef), 0x22);
	assert_int_equal(read1(c, HID1, &undef), 0x1111);
	assert_int_equal(read1(c, HID2, &undef), 0x22);
	assert_int_equal(idsr_fast_answers(c), 3);

	/* the first access after the command returns has the new answer (line 2, after impl) */
	assert_int_equal(policy("set --first 'HID1 read value 0x44'"), 0);
	assert_int_equal(read1(c, HID1, &undef), 0x44);
	assert_int_equal(read1(c, HID1, &undef), 0x44);
	assert_int_equal(idsr_fast_answers(c), 4);
	snprintf(file, sizeof(file), "%s/other.conf", h.dir);
	harness_write_file(file, "impl apple\nHID1 read value 0x55\n* undef\n");
	snprintf(args, sizeof(args), "load '%s'", file);
	assert_int_equal(policy(args), 0);
	assert_int_equal(read1(c, HID1, &undef), 0x55);
	assert_int_equal(read1(c, HID1, &undef), 0x55);
	assert_int_equal(policy("unset 1"), 0);
	read1(c, HID1, &undef);
	assert_true(undef);
	read1(c, HID1, &undef);
	assert_true(undef);
	assert_int_equal(idsr_fast_answers(c), 6);
	assert_int_equal(idsr_close(c, "done"), 0);
	wait_ended("fastlive");

	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name = 'fastlive'"), 12);
	/* every row, in order: seq, value, rule, action */
	{
		static const struct { uint32_t key; uint64_t value; int rule; const char *action; } want[] = {
			{ HID1, 0x1111, 2, "emulate" }, { HID1, 0x1111, 2, "emulate" }, { HID1, 0x1111, 2, "emulate" },
			{ HID2, 0x22, 3, "emulate" }, { HID1, 0x1111, 2, "emulate" }, { HID2, 0x22, 3, "emulate" },
			{ HID1, 0x44, 2, "emulate" }, { HID1, 0x44, 2, "emulate" },
			{ HID1, 0x55, 2, "emulate" }, { HID1, 0x55, 2, "emulate" },
			{ HID1, 0, 2, "undef" }, { HID1, 0, 2, "undef" },
		};

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
					   " b.vm_name = 'fastlive' AND seq = %zu AND key = %u AND value = %llu"
					   " AND rule = %d AND action = '%s' AND el = 1 AND pc = %u", i, want[i].key,
					   (unsigned long long)want[i].value, want[i].rule, want[i].action,
					   0x40000000u + want[i].key), 1);
	}
	/* each row's time names the policy that answered it (boot_policies) */
	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name = 'fastlive' AND a.value = 0x44 AND ts_ns >= (SELECT since_ns FROM boot_policies p"
			   " WHERE p.boot_id = b.id ORDER BY since_ns LIMIT 1 OFFSET 1) AND ts_ns < (SELECT since_ns"
			   " FROM boot_policies p WHERE p.boot_id = b.id ORDER BY since_ns LIMIT 1 OFFSET 2)"), 2);
	snprintf(args, sizeof(args), "load '%s'", h.policy);
	assert_int_equal(policy(args), 0);	/* the next tests' policy */
}

/* ---- a VMM that writes records that lie ------------------------------------ */

struct raw {
	int fd;
	struct fp_client fp;
	struct frame_reader reader;
};

static void raw_hello(struct raw *r, const char *vm)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	Frame *reply;
	int memfd;

	r->fd = harness_raw_connect(&h);
	assert_true(r->fd >= 0);
	assert_int_equal(frame_reader_init(&r->reader), 0);
	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.vm_name = (char *)vm;
	hello.vcpus = 1;
	hello.fast_path = true;
	f.body_case = IDSR__V1__FRAME__BODY_HELLO;
	f.hello = &hello;
	assert_int_equal(frame_send(r->fd, &f), 0);
	assert_int_equal(fp_recv_fd(r->fd, &r->reader, &memfd), 0);
	assert_true(memfd >= 0);
	assert_int_equal(frame_recv_in(r->fd, &r->reader, NULL, &reply), 0);
	assert_int_equal(reply->body_case, IDSR__V1__FRAME__BODY_WELCOME);
	assert_true(reply->welcome->fast_path);
	frame_free(reply);
	/* the region is sealed: it can neither shrink nor grow */
	assert_true(ftruncate(memfd, 4096) < 0);
	assert_int_equal(fp_attach(&r->fp, memfd), 0);
	close(memfd);
}

/* Publishes rec as the next record and sends a Wake: the answer idsrd sends (NULL: none). */
static Frame *raw_publish(struct raw *r, const struct fp_record *rec, uint64_t tail)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Wake wake = IDSR__V1__WAKE__INIT;
	Frame *reply = NULL;

	r->fp.ring[r->fp.tail & (r->fp.ring_entries - 1)] = *rec;
	__atomic_store_n(&r->fp.hdr->tail, tail, __ATOMIC_SEQ_CST);
	f.body_case = IDSR__V1__FRAME__BODY_WAKE;
	f.wake = &wake;
	assert_int_equal(frame_send(r->fd, &f), 0);
	if (frame_recv_in(r->fd, &r->reader, NULL, &reply) < 0)
		return NULL;
	return reply;
}

static void raw_close(struct raw *r)
{
	fp_detach(&r->fp);
	frame_reader_free(&r->reader);
	close(r->fd);
}

/* A record idsrd must refuse: an Error naming why, the connection closed, the boot marked. */
static void refused(const char *vm, const struct fp_record *rec, uint64_t tail, const char *why)
{
	struct raw r;
	Frame *reply;

	raw_hello(&r, vm);
	reply = raw_publish(&r, rec, tail);
	assert_non_null(reply);
	assert_int_equal(reply->body_case, IDSR__V1__FRAME__BODY_ERROR);
	assert_int_equal(reply->error->code, IDSR__V1__ERROR_CODE__BAD_FRAME);
	if (!strstr(reply->error->message, why))
		fail_msg("Error `%s' does not say `%s'", reply->error->message, why);
	frame_free(reply);
	raw_close(&r);
	wait_ended(vm);
	assert_int_equal(q("SELECT count(*) FROM boots WHERE vm_name = '%s' AND end_reason LIKE '%%%s%%'"
			   " AND accesses = 0", vm, why), 1);
}

static void test_lying_records(void **state)
{
	struct fp_record good = { .seq = 0, .pc = 0x40000010, .value = 0x1111, .ts_ns = 1, .epoch = 1,
				  .vcpu = 0, .key = HID1, .rule = 2, .el = 1 };
	struct fp_record rec;
	struct raw r;
	Frame *reply;

	rec = good, rec.value = 0x9999;
	refused("lie_value", &rec, 1, "does not hold the verdict the table of epoch 1 gives");
	rec = good, rec.key = HID2, rec.rule = 3, rec.value = 0x22;
	refused("lie_stateful", &rec, 1, "does not hold the verdict");
	rec = good, rec.el = 0;
	refused("lie_el0", &rec, 1, "has EL 0");
	rec = good, rec.epoch = 7;
	refused("lie_epoch", &rec, 1, "names epoch 7, which this connection does not have");
	rec = good, rec.seq = 5;
	refused("lie_seq", &rec, 1, "vCPU 0 sent seq 5, expected 0");
	rec = good, rec.vcpu = 3;
	refused("lie_vcpu", &rec, 1, "names vCPU 3, but the boot has 1 vCPUs");
	refused("lie_tail", &good, FP_RING_ENTRIES + 1, "ring claims 1025 records");

	/* the truth is taken, and logged with the clock clamped to the policy's time */
	raw_hello(&r, "truth");
	r.fp.ring[0] = good;
	__atomic_store_n(&r.fp.hdr->tail, 1, __ATOMIC_SEQ_CST);
	{
		Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
		Idsr__V1__Bye bye = IDSR__V1__BYE__INIT;

		bye.reason = "done";
		f.body_case = IDSR__V1__FRAME__BODY_BYE;
		f.bye = &bye;
		assert_int_equal(frame_send(r.fd, &f), 0);
	}
	assert_int_equal(frame_recv_in(r.fd, &r.reader, NULL, &reply), -ECONNRESET);
	assert_int_equal(__atomic_load_n(&r.fp.hdr->next_seq[0], __ATOMIC_RELAXED), 1);
	raw_close(&r);
	wait_ended("truth");
	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name = 'truth' AND seq = 0 AND key = %u AND value = 0x1111 AND rule = 2"
			   " AND ts_ns >= b.start_ns - 60000000000 AND ts_ns > 1", HID1), 1);
}

/* ---- off: by the daemon, by the environment ------------------------------ */

static void test_off(void **state)
{
	struct idsr_conn *c;
	bool undef;

	unsetenv("IDSR_FAST_PATH");	/* the default */
	c = connect_vm("envoff");
	setenv("IDSR_FAST_PATH", "1", 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(read1(c, HID1, &undef), 0x1111);
	assert_int_equal(idsr_fast_answers(c), 0);
	idsr_close(c, NULL);

	harness_stop(&h);
	assert_int_equal(harness_start(&h, (const char *const[]){ "--no-fast-path", NULL }), 0);
	c = connect_vm("daemonoff");
	for (int i = 0; i < 5; i++)
		assert_int_equal(read1(c, HID1, &undef), 0x1111);
	assert_int_equal(idsr_fast_answers(c), 0);
	idsr_close(c, NULL);
	wait_ended("daemonoff");
	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name IN ('envoff', 'daemonoff') AND value = 0x1111"), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_policy),
		cmocka_unit_test(test_lying_records),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
