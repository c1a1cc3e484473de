/* SPDX-License-Identifier: MIT */
/* Load: 64 VMM connections x 100k accesses (make stress; scaled down in make check), every verdict checked. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "harness.h"
#include "idsr_client.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0: storage */
#define HID1 0xc788u	/* s3_0_c15_c1_0: value 0x1111 */
#define HID3 0xc798u	/* s3_0_c15_c3_0: counter */
#define HID5 0xc7a8u	/* s3_0_c15_c5_0: the catch-all, UNDEF */
#define PER_ITER 5
#define VCPUS_PER_VM 8

static const char policy_text[] =
	"impl apple\n"
	"HID0_EL1            storage init=0x10\n"
	"HID1                read  value 0x1111\n"
	"s3_0_c15_c3_0       counter start=0x100 step=4\n"
	"*                   undef\n";

static struct harness h;
static unsigned nconn, per_conn;	/* connections, accesses per connection */

struct conn_run {
	unsigned index;
	uint64_t wrong;			/* verdicts that are not what the policy says */
	int failed;			/* a call failed */
	uint64_t boot_id;
};

static bool check(struct idsr_conn *c, struct conn_run *r, uint32_t vcpu, uint32_t key, bool wr,
		  uint64_t value, bool want_undef, uint64_t want)
{
	struct idsr_access a = { .vcpu = vcpu, .key = key, .pc = 0xffff800010000000ull + key, .el = 1,
				 .is_write = wr, .value = value };
	struct idsr_verdict v;

	if (idsr_access(c, &a, &v) < 0) {
		if (!r->failed++)
			fprintf(stderr, "# connection %u: %s\n", r->index, idsr_last_error());
		return false;
	}
	r->wrong += v.undef != want_undef || (!wr && !v.undef && v.value != want);
	return true;
}

/* Every connection has said Hello before any says Bye: a vCPU done before
 * another of its VM connected (a busy machine) would end the VM's boot, and
 * the late one would start a second. */
static pthread_barrier_t all_joined;

static void *conn_thread(void *arg)
{
	struct conn_run *r = arg;
	uint8_t instance[IDSR_INSTANCE_LEN] = "stress-vm-00000";
	uint32_t vcpu = r->index % VCPUS_PER_VM;
	struct idsr_hello hello = { .vmm = "test_stress", .vm_name = "stress", .vcpus = VCPUS_PER_VM,
				    .instance = instance, .instance_len = sizeof(instance), .impl = "apple" };
	struct idsr_conn *c;

	instance[14] = (uint8_t)('a' + r->index / VCPUS_PER_VM);
	if (idsr_connect(h.sock, &hello, &c) < 0) {
		fprintf(stderr, "# connect %u: %s\n", r->index, idsr_last_error());
		r->failed++;
		pthread_barrier_wait(&all_joined);
		return NULL;
	}
	r->boot_id = idsr_boot_id(c);
	pthread_barrier_wait(&all_joined);
	for (uint64_t i = 0; i < per_conn / PER_ITER; i++) {
		uint64_t mine = (uint64_t)vcpu << 40 | i;

		if (!check(c, r, vcpu, HID1, false, 0, false, 0x1111) ||
		    !check(c, r, vcpu, HID0, true, mine, false, 0) ||
		    !check(c, r, vcpu, HID0, false, 0, false, mine) ||
		    !check(c, r, vcpu, HID3, false, 0, false, 0x100 + 4 * i) ||
		    !check(c, r, vcpu, HID5, false, 0, true, 0))
			break;
	}
	if (idsr_close(c, "stress done") < 0)
		r->failed++;
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_load(void **state)
{
	pthread_t *t = calloc(nconn, sizeof(*t));
	struct conn_run *r = calloc(nconn, sizeof(*r));
	unsigned nvm = (nconn + VCPUS_PER_VM - 1) / VCPUS_PER_VM;
	long long total = (long long)nconn * per_conn, hwm;
	double t0 = now_s(), secs;
	char sql[512];

	assert_non_null(t);
	assert_non_null(r);
	assert_int_equal(pthread_barrier_init(&all_joined, NULL, nconn), 0);
	for (unsigned i = 0; i < nconn; i++) {
		r[i].index = i;
		assert_int_equal(pthread_create(&t[i], NULL, conn_thread, &r[i]), 0);
	}
	for (unsigned i = 0; i < nconn; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&all_joined);
	secs = now_s() - t0;
	hwm = harness_proc_kb(h.pid, "VmHWM");
	printf("# %u connections x %u accesses = %lld in %.1f s (%.0f accesses/s); idsrd VmHWM %lld KiB\n",
	       nconn, per_conn, total, secs, (double)total / secs, hwm);
	for (unsigned i = 0; i < nconn; i++) {
		assert_int_equal(r[i].failed, 0);
		assert_int_equal(r[i].wrong, 0);
	}
	/* The last Bye of each VM ends its boot; a clean stop flushes every row. */
	assert_int_equal(harness_stop(&h), 0);
	printf("# flushed and stopped %.1f s after the start\n", now_s() - t0);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name = 'stress'"), nvm);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses"), total);
	assert_int_equal(harness_query_int(&h, "SELECT sum(accesses) FROM boots WHERE vm_name = 'stress'"), total);
	assert_int_equal(harness_query_int(&h, "SELECT sum(rows_dropped) FROM boots"), 0);
	assert_int_equal(harness_query_int(&h, "SELECT sum(undefs) FROM boots"), total / PER_ITER);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE end_reason = 'stress done'"), nvm);
	/* per (boot, vCPU): seq 0..n-1, no gap, no repeat (the primary key forbids repeats) */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT boot_id, vcpu, count(*) n, min(seq) lo,"
		 " max(seq) hi FROM accesses GROUP BY boot_id, vcpu) WHERE lo = 0 AND hi = n - 1 AND n = %u",
		 per_conn);
	assert_int_equal(harness_query_int(&h, sql), nconn);
	/* what was logged is what was answered */
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses WHERE key = 51080 AND value = 4369"),
			 total / PER_ITER);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses WHERE key = 51096"
					       " AND value = 256 + 4 * (seq / 5)"), total / PER_ITER);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses WHERE key = 51072 AND is_write = 0"
					       " AND value = (vcpu << 40) + seq / 5"), total / PER_ITER);
	/* RSS stays bounded: the queue and per-connection buffers, not the trace */
	assert_true(hwm > 0);
	assert_true(HARNESS_RSS_UNBOUNDED || hwm < 64 * 1024);
	free(t);
	free(r);
}

static int setup(void **state)
{
	bool full = getenv("IDSR_STRESS") && !strcmp(getenv("IDSR_STRESS"), "full");

	bool slow = getenv("IDSR_SLOW") != NULL;	/* under valgrind */

	nconn = full ? 64 : slow ? 8 : 16;
	per_conn = full ? 100000 : slow ? 500 : 5000;
	harness_init(&h, policy_text);
	return harness_start(&h, NULL);
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
