/* SPDX-License-Identifier: MIT */
/* Crash safety: kill -9 mid-boot, a full disk and a read-only database never block verdicts or lose rows silently. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mount.h>

#include "frame.h"
#include "harness.h"
#include "idsr_client.h"
#include "idsrd/store.h"
#include "fp_layout.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0: writes ignored */
#define HID1 0xc788u	/* s3_0_c15_c1_0: reads 0x1111 */
#define VCPUS 4

static const char policy_text[] =
	"impl apple\n"
	"HID0_EL1   write ignore\n"
	"HID1       read  value 0x1111\n"
	"*          undef\n";

static struct harness h;

static int setup(void **state)
{
	harness_init(&h, policy_text);
	return 0;
}

static void unmount_small(void);
static void vms_abandon(void);

static int teardown(void **state)
{
	vms_abandon();
	if (h.pid > 0)
		harness_stop(&h);
	unmount_small();
	harness_cleanup(&h);
	return 0;
}

/* ---- a busy VM: VCPUS threads, each access answered and counted -------------- */

struct vm;

struct vcpu_run {
	pthread_t thread;
	uint32_t vcpu;
	uint64_t answered;	/* verdicts received */
	uint64_t fast;		/* of them, answered by the fast path */
	uint64_t wrong;		/* verdicts not as the policy says */
	int64_t slowest_ns;	/* the longest wait for a verdict */
	struct vm *vm;
};

struct vm {
	const char *name;
	uint8_t instance[IDSR_INSTANCE_LEN];
	atomic_bool stop;		/* no more accesses */
	atomic_bool hold;		/* no accesses until it is cleared */
	atomic_bool release;		/* and now close the connections */
	atomic_uint idle;		/* vCPUs that stopped */
	atomic_uint held;		/* vCPUs waiting for hold to clear */
	uint32_t started;		/* vCPU threads to join */
	bool queue_drops;		/* its drops are rows past the queue (the writer committed nothing) */
	uint64_t boot_id;
	struct vcpu_run cpu[VCPUS];
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Even seqs write HID0 with (vcpu << 40 | seq), odd seqs read HID1. */
static void *vcpu_thread(void *arg)
{
	struct vcpu_run *cpu = arg;
	struct vm *vm = cpu->vm;
	struct idsr_hello hello = { .vmm = "test_crash", .vm_name = vm->name, .vcpus = VCPUS,
				    .instance = vm->instance, .instance_len = IDSR_INSTANCE_LEN };
	struct idsr_conn *c;

	if (idsr_connect(h.sock, &hello, &c) < 0) {
		fprintf(stderr, "# connect: %s\n", idsr_last_error());
		atomic_fetch_add(&vm->idle, 1);
		return NULL;
	}
	vm->boot_id = idsr_boot_id(c);
	for (uint64_t seq = 0; !atomic_load(&vm->stop); seq++) {
		bool wr = seq % 2 == 0;
		struct idsr_access a = { .vcpu = cpu->vcpu, .key = wr ? HID0 : HID1, .pc = 0x1000 + seq % 64,
					 .el = 1, .is_write = wr, .value = (uint64_t)cpu->vcpu << 40 | seq };
		struct idsr_verdict v;
		int64_t t0;

		if (atomic_load(&vm->hold)) {
			atomic_fetch_add(&vm->held, 1);
			while (atomic_load(&vm->hold) && !atomic_load(&vm->stop))
				harness_sleep_ms(1);
			atomic_fetch_sub(&vm->held, 1);
		}
		t0 = mono_ns();
		if (idsr_access(c, &a, &v) < 0)
			break;		/* the daemon died under us */
		if (mono_ns() - t0 > cpu->slowest_ns)
			cpu->slowest_ns = mono_ns() - t0;
		__atomic_add_fetch(&cpu->answered, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&cpu->fast, idsr_fast_answers(c), __ATOMIC_RELAXED);
		cpu->wrong += v.undef || (!wr && v.value != 0x1111);
	}
	atomic_fetch_add(&vm->idle, 1);
	while (!atomic_load(&vm->release))
		harness_sleep_ms(1);
	idsr_close(c, "done");
	return NULL;
}

/* The VMs whose threads run: a failed assertion leaves the test (cmocka
 * longjmps) while they still use its struct vm, so teardown stops and joins
 * them before that frame is gone (vms_abandon). */
static struct vm *vms[2];

static void vm_start(struct vm *vm, const char *name)
{
	for (size_t i = 0; i <= sizeof(vms) / sizeof(vms[0]); i++) {
		assert_true(i < sizeof(vms) / sizeof(vms[0]));
		if (!vms[i]) {
			vms[i] = vm;
			break;
		}
	}
	memset(vm, 0, sizeof(*vm));
	vm->name = name;
	snprintf((char *)vm->instance, sizeof(vm->instance), "%.15s", name);
	for (uint32_t v = 0; v < VCPUS; v++) {
		vm->cpu[v].vcpu = v;
		vm->cpu[v].vm = vm;
		if (pthread_create(&vm->cpu[v].thread, NULL, vcpu_thread, &vm->cpu[v]) != 0) {
			atomic_fetch_add(&vm->idle, VCPUS - v);	/* the threads never started */
			fail_msg("pthread_create: vCPU %u", v);
		}
		vm->started = v + 1;
	}
}

static uint64_t vm_answered(const struct vm *vm)
{
	uint64_t n = 0;

	for (int v = 0; v < VCPUS; v++)
		n += __atomic_load_n(&vm->cpu[v].answered, __ATOMIC_RELAXED);
	return n;
}

/* Stops the accesses; the connections (and so the boot) stay open. */
static void vm_stop(struct vm *vm)
{
	atomic_store(&vm->stop, true);
	harness_wait_until(atomic_load(&vm->idle) == VCPUS);
	assert_int_equal(atomic_load(&vm->idle), VCPUS);
}

/* Joins the threads; forgets the VM (it is no longer in vms[]). */
static void vm_reap(struct vm *vm)
{
	atomic_store(&vm->stop, true);
	atomic_store(&vm->release, true);
	for (uint32_t v = 0; v < vm->started; v++)
		pthread_join(vm->cpu[v].thread, NULL);
	vm->started = 0;
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++)
		if (vms[i] == vm)
			vms[i] = NULL;
}

static void vm_join(struct vm *vm)
{
	vm_stop(vm);
	vm_reap(vm);
	for (int v = 0; v < VCPUS; v++)
		assert_int_equal(vm->cpu[v].wrong, 0);
}

/* After a failed assertion: the VMs still running stop and are joined. A vCPU
 * blocked on a verdict gets its answer or, once idsrd is stopped, an error. */
static void vms_abandon(void)
{
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++)
		if (vms[i]) {
			atomic_store(&vms[i]->stop, true);
			atomic_store(&vms[i]->release, true);
		}
	if (h.pid > 0)
		harness_stop(&h);
	for (size_t i = 0; i < sizeof(vms) / sizeof(vms[0]); i++)
		if (vms[i])
			vm_reap(vms[i]);
}

#define q(...) harness_queryf(&h, __VA_ARGS__)

static void assert_integrity_ok(void)
{
	char *ok = harness_query_text(&h, "PRAGMA integrity_check");

	assert_non_null(ok);
	assert_string_equal(ok, "ok");
	free(ok);
}

/* Every row of the boot is what the daemon answered, per vCPU a gapless prefix. */
static long long assert_rows_intact(const struct vm *vm)
{
	long long rows = q("SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)vm->boot_id);

	assert_int_equal(q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND el = 1 AND action = 'emulate'"
			   " AND ((seq %% 2 = 0 AND is_write = 1 AND key = 51072 AND value = (vcpu << 40) + seq)"
			   " OR (seq %% 2 = 1 AND is_write = 0 AND key = 51080 AND value = 4369))",
			   (unsigned long long)vm->boot_id), rows);
	for (int v = 0; v < VCPUS; v++) {
		long long n = q("SELECT count(*) FROM accesses WHERE boot_id = %llu AND vcpu = %d",
				(unsigned long long)vm->boot_id, v);

		if (n)
			assert_int_equal(q("SELECT max(seq) FROM accesses WHERE boot_id = %llu AND vcpu = %d",
					   (unsigned long long)vm->boot_id, v), n - 1);
		/* a row is logged before its verdict is sent: at most one more than answered */
		assert_true((uint64_t)n <= vm->cpu[v].answered + 1);
	}
	return rows;
}

/* ---- kill -9 in the middle of a busy boot --------------------------------- */

#define KILL_ROUNDS 3
/* These VMMs do not reconnect: a kill loses what the store had not committed
 * and, with the fast path (on by default), what each connection's ring held
 * untaken, plus what the vCPU answered into the dead idsrd's ring until it
 * was full: FP_RING_ENTRIES a connection at most, and the row of the access
 * each connection's thread was answering (docs/reliability.md). */
#define LOSS_BOUND (STORE_PACE_ROWS + VCPUS * (FP_RING_ENTRIES + 1))

static void test_kill9(void **state)
{
	long long worst = 0;
	uint64_t busy = getenv("IDSR_SLOW") ? 400 : 4000;	/* (IDSR_SLOW: under valgrind) */

	for (int round = 0; round < KILL_ROUNDS; round++) {
		struct vm vm;
		long long rows, lost;
		uint64_t answered;

		assert_int_equal(harness_start(&h, NULL), 0);
		vm_start(&vm, "busy");
		/* busy: wait for a few thousand verdicts, then a little more */
		harness_wait_until(vm_answered(&vm) >= busy);
		harness_sleep_ms(50 + 40 * round);	/* not a wait: each round kills at another point */
		kill(h.pid, SIGKILL);
		waitpid(h.pid, NULL, 0);
		h.pid = 0;
		vm_join(&vm);
		answered = vm_answered(&vm);
		assert_true(answered >= busy);

		/* the file after the crash, before anyone repairs anything */
		assert_integrity_ok();
		rows = assert_rows_intact(&vm);
		lost = (long long)answered - rows;
		if (lost > worst)
			worst = lost;
		printf("# round %d: %llu answered, %lld rows committed, %lld lost to the kill"
		       " (bound: STORE_PACE_ROWS + the rings, %d rows)\n", round, (unsigned long long)answered,
		       rows, lost, LOSS_BOUND);
		assert_true(lost <= LOSS_BOUND);

		/* the next start marks the boot cut off, with what it logged (if its
		 * record was committed at all: it may be in the lost batch too) */
		assert_int_equal(harness_start(&h, NULL), 0);
		if (rows || q("SELECT count(*) FROM boots WHERE id = %llu", (unsigned long long)vm.boot_id))
			assert_int_equal(q("SELECT count(*) FROM boots WHERE id = %llu AND end_ns IS NOT NULL"
				   " AND end_reason LIKE 'cut off%%' AND accesses = %lld",
				   (unsigned long long)vm.boot_id, rows), 1);
		assert_int_equal(harness_stop(&h), 0);
		assert_integrity_ok();
		assert_int_equal(assert_rows_intact(&vm), rows);
	}
	printf("# worst loss over %d kills: %lld rows (STORE_PACE_ROWS %d = 2 x STORE_BATCH;"
	       " STORE_LINGER_MS %d)\n", KILL_ROUNDS, worst, STORE_PACE_ROWS, STORE_LINGER_MS);
}

/* ---- a full disk and a read-only file: verdicts go on, losses are counted ------ */

static bool mounted;

static int mount_small(const char *opts)
{
	char dir[280];

	snprintf(dir, sizeof(dir), "%s/small", h.dir);
	mkdir(dir, 0700);
	if (mount("idsr-test", dir, "tmpfs", 0, opts) < 0)
		return -errno;
	mounted = true;
	snprintf(h.db, sizeof(h.db), "%s/trace.db", dir);
	return 0;
}

static int remount_small(unsigned long flags, const char *opts)
{
	char dir[280];

	snprintf(dir, sizeof(dir), "%s/small", h.dir);
	return mount("idsr-test", dir, "tmpfs", MS_REMOUNT | flags, opts) < 0 ? -errno : 0;
}

static void unmount_small(void)
{
	char dir[280];

	snprintf(dir, sizeof(dir), "%s/small", h.dir);
	if (mounted && umount2(dir, MNT_DETACH) == 0)
		mounted = false;
}

/* The boot's entry in status: accesses and rows dropped so far. */
static bool boot_status(uint64_t boot_id, uint64_t *accesses, uint64_t *dropped, uint64_t *queued)
{
	Frame *f = harness_status(&h);
	bool found = false;

	if (!f)
		return false;
	*queued = f->reply->status->queue_depth;
	for (size_t i = 0; i < f->reply->status->n_boots; i++) {
		const Idsr__V1__BootStatus *b = f->reply->status->boots[i];

		if (b->boot_id == boot_id) {
			*accesses = b->accesses;
			*dropped = b->rows_dropped;
			found = true;
		}
	}
	frame_free(f);
	return found;
}

/* Runs the VM until status shows dropped rows, then a thousand accesses more. */
static void run_until_drops(struct vm *vm)
{
	uint64_t acc = 0, dropped = 0, queued = 0, then;

	harness_wait_until(boot_status(vm->boot_id, &acc, &dropped, &queued) && dropped > 0);
	then = vm_answered(vm);
	harness_wait_until(vm_answered(vm) >= then + 1000);
	vm_stop(vm);
	printf("# %s: %llu answered, %llu dropped so far; slowest verdict %.1f ms\n", vm->name,
	       (unsigned long long)vm_answered(vm), (unsigned long long)dropped,
	       (double)vm->cpu[0].slowest_ns / 1e6);
	assert_true(dropped > 0);
	for (int v = 0; v < VCPUS; v++)
		assert_true(vm->cpu[v].slowest_ns < 1000000000);	/* never blocked on the disk */
}

/* The fast path's part in status (this idsrd's only boot): every record the
 * vCPUs wrote was taken, and the boot's drops past the queue are the
 * records' plus at most its round trips'. Rows the writer could not write (a
 * full or read-only disk) were queued: not the records' drops. */
static void assert_fast_counted(const struct vm *vm, uint64_t dropped)
{
	Frame *f = harness_status(&h);
	uint64_t fast = 0, answered = vm_answered(vm);
	const Idsr__V1__Status *st;

	for (int v = 0; v < VCPUS; v++)
		fast += __atomic_load_n(&vm->cpu[v].fast, __ATOMIC_RELAXED);
	assert_non_null(f);
	st = f->reply->status;
	printf("# %s: %llu fast-path records taken (%llu answered), %llu of them dropped, %llu full-ring waits\n",
	       vm->name, (unsigned long long)st->fast_path_records, (unsigned long long)fast,
	       (unsigned long long)st->fast_path_dropped, (unsigned long long)st->fast_path_ring_full);
	assert_int_equal(st->fast_path_records, fast);
	assert_true(fast > answered / 2);
	assert_true(st->fast_path_dropped <= dropped);
	if (vm->queue_drops) {
		assert_true(st->fast_path_dropped > 0);
		assert_true(dropped - st->fast_path_dropped <= answered - fast);
	}
	frame_free(f);
}

/* The boot's rows in the file. */
static long long boot_rows(const struct vm *vm)
{
	return q("SELECT count(*) FROM accesses WHERE boot_id = %llu", (unsigned long long)vm->boot_id);
}

/* Once everything is flushed: rows in the file + rows counted as dropped = accesses.
 * (The queue empties before the writer commits the batch it took off it: wait
 * for the sum, and assert it exactly after.) */
static void assert_counted(const struct vm *vm)
{
	uint64_t acc = 0, dropped = 0, queued = 1;
	long long rows;

	harness_wait_until(boot_status(vm->boot_id, &acc, &dropped, &queued) && !queued &&
			   acc == vm_answered(vm) && (uint64_t)boot_rows(vm) + dropped == acc);
	assert_true(boot_status(vm->boot_id, &acc, &dropped, &queued));
	rows = boot_rows(vm);
	printf("# %s: %llu accesses = %lld rows written + %llu counted as dropped\n", vm->name,
	       (unsigned long long)acc, rows, (unsigned long long)dropped);
	assert_int_equal(acc, vm_answered(vm));
	assert_int_equal((uint64_t)rows + dropped, acc);
	assert_fast_counted(vm, dropped);
}

static void test_full_disk(void **state)
{
	struct vm vm;
	int rc = mount_small("size=1m,mode=0700");

	if (rc < 0) {
		printf("# cannot mount a small tmpfs (%s): needs root\n", strerror(-rc));
		skip();
	}
	assert_int_equal(harness_start(&h, NULL), 0);
	vm_start(&vm, "fulldisk");
	run_until_drops(&vm);
	assert_counted(&vm);
	vm_join(&vm);
	/* the daemon is alive and logged why */
	assert_int_equal(kill(h.pid, 0), 0);
	/* room again: the next boot is written whole */
	assert_int_equal(remount_small(0, "size=64m"), 0);
	{
		struct vm after;

		vm_start(&after, "afterfull");
		harness_wait_until(vm_answered(&after) >= 1000);
		vm_join(&after);
		for (int v = 0; v < VCPUS; v++)
			assert_true(vm.cpu[v].slowest_ns < 1000000000);
		assert_true(vm_answered(&after) >= 1000);
		harness_wait_until(boot_rows(&after) == (long long)vm_answered(&after));
		assert_int_equal(boot_rows(&after), vm_answered(&after));
	}
	assert_int_equal(harness_stop(&h), 0);
	assert_integrity_ok();
	unmount_small();
}

/* The kernel's emergency read-only remount (ext4 errors=remount-ro, as after an
 * I/O error), which unlike `mount -o remount,ro` happens with files open. */
static void test_read_only(void **state)
{
	char cmd[2048], dir[280];
	struct vm vm;

	snprintf(dir, sizeof(dir), "%s/small", h.dir);
	mkdir(dir, 0700);
	snprintf(cmd, sizeof(cmd), "truncate -s 32M %s/fs.img && mkfs.ext4 -q %s/fs.img && "
		 "mount -o loop,errors=remount-ro %s/fs.img %s 2>/dev/null", h.dir, h.dir, h.dir, dir);
	if (system(cmd) != 0) {
		printf("# cannot loop-mount an ext4 image: needs root and loop devices\n");
		skip();
	}
	mounted = true;
	snprintf(h.db, sizeof(h.db), "%s/trace.db", dir);
	assert_int_equal(harness_start(&h, NULL), 0);
	vm_start(&vm, "readonly");
	harness_wait_until(boot_rows(&vm) >= 1000);
	snprintf(cmd, sizeof(cmd), "echo 1 > /sys/fs/ext4/$(basename $(findmnt -no SOURCE %s))/trigger_fs_error",
		 dir);
	assert_int_equal(system(cmd), 0);
	run_until_drops(&vm);
	assert_counted(&vm);
	vm_join(&vm);
	assert_int_equal(kill(h.pid, 0), 0);
	/* it stops cleanly even though its last records cannot be written */
	assert_int_equal(harness_stop(&h), 0);
	assert_integrity_ok();
	unmount_small();
}

/* Another process holds the database's write lock (a long transaction in the
 * sqlite3 shell): the writer commits nothing; verdicts wait at most
 * STORE_PACE_MS once, then rows past the queue are dropped and counted.
 * The lock is taken in the middle of the boot, while its vCPUs hold still:
 * against a writer committing batch after batch, SQLite's busy handler (which
 * sleeps and retries) may miss every gap between commits for its whole
 * timeout, as it did under load. Nothing is lost by holding the vCPUs: the
 * writer is the one contending, and it meets the lock on its next batch. */
static void test_locked_database(void **state)
{
	const char *const args[] = { "--queue", "40000", NULL };
	uint64_t acc = 0, dropped = 0, queued = 1;
	struct vm vm;
	sqlite3 *db;

	assert_int_equal(harness_start(&h, args), 0);
	assert_int_equal(sqlite3_open(h.db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	vm_start(&vm, "locked");
	vm.queue_drops = true;
	harness_wait_until(boot_rows(&vm) >= 1000);
	atomic_store(&vm.hold, true);
	harness_wait_until(atomic_load(&vm.held) == VCPUS);
	assert_int_equal(atomic_load(&vm.held), VCPUS);
	harness_wait_until(boot_status(vm.boot_id, &acc, &dropped, &queued) && !queued &&
			   boot_rows(&vm) == (long long)vm_answered(&vm));
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	atomic_store(&vm.hold, false);
	run_until_drops(&vm);
	assert_true(harness_log_has(&h, "verdicts no longer wait for it"));
	/* the lock goes: the writer catches up and the count is exact */
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_counted(&vm);
	vm_join(&vm);
	assert_int_equal(harness_stop(&h), 0);
	assert_integrity_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_database, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
