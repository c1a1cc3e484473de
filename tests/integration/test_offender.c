/* SPDX-License-Identifier: MIT */
/* Protocol errors cost only their offender: its process is slowed, the VMMs of the same uid are all served. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "frame.h"
#include "harness.h"
#include "idsr_client.h"
#include "idsrd/penalty.h"

#define HID1 0xc788u	/* s3_0_c15_c1_0: reads 0x1111 */
#define HOSTILE 200	/* bad inputs, twice the default --max-errors */
#define NEIGHBOURS 32	/* VMMs of the same uid, at once */
#define ACCESSES 500	/* each */

static const char policy_text[] = "impl apple\nHID1 read value 0x1111\n* undef\n";
static struct harness h;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* The i-th hostile input, each a protocol error that closes its connection. */
static size_t hostile_input(int i, uint8_t *buf, size_t cap)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	Idsr__V1__Access a = IDSR__V1__ACCESS__INIT;
	int n;

	switch (i % 4) {
	case 0:		/* a frame of length 0 */
		memset(buf, 0, FRAME_HEADER);
		return FRAME_HEADER;
	case 1:		/* a length past FRAME_MAX */
		memset(buf, 0xff, FRAME_HEADER);
		return FRAME_HEADER;
	case 2:		/* an Access before any Hello */
		a.key = HID1;
		f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
		f.access = &a;
		break;
	default:	/* a Hello of another protocol version */
		hello.protocol = IDSR_PROTOCOL_VERSION + 7;
		hello.vcpus = 1;
		f.body_case = IDSR__V1__FRAME__BODY_HELLO;
		f.hello = &hello;
		break;
	}
	n = frame_pack(&f, buf, cap);
	return n > 0 ? (size_t)n : 0;
}

/* The offender (a child process, as a fuzzing VMM would be): HOSTILE bad
 * inputs on as many connections, each answered with an Error and closed;
 * then a well-formed Hello, welcomed after the penalty. Exit status: 0 if
 * all went so, else the step that did not. */
static int offender(void)
{
	static int fds[HOSTILE];
	uint8_t buf[256];
	struct idsr_hello hello = { .vmm = "test_offender", .vm_name = "offender", .vcpus = 1 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c;
	int64_t t0;

	for (int i = 0; i < HOSTILE; i++) {
		size_t n = hostile_input(i, buf, sizeof(buf));

		fds[i] = harness_raw_connect(&h);
		if (fds[i] < 0 || n == 0 || write(fds[i], buf, n) != (ssize_t)n)
			return 1;
	}
	for (int i = 0; i < HOSTILE; i++) {
		struct frame_reader r;
		Frame *f = NULL;
		bool error = false;

		frame_reader_init(&r);
		while (frame_recv(fds[i], &r, &f) == 0) {
			error |= f->body_case == IDSR__V1__FRAME__BODY_ERROR;
			frame_free(f);
		}
		frame_reader_free(&r);
		close(fds[i]);
		if (!error)
			return 2;
	}
	t0 = harness_now_ms();
	if (idsr_connect(h.sock, &hello, &c) < 0)
		return 3;
	if (harness_now_ms() - t0 < PENALTY_DELAY_MS)
		return 4;	/* not slowed */
	if (idsr_access(c, &a, &v) < 0 || v.undef || v.value != 0x1111)
		return 5;
	return idsr_close(c, NULL) < 0 ? 6 : 0;
}

struct neighbour {
	pthread_t thread;
	pthread_barrier_t *start;
	int index, welcomed, right;
	uint64_t boot;
};

static void *neighbour_main(void *arg)
{
	struct neighbour *n = arg;
	char name[IDSR_INSTANCE_LEN];
	/* a VM run each (its instance): one process's connections would be one VM's */
	struct idsr_hello hello = { .vmm = "test_offender", .vm_name = name, .vcpus = 1,
				    .instance = (const uint8_t *)name, .instance_len = sizeof(name) };
	struct idsr_conn *c;

	snprintf(name, sizeof(name), "neighbour-%02d", n->index);
	pthread_barrier_wait(n->start);
	if (idsr_connect(h.sock, &hello, &c) < 0) {
		fprintf(stderr, "# %s: %s\n", name, idsr_last_error());
		return NULL;
	}
	n->welcomed = 1;
	n->boot = idsr_boot_id(c);
	for (uint64_t i = 0; i < ACCESSES; i++) {
		struct idsr_access a = { .key = HID1, .el = 1, .pc = 0x1000 + i };
		struct idsr_verdict v;

		if (idsr_access(c, &a, &v) < 0) {
			fprintf(stderr, "# %s: access %llu: %s\n", name, (unsigned long long)i, idsr_last_error());
			break;
		}
		n->right += !v.undef && v.value == 0x1111 && a.seq == i;
	}
	idsr_close(c, "done");
	return NULL;
}

/* 200 hostile inputs from one process, then 32 VMMs of the same uid at once
 * with 500 accesses each: every one is welcomed, every verdict is right,
 * every row is logged; the offender alone is slowed, and its flood is logged
 * as a summary, not line by line. */
static void test_offender_alone_slowed(void **state)
{
	static struct neighbour n[NEIGHBOURS];
	pthread_barrier_t start;
	char text[128];
	int status;
	pid_t child;

	harness_init(&h, policy_text);
	assert_int_equal(harness_start(&h, NULL), 0);	/* the default --max-errors, 100 */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(offender());
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	pthread_barrier_init(&start, NULL, NEIGHBOURS);
	for (int i = 0; i < NEIGHBOURS; i++) {
		n[i] = (struct neighbour){ .start = &start, .index = i };
		assert_int_equal(pthread_create(&n[i].thread, NULL, neighbour_main, &n[i]), 0);
	}
	for (int i = 0; i < NEIGHBOURS; i++)
		pthread_join(n[i].thread, NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NEIGHBOURS; i++) {
		assert_int_equal(n[i].welcomed, 1);
		assert_int_equal(n[i].right, ACCESSES);
	}
	harness_wait_until(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name LIKE"
					     " 'neighbour-%' AND end_ns IS NOT NULL") == NEIGHBOURS);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM boots WHERE vm_name LIKE 'neighbour-%'"
					   " AND end_reason = 'done' AND accesses = 500"), NEIGHBOURS);
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
					   " WHERE b.vm_name LIKE 'neighbour-%' AND a.value = 4369 AND a.seq < 500"),
			 NEIGHBOURS * ACCESSES);
	/* the offender's boot: one access, after its penalty */
	assert_int_equal(harness_query_int(&h, "SELECT accesses FROM boots WHERE vm_name = 'offender'"), 1);

	/* the first 100 errors one by one, then summaries (at most one a second) */
	snprintf(text, sizeof(text), "VMM connection (pid %d, uid %d, boot 0): ", (int)child, (int)getuid());
	assert_int_equal(harness_log_count(&h, text), 100);
	snprintf(text, sizeof(text), "slowing VMM connections from pid %d (uid %d): 101 protocol errors in ",
		 (int)child, (int)getuid());
	assert_true(harness_log_has(&h, text));
	assert_true(harness_log_has(&h, "(--max-errors 100), 1 not logged one by one, the last: "));
	assert_true(harness_log_has(&h, "; each new connection of it waits 200 ms"));
	assert_false(harness_log_has(&h, "refus"));
	assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_offender_alone_slowed, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
