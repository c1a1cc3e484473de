/* SPDX-License-Identifier: MIT */
/* Record and replay end to end: a real idsrd and idsrctl, vCPU threads on the client library. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0: counter */
#define HID1 0xc788u	/* s3_0_c15_c1_0: random, a new seed every boot */
#define HID2 0xc790u	/* s3_0_c15_c2_0: storage */
#define HID3 0xc798u	/* s3_0_c15_c3_0: only the catch-all (UNDEF) */
#define HID5 0xc7a8u	/* s3_0_c15_c5_0: only the catch-all (UNDEF) */

#define VCPUS 3
#define STEPS 40
#define PER_STEP 5
#define LINK_BASE 0xffff000010080000ull

static const char policy_text[] =
	"impl apple\n"
	"HID0                read  counter start=0x1000 step=8\n"
	"HID1                read  random\n"
	"HID2                storage init=0x5\n"
	"*                   undef\n";

/* No random: the same answers every boot, for --against. */
static const char fixed_policy_text[] =
	"impl apple\n"
	"HID0                read  counter start=0x1000 step=8\n"
	"HID1                read  value 0x1234\n"
	"HID2                storage init=0x5\n"
	"*                   undef\n";

static struct harness h;
/* Every vCPU connects before any runs, as a VMM does: the boot lasts until the last one leaves. */
static pthread_barrier_t connected;

enum change { SAME, INSERT, REMOVE, OTHER_REG, OTHER_VALUE, STOP_EARLY, RUN_LONGER };

/* One guest run: how vCPU `vcpu` departs from the recorded guest at its access `at`. */
struct guest {
	const char *vm;
	uint64_t slide;
	bool jitter;			/* interleave vCPUs differently */
	struct { enum change what; uint32_t vcpu; uint32_t at; } change[VCPUS];
};

struct vcpu_result {
	uint64_t checksum;
	uint64_t regs[3];		/* the last values read from HID0, HID1, HID2 */
	uint64_t undefs;
};

struct vcpu_run {
	const struct guest *g;
	const uint8_t *instance;
	uint32_t vcpu;
	int64_t boot_id;
	bool replaying;
	int failed;
	struct vcpu_result res;
};

static int setup(void **state)
{
	return harness_setup(&h, policy_text);
}

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

static enum change guest_change(const struct guest *g, uint32_t vcpu, uint32_t idx)
{
	for (int i = 0; i < VCPUS; i++)
		if (g->change[i].what != SAME && g->change[i].vcpu == vcpu && g->change[i].at == idx)
			return g->change[i].what;
	return SAME;
}

/* One trapped access; folds what a read returns into the checksum. */
static uint64_t guest_access(struct vcpu_run *r, struct idsr_conn *c, uint32_t key, uint64_t link_pc,
			     bool wr, uint64_t value)
{
	struct idsr_access a = { .vcpu = r->vcpu, .key = key, .pc = r->g->slide + link_pc, .el = 1,
				 .is_write = wr, .value = value };
	struct idsr_verdict v = { 0 };
	int rc = idsr_access(c, &a, &v);

	/* cmocka's asserts must not run on this thread: run_guest checks failed. */
	if (rc < 0 && !r->failed++)
		fprintf(stderr, "# vCPU %u access: %s\n", r->vcpu, idsr_last_error());
	r->res.undefs += v.undef;
	r->res.checksum = (r->res.checksum ^ (v.undef ? 0xdeadull : wr ? 0 : v.value)) * 0x100000001b3ull;
	return v.value;
}

/* The guest: STEPS x (read counter, read random, write storage, read storage, read UNDEF). */
static void *guest_vcpu(void *arg)
{
	struct vcpu_run *r = arg;
	struct idsr_hello hello = {
		.vmm = "test_replay", .vm_name = r->g->vm, .vcpus = VCPUS, .instance = r->instance,
		.instance_len = 16, .impl = "apple", .slide = r->g->slide, .image_base = LINK_BASE,
	};
	uint32_t steps = STEPS;
	struct idsr_conn *c;

	int rc = idsr_connect(h.sock, &hello, &c);

	pthread_barrier_wait(&connected);
	if (rc < 0) {
		fprintf(stderr, "# vCPU %u connect: %s\n", r->vcpu, idsr_last_error());
		r->failed++;
		return NULL;
	}
	r->boot_id = (int64_t)idsr_boot_id(c);
	r->replaying = idsr_replaying(c);
	for (uint32_t i = 0; i < STEPS * PER_STEP; i++) {
		uint32_t key = (uint32_t[]){ HID0, HID1, HID2, HID2, HID5 }[i % PER_STEP];
		uint64_t pc = LINK_BASE + 0x100 * (i % PER_STEP);
		bool wr = i % PER_STEP == 2;
		uint64_t val = wr ? r->res.regs[0] ^ r->res.regs[1] : 0, got;

		if (r->g->jitter && i % 7 == 0)
			harness_sleep_ms((int)(VCPUS - r->vcpu));
		switch (guest_change(r->g, r->vcpu, i)) {
		case INSERT: guest_access(r, c, HID3, LINK_BASE + 0x800, false, 0); break;
		case REMOVE: continue;
		case OTHER_REG: key = HID3; break;
		case OTHER_VALUE: val ^= 1; break;
		case STOP_EARLY: steps = 0; break;
		default: break;
		}
		if (steps == 0)
			break;
		got = guest_access(r, c, key, pc, wr, val);
		if (!wr && i % PER_STEP < 4)
			r->res.regs[i % PER_STEP == 3 ? 2 : i % PER_STEP] = got;
	}
	if (guest_change(r->g, r->vcpu, STEPS * PER_STEP) == RUN_LONGER)
		guest_access(r, c, HID0, LINK_BASE, false, 0);
	if (idsr_close(c, "guest halted") < 0)
		r->failed++;
	return NULL;
}

static void wait_ended(int64_t boot_id)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM boots WHERE id = %lld AND end_ns IS NOT NULL",
		 (long long)boot_id);
	harness_wait_until(harness_query_int(&h, sql) >= 1);
	assert_int_equal(harness_query_int(&h, sql), 1);
}

/* Runs the guest on VCPUS threads (one connection each, one instance); returns the boot id. */
static int64_t run_guest(const struct guest *g, struct vcpu_result res[VCPUS], bool *replaying)
{
	static uint8_t counter;
	uint8_t instance[16] = "replay-instance";
	pthread_t t[VCPUS];
	struct vcpu_run r[VCPUS];

	instance[15] = ++counter;
	pthread_barrier_init(&connected, NULL, VCPUS);
	for (uint32_t v = 0; v < VCPUS; v++)
		r[v] = (struct vcpu_run){ .g = g, .instance = instance, .vcpu = v };
	for (uint32_t v = 0; v < VCPUS; v++) {
		/* A jittered run starts its vCPUs in the other order. */
		uint32_t i = g->jitter ? VCPUS - 1 - v : v;

		pthread_create(&t[i], NULL, guest_vcpu, &r[i]);
	}
	for (uint32_t v = 0; v < VCPUS; v++)
		pthread_join(t[v], NULL);
	pthread_barrier_destroy(&connected);
	for (uint32_t v = 0; v < VCPUS; v++) {
		assert_int_equal(r[v].failed, 0);
		assert_int_equal(r[v].boot_id, r[0].boot_id);
		res[v] = r[v].res;
	}
	if (replaying)
		*replaying = r[0].replaying;
	wait_ended(r[0].boot_id);
	return r[0].boot_id;
}

/* ---- idsrctl replay in the background ---------------------------------------- */

static bool daemon_replay_armed(void)
{
	Frame *reply = harness_status(&h);
	bool armed;

	assert_non_null(reply);
	armed = reply->reply->status->replay_armed;
	frame_free(reply);
	return armed;
}

struct ctl_run {
	pid_t pid;
	char out[320], err[320];
};

/* Starts `idsrctl replay ARGS...` with stdout and stderr in files. */
static void idsrctl_start(struct ctl_run *cr, const char *const *args)
{
	static int n;
	char bin[256];
	const char *argv[24] = { bin, "replay", "--control", h.ctl };
	int i = 4;

	snprintf(bin, sizeof(bin), "%s/idsrctl", harness_build());
	snprintf(cr->out, sizeof(cr->out), "%s/ctl%d.out", h.dir, ++n);
	snprintf(cr->err, sizeof(cr->err), "%s/ctl%d.err", h.dir, n);
	for (; *args && i < 23; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	fflush(stdout);
	fflush(stderr);
	cr->pid = fork();
	if (cr->pid == 0) {
		if (!freopen(cr->out, "w", stdout) || !freopen(cr->err, "w", stderr))
			_exit(127);
		execv(bin, (char **)argv);
		_exit(127);
	}
}

static int idsrctl_wait(struct ctl_run *cr)
{
	int status = 0;

	for (int i = 0; i < 2000; i++) {
		if (waitpid(cr->pid, &status, WNOHANG) == cr->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		harness_sleep_ms(10);
	}
	kill(cr->pid, SIGKILL);
	waitpid(cr->pid, &status, 0);
	return -1;
}

/* Runs idsrctl replay to completion (no boot needed: errors, --against). */
static int idsrctl_run(struct ctl_run *cr, const char *const *args)
{
	idsrctl_start(cr, args);
	return idsrctl_wait(cr);
}

static void wait_armed(void)
{
	harness_wait_until(daemon_replay_armed());
	assert_true(daemon_replay_armed());
}

static char *slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle)) {
		fprintf(stderr, "# expected `%s' in:\n%s\n", needle, text);
		fail();
	}
}

static long long q(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long q(const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return harness_query_int(&h, sql);
}

/* Replays boot `of` against guest g under idsrctl ARGS; returns idsrctl's exit code. */
static int replay_guest(int64_t of, const struct guest *g, const char *mode, struct vcpu_result res[VCPUS],
			int64_t *boot_id, struct ctl_run *cr)
{
	char ref[400];
	const char *args[] = { ref, mode, "--json", "--timeout", "30", NULL };
	bool replaying = false;

	snprintf(ref, sizeof(ref), "%s:%lld", h.db, (long long)of);
	idsrctl_start(cr, args);
	wait_armed();
	*boot_id = run_guest(g, res, &replaying);
	assert_true(replaying);
	return idsrctl_wait(cr);
}

static int64_t recorded_boot;
static struct vcpu_result recorded[VCPUS];

/* ---- the tests ------------------------------------------------------------------ */

/* Two live boots differ (random); replays of the first give its checksums,
 * registers and rows exactly, however the vCPUs interleave. */
static void test_reproduces(void **state)
{
	const struct guest live = { .vm = "g", .slide = 0x200000 };
	const struct guest again = { .vm = "g", .slide = 0x4600000, .jitter = true };
	struct vcpu_result other[VCPUS], res[VCPUS];
	struct ctl_run cr;
	int64_t second, boot;

	recorded_boot = run_guest(&live, recorded, NULL);
	second = run_guest(&live, other, NULL);
	assert_true(recorded[0].checksum != other[0].checksum);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(replay_guest(recorded_boot, &again, "--strict", res, &boot, &cr), 0);
		for (int v = 0; v < VCPUS; v++) {
			assert_int_equal(res[v].checksum, recorded[v].checksum);
			assert_memory_equal(res[v].regs, recorded[v].regs, sizeof(res[v].regs));
			assert_int_equal(res[v].undefs, STEPS);
		}
		assert_int_equal(q("SELECT count(*) FROM boots WHERE id = %lld AND mode = 'replay' AND replay_of = %lld"
				   " AND replay_source = '%s' AND divergences = 0 AND accesses = %d", (long long)boot,
				   (long long)recorded_boot, h.db, VCPUS * STEPS * PER_STEP), 1);
		/* rows equal per vCPU: key, link-time pc, direction, value, action */
		assert_int_equal(q("SELECT count(*) FROM (SELECT vcpu, seq, key, pc - %d, is_write, value, action"
				   " FROM accesses WHERE boot_id = %lld EXCEPT SELECT vcpu, seq, key, pc - %d, is_write,"
				   " value, action FROM accesses WHERE boot_id = %lld)", 0x200000,
				   (long long)recorded_boot, 0x4600000, (long long)boot), 0);
		assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %lld AND rule = -2", (long long)boot),
				 VCPUS * STEPS * PER_STEP);
		assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld", (long long)boot), 0);
		assert_contains(slurp(cr.out), "\"result\": \"reproduced\"");
		assert_contains(slurp(cr.out), "\"recorded\": 600, \"matched\": 600, \"vcpus\": 3");
	}
	(void)second;
}

/* Strict: the first divergence is named with both sides; UNDEF from then on. */
static void test_strict_divergence(void **state)
{
	struct guest g = { .vm = "g", .slide = 0x200000 };
	struct vcpu_result res[VCPUS];
	struct ctl_run cr;
	int64_t boot;
	char *out;

	g.change[0].what = OTHER_REG, g.change[0].vcpu = 1, g.change[0].at = 12;
	assert_int_equal(replay_guest(recorded_boot, &g, "--strict", res, &boot, &cr), 1);
	out = slurp(cr.out);
	assert_contains(out, "\"result\": \"diverged\"");
	assert_contains(out, "\"divergences\": 1,");
	assert_contains(out, "\"details\": [{\"vcpu\": 1, \"seq\": 12, \"kind\": \"key\", \"expected\": {");
	assert_contains(out, "\"name\": \"HID3_EL1\"");	/* the live side, named */
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld AND vcpu = 1 AND seq = 12 AND"
			   " kind = 'key' AND expected_key = %u AND actual_key = %u AND expected_is_write = 1"
			   " AND actual_is_write = 1 AND replay_of = %lld", (long long)boot, HID2, HID3,
			   (long long)recorded_boot), 1);
	assert_int_equal(q("SELECT divergences FROM boots WHERE id = %lld", (long long)boot), 1);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld", (long long)boot), 1);
	/* vCPU 1 from seq 12 on: UNDEF by the strict rule */
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %lld AND vcpu = 1 AND seq >= 12"
			   " AND (action != 'undef' OR rule != -3)", (long long)boot), 0);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %lld AND vcpu = 1 AND seq < 12"
			   " AND rule = -2", (long long)boot), 12);

	/* the human report: vCPU, seq, both sides with names and encodings, context */
	char ref[400];
	struct ctl_run cr2;
	const char *args[] = { ref, "--timeout", "30", NULL };

	snprintf(ref, sizeof(ref), "%s:%lld", h.db, (long long)recorded_boot);

	idsrctl_start(&cr2, args);
	wait_armed();
	run_guest(&g, res, NULL);
	assert_int_equal(idsrctl_wait(&cr2), 1);
	out = slurp(cr2.out);
	assert_contains(out, "vCPU 1, seq 12: a different register (key)");
	assert_contains(out, "recorded: seq 12");
	assert_contains(out, "write HID2_EL1 (s3_0_c15_c2_0)");
	assert_contains(out, "write HID3_EL1 (s3_0_c15_c3_0)");
	assert_contains(out, "matched before it:");
}

/* Lenient: an inserted, a removed and a changed write each give one
 * divergence (the cursor gets back in step); the rest is answered as recorded. */
static void test_lenient_lists_every_divergence(void **state)
{
	struct guest g = { .vm = "g", .slide = 0x200000 };
	struct vcpu_result res[VCPUS];
	struct ctl_run cr;
	int64_t boot;

	g.change[0].what = INSERT, g.change[0].vcpu = 0, g.change[0].at = 20;
	g.change[1].what = REMOVE, g.change[1].vcpu = 1, g.change[1].at = 34;
	g.change[2].what = OTHER_VALUE, g.change[2].vcpu = 2, g.change[2].at = 42;
	assert_int_equal(replay_guest(recorded_boot, &g, "--lenient", res, &boot, &cr), 1);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld", (long long)boot), 3);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld AND vcpu = 0 AND seq = 20"
			   " AND kind = 'key' AND actual_key = %u AND expected_key = %u", (long long)boot, HID3, HID0), 1);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld AND vcpu = 1 AND seq = 34"
			   " AND kind = 'key' AND actual_key = %u AND expected_key = %u", (long long)boot, HID0, HID5), 1);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld AND vcpu = 2 AND seq = 42"
			   " AND kind = 'value' AND (actual_value | expected_value) - (actual_value & expected_value) = 1", (long long)boot), 1);
	/* vCPU 0 got every recorded answer around its inserted access */
	assert_int_equal(res[0].regs[1], recorded[0].regs[1]);
	/* every access but the inserted one had a recorded answer */
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %lld AND rule = -2", (long long)boot),
			 VCPUS * STEPS * PER_STEP - 1);
	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %lld AND vcpu = 0 AND seq = 20"
			   " AND rule = 5 AND action = 'undef'", (long long)boot), 1);
	assert_contains(slurp(cr.out), "\"mode\": \"lenient\"");
}

/* A vCPU that stops early leaves `missing`; one that runs on gives `extra`. */
static void test_missing_and_extra(void **state)
{
	struct guest g = { .vm = "g", .slide = 0x200000 };
	struct vcpu_result res[VCPUS];
	struct ctl_run cr;
	int64_t boot;

	g.change[0].what = STOP_EARLY, g.change[0].vcpu = 2, g.change[0].at = 150;
	g.change[1].what = RUN_LONGER, g.change[1].vcpu = 0, g.change[1].at = STEPS * PER_STEP;
	assert_int_equal(replay_guest(recorded_boot, &g, "--lenient", res, &boot, &cr), 1);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld", (long long)boot), 2);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld AND vcpu = 2 AND seq = 150"
			   " AND kind = 'missing' AND expected_key = %u AND actual_key IS NULL", (long long)boot,
			   HID0), 1);
	assert_int_equal(q("SELECT count(*) FROM divergences WHERE boot_id = %lld AND vcpu = 0 AND seq = 200"
			   " AND kind = 'extra' AND expected_key IS NULL AND actual_key = %u", (long long)boot,
			   HID0), 1);
	assert_contains(slurp(cr.out), "\"kind\": \"missing\", \"missing\": 50,");
}

/* Bad input: exit 2 with a message that says what to do; idsrd unaffected. */
static void test_bad_input(void **state)
{
	char notrace[320], newer[320], ref[400], cmd[1024], missing[320];
	struct vcpu_result res[VCPUS];
	const struct guest live = { .vm = "after", .slide = 0x200000 };
	struct ctl_run cr;
	bool replaying = true;

	snprintf(notrace, sizeof(notrace), "%s/notes.txt", h.dir);
	harness_write_file(notrace, "this is not a database\n");
	snprintf(missing, sizeof(missing), "%s/nope.db", h.dir);
	snprintf(newer, sizeof(newer), "%s/newer.db", h.dir);
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"VACUUM INTO '%s'\" && sqlite3 '%s' 'PRAGMA user_version = 99'",
		 h.db, newer, newer);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(idsrctl_run(&cr, (const char *[]){ notrace, NULL }), 2);
	assert_contains(slurp(cr.err), "is not an idsrd trace database");
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ missing, NULL }), 2);
	assert_contains(slurp(cr.err), "No such file or directory: give the path of a trace database");
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ newer, NULL }), 2);
	assert_contains(slurp(cr.err), "has schema version 99, newer than this build reads");
	snprintf(ref, sizeof(ref), "%s:9999", h.db);
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ ref, NULL }), 2);
	assert_contains(slurp(cr.err), "9999");
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ h.db, "--boot", "x", NULL }), 2);
	assert_contains(slurp(cr.err), "idsrctl: replay: --boot: `x' is not a number (decimal, or hexadecimal after 0x)\n");
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ h.db, "--boot", "0", NULL }), 2);
	assert_contains(slurp(cr.err), "idsrctl: replay: --boot: `0' is not a boot id (1 or more)\n");
	/* no daemon on that socket */
	{
		char bin[1200], out[600];
		snprintf(bin, sizeof(bin), "%s/idsrctl replay '%s' --control '%s/none.sock' 2>&1", harness_build(),
			 h.db, h.dir);
		FILE *p = popen(bin, "r");
		size_t n = fread(out, 1, sizeof(out) - 1, p);

		out[n] = '\0';
		assert_int_equal(WEXITSTATUS(pclose(p)), 2);
		assert_contains(out, "idsrd is not running");
	}
	/* a timeout disarms */
	snprintf(ref, sizeof(ref), "%s:%lld", h.db, (long long)recorded_boot);
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ ref, "--timeout", "0.3", NULL }), 2);
	assert_contains(slurp(cr.err), "no boot came within 0.3 s, so the replay is disarmed");
	harness_wait_until(!daemon_replay_armed());
	assert_false(daemon_replay_armed());
	/* the daemon is fine: the next boot runs live */
	run_guest(&live, res, &replaying);
	assert_false(replaying);
	assert_int_equal(q("SELECT count(*) FROM boots WHERE vm_name = 'after' AND mode = 'live' AND"
			   " accesses = %d", VCPUS * STEPS * PER_STEP), 1);
}

/* --against: no daemon involved; the recorded answers under another policy. */
static void test_against(void **state)
{
	const struct guest live = { .vm = "fixed", .slide = 0x200000 };
	struct vcpu_result res[VCPUS];
	char fixed[320], ref[400];
	struct ctl_run cr;
	int64_t boot;

	/* record a boot under a policy without random values */
	snprintf(fixed, sizeof(fixed), "%s/fixed.conf", h.dir);
	harness_write_file(fixed, fixed_policy_text);
	harness_write_file(h.policy, fixed_policy_text);
	kill(h.pid, SIGHUP);
	harness_sleep_ms(200);
	boot = run_guest(&live, res, NULL);
	harness_write_file(h.policy, policy_text);
	kill(h.pid, SIGHUP);

	snprintf(ref, sizeof(ref), "%s:%lld", h.db, (long long)boot);
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ ref, "--against", fixed, NULL }), 0);
	assert_contains(slurp(cr.out), "agrees: 0 of 600 recorded answers");
	/* the random policy gives other HID1 values: exactly the 120 HID1 reads differ */
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ ref, "--against", h.policy, NULL }), 1);
	assert_contains(slurp(cr.out), "differs: 120 of 600 recorded answers");
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ ref, "--against", h.policy, "--json", NULL }), 1);
	assert_contains(slurp(cr.out), "\"policy_rule\": 3}");
	harness_write_file(fixed, "HID0 frobnicate\n");
	assert_int_equal(idsrctl_run(&cr, (const char *[]){ ref, "--against", fixed, NULL }), 2);
	assert_contains(slurp(cr.err), "fixed.conf:1:");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reproduces),
		cmocka_unit_test(test_strict_divergence),
		cmocka_unit_test(test_lenient_lists_every_divergence),
		cmocka_unit_test(test_missing_and_extra),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_against),
	};

	(void)harness_raw_connect;	/* the harness's, for other tests */
	return cmocka_run_group_tests(tests, setup, teardown);
}
