/* SPDX-License-Identifier: MIT */
/* Reconnect: idsrd restarts (or dies) under running vCPUs; the client library resumes the same boot. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <dirent.h>
#include <sys/syscall.h>

#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID1 0xc788u	/* s3_0_c15_c1_0: reads 0x1111 */
#define HID2 0xc790u	/* s3_0_c15_c2_0: writes ignored */
#define VCPUS 2

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

static void guest_abandon(void);

static int teardown(void **state)
{
	guest_abandon();
	harness_cleanup(&h);
	return 0;
}

#define q(...) harness_queryf(&h, __VA_ARGS__)

/* ---- vCPU threads that keep going while the daemon restarts ----------------- */

struct guest {
	uint8_t instance[IDSR_INSTANCE_LEN];
	atomic_bool stop;
	struct idsr_options opts;
	struct vcpu {
		pthread_t thread;
		uint32_t index;
		struct guest *g;
		atomic_ullong answered;
		atomic_ullong reconnected;	/* idsr_reconnects so far */
		uint64_t wrong, failed, fallbacks, reconnects, unprotected, fast;
		uint64_t boot_first, boot_last;
	} cpu[VCPUS];
	uint32_t started;	/* threads to join */
};

/* The guest of the running test: not on its stack, since a failed assertion
 * leaves the test (cmocka longjmps) while the vCPU threads still use it; the
 * teardown stops and joins them. */
static struct guest guest;

static void *vcpu_thread(void *arg)
{
	struct vcpu *cpu = arg;
	struct idsr_hello hello = { .vmm = "test_reconnect", .vm_name = "restarted", .vcpus = VCPUS,
				    .instance = cpu->g->instance, .instance_len = IDSR_INSTANCE_LEN };
	struct idsr_conn *c;

	if (idsr_connect_opts(h.sock, &hello, &cpu->g->opts, &c) < 0) {
		fprintf(stderr, "# connect: %s\n", idsr_last_error());
		cpu->failed++;
		return NULL;
	}
	cpu->boot_first = idsr_boot_id(c);
	for (uint64_t i = 0; !atomic_load(&cpu->g->stop); i++) {
		bool wr = i % 2;
		struct idsr_access a = { .vcpu = cpu->index, .key = wr ? HID2 : HID1, .pc = 0x4000 + i % 16,
					 .el = 1, .is_write = wr, .value = i };
		struct idsr_verdict v;

		if (idsr_access(c, &a, &v) < 0) {
			fprintf(stderr, "# vCPU %u: %s\n", cpu->index, idsr_last_error());
			cpu->failed++;
			break;
		}
		cpu->wrong += v.undef || (!wr && v.value != 0x1111);
		atomic_fetch_add(&cpu->answered, 1);
		atomic_store(&cpu->reconnected, idsr_reconnects(c));
	}
	cpu->fallbacks = idsr_fallbacks(c);
	cpu->reconnects = idsr_reconnects(c);
	cpu->unprotected = idsr_unprotected(c);
	cpu->fast = idsr_fast_answers(c);
	cpu->boot_last = idsr_boot_id(c);
	idsr_close(c, "done");
	return NULL;
}

static void guest_start(struct guest *g, const char *inst)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->instance, inst, strlen(inst) < IDSR_INSTANCE_LEN ? strlen(inst) : IDSR_INSTANCE_LEN);
	/* rides out a restart of up to a minute: idsrd's start after a crash
	 * (recovery, cut-off boots) can take seconds on a busy machine */
	g->opts = (struct idsr_options){ .max_retries = 600, .backoff_ms = 5, .backoff_max_ms = 100,
					 .wait_ms = 60000 };
	for (uint32_t v = 0; v < VCPUS; v++) {
		g->cpu[v].index = v;
		g->cpu[v].g = g;
		if (pthread_create(&g->cpu[v].thread, NULL, vcpu_thread, &g->cpu[v]) != 0)
			fail_msg("pthread_create: vCPU %u", v);
		g->started = v + 1;
	}
}

static bool guest_answered(struct guest *g, unsigned long long n)
{
	for (int v = 0; v < VCPUS; v++)
		if (atomic_load(&g->cpu[v].answered) < n)
			return false;
	return true;
}

static void guest_wait_answers(struct guest *g, unsigned long long n)
{
	harness_wait_until(guest_answered(g, n));
	if (!guest_answered(g, n))
		fail_msg("the vCPUs did not reach %llu answers", n);
}

/*
 * After a restart: every vCPU has reconnected, then answered n more. Answers
 * alone do not say it, since the fast path answers into a dead idsrd's ring
 * until it is full. And each vCPU by its own count: they run thousands of
 * accesses apart on a busy machine, and each reconnects when its own backoff
 * comes due. Waiting for all to pass the first vCPU's count let the test stop
 * while a vCPU ahead still waited to reconnect: the others' Bye ended the
 * boot (its last connection had left), and that vCPU, refused the resume,
 * started a new boot and released its records as unprotected.
 */
static void guest_wait_reconnected(struct guest *g, unsigned long long n)
{
	unsigned long long after[VCPUS];

	for (int v = 0; v < VCPUS; v++) {
		harness_wait_until(atomic_load(&g->cpu[v].reconnected) >= 1);
		if (atomic_load(&g->cpu[v].reconnected) < 1)
			fail_msg("vCPU %d did not reconnect", v);
	}
	for (int v = 0; v < VCPUS; v++)
		after[v] = atomic_load(&g->cpu[v].answered) + n;
	for (int v = 0; v < VCPUS; v++) {
		harness_wait_until(atomic_load(&g->cpu[v].answered) >= after[v]);
		if (atomic_load(&g->cpu[v].answered) < after[v])
			fail_msg("vCPU %d did not reach %llu answers", v, after[v]);
	}
}

static void guest_join(struct guest *g)
{
	atomic_store(&g->stop, true);
	for (uint32_t v = 0; v < g->started; v++)
		pthread_join(g->cpu[v].thread, NULL);
	g->started = 0;
}

/* After a failure: idsrd stops, so that a vCPU waiting on it falls back. */
static void guest_abandon(void)
{
	if (!guest.started)
		return;
	atomic_store(&guest.stop, true);
	harness_stop(&h);
	guest_join(&guest);
}

static void guest_stop(struct guest *g)
{
	guest_join(g);
	for (int v = 0; v < VCPUS; v++) {
		if (g->cpu[v].failed || g->cpu[v].wrong || g->cpu[v].fallbacks || g->cpu[v].reconnects != 1 ||
		    g->cpu[v].unprotected || g->cpu[v].boot_last != g->cpu[v].boot_first) {
			fprintf(stderr, "# vCPU %d: %llu reconnects, %llu failures, %llu wrong, %llu fallbacks,"
				" %llu unprotected, boot %llu then %llu\n", v,
				(unsigned long long)g->cpu[v].reconnects, (unsigned long long)g->cpu[v].failed,
				(unsigned long long)g->cpu[v].wrong, (unsigned long long)g->cpu[v].fallbacks,
				(unsigned long long)g->cpu[v].unprotected, (unsigned long long)g->cpu[v].boot_first,
				(unsigned long long)g->cpu[v].boot_last);
			harness_dump_log(&h);
		}
		assert_int_equal(g->cpu[v].failed, 0);
		assert_int_equal(g->cpu[v].wrong, 0);
		assert_int_equal(g->cpu[v].fallbacks, 0);
		assert_int_equal(g->cpu[v].reconnects, 1);
		assert_int_equal(g->cpu[v].unprotected, 0);
		/* the same boot before and after */
		assert_int_equal(g->cpu[v].boot_last, g->cpu[v].boot_first);
	}
}

/* Waits for the boot's end as its VMM said it (reason). Not for any end:
 * after a kill -9 the next idsrd marks the boot cut off at start, and the
 * resume that clears that mark is committed by its writer later, so the
 * cut-off end can be read after the VMM has already left. */
static void wait_boot_ended(uint64_t boot, const char *reason)
{
	harness_wait_until(q("SELECT count(*) FROM boots WHERE id = %llu AND end_reason = '%s'",
			     (unsigned long long)boot, reason) >= 1);
}

/* One boot, rows 0..n-1 per vCPU; n within [min, max] of the answers. */
static void assert_one_continuous_boot(const struct guest *g, long long lost_max)
{
	uint64_t boot = g->cpu[0].boot_first;

	wait_boot_ended(boot, "done");
	assert_int_equal(q("SELECT count(*) FROM boots WHERE vm_name = 'restarted'"), 1);
	{
		char sql[128], *reason;

		snprintf(sql, sizeof(sql), "SELECT end_reason FROM boots WHERE id = %llu", (unsigned long long)boot);
		reason = harness_query_text(&h, sql);
		if (!reason || strcmp(reason, "done"))
			harness_dump_log(&h);
		assert_non_null(reason);
		assert_string_equal(reason, "done");
		free(reason);
	}
	for (int v = 0; v < VCPUS; v++) {
		long long n = q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND vcpu = %d",
				(unsigned long long)boot, v);
		long long answered = (long long)atomic_load(&g->cpu[v].answered);

		printf("# vCPU %d: %lld answered, %lld rows\n", v, answered, n);
		assert_int_equal(q("SELECT max(seq) + 1 FROM accesses WHERE boot_id = %llu AND vcpu = %d",
				   (unsigned long long)boot, v), n);
		/* an access in flight at the stop may be logged and then sent again */
		assert_true(n <= answered + 1);
		assert_true(n >= answered - lost_max);
	}
	assert_int_equal(q("SELECT accesses FROM boots WHERE id = %llu", (unsigned long long)boot),
			 q("SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)boot));
	/* and every row is what the policy answered */
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND action = 'emulate'"
			   " AND ((key = 51080 AND is_write = 0 AND value = 4369) OR (key = 51088 AND is_write = 1))",
			   (unsigned long long)boot),
			 q("SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)boot));
}

static void test_restart_resumes(void **state)
{
	struct guest *g = &guest;

	guest_start(g, "restart-sigterm");
	guest_wait_answers(g, 500);
	assert_int_equal(harness_stop(&h), 0);
	assert_int_equal(q("SELECT count(*) FROM boots WHERE end_reason = 'idsrd stopped while the VMM was"
			   " connected'"), 1);
	harness_sleep_ms(200);		/* the vCPUs wait for it */
	assert_int_equal(harness_start(&h, NULL), 0);
	guest_wait_reconnected(g, 500);
	guest_stop(g);
	assert_one_continuous_boot(g, 0);
	assert_int_equal(q("SELECT count(*) FROM boot_policies WHERE boot_id = %llu",
			   (unsigned long long)g->cpu[0].boot_first), 2);
}

static void test_crash_resumes(void **state)
{
	struct guest *g = &guest;

	guest_start(g, "restart-sigkill");
	guest_wait_answers(g, 3000);
	/* the fast path is on (the default): the kill comes with records in
	 * flight, and the vCPUs go on answering from the table into the dead
	 * idsrd's ring until it is full */
	kill(h.pid, SIGKILL);
	waitpid(h.pid, NULL, 0);
	h.pid = 0;
	harness_sleep_ms(100);
	assert_int_equal(harness_start(&h, NULL), 0);
	guest_wait_reconnected(g, 500);
	guest_stop(g);
	/* the rows the kill took from the store, and the records no idsrd took,
	 * came back from the vCPUs' records */
	assert_one_continuous_boot(g, 0);
	for (int v = 0; v < VCPUS; v++) {
		printf("# vCPU %d: %llu answered by the fast path\n", v, (unsigned long long)g->cpu[v].fast);
		assert_true(g->cpu[v].fast > 0);
	}
	printf("# %lld rows re-sent after the kill\n",
	       q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND rule = -5",
		 (unsigned long long)g->cpu[0].boot_first));
}

/* Another VM's round trips, so that idsrd's writer is always busy: a new
 * boot's record then waits behind a batch of them. Until idsrd dies. */
static void *flood_thread(void *arg)
{
	atomic_bool *stop = arg;
	struct idsr_hello hello = { .vmm = "test_reconnect", .vm_name = "flood", .vcpus = 1 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c;

	if (idsr_connect(h.sock, &hello, &c) < 0)
		return NULL;
	idsr_set_fast_path(c, false);
	while (!atomic_load(stop) && idsr_access(c, &a, &v) == 0)
		;
	idsr_close(c, "flooded");
	return NULL;
}

/* A kill right after the Welcome, while idsrd's writer is busy with another
 * VM's rows: the boot's record is in the file all the same (idsrd sends no
 * Welcome before it is), so the VMM resumes the boot and loses nothing.
 * (Before, the kill often found the record not yet committed: `no such boot',
 * and the VMM started a second boot.) */
static void test_crash_right_after_hello(void **state)
{
	struct idsr_hello hello = { .vmm = "test_reconnect", .vm_name = "early", .vcpus = 1,
				    .instance = (const uint8_t *)"restart-early", .instance_len = 13 };
	struct idsr_options opts = { .max_retries = 600, .backoff_ms = 5, .backoff_max_ms = 100,
				     .wait_ms = 60000 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c;
	atomic_bool stop = false;
	pthread_t flood;
	uint64_t boot;

	assert_int_equal(pthread_create(&flood, NULL, flood_thread, &stop), 0);
	harness_wait_until(q("SELECT count(*) FROM accesses") >= 1000);
	assert_int_equal(idsr_connect_opts(h.sock, &hello, &opts, &c), 0);
	kill(h.pid, SIGKILL);
	waitpid(h.pid, NULL, 0);
	h.pid = 0;
	atomic_store(&stop, true);
	pthread_join(flood, NULL);
	boot = idsr_boot_id(c);
	assert_int_equal(q("SELECT count(*) FROM boots WHERE vm_name = 'early' AND id = %llu",
			   (unsigned long long)boot), 1);
	assert_int_equal(harness_start(&h, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(idsr_access(c, &a, &v), 0);
		assert_int_equal(v.value, 0x1111);
	}
	assert_int_equal(idsr_reconnects(c), 1);
	assert_int_equal(idsr_fallbacks(c), 0);
	assert_int_equal(idsr_boot_id(c), boot);
	idsr_close(c, "done");
	wait_boot_ended(boot, "done");
	assert_int_equal(q("SELECT count(*) FROM boots WHERE vm_name = 'early'"), 1);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND key = %u AND value = 4369",
			   (unsigned long long)boot, HID1), 3);
	assert_int_equal(q("SELECT max(seq) FROM accesses WHERE boot_id = %llu", (unsigned long long)boot), 2);
}

/* ---- a vCPU back after the boot ended ------------------------------------------ */

/* One connection a vCPU (as idsr-vmm and the guest above): after a restart,
 * vCPU 0 resumes the boot and says Bye before vCPU 1 is back. The Bye ended
 * the boot (its last connection left), so vCPU 1's resume is refused: its
 * library starts a new boot and releases its records as unprotected. What a
 * test that stops its vCPUs before each has reconnected sees. */
static void test_back_after_boot_ended(void **state)
{
	const uint8_t *inst = (const uint8_t *)"sibling-ended";
	struct idsr_hello hello = { .vmm = "test_reconnect", .vm_name = "sibling", .vcpus = 2,
				    .instance = inst, .instance_len = 13 };
	struct idsr_options opts = { .max_retries = 600, .backoff_ms = 5, .backoff_max_ms = 100,
				     .wait_ms = 60000 };
	struct idsr_access a0 = { .vcpu = 0, .key = HID1, .el = 1 }, a1 = { .vcpu = 1, .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c0, *c1;
	uint64_t boot, other, held;

	assert_int_equal(idsr_connect_opts(h.sock, &hello, &opts, &c0), 0);
	assert_int_equal(idsr_connect_opts(h.sock, &hello, &opts, &c1), 0);
	/* round trips: a fast-path answer would come from the dead idsrd's ring */
	idsr_set_fast_path(c0, false);
	idsr_set_fast_path(c1, false);
	boot = idsr_boot_id(c0);
	assert_int_equal(idsr_boot_id(c1), boot);
	for (int i = 0; i < 3; i++)
		assert_int_equal(idsr_access(c0, &a0, &v), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(idsr_access(c1, &a1, &v), 0);
	held = idsr_uncommitted(c1);
	assert_int_equal(harness_stop(&h), 0);		/* the boot is cut off: resumable */
	assert_int_equal(harness_start(&h, NULL), 0);

	assert_int_equal(idsr_access(c0, &a0, &v), 0);
	assert_int_equal(v.value, 0x1111);
	assert_int_equal(idsr_reconnects(c0), 1);
	assert_int_equal(idsr_boot_id(c0), boot);
	idsr_close(c0, "done");
	wait_boot_ended(boot, "done");

	assert_int_equal(idsr_access(c1, &a1, &v), 0);
	assert_false(v.undef);
	assert_int_equal(v.value, 0x1111);
	assert_int_equal(a1.seq, 0);			/* the new boot's first */
	assert_int_equal(idsr_reconnects(c1), 1);
	assert_int_equal(idsr_fallbacks(c1), 0);
	printf("# vCPU 1 released %llu records as unprotected\n", (unsigned long long)held);
	assert_int_equal(idsr_unprotected(c1), held);
	other = idsr_boot_id(c1);
	assert_true(other != boot);
	assert_true(harness_log_has(&h, "cannot resume boot"));
	idsr_close(c1, "done");
	wait_boot_ended(other, "done");
	/* the old boot: vCPU 0's 4, vCPU 1's 5 before the stop; the new one: vCPU 1's last */
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND vcpu = 0",
			   (unsigned long long)boot), 4);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND vcpu = 1",
			   (unsigned long long)boot), 5);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND vcpu = 1 AND seq = 0",
			   (unsigned long long)other), 1);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)other), 1);
	assert_int_equal(q("SELECT count(*) FROM boots WHERE vm_name = 'sibling'"), 2);
}

/* ---- the fallback while idsrd is away ---------------------------------------- */

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_fallback(void **state)
{
	struct idsr_hello hello = { .vmm = "test_reconnect", .vm_name = "fallback", .vcpus = 1 };
	/* Which ends each wait is set by counts, not by a race of the two: c1's
	 * three tries (10 + 20 ms of backoff) run out long before its minute,
	 * and c2's 100 ms pass long before its 100000 tries (at least 30 min).
	 * With c1's wait at 150 ms, a busy machine let the wait pass before the
	 * tries: c1 kept tries, and reconnected below. The bounds tell the two
	 * ends apart with a wide margin either way. */
	struct idsr_options raz = { .max_retries = 3, .backoff_ms = 10, .backoff_max_ms = 20,
				    .wait_ms = 60000, .fallback = IDSR_FALLBACK_RAZ };
	struct idsr_options undef = { .max_retries = 100000, .backoff_ms = 10, .backoff_max_ms = 20,
				      .wait_ms = 100 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c1, *c2;
	struct timespec t0;
	int64_t waited;

	assert_int_equal(idsr_connect_opts(h.sock, &hello, &raz, &c1), 0);
	assert_int_equal(idsr_connect_opts(h.sock, &hello, &undef, &c2), 0);
	assert_int_equal(idsr_access(c1, &a, &v), 0);
	assert_false(v.undef);
	assert_int_equal(v.value, 0x1111);
	assert_int_equal(harness_stop(&h), 0);

	/* RAZ: the first access waits for the three tries, then reads 0 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(idsr_access(c1, &a, &v), 0);
	waited = ms_since(&t0);
	assert_false(v.undef);
	assert_int_equal(v.value, 0);
	assert_int_equal(a.seq, UINT64_MAX);
	assert_false(idsr_connected(c1));
	printf("# RAZ fallback after %lld ms\n", (long long)waited);
	assert_true(waited >= 30 && waited < 30000);
	/* the next ones do not wait (for the minute) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(idsr_access(c1, &a, &v), 0);
		assert_int_equal(v.value, 0);
	}
	assert_true(ms_since(&t0) < 30000);
	assert_int_equal(idsr_fallbacks(c1), 11);

	/* UNDEF, the default: waits wait_ms, then UNDEF */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(idsr_access(c2, &a, &v), 0);
	waited = ms_since(&t0);
	assert_true(v.undef);
	printf("# UNDEF fallback after %lld ms\n", (long long)waited);
	assert_true(waited >= 100 && waited < 30000);

	/* back again: c2 has retries left and reconnects (its next is due: the
	 * backoff is 20 ms at most); c1 used its three up */
	assert_int_equal(harness_start(&h, NULL), 0);
	harness_sleep_ms(50);
	assert_int_equal(idsr_access(c2, &a, &v), 0);
	assert_false(v.undef);
	assert_int_equal(v.value, 0x1111);
	assert_true(idsr_connected(c2));
	assert_int_equal(idsr_reconnects(c2), 1);
	assert_int_equal(idsr_access(c1, &a, &v), 0);
	assert_int_equal(v.value, 0);
	assert_false(idsr_connected(c1));
	idsr_close(c1, NULL);
	idsr_close(c2, NULL);
}

/* ---- what a resume may not do ---------------------------------------------- */

static char *hello_error(uint64_t resume, const char *instance)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	struct frame_reader r;
	Frame *reply = NULL;
	char *msg = NULL;
	int fd = harness_raw_connect(&h);

	assert_true(fd >= 0);
	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.vm_name = "resumer";
	hello.instance.data = (uint8_t *)instance;
	hello.instance.len = strlen(instance);
	hello.resume_boot = resume;
	f.body_case = IDSR__V1__FRAME__BODY_HELLO;
	f.hello = &hello;
	frame_reader_init(&r);
	assert_int_equal(frame_send(fd, &f), 0);
	if (frame_recv(fd, &r, &reply) == 0 && reply->body_case == IDSR__V1__FRAME__BODY_ERROR)
		msg = strdup(reply->error->message);
	frame_free(reply);
	frame_reader_free(&r);
	close(fd);
	return msg;
}

static void test_resume_refused(void **state)
{
	struct idsr_hello hello = { .vm_name = "ended", .vcpus = 1,
				    .instance = (const uint8_t *)"ended-instance", .instance_len = 14 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c;
	char expect[256], *msg;
	uint64_t boot;

	assert_int_equal(idsr_connect(h.sock, &hello, &c), 0);
	assert_int_equal(idsr_access(c, &a, &v), 0);
	boot = idsr_boot_id(c);
	/* in progress, but another VM run's */
	msg = hello_error(boot, "someone-else");
	snprintf(expect, sizeof(expect), "cannot start a boot: cannot resume boot %llu: it is another VM"
		 " run's (the Hello's instance differs from the boot's)", (unsigned long long)boot);
	assert_non_null(msg);
	assert_string_equal(msg, expect);
	free(msg);
	idsr_close(c, "finished");
	wait_boot_ended(boot, "finished");
	/* ended by its VMM: not resumable */
	msg = hello_error(boot, "ended-instance");
	snprintf(expect, sizeof(expect), "cannot start a boot: cannot resume boot %llu: it ended (finished);"
		 " only a boot cut off by an idsrd crash or stop can be resumed", (unsigned long long)boot);
	assert_non_null(msg);
	assert_string_equal(msg, expect);
	free(msg);
	msg = hello_error(999999, "ended-instance");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "cannot resume boot 999999: no such boot in "));
	free(msg);
	/* the daemon lives on */
	assert_int_equal(kill(h.pid, 0), 0);
}

/* ---- a resume reads the database without boots_lock ---------------------- */

struct resumer {
	uint64_t boot;
	atomic_bool done;
	int body;			/* the answer's Frame body */
};

static void *resume_thread(void *arg)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	struct resumer *r = arg;
	struct frame_reader rd;
	Frame *reply = NULL;
	int fd = harness_raw_connect(&h);

	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.vm_name = "locked";
	hello.vcpus = 1;
	hello.instance.data = (uint8_t *)"locked-instance";
	hello.instance.len = 15;
	hello.resume_boot = r->boot;
	f.body_case = IDSR__V1__FRAME__BODY_HELLO;
	f.hello = &hello;
	frame_reader_init(&rd);
	if (fd >= 0 && frame_send(fd, &f) == 0 && frame_recv(fd, &rd, &reply) == 0)
		r->body = reply->body_case;
	frame_free(reply);
	frame_reader_free(&rd);
	if (fd >= 0)
		close(fd);
	atomic_store(&r->done, true);
	return NULL;
}

/* Whether one of pid's threads named name is in system call nr now. */
static bool thread_in_syscall(pid_t pid, const char *name, long nr)
{
	char path[320], comm[32];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && !found && (e = readdir(d))) {
		FILE *f;
		long now = -1;

		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		if (e->d_name[0] == '.' || !(f = fopen(path, "r")))
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)pid, e->d_name);
		if (strcmp(comm, name) || !(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%ld", &now) != 1)
			now = -1;
		fclose(f);
		found = now == nr;
	}
	if (d)
		closedir(d);
	return found;
}

/* Polls thread_in_syscall for up to 10 s. */
static bool wait_thread_in_syscall(pid_t pid, const char *name, long nr)
{
	for (int i = 0; i < 1000; i++) {
		if (thread_in_syscall(pid, name, nr))
			return true;
		harness_sleep_ms(10);
	}
	return false;
}

/* A resume flushes the store, then reads the boot back from the database.
 * With another process holding the database's write lock the writer waits
 * SQLite's busy timeout (5 s), and the flush with it. Done under boots_lock,
 * that stalled status (and every Hello, and the main loop) as long. */
static void test_resume_while_database_locked(void **state)
{
	struct idsr_hello hello = { .vm_name = "locked", .vcpus = 1,
				    .instance = (const uint8_t *)"locked-instance", .instance_len = 15 };
	struct idsr_hello other = { .vm_name = "other", .vcpus = 1 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct resumer r = { 0 };
	struct idsr_verdict v;
	struct idsr_conn *c, *o;
	pthread_t t;
	sqlite3 *db;
	Frame *st;

	assert_int_equal(idsr_connect(h.sock, &hello, &c), 0);
	assert_int_equal(idsr_access(c, &a, &v), 0);
	r.boot = idsr_boot_id(c);
	assert_int_equal(harness_stop(&h), 0);		/* the boot is cut off: resumable */
	idsr_close(c, NULL);
	assert_int_equal(harness_start(&h, NULL), 0);

	/* Another process writes: the store's writer waits for it with a new boot queued. */
	assert_int_equal(sqlite3_open(h.db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(idsr_connect(h.sock, &other, &o), 0);
	assert_true(wait_thread_in_syscall(h.pid, "idsrd-store", SYS_clock_nanosleep));
	/* The resume's flush waits for that writer (on a condition variable). */
	assert_int_equal(pthread_create(&t, NULL, resume_thread, &r), 0);
	assert_true(wait_thread_in_syscall(h.pid, "idsrd-vmm", SYS_futex));
	/* status answers meanwhile */
	st = harness_status(&h);
	assert_non_null(st);
	assert_false(atomic_load(&r.done));
	frame_free(st);

	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	pthread_join(t, NULL);
	assert_int_equal(r.body, IDSR__V1__FRAME__BODY_WELCOME);
	assert_true(harness_log_has(&h, "resumed by pid"));
	idsr_close(o, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_right_after_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_back_after_boot_ended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_while_database_locked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
