/* SPDX-License-Identifier: MIT */
/* The fast path end to end: answers from the shared table, logged in order, live policy
 * changes at the next access, and records that lie refused like bad frames. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
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
	unsetenv("IDSR_FAST_PATH");	/* on by default */
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

	memset(r, 0, sizeof(*r));
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
	assert_int_equal(__atomic_load_n(&r.fp.hdr->vcpus[0].next_seq, __ATOMIC_RELAXED), 1);
	raw_close(&r);
	wait_ended("truth");
	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name = 'truth' AND seq = 0 AND key = %u AND value = 0x1111 AND rule = 2"
			   " AND ts_ns >= b.start_ns - 60000000000 AND ts_ns > 1", HID1), 1);
}

/* ---- status: records taken, full rings, drops ------------------------------ */

/* Whether every thread of pid is stopped (a SIGSTOP took hold). */
static bool all_stopped(pid_t pid)
{
	char path[320], line[512];
	struct dirent *e;
	bool all = true;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return false;
	while (all && (e = readdir(d))) {
		FILE *f;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		all = p && p[1] == ' ' && p[2] == 'T';
		fclose(f);
	}
	closedir(d);
	return all;
}

/* `idsrctl status ARGS': its output. */
static char *status_out(const char *args)
{
	char cmd[1024];
	static char out[8192];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "IDSRD_CONTROL='%s' '%s/idsrctl' status %s", h.ctl, harness_build(), args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	assert_int_equal(pclose(p), 0);
	return out;
}

/* A stalled idsrd (SIGSTOP): the VMM fills the ring (FP_RING_ENTRIES answers),
 * and the drain after SIGCONT finds it full, once; status counts that, the
 * records, no drop, and the region while the connection lasts. */
static void test_status_counters(void **state)
{
	const Idsr__V1__Status *st;
	struct idsr_conn *c;
	Frame *f;
	bool undef;

	harness_stop(&h);
	assert_int_equal(harness_start(&h, NULL), 0);	/* counters from 0 */
	c = connect_vm("counted");
	assert_int_equal(read1(c, HID1, &undef), 0x1111);	/* a round trip fills the table */
	f = harness_status(&h);
	assert_non_null(f);
	st = f->reply->status;
	assert_int_equal(st->fast_path_connections, 1);
	assert_int_equal(st->fast_path_records, 0);
	frame_free(f);

	assert_int_equal(kill(h.pid, SIGSTOP), 0);
	harness_wait_until(all_stopped(h.pid));
	assert_true(all_stopped(h.pid));
	for (int i = 0; i < FP_RING_ENTRIES; i++)
		assert_int_equal(read1(c, HID1, &undef), 0x1111);
	assert_int_equal(idsr_fast_answers(c), FP_RING_ENTRIES);	/* the ring is full, no access waits yet */
	assert_int_equal(kill(h.pid, SIGCONT), 0);
	idsr_close(c, "done");
	wait_ended("counted");

	f = harness_status(&h);
	assert_non_null(f);
	st = f->reply->status;
	assert_int_equal(st->fast_path_records, FP_RING_ENTRIES);
	assert_int_equal(st->fast_path_ring_full, 1);
	assert_int_equal(st->fast_path_dropped, 0);
	assert_int_equal(st->fast_path_connections, 0);
	frame_free(f);
	assert_non_null(strstr(status_out(""), "  fast path:    0 connections; 1024 records taken, 1 full-ring waits,"
				" 0 dropped\n"));
	assert_non_null(strstr(status_out("--json"), "\"fast_path_connections\": 0, \"fast_path_records\": 1024,"
				" \"fast_path_ring_full\": 1, \"fast_path_dropped\": 0"));
	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name = 'counted' AND value = 0x1111"), FP_RING_ENTRIES + 1);
}

/* ---- off: by the daemon, by the environment ------------------------------ */

static void test_off(void **state)
{
	struct idsr_conn *c;
	bool undef;

	setenv("IDSR_FAST_PATH", "0", 1);
	c = connect_vm("envoff");
	unsetenv("IDSR_FAST_PATH");
	for (int i = 0; i < 5; i++)
		assert_int_equal(read1(c, HID1, &undef), 0x1111);
	assert_int_equal(idsr_fast_answers(c), 0);
	idsr_close(c, NULL);

	/* the client's own switch */
	c = connect_vm("setoff");
	assert_int_equal(idsr_set_fast_path(c, false), 0);
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
			   " b.vm_name IN ('envoff', 'setoff', 'daemonoff') AND value = 0x1111"), 15);
}

/* ---- the record buffer: released by the commits idsrd publishes ------------ */

/* More fast-path answers than the library keeps (IDSR_RECORDS_DEFAULT): none
 * is released before its commit, and once idsrd is idle the buffer holds
 * only the access just made. Without the committed seq in the region, no
 * verdict would release them and they would overflow. */
static void test_committed_released(void **state)
{
	struct idsr_hello hello = { .vmm = "test_fast_path", .vm_name = "released", .vcpus = 1, .impl = "apple" };
	struct idsr_options opts = { .max_retries = 1 };
	const uint64_t n = IDSR_RECORDS_DEFAULT + 8000;
	struct idsr_conn *c = NULL;
	bool undef;

	assert_int_equal(idsr_connect_opts(h.sock, &hello, &opts, &c), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(read1(c, HID1, &undef), 0x1111);
	/* the first fills the table; a full ring makes a round trip (rare) */
	assert_true(idsr_fast_answers(c) > IDSR_RECORDS_DEFAULT);
	assert_int_equal(idsr_unprotected(c), 0);
	assert_true(idsr_uncommitted(c) < IDSR_RECORDS_DEFAULT);
	printf("# %llu answered, %llu by the fast path, %llu kept after the last\n", (unsigned long long)n,
	       (unsigned long long)idsr_fast_answers(c), (unsigned long long)idsr_uncommitted(c));
	/* every row committed, then published: the next access releases all before it */
	harness_wait_until(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			     " b.vm_name = 'released'") == (long long)n);
	for (int i = 0; i < 6000 && idsr_uncommitted(c) != 1; i++) {
		harness_sleep_ms(10);
		read1(c, HID1, &undef);
	}
	assert_int_equal(idsr_uncommitted(c), 1);
	assert_int_equal(idsr_unprotected(c), 0);
	idsr_close(c, "done");
	wait_ended("released");
	assert_int_equal(q("SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE"
			   " b.vm_name = 'released' AND value = 0x1111 AND seq < %llu", (unsigned long long)n), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_policy),
		cmocka_unit_test(test_lying_records),
		cmocka_unit_test(test_committed_released),
		cmocka_unit_test(test_status_counters),
		cmocka_unit_test(test_off),	/* last: it restarts idsrd with --no-fast-path */
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
