/* SPDX-License-Identifier: MIT */
/* The control side end to end: tail -f exactness with filters, a stalled subscriber, live policy changes mid-boot. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/time.h>
#include <pthread.h>

#include "db.h"
#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0 */
#define HID1 0xc788u	/* s3_0_c15_c1_0 */
#define HID4 0xc7a0u	/* s3_0_c15_c4_0: only the catch-all, until a `policy set' */
#define HID5 0xc7a8u	/* s3_0_c15_c5_0: only the catch-all */

static const char policy_text[] =
	"impl apple\n"
	"HID0_EL1            storage init=0x10\n"
	"HID1                read  value 0x1111\n"
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

/* ---- helpers ------------------------------------------------------------- */

/* Runs `idsrctl ARGS' (a shell string) with the harness's control socket;
 * stdout into out (if not NULL); returns the exit status. */
static int idsrctl(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int idsrctl(char *out, size_t outlen, const char *fmt, ...)
{
	char args[1024], cmd[1600];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "IDSRD_CONTROL='%s' '%s/idsrctl' %s", h.ctl, harness_build(), args);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (out) {
		n = fread(out, 1, outlen - 1, p);
		out[n] = 0;
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Starts `idsrctl ARGS > file' in the background. */
static pid_t idsrctl_bg(const char *file, const char *args)
{
	char cmd[1600];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "IDSRD_CONTROL='%s' exec '%s/idsrctl' %s > '%s'", h.ctl, harness_build(),
		 args, file);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static long long status_field(const char *field)
{
	char out[8192], *p, key[64];

	if (idsrctl(out, sizeof(out), "status --json") != 0)
		return -1;
	snprintf(key, sizeof(key), "\"%s\": ", field);
	p = strstr(out, key);
	return p ? atoll(p + strlen(key)) : -1;
}

static void wait_subscribers(long long n)
{
	harness_wait_until(status_field("subscribers") == n);
	assert_int_equal(status_field("subscribers"), n);
}

static size_t count_lines(const char *file)
{
	FILE *f = fopen(file, "r");
	size_t n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void wait_lines(const char *file, size_t n)
{
	harness_wait_until(count_lines(file) >= n);
}

static struct idsr_conn *connect_vm(const char *vm, uint32_t vcpus, const uint8_t *inst)
{
	struct idsr_hello hello = {
		.vmm = "test_control", .vm_name = vm, .vcpus = vcpus,
		.instance = inst, .instance_len = inst ? 16 : 0, .impl = "apple",
	};
	struct idsr_conn *c = NULL;
	int rc = idsr_connect(h.sock, &hello, &c);

	if (rc < 0)
		fprintf(stderr, "# connect: %s\n", idsr_last_error());
	assert_int_equal(rc, 0);
	return c;
}

static uint64_t access1(struct idsr_conn *c, uint32_t vcpu, uint32_t key, bool wr, uint64_t value, bool *undef)
{
	struct idsr_access a = { .vcpu = vcpu, .key = key, .pc = 0x40000000u + key, .el = 1,
				 .is_write = wr, .value = value };
	struct idsr_verdict v;
	int rc = idsr_access(c, &a, &v);

	if (rc < 0)
		fprintf(stderr, "# access: %s\n", idsr_last_error());
	assert_int_equal(rc, 0);
	*undef = v.undef;
	return v.value;
}

static void wait_boot_ended(const char *vm)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM boots WHERE end_ns IS NOT NULL AND vm_name = '%s'", vm);
	harness_wait_until(harness_query_int(&h, sql) >= 1);
	assert_int_equal(harness_query_int(&h, sql), 1);
}

/* ---- tail -f: every row exactly once, per-vCPU order, filters ------------- */

#define TAIL_VCPUS 4
#define TAIL_PHASE 400		/* accesses per vCPU per phase; three phases */

struct tail_vcpu {
	uint32_t vcpu;
	struct idsr_conn *conn;
	int errors;
};

static pthread_barrier_t phase_barrier;

/* One access of the pattern: HID0 write, HID0 read, HID1 read, HID5 read (UNDEF). */
static void tail_access(struct tail_vcpu *t, uint64_t i)
{
	bool undef;

	switch (i % 4) {
	case 0: access1(t->conn, t->vcpu, HID0, true, i, &undef); t->errors += undef; break;
	case 1: t->errors += access1(t->conn, t->vcpu, HID0, false, 0, &undef) != i - 1 || undef; break;
	case 2: t->errors += access1(t->conn, t->vcpu, HID1, false, 0, &undef) != 0x1111 || undef; break;
	default: access1(t->conn, t->vcpu, HID5, false, 0, &undef); t->errors += !undef;
	}
}

static void *tail_vcpu_thread(void *arg)
{
	static const uint8_t inst[16] = "tail-instance-01";
	struct tail_vcpu *t = arg;

	t->conn = connect_vm("tailvm", TAIL_VCPUS, inst);
	for (int phase = 0; phase < 3; phase++) {
		for (uint64_t i = (uint64_t)phase * TAIL_PHASE; i < (uint64_t)(phase + 1) * TAIL_PHASE; i++)
			tail_access(t, i);
		pthread_barrier_wait(&phase_barrier);	/* main: start tails / wait for them */
		pthread_barrier_wait(&phase_barrier);
	}
	assert_int_equal(idsr_close(t->conn, "done"), 0);
	return NULL;
}

/* Reads a --json tail output: (vcpu, seq) pairs in file order. */
static size_t read_tail_json(const char *file, uint32_t *vcpus, uint64_t *seqs, size_t max, int *bad)
{
	FILE *f = fopen(file, "r");
	char line[1024];
	size_t n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		long long boot;
		unsigned vcpu;
		unsigned long long seq;

		if (sscanf(line, "{\"boot_id\": %lld, \"vcpu\": %u, \"seq\": %llu", &boot, &vcpu, &seq) != 3) {
			fprintf(stderr, "# not an access line: %s", line);
			(*bad)++;
			continue;
		}
		if (n < max) {
			vcpus[n] = vcpu;
			seqs[n] = seq;
		}
		n++;
	}
	fclose(f);
	return n;
}

/* The output must hold exactly the database's rows for `where', each once,
 * every vCPU's in seq order. */
static void check_tail_output(const char *file, const char *where)
{
	static uint32_t vcpus[TAIL_VCPUS * TAIL_PHASE * 3 + 16];
	static uint64_t seqs[TAIL_VCPUS * TAIL_PHASE * 3 + 16];
	char sql[512];
	int bad = 0;
	size_t n = read_tail_json(file, vcpus, seqs, sizeof(seqs) / sizeof(seqs[0]), &bad);
	long long expected;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
		 " WHERE b.vm_name = 'tailvm' AND %s", where);
	expected = harness_query_int(&h, sql);
	assert_true(expected > 0);
	assert_int_equal(bad, 0);
	assert_int_equal(n, expected);
	for (uint32_t v = 0; v < TAIL_VCPUS; v++) {
		long long prev = -1, seen = 0;

		for (size_t i = 0; i < n; i++) {
			if (vcpus[i] != v)
				continue;
			if ((long long)seqs[i] <= prev)
				fprintf(stderr, "# %s: vCPU %u seq %llu after %lld\n", file, v,
					(unsigned long long)seqs[i], prev);
			assert_true((long long)seqs[i] > prev);
			prev = (long long)seqs[i];
			seen++;
			/* and each one is a row that matches */
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
				 " WHERE b.vm_name = 'tailvm' AND vcpu = %u AND seq = %llu AND %s", v,
				 (unsigned long long)seqs[i], where);
			if (seen % 97 == 1)	/* sampled: a query per line would take long */
				assert_int_equal(harness_query_int(&h, sql), 1);
		}
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
			 " WHERE b.vm_name = 'tailvm' AND vcpu = %u AND %s", v, where);
		assert_int_equal(seen, harness_query_int(&h, sql));
	}
}

static void test_tail_follow_exact(void **state)
{
	char all[400], reads[400], undefs[400];
	struct tail_vcpu t[TAIL_VCPUS];
	pthread_t th[TAIL_VCPUS];
	pid_t tails[3];

	snprintf(all, sizeof(all), "%s/tail-all.json", h.dir);
	snprintf(reads, sizeof(reads), "%s/tail-reads.json", h.dir);
	snprintf(undefs, sizeof(undefs), "%s/tail-undefs.txt", h.dir);
	pthread_barrier_init(&phase_barrier, NULL, TAIL_VCPUS + 1);
	for (uint32_t v = 0; v < TAIL_VCPUS; v++) {
		t[v] = (struct tail_vcpu){ .vcpu = v };
		pthread_create(&th[v], NULL, tail_vcpu_thread, &t[v]);
	}
	/* Phase 1 is only in the database when the tails start... */
	pthread_barrier_wait(&phase_barrier);
	tails[0] = idsrctl_bg(all, "tail -f -n 1000000 --vm tailvm --json");
	tails[1] = idsrctl_bg(reads, "tail -f -n 1000000 --vm tailvm --vcpu 1 --read --json");
	tails[2] = idsrctl_bg(undefs, "tail -f -n 1000000 --vm tailvm --reg HID5,s3_0_c15_c6_0 --action undef");
	/* ...phase 2 races with their subscriptions... */
	pthread_barrier_wait(&phase_barrier);
	pthread_barrier_wait(&phase_barrier);
	/* ...and phase 3 is all live. */
	wait_subscribers(3);
	pthread_barrier_wait(&phase_barrier);
	pthread_barrier_wait(&phase_barrier);
	pthread_barrier_wait(&phase_barrier);
	for (uint32_t v = 0; v < TAIL_VCPUS; v++) {
		pthread_join(th[v], NULL);
		assert_int_equal(t[v].errors, 0);
	}
	wait_boot_ended("tailvm");
	assert_int_equal(harness_query_int(&h, "SELECT count(*) FROM accesses a JOIN boots b ON b.id = a.boot_id"
					       " WHERE b.vm_name = 'tailvm'"), TAIL_VCPUS * TAIL_PHASE * 3);
	wait_lines(all, TAIL_VCPUS * TAIL_PHASE * 3);
	wait_lines(reads, TAIL_PHASE * 3 * 3 / 4);
	wait_lines(undefs, 1 + TAIL_VCPUS * TAIL_PHASE * 3 / 4);
	harness_sleep_ms(200);	/* anything extra (a repeat) would arrive now */
	for (int i = 0; i < 3; i++) {
		int status;

		kill(tails[i], SIGTERM);
		waitpid(tails[i], &status, 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	check_tail_output(all, "1");
	check_tail_output(reads, "vcpu = 1 AND is_write = 0");
	/* the human one: a header, then one line per UNDEF of HID5, named */
	assert_int_equal(count_lines(undefs), 1 + TAIL_VCPUS * TAIL_PHASE * 3 / 4);
	{
		char out[512];
		FILE *f = fopen(undefs, "r");

		assert_non_null(fgets(out, sizeof(out), f));
		assert_non_null(strstr(out, "time"));
		assert_non_null(fgets(out, sizeof(out), f));
		fclose(f);
		assert_non_null(strstr(out, "HID5_EL1 (s3_0_c15_c5_0)"));
		assert_non_null(strstr(out, "<- read"));
		assert_non_null(strstr(out, "UNDEF"));
		assert_non_null(strstr(out, "policy.conf:4"));
	}
	pthread_barrier_destroy(&phase_barrier);
}

/* ---- a subscriber that never reads ------------------------------------- */

#define STALL_VCPUS 4
#define STALL_N 10000		/* per vCPU: far more than a ring and a socket hold */

struct stall_vcpu {
	uint32_t vcpu;
	const char *vm;
	int errors;
};

static void *stall_vcpu_thread(void *arg)
{
	struct stall_vcpu *t = arg;
	uint8_t inst[16] = { 0 };
	struct idsr_conn *c;
	bool undef;

	snprintf((char *)inst, sizeof(inst), "%s", t->vm);
	c = connect_vm(t->vm, STALL_VCPUS, inst);
	for (uint64_t i = 0; i < STALL_N; i++)
		t->errors += access1(c, t->vcpu, HID1, false, 0, &undef) != 0x1111 || undef;
	assert_int_equal(idsr_close(c, "done"), 0);
	return NULL;
}

static double stall_boot(const char *vm)
{
	struct stall_vcpu t[STALL_VCPUS];
	pthread_t th[STALL_VCPUS];
	struct timespec a, b;
	char sql[256];
	long long dropped;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint32_t v = 0; v < STALL_VCPUS; v++) {
		t[v] = (struct stall_vcpu){ .vcpu = v, .vm = vm };
		pthread_create(&th[v], NULL, stall_vcpu_thread, &t[v]);
	}
	for (uint32_t v = 0; v < STALL_VCPUS; v++) {
		pthread_join(th[v], NULL);
		assert_int_equal(t[v].errors, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	wait_boot_ended(vm);
	snprintf(sql, sizeof(sql), "SELECT accesses FROM boots WHERE vm_name = '%s'", vm);
	assert_int_equal(harness_query_int(&h, sql), STALL_VCPUS * STALL_N);
	/* Every access is a row or counted dropped; dropped only once the
	 * store committed nothing for STORE_PACE_MS (the contract for a disk
	 * that cannot keep up, which a loaded machine can look like: 4 vCPUs
	 * on the fast path outrun the writer), never for the subscriber. */
	snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM accesses a WHERE a.boot_id = b.id) + rows_dropped"
		 " FROM boots b WHERE vm_name = '%s'", vm);
	assert_int_equal(harness_query_int(&h, sql), STALL_VCPUS * STALL_N);
	snprintf(sql, sizeof(sql), "SELECT rows_dropped FROM boots WHERE vm_name = '%s'", vm);
	dropped = harness_query_int(&h, sql);
	if (dropped) {
		fprintf(stderr, "# boot %s: %lld rows dropped after a store stall\n", vm, dropped);
		assert_true(harness_log_has(&h, "store: no commit to"));
	}
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static int control_connect(void)
{
	int fd = harness_connect_path(h.ctl);

	assert_true(fd >= 0);
	return fd;
}

static void test_stalled_subscriber(void **state)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__Filter filter = IDSR__V1__FILTER__INIT;
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT, *in;
	struct frame_reader r;
	uint64_t delivered = 0, missed = 0, markers = 0, last[STALL_VCPUS];
	double alone, stalled;
	int fd = control_connect();

	alone = stall_boot("stall-alone");
	/* Subscribes to the next boot and never reads, until the boot is over. */
	filter.vm_name = "stalled";
	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_SUBSCRIBE;
	req.subscribe = &filter;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	assert_int_equal(frame_send(fd, &f), 0);
	wait_subscribers(1);
	stalled = stall_boot("stalled");
	fprintf(stderr, "# %d accesses: %.3fs with no subscriber, %.3fs with a stalled one\n",
		STALL_VCPUS * STALL_N, alone, stalled);
	/* Now it reads: the reply, what its ring kept, and how much it missed. */
	assert_int_equal(frame_reader_init(&r), 0);
	assert_int_equal(frame_recv(fd, &r, &in), 0);
	assert_int_equal(in->body_case, IDSR__V1__FRAME__BODY_REPLY);
	assert_true(in->reply->ok);
	frame_free(in);
	memset(last, 0xff, sizeof(last));
	/* a reader that waits at most 5 s for what is still missing */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 5, 0 },
				    sizeof(struct timeval)), 0);
	while (delivered + missed < STALL_VCPUS * STALL_N) {
		assert_int_equal(frame_recv(fd, &r, &in), 0);
		assert_int_equal(in->body_case, IDSR__V1__FRAME__BODY_EVENT);
		if (in->event->missed) {
			missed += in->event->missed;
			markers++;
		} else {
			uint32_t v = in->event->vcpu;

			assert_true(v < STALL_VCPUS);
			/* in order per vCPU, holes only where a marker said so */
			assert_true(last[v] == UINT64_MAX || in->event->seq > last[v]);
			last[v] = in->event->seq;
			delivered++;
		}
		frame_free(in);
	}
	fprintf(stderr, "# the stalled subscriber got %llu events and %llu markers for %llu missed\n",
		(unsigned long long)delivered, (unsigned long long)markers, (unsigned long long)missed);
	assert_int_equal(delivered + missed, STALL_VCPUS * STALL_N);
	assert_true(missed > 0);
	assert_true(markers > 0);
	assert_true(delivered >= 4096);		/* at least a ring's worth */
	frame_reader_free(&r);
	close(fd);
	wait_subscribers(0);
}

/* ---- a policy operation this idsrd does not know is refused ---------------- */

/* Sends a PolicyRequest op (with text and index) and returns the reply. */
static Frame *policy_request(uint32_t op, const char *text, uint32_t index)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__PolicyRequest pr = IDSR__V1__POLICY_REQUEST__INIT;
	struct frame_reader r;
	Frame *reply = NULL;
	int fd = harness_connect_path(h.ctl);

	assert_true(fd >= 0);
	pr.op = (Idsr__V1__PolicyRequest__Op)op;
	pr.text = (char *)text;
	pr.index = index;
	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_POLICY;
	req.policy = &pr;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	frame_reader_init(&r);
	assert_int_equal(frame_send(fd, &f), 0);
	assert_int_equal(frame_recv(fd, &r, &reply), 0);
	frame_reader_free(&r);
	close(fd);
	assert_int_equal(reply->body_case, IDSR__V1__FRAME__BODY_REPLY);
	return reply;
}

/* SET_AT is an op of its own so that an idsrd without it refuses the position
 * instead of ignoring it: what this idsrd does with an op newer than itself. */
static void test_policy_unknown_op(void **state)
{
	Frame *before = harness_status(&h), *reply, *after;

	assert_non_null(before);
	reply = policy_request(IDSR__V1__POLICY_REQUEST__OP__SET_AT + 1, "HID4 read value 0x44", 1);
	assert_false(reply->reply->ok);
	assert_string_equal(reply->reply->message,
			    "unknown policy operation (idsrctl and idsrd differ in version?)");
	frame_free(reply);
	after = harness_status(&h);
	assert_string_equal(after->reply->status->policy_hash, before->reply->status->policy_hash);
	frame_free(after);
	/* and this one knows SET_AT: rule 1 now */
	reply = policy_request(IDSR__V1__POLICY_REQUEST__OP__SET_AT, "HID4 read value 0x44", 1);
	assert_true(reply->reply->ok);
	frame_free(reply);
	reply = policy_request(IDSR__V1__POLICY_REQUEST__OP__SHOW, NULL, 0);
	assert_true(reply->reply->n_rules >= 1);
	assert_string_equal(reply->reply->rules[0]->text, "HID4 read value 0x44");
	frame_free(reply);
	frame_free(before);
}

/* ---- policy set / load / unset mid-boot ----------------------------------- */

static void test_policy_mid_boot(void **state)
{
	char out[16384], file[400], sql[512];
	struct idsr_conn *c = connect_vm("polvm", 1, NULL);
	uint64_t boot = idsr_boot_id(c);
	bool undef;

	access1(c, 0, HID4, false, 0, &undef);
	assert_true(undef);
	assert_int_equal(idsrctl(out, sizeof(out), "policy set 'HID4 read value 0x44'"), 0);
	assert_non_null(strstr(out, "1 rule added, 0 removed, 4 in force"));
	assert_non_null(strstr(out, "+ line 4: HID4 read value 0x44"));
	/* the very next access */
	assert_int_equal(access1(c, 0, HID4, false, 0, &undef), 0x44);
	assert_false(undef);
	assert_int_equal(idsrctl(out, sizeof(out), "policy show --json"), 0);
	assert_non_null(strstr(out, "{\"index\": 3, \"line\": 4, \"text\": \"HID4 read value 0x44\", "
				    "\"origin\": \"set by uid "));
	assert_non_null(strstr(out, "\"hits\": 1, "));
	/* the catch-all moved down a line and kept its origin */
	assert_non_null(strstr(out, "{\"index\": 4, \"line\": 5, \"text\": \"*                   undef\", "
				    "\"origin\": \""));
	{
		/* with the hits it counted before the edit: every earlier UNDEF by it */
		char *p = strstr(out, "policy.conf:4\", \"hits\": ");

		assert_non_null(p);
		snprintf(sql, sizeof(sql), "SELECT count(*) + 1 FROM accesses WHERE rule = 4 AND action = 'undef'"
			 " AND boot_id != %llu", (unsigned long long)boot);
		assert_int_equal(atoll(p + strlen("policy.conf:4\", \"hits\": ")), harness_query_int(&h, sql));
	}

	snprintf(file, sizeof(file), "%s/other.conf", h.dir);
	harness_write_file(file, "impl apple\nHID4 read value 0x55\n* undef\n");
	assert_int_equal(idsrctl(out, sizeof(out), "policy load '%s'", file), 0);
	assert_int_equal(access1(c, 0, HID4, false, 0, &undef), 0x55);
	assert_int_equal(idsrctl(out, sizeof(out), "policy show"), 0);
	assert_non_null(strstr(out, "other.conf:2"));
	assert_non_null(strstr(out, "HID4 read value 0x55"));

	/* a bad file is refused, the old policy stays */
	harness_write_file(file, "impl apple\nHID4 read valeu 0x66\n");
	assert_int_equal(idsrctl(out, sizeof(out), "policy load '%s' 2>&1", file), 2);
	assert_non_null(strstr(out, "other.conf:2:11: expected an action"));
	assert_int_equal(access1(c, 0, HID4, false, 0, &undef), 0x55);

	assert_int_equal(idsrctl(out, sizeof(out), "policy unset 1"), 0);
	assert_non_null(strstr(out, "- line 2: HID4 read value 0x55"));
	access1(c, 0, HID4, false, 0, &undef);
	assert_true(undef);
	assert_int_equal(idsr_close(c, "done"), 0);
	wait_boot_ended("polvm");

	snprintf(sql, sizeof(sql), "SELECT group_concat(action || ':' || value || ':' || rule, ' ') FROM"
		 " (SELECT * FROM accesses WHERE boot_id = %llu ORDER BY seq)", (unsigned long long)boot);
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open_v2(h.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0),
				    "undef:0:4 emulate:68:4 emulate:85:2 emulate:85:2 undef:0:2");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	/* every change recorded, with who; the boot keeps every hash it ran under */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM policy_changes WHERE how IN ('set', 'load', 'unset')"
		 " AND peer_uid = %u AND old_hash IS NOT NULL", (unsigned)getuid());
	assert_int_equal(harness_query_int(&h, sql), 3);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT policy_hash) FROM boot_policies WHERE boot_id = %llu",
		 (unsigned long long)boot);
	assert_int_equal(harness_query_int(&h, sql), 4);
}

/* ---- stats and a tmux-driven top on a boot in progress -------------------- */

/* The numbers after `name' on the first line of screen that starts with it. */
static int reg_line(const char *screen, const char *name, unsigned long long v[5])
{
	char pat[80], enc[32];
	const char *p = screen;

	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(screen, pat);
	if (!p)
		return -1;
	return sscanf(p + strlen(pat), "%31s %llu %llu %llu %llu %llu", enc, &v[0], &v[1], &v[2], &v[3], &v[4]) == 6 ? 0 : -1;
}

static void check_counts(const char *screen)
{
	unsigned long long v[5];

	/* count, reads, writes, undefs, distinct PCs */
	assert_int_equal(reg_line(screen, "HID0_EL1", v), 0);
	assert_int_equal(v[0], 45);
	assert_int_equal(v[1], 15);
	assert_int_equal(v[2], 30);
	assert_int_equal(v[3], 0);
	assert_int_equal(v[4], 4);
	assert_int_equal(reg_line(screen, "HID1_EL1", v), 0);
	assert_int_equal(v[0], 20);
	assert_int_equal(v[1], 20);
	assert_int_equal(v[3], 0);
	assert_int_equal(v[4], 1);
	assert_int_equal(reg_line(screen, "HID5_EL1", v), 0);
	assert_int_equal(v[0], 7);
	assert_int_equal(v[3], 7);
}

static int tmux(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int tmux(char *out, size_t outlen, const char *fmt, ...)
{
	char args[1024], cmd[1400];
	va_list ap;
	size_t n = 0;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	/* a private tmux server: nothing of the user's is touched */
	snprintf(cmd, sizeof(cmd), "tmux -S '%s/tmux.sock' %s", h.dir, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (out)
		n = fread(out, 1, outlen - 1, p);
	if (out)
		out[n] = 0;
	return pclose(p);
}

static void test_stats_and_top(void **state)
{
	char screen[16384], sql[256];
	struct idsr_conn *c;
	uint64_t boot;
	bool undef;
	int i;

	/* back to the harness's policy after the edits above */
	assert_int_equal(idsrctl(NULL, 0, "policy load '%s'", h.policy), 0);
	c = connect_vm("topvm", 2, NULL);
	boot = idsr_boot_id(c);

	for (i = 0; i < 30; i++) {
		struct idsr_access a = { .vcpu = (uint32_t)(i % 2), .key = HID0, .pc = 0x1000u + 4u * (unsigned)(i % 3),
					 .el = 1, .is_write = true, .value = (uint64_t)i };
		struct idsr_verdict v;

		assert_int_equal(idsr_access(c, &a, &v), 0);
	}
	for (i = 0; i < 15; i++)
		access1(c, 0, HID0, false, 0, &undef);
	for (i = 0; i < 20; i++)
		access1(c, 1, HID1, false, 0, &undef);
	for (i = 0; i < 7; i++)
		access1(c, 0, HID5, false, 0, &undef);
	/* the rows are committed within a batch's time */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)boot);
	harness_wait_until(harness_query_int(&h, sql) >= 72);

	/* stats of the running boot, then top in a terminal */
	assert_int_equal(idsrctl(screen, sizeof(screen), "stats %llu", (unsigned long long)boot), 0);
	assert_non_null(strstr(screen, "72 accesses over"));
	assert_non_null(strstr(screen, "7 UNDEF, 3 registers"));
	check_counts(screen);
	assert_int_equal(idsrctl(screen, sizeof(screen), "stats %llu --json", (unsigned long long)boot), 0);
	assert_non_null(strstr(screen, "\"name\": \"HID0_EL1\", \"encoding\": \"s3_0_c15_c0_0\", \"count\": 45, "
				       "\"reads\": 15, \"writes\": 30, \"undefs\": 0, \"pcs\": 4, "));

	assert_int_equal(tmux(NULL, 0, "new-session -d -s top -x 160 -y 40 "
				  "\"IDSRD_CONTROL='%s' '%s/idsrctl' top --interval 0.2\"", h.ctl, harness_build()), 0);
	harness_wait_until(tmux(screen, sizeof(screen), "capture-pane -p -t top") == 0 &&
			   strstr(screen, "HID5_EL1"));
	fprintf(stderr, "# top showed:\n# %s\n", screen);
	assert_non_null(strstr(screen, "topvm"));
	assert_non_null(strstr(screen, "1 boot in progress"));
	assert_non_null(strstr(screen, "(q quits)"));
	/* capture-pane drops the first newline of the screen: give reg_line one */
	memmove(screen + 1, screen, strlen(screen) + 1);
	screen[0] = '\n';
	check_counts(screen);
	/* more accesses show up on the next refreshes */
	for (i = 0; i < 5; i++)
		access1(c, 1, HID5, false, 0, &undef);
	{
		unsigned long long v[5];

		screen[0] = '\n';
		harness_wait_until(tmux(screen + 1, sizeof(screen) - 1, "capture-pane -p -t top") == 0 &&
				   reg_line(screen, "HID5_EL1", v) == 0 && v[0] == 12);
		assert_int_equal(reg_line(screen, "HID5_EL1", v), 0);
		assert_int_equal(v[0], 12);
		assert_int_equal(v[3], 12);
	}
	/* q quits top, and the session with it */
	assert_int_equal(tmux(NULL, 0, "send-keys -t top q"), 0);
	harness_wait_until(tmux(NULL, 0, "has-session -t top 2>/dev/null") != 0);
	assert_int_not_equal(tmux(NULL, 0, "has-session -t top 2>/dev/null"), 0);
	tmux(NULL, 0, "kill-server 2>/dev/null");
	assert_int_equal(idsr_close(c, "done"), 0);
}

/* ---- trace_read (docs/design.md 3.5) -------------------------------------- */

#define BIG_BOOT	900000	/* a boot id no VMM of this file reaches */
#define BIG_ROWS	100000

/* Sends tr on a new connection; returns the fd. */
static int trace_read_send(Idsr__V1__TraceRead *tr)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	int fd = control_connect();

	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_TRACE_READ;
	req.trace_read = tr;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	assert_int_equal(frame_send(fd, &f), 0);
	return fd;
}

/*
 * A boot of 100000 rows comes in many pages, each a frame within FRAME_MAX,
 * tables in the documented order, every row once, the last page marked. A
 * client that asks and then does not read holds up nothing: status is
 * answered meanwhile (the pages wait for it, not the main loop).
 */
static void test_trace_read_paged(void **state)
{
	const char *order[] = { "boots", "boot_policies", "policies", "registers", "divergences", "accesses" };
	Idsr__V1__TraceRead tr = IDSR__V1__TRACE_READ__INIT;
	struct frame_reader r;
	size_t pages = 0, stage = 0, rows = 0, boots = 0;
	int64_t next_seq = 0;
	bool last = false;
	char *err = NULL;
	sqlite3 *db;
	Frame *in;
	int fd;

	assert_int_equal(sqlite3_open(h.db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 60000);
	assert_int_equal(sqlite3_exec(db,
		"BEGIN; INSERT INTO boots(id, start_ns, end_ns, vm_name, impl, vcpus, peer_uid)"
		" VALUES (900000, 1, 2, 'big', 'apple', 1, 0);"
		" WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)"
		" INSERT INTO accesses SELECT 900000, 0, i, 10 + i, 51072, 4096 + 4 * i, 1, i & 1, i * 3,"
		" 'emulate', 2 FROM n; COMMIT", NULL, NULL, &err), SQLITE_OK);
	sqlite3_close(db);

	tr.boot_id = BIG_BOOT;
	fd = trace_read_send(&tr);
	/* not read yet: idsrd's main loop still answers */
	in = harness_status(&h);
	assert_non_null(in);
	frame_free(in);

	assert_int_equal(frame_reader_init(&r), 0);
	while (!last) {
		const Idsr__V1__TracePage *pg;

		assert_int_equal(frame_recv(fd, &r, &in), 0);
		assert_int_equal(in->body_case, IDSR__V1__FRAME__BODY_REPLY);
		assert_true(in->reply->ok);
		pg = in->reply->trace_page;
		assert_non_null(pg);
		assert_true(idsr__v1__frame__get_packed_size(in) <= FRAME_MAX);
		pages++;
		while (stage < 6 && strcmp(order[stage], pg->table))
			stage++;
		assert_true(stage < 6);	/* a known table, in order */
		assert_int_equal(pg->schema, SCHEMA_VERSION);
		assert_int_equal(pg->n_values % pg->n_columns, 0);
		if (!strcmp(pg->table, "boots"))
			boots += pg->n_values / pg->n_columns;
		if (!strcmp(pg->table, "accesses")) {
			assert_string_equal(pg->columns[2], "seq");
			for (size_t v = 0; v < pg->n_values; v += pg->n_columns) {
				assert_int_equal(pg->values[v]->integer, BIG_BOOT);
				assert_int_equal(pg->values[v + 2]->integer, next_seq);
				assert_int_equal(pg->values[v + 8]->integer, next_seq * 3);
				assert_string_equal(pg->values[v + 9]->text, "emulate");
				next_seq++;
				rows++;
			}
		}
		last = pg->last;
		frame_free(in);
	}
	frame_reader_free(&r);
	close(fd);
	assert_int_equal(stage, 5);
	assert_int_equal(rows, BIG_ROWS);
	assert_true(boots >= 1);
	assert_true(pages > 20);	/* 100000 rows of 11 values: many frames */
	fprintf(stderr, "# %d rows in %zu pages\n", BIG_ROWS, pages);
}

/*
 * TraceRead.last (tail -n N): of every boot only each vCPU's last N rows, in
 * order; the big boot of test_trace_read_paged gives its seqs 99997-99999.
 */
static void test_trace_read_last(void **state)
{
	Idsr__V1__TraceRead tr = IDSR__V1__TRACE_READ__INIT;
	int64_t at_boot = -1, at_vcpu = -1, n = 0, big_next = BIG_ROWS - 3;
	struct frame_reader r;
	bool last = false;
	Frame *in;
	int fd;

	tr.all_boots = true;
	tr.last = 3;
	fd = trace_read_send(&tr);
	assert_int_equal(frame_reader_init(&r), 0);
	while (!last) {
		const Idsr__V1__TracePage *pg;

		assert_int_equal(frame_recv(fd, &r, &in), 0);
		assert_true(in->reply->ok);
		pg = in->reply->trace_page;
		for (size_t v = 0; !strcmp(pg->table, "accesses") && v < pg->n_values; v += pg->n_columns) {
			int64_t boot = pg->values[v]->integer, vcpu = pg->values[v + 1]->integer;

			/* rows come by (boot, vCPU, seq): at most 3 of each pair */
			if (boot != at_boot || vcpu != at_vcpu)
				at_boot = boot, at_vcpu = vcpu, n = 0;
			assert_true(++n <= 3);
			if (boot == BIG_BOOT)
				assert_int_equal(pg->values[v + 2]->integer, big_next++);
		}
		last = pg->last;
		frame_free(in);
	}
	frame_reader_free(&r);
	close(fd);
	assert_int_equal(big_next, BIG_ROWS);	/* 99997, 99998, 99999 and no more */
}

/*
 * An idsrd meets a request newer than itself as trace_read is to an older
 * one: a oneof member it does not know. It must refuse it, not answer
 * something else: field 99 of ControlRequest, sent as raw bytes.
 */
static void test_unknown_request_refused(void **state)
{
	/* Frame{control(16): ControlRequest{protocol(1) = 1, field 99: ""}} */
	static const uint8_t raw[] = { 8, 0, 0, 0, 0x82, 0x01, 5, 0x08, 0x01, 0x9a, 0x06, 0x00 };
	struct frame_reader r;
	Frame *in;
	int fd = control_connect();

	assert_int_equal(write(fd, raw, sizeof(raw)), (ssize_t)sizeof(raw));
	assert_int_equal(frame_reader_init(&r), 0);
	assert_int_equal(frame_recv(fd, &r, &in), 0);
	assert_int_equal(in->body_case, IDSR__V1__FRAME__BODY_REPLY);
	assert_false(in->reply->ok);
	assert_string_equal(in->reply->message, "this request is not supported by this idsrd");
	assert_null(in->reply->trace_page);
	frame_free(in);
	frame_reader_free(&r);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail_follow_exact),
		cmocka_unit_test(test_stalled_subscriber),
		cmocka_unit_test(test_policy_mid_boot),
		cmocka_unit_test(test_policy_unknown_op),
		cmocka_unit_test(test_stats_and_top),
		cmocka_unit_test(test_trace_read_paged),
		cmocka_unit_test(test_trace_read_last),
		cmocka_unit_test(test_unknown_request_refused),
	};

	(void)harness_raw_connect;	/* the harness's, for tests of hostile VMMs */
	return cmocka_run_group_tests(tests, setup, teardown);
}
