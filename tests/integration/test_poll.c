/* SPDX-License-Identifier: MIT */
/* The low-latency mode: idsrd --poll with clients that spin (idsr_set_spin) answer and log exactly as without. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0: storage */
#define HID1 0xc788u	/* s3_0_c15_c1_0: counter */
#define HID5 0xc7a8u	/* s3_0_c15_c5_0: the catch-all */
#define VCPUS 2
#define ACCESSES 3000	/* per vCPU */

static const char policy_text[] =
	"HID0_EL1 storage init=0x10\n"
	"s3_0_c15_c1_0 counter start=0x100 step=4\n"
	"* undef\n";

static struct harness h;

static int setup(void **state)
{
	const char *args[] = { "--poll=200", NULL };

	harness_init(&h, policy_text);
	if (harness_start(&h, args) < 0) {
		fprintf(stderr, "# idsrd --poll did not start; see %s\n", h.log);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static const uint8_t instance[16] = "itest-poll-inst1";

struct vcpu {
	uint32_t id;
	unsigned spin_us;
	int failures;
	uint64_t boot_id;
};

static int check(bool ok, const char *what, uint32_t vcpu, int i)
{
	if (!ok)
		fprintf(stderr, "# vCPU %u access %d: %s\n", vcpu, i, what);
	return ok ? 0 : 1;
}

/* Both vCPUs have said Hello before either says Bye: one done before the
 * other connected (a busy machine) would end the boot, and the late one
 * would start a second. */
static pthread_barrier_t both_joined;

/* Writes then reads HID0 (storage), reads HID1 (counter) and HID5 (UNDEF):
 * every answer is known in advance. */
static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct idsr_hello hello = { .vmm = "test_poll", .vm_name = "poll", .vcpus = VCPUS,
				    .instance = instance, .instance_len = 16 };
	struct idsr_conn *c;

	if (idsr_connect(h.sock, &hello, &c) < 0 || idsr_set_spin(c, v->spin_us) < 0) {
		fprintf(stderr, "# vCPU %u: %s\n", v->id, idsr_last_error());
		v->failures++;
		pthread_barrier_wait(&both_joined);
		return NULL;
	}
	pthread_barrier_wait(&both_joined);
	v->boot_id = idsr_boot_id(c);
	for (int i = 0; i < ACCESSES / 3; i++) {
		struct idsr_access w = { .vcpu = v->id, .key = HID0, .pc = 0x1000, .el = 1,
					 .is_write = true, .value = (uint64_t)i << 8 | v->id };
		struct idsr_access r = { .vcpu = v->id, .key = HID0, .pc = 0x1004, .el = 1 };
		struct idsr_access k = { .vcpu = v->id, .key = i % 2 ? HID5 : HID1, .pc = 0x1008, .el = 1 };
		struct idsr_verdict vw, vr, vk;

		if (idsr_access(c, &w, &vw) < 0 || idsr_access(c, &r, &vr) < 0 ||
		    idsr_access(c, &k, &vk) < 0) {
			fprintf(stderr, "# vCPU %u: %s\n", v->id, idsr_last_error());
			v->failures++;
			break;
		}
		v->failures += check(!vw.undef, "write to storage refused", v->id, i);
		v->failures += check(!vr.undef && vr.value == ((uint64_t)i << 8 | v->id),
				     "storage read back wrong", v->id, i);
		if (i % 2)
			v->failures += check(vk.undef, "catch-all not UNDEF", v->id, i);
		else
			v->failures += check(!vk.undef && vk.value == 0x100 + 4 * (uint64_t)(i / 2),
					     "counter out of step", v->id, i);
		v->failures += check(w.seq == 3 * (uint64_t)i && k.seq == 3 * (uint64_t)i + 2,
				     "seq numbering", v->id, i);
	}
	idsr_close(c, "done");
	return NULL;
}

/* Two vCPU threads, one spinning on its socket, one not: both against the
 * polling connection threads, every verdict and every logged row exact. */
static void test_poll_answers_and_logs(void **state)
{
	struct vcpu v[VCPUS] = { { .id = 0, .spin_us = 100 }, { .id = 1, .spin_us = 0 } };
	pthread_t t[VCPUS];

	pthread_barrier_init(&both_joined, NULL, VCPUS);
	for (int i = 0; i < VCPUS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, vcpu_main, &v[i]), 0);
	for (int i = 0; i < VCPUS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&both_joined);
	for (int i = 0; i < VCPUS; i++)
		assert_int_equal(v[i].failures, 0);
	assert_int_equal(v[0].boot_id, v[1].boot_id);
	/* Bye flushes: the rows are there once the boot has ended. */
	harness_wait_until(harness_queryf(&h, "SELECT count(*) FROM boots WHERE id = %llu"
						     " AND end_ns IS NOT NULL",
						     (unsigned long long)v[0].boot_id) == 1);
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM accesses WHERE boot_id = %llu",
					(unsigned long long)v[0].boot_id), VCPUS * ACCESSES);
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM accesses WHERE boot_id = %llu"
					" AND action = 'undef'", (unsigned long long)v[0].boot_id),
			 VCPUS * (ACCESSES / 6));
	assert_int_equal(harness_queryf(&h, "SELECT max(seq) FROM accesses WHERE boot_id = %llu"
					" AND vcpu = 1", (unsigned long long)v[0].boot_id), ACCESSES - 1);
}

/* A spin past the bound is refused with the reason; 0 turns it off. */
static void test_spin_bounds(void **state)
{
	struct idsr_hello hello = { .vmm = "test_poll", .vm_name = "bounds" };
	struct idsr_access a = { .vcpu = 0, .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c;

	assert_int_equal(idsr_connect(h.sock, &hello, &c), 0);
	assert_int_equal(idsr_set_spin(c, IDSR_SPIN_MAX_US + 1), -EINVAL);
	assert_non_null(strstr(idsr_last_error(), "over the limit"));
	assert_int_equal(idsr_set_spin(c, IDSR_SPIN_MAX_US), 0);
	assert_int_equal(idsr_access(c, &a, &v), 0);
	assert_false(v.undef);
	assert_int_equal(v.value, 0x100);
	assert_int_equal(idsr_set_spin(c, 0), 0);
	assert_int_equal(idsr_access(c, &a, &v), 0);
	assert_int_equal(v.value, 0x104);
	idsr_close(c, NULL);
}

/* Access and Verdict frames at their longest go out in one pass and read
 * back exactly; a buffer too small for their longest form still works. */
static void test_pack_longest_frames(void **state)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access acc = IDSR__V1__ACCESS__INIT;
	Idsr__V1__Verdict ver = IDSR__V1__VERDICT__INIT;
	uint8_t buf[128], small[40];
	Frame *back;
	int n;

	acc.seq = UINT64_MAX;
	acc.vcpu = UINT32_MAX;
	acc.key = UINT32_MAX;
	acc.pc = UINT64_MAX;
	acc.el = UINT32_MAX;
	acc.is_write = true;
	acc.value = UINT64_MAX;
	f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	f.access = &acc;
	n = frame_pack(&f, buf, sizeof(buf));
	assert_int_equal(n, FRAME_HEADER + (int)protobuf_c_message_get_packed_size(&f.base));
	assert_int_equal(n, 4 + 2 + 11 + 6 + 6 + 11 + 6 + 2 + 11);
	back = frame_unpack(buf + FRAME_HEADER, (size_t)n - FRAME_HEADER);
	assert_non_null(back);
	assert_true(back->access->seq == UINT64_MAX && back->access->pc == UINT64_MAX &&
		    back->access->value == UINT64_MAX && back->access->el == UINT32_MAX);
	frame_free(back);

	ver.seq = 7;
	ver.vcpu = 3;
	ver.action = IDSR__V1__ACTION__UNDEF;
	f.body_case = IDSR__V1__FRAME__BODY_VERDICT;
	f.verdict = &ver;
	n = frame_pack(&f, small, sizeof(small));
	assert_int_equal(n, 4 + 2 + 2 + 2 + 2);
	assert_memory_equal(small, "\x08\x00\x00\x00\x22\x06\x08\x07\x10\x03\x18\x01", 12);
	/* 12 bytes: less than a Verdict's longest form, enough for this one */
	assert_int_equal(frame_pack(&f, small, 12), 12);
	assert_int_equal(frame_pack(&f, small, 11), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poll_answers_and_logs),
		cmocka_unit_test(test_spin_bounds),
		cmocka_unit_test(test_pack_longest_frames),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
