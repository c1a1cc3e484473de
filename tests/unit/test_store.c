/* SPDX-License-Identifier: MIT */
/* Unit tests of the store writer on a real SQLite file: every row written
 * with its values, a bad row (a duplicate key) dropping only itself, and the
 * queue's memory following the rows that wait. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "idsrd/boot.h"
#include "idsrd/store.h"
#include "idsrd/store_int.h"
#include "tests/rmtree.h"

static char dir[] = "/tmp/idsr-store-XXXXXX";
static char trace[64];

static int setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	return rmtree(dir);
}

static struct store *open_queue(const char *name, size_t queue_cap)
{
	struct store *s = NULL;
	char why[256];

	snprintf(trace, sizeof(trace), "%s/%s", dir, name);
	assert_int_equal(store_open(trace, queue_cap, &s, why, sizeof(why)), 0);
	return s;
}

static struct store *open_fresh(const char *name)
{
	return open_queue(name, 1 << 16);
}

static int64_t begin_boot(struct store *s, uint32_t vcpus)
{
	struct store_boot b = { .start_ns = 1, .vmm = "test", .vm_name = "store", .vcpus = vcpus };

	b.id = store_next_boot_id(s);
	store_boot_begin(s, &b);
	return b.id;
}

/* Row i of a boot: vCPUs interleaved, values that tell rows apart. */
static struct store_row row_of(int64_t boot, uint64_t i, uint32_t vcpus)
{
	return (struct store_row){ .boot_id = boot, .ts_ns = (int64_t)i * 10, .seq = i / vcpus,
				   .vcpu = (uint32_t)(i % vcpus), .key = 0xc780 + (uint32_t)(i % 7),
				   .pc = 0xffff800010000000ull + i * 4, .value = i * 0x1000001ull,
				   .el = 1, .is_write = i % 3 == 0, .undef = i % 11 == 0,
				   .rule = (int32_t)(i % 5) };
}

static int64_t query_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char why[256];
	int64_t v;

	assert_int_equal(db_open(trace, DB_READONLY, &db, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	db_close(db);
	return v;
}

/* Rows of boot whose every column is what a row of vcpus vCPUs interleaved
 * (row_of) made (after store_close): row i is vCPU i % vcpus's seq i / vcpus, at ts i * 10. */
static int64_t rows_as_made(int64_t boot, uint32_t vcpus)
{
	char sql[640];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM accesses WHERE boot_id = %lld AND"
		 " seq = (ts_ns / 10) / %u AND vcpu = (ts_ns / 10) %% %u AND key = 51072 + (ts_ns / 10) %% 7"
		 " AND pc = %lld + (ts_ns / 10) * 4 AND value = (ts_ns / 10) * 16777217"
		 " AND el = 1 AND is_write = ((ts_ns / 10) %% 3 = 0)"
		 " AND action = CASE WHEN (ts_ns / 10) %% 11 = 0 THEN 'undef' ELSE 'emulate' END"
		 " AND rule = (ts_ns / 10) %% 5", (long long)boot, vcpus, vcpus,
		 (long long)0xffff800010000000ull);
	return query_int(sql);
}

/* 10000 rows of 4 vCPUs interleaved land exactly as pushed. */
static void test_rows_written_exactly(void **state)
{
	struct store *s = open_fresh("exact.db");
	struct store_stats st;
	int64_t boot = begin_boot(s, 4);

	for (uint64_t i = 0; i < 10000; i++) {
		struct store_row r = row_of(boot, i, 4);

		assert_true(store_push_row(s, &r));
	}
	store_flush(s);
	store_get_stats(s, &st);
	assert_int_equal(st.rows_written, 10000);
	assert_int_equal(st.rows_dropped, 0);
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM accesses"), 10000);
	/* Every column of every row, compared with what row_of made. */
	assert_int_equal(rows_as_made(boot, 4), 10000);
}

/* Batches of every size from 1 to 64 rows (a flush after each makes the
 * writer commit exactly that batch): each batch's rows are put in key order
 * and go in one statement (idsrd_batch), and every row of each lands once,
 * as pushed. */
static void test_every_batch_size(void **state)
{
	struct store *s = open_fresh("sizes.db");
	struct store_stats st;
	int64_t boot = begin_boot(s, 4);
	uint64_t i = 0;

	store_flush(s);
	for (uint64_t n = 1; n <= 64; n++) {
		for (uint64_t k = 0; k < n; k++, i++) {
			struct store_row r = row_of(boot, i, 4);

			assert_true(store_push_row(s, &r));
		}
		store_flush(s);
	}
	store_get_stats(s, &st);
	assert_int_equal(i, 64 * 65 / 2);
	assert_int_equal(st.rows_written, 2080);
	assert_int_equal(st.rows_dropped, 0);
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM accesses"), 2080);
	assert_int_equal(rows_as_made(boot, 4), 2080);
}

/* A duplicate key in the middle of a 32-row statement: the batch is written
 * again one row at a time, so that only the duplicate is dropped (and
 * counted on its boot); the rows around it, of that boot and another, are
 * all there. */
static void test_duplicate_drops_only_itself(void **state)
{
	struct store *s = open_fresh("dup.db");
	struct store_stats st;
	int64_t a = begin_boot(s, 2), b = begin_boot(s, 1);
	struct store_row dup;

	for (uint64_t i = 0; i < 100; i++) {
		struct store_row ra = row_of(a, i, 2), rb = row_of(b, i, 1);

		assert_true(store_push_row(s, &ra));
		assert_true(store_push_row(s, &rb));
		if (i == 40) {
			dup = row_of(a, 38, 2);	/* vCPU 0 seq 19 again, another value */
			dup.value = 0xdead;
			assert_true(store_push_row(s, &dup));
		}
	}
	store_flush(s);
	store_get_stats(s, &st);
	assert_int_equal(st.rows_written, 200);
	assert_int_equal(st.rows_dropped, 1);
	assert_int_equal(store_boot_losses(s, a), 1);
	assert_int_equal(store_boot_losses(s, b), 0);
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM accesses"), 200);
	assert_int_equal(query_int("SELECT count(*) FROM accesses WHERE value = 57005"), 0);
	assert_int_equal(query_int("SELECT value FROM accesses WHERE vcpu = 0 AND seq = 19 AND boot_id ="
				   " (SELECT min(id) FROM boots)"), 38 * 0x1000001ll);
	assert_int_equal(query_int("SELECT count(*) FROM boots"), 2);
}

/* The writer puts a batch's rows in key order before it inserts them
 * (store_batch.c): rows of three boots of 2, 5 and 80 vCPUs interleaved,
 * with control records (a policy, a boot's end) between them, land exactly,
 * once each. The first batch has more (boot, vCPU) pairs than the writer
 * orders over (it is written as it came), the others the first two boots'
 * seven; the boot ended in the middle counts the rows pushed before its end. */
static void test_interleaved_batch_order(void **state)
{
	static const uint32_t vcpus[3] = { 2, 5, 80 };
	struct boot_peer peer = { .uid = 1, .gid = 2, .pid = 3 };
	struct store *s = open_fresh("order.db");
	struct store_stats st;
	int64_t boot[3];
	uint64_t pushed = 0;

	for (int b = 0; b < 3; b++)
		boot[b] = begin_boot(s, vcpus[b]);
	store_flush(s);
	for (uint64_t i = 0; i < 1600; i++) {
		for (int b = 0; b < (i < 400 ? 3 : 2); b++) {
			struct store_row r = row_of(boot[b], i, vcpus[b]);

			assert_true(store_push_row(s, &r));
			pushed++;
		}
		if (i == 500)
			store_policy(s, "0000000000000004", "* raz-wi\n", NULL, "set", NULL, &peer);
		if (i == 999) {
			struct store_boot_end e = { .id = boot[1], .end_ns = 2, .reason = "test", .accesses = 1000 };

			store_boot_end(s, &e);
		}
		if (i % 400 == 399)
			store_flush(s);
	}
	store_flush(s);
	store_get_stats(s, &st);
	assert_int_equal(pushed, 3600);
	assert_int_equal(st.rows_written, 3600);
	assert_int_equal(st.rows_dropped, 0);
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM accesses"), 3600);
	assert_int_equal(rows_as_made(boot[0], vcpus[0]), 1600);
	assert_int_equal(rows_as_made(boot[1], vcpus[1]), 1600);
	assert_int_equal(rows_as_made(boot[2], vcpus[2]), 400);
	assert_int_equal(query_int("SELECT count(*) FROM policy_changes WHERE how = 'set'"), 1);
	assert_int_equal(query_int("SELECT accesses FROM boots WHERE end_reason = 'test'"), 1000);
}

/* The writer's connection skips the schema's CHECKs (its values come from a
 * bool); the file keeps them: another connection cannot log an action
 * outside ('emulate', 'undef'). */
static void test_check_kept_for_others(void **state)
{
	struct store *s = open_fresh("check.db");
	int64_t boot = begin_boot(s, 1);
	struct store_row r = row_of(boot, 11, 1);	/* an undef */
	sqlite3 *db;
	char why[256];

	assert_true(store_push_row(s, &r));
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM accesses WHERE action = 'undef'"), 1);
	assert_int_equal(db_open(trace, DB_CREATE, &db, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO accesses(boot_id, vcpu, seq, ts_ns, key, pc, el, is_write,"
				      " value, action) VALUES (1, 0, 99, 0, 0, 0, 1, 0, 0, 'allow')", NULL, NULL,
				      NULL), SQLITE_CONSTRAINT);
	db_close(db);
	assert_int_equal(query_int("SELECT count(*) FROM accesses"), 1);
}

/* This process's address space in bytes (VmSize), 0 if unknown. */
static size_t vm_size(void)
{
	char line[256];
	size_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmSize:", 7))
			kb = strtoul(line + 7, NULL, 10);
	if (f)
		fclose(f);
	return kb * 1024;
}

/* A control record that cannot be copied (out of memory: here a 64 MiB policy
 * text under an address-space limit) is counted and logged, not lost in
 * silence (it used to be queued with a NULL text, or not at all); the records
 * around it are written. */
static void test_lost_record_counted(void **state)
{
	const size_t big = 64u << 20;
	struct boot_peer peer = { .uid = 1, .gid = 2, .pid = 3 };
	struct store *s = open_fresh("lost.db");
	struct rlimit old, lim;
	struct store_stats st;
	char *text, logpath[96], buf[512] = "";
	int saved, fd;
	FILE *f;

#if defined(__SANITIZE_ADDRESS__)
	/* ASan reserves terabytes of address space (no RLIMIT_AS can make an
	 * allocation fail), and its strdup does not survive a NULL malloc: the
	 * plain suite runs this one. */
	printf("# not run under AddressSanitizer\n");
	store_close(s);
	return;
#endif
	text = mmap(NULL, big + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(text != MAP_FAILED);
	memset(text, 'x', big);
	text[big] = '\0';
	store_policy(s, "0000000000000001", "* undef\n", NULL, "start", NULL, &peer);
	store_flush(s);

	snprintf(logpath, sizeof(logpath), "%s/lost.log", dir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
	lim = old;
	lim.rlim_cur = vm_size() + (16u << 20);	/* room for small copies, not for the text's */
	assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
	store_policy(s, "0000000000000002", text, "big.conf", "load", "0000000000000001", &peer);
	assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	munmap(text, big + 1);
	store_policy(s, "0000000000000003", "* raz-wi\n", NULL, "reload", "0000000000000001", &peer);

	store_flush(s);
	store_get_stats(s, &st);
	assert_int_equal(st.records_dropped, 1);
	assert_int_equal(st.write_errors, 0);
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM policies"), 2);
	assert_int_equal(query_int("SELECT count(*) FROM policies WHERE hash = '0000000000000002'"), 0);
	assert_int_equal(query_int("SELECT count(*) FROM policy_changes"), 2);
	f = fopen(logpath, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(strstr(buf, "store: out of memory queuing a policy change; it is not in "));
}

/* ---- the queue's memory ------------------------------------------------ */

/* Holds the writer in each of its commits (SQLite's commit hook, on its
 * thread) until the test lets it go: the test then knows exactly what the
 * queue holds when the writer next takes a batch. */
struct gate {
	sem_t at_commit, go;
	atomic_bool open;
};

static int gate_commit(void *arg)
{
	struct gate *g = arg;

	sem_post(&g->at_commit);
	if (!atomic_load(&g->open))
		while (sem_wait(&g->go) < 0 && errno == EINTR)
			;
	return 0;
}

static void sem_wait_ok(sem_t *sem)
{
	while (sem_wait(sem) < 0)
		assert_int_equal(errno, EINTR);
}

/* Opens a store whose writer waits at each commit for the test, and queues a
 * boot (its record is the first commit: the writer is held in it on return).
 * The test paces the writer itself, so the store's pacing (a wait for the
 * next commit, which the test holds) is out of its way. */
static struct store *open_gated(const char *name, size_t queue_cap, struct gate *g, int64_t *boot)
{
	struct store *s = open_queue(name, queue_cap);

	assert_int_equal(sem_init(&g->at_commit, 0, 0), 0);
	assert_int_equal(sem_init(&g->go, 0, 0), 0);
	atomic_init(&g->open, false);
	/* The writer is idle (nothing queued yet): it sees the hook when it
	 * next takes the lock after our push below. */
	sqlite3_commit_hook(s->db, gate_commit, g);
	pthread_mutex_lock(&s->lock);
	s->pace_rows = queue_cap;
	pthread_mutex_unlock(&s->lock);
	*boot = begin_boot(s, 4);
	sem_wait_ok(&g->at_commit);
	return s;
}

/* Lets the writer go for good and waits until everything queued is committed. */
static void gate_open(struct store *s, struct gate *g)
{
	atomic_store(&g->open, true);
	sem_post(&g->go);
	store_flush(s);
	sqlite3_commit_hook(s->db, NULL, NULL);	/* the writer waits for work: the lock orders it */
	sem_destroy(&g->at_commit);
	sem_destroy(&g->go);
}

/* A field of the queue, read under its lock (&s->count, &s->touched). */
static size_t queue_field(struct store *s, const size_t *field)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = *field;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Slots of the queue's ring whose pages are resident (mincore(2)). */
static size_t ring_resident_slots(struct store *s)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, n = 0;
	uintptr_t from = (uintptr_t)s->ring & ~(page - 1);
	uintptr_t to = (uintptr_t)(s->ring + s->cap);
	unsigned char *vec;

	pages = (to - from + page - 1) / page;
	vec = malloc(pages);
	assert_non_null(vec);
	assert_int_equal(mincore((void *)from, to - from, vec), 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	free(vec);
	return n * (page / sizeof(struct store_item));
}

/*
 * A load that never lets the queue empty (idsrd under many busy VMMs): while
 * the writer is held in each commit the test tops the queue up to 9192 rows,
 * so each batch the writer takes (8192) leaves 1000 behind. Four times the
 * queue's 65536 rows pass through it. The ring's memory follows the 9192 rows
 * that waited, not how many passed: the slots of the chunks it took (lowest
 * first) are at most the high water and two chunks, and so are its resident
 * pages. A ring that started over at slot 0 only when empty touched all
 * 65536 slots (4 MiB; 64 MiB at idsrd's default --queue, the 64-connection
 * stress test's peak). Every row lands once, as pushed.
 */
static void test_ring_follows_depth(void **state)
{
	const size_t cap = 1 << 16, depth = STORE_BATCH + 1000, total = 4 * cap;
	const size_t bound = (depth / STORE_CHUNK + 2) * STORE_CHUNK;
	struct store_stats st;
	struct gate g;
	int64_t boot;
	struct store *s = open_gated("depth.db", cap, &g, &boot);
	size_t touched = 0, resident = 0;
	uint64_t i = 0;

	for (;;) {
		/* The writer is in a commit: top the queue up to depth. */
		while (queue_field(s, &s->count) < depth && i < total) {
			struct store_row r = row_of(boot, i++, 4);

			assert_true(store_push_row(s, &r));
		}
		if (i == total)
			break;
		sem_post(&g.go);
		sem_wait_ok(&g.at_commit);
	}
	touched = queue_field(s, &s->touched);
	resident = ring_resident_slots(s);
	gate_open(s, &g);
	store_get_stats(s, &st);
	printf("# %zu rows through a queue of %zu, high water %llu: %zu slots touched, %zu resident\n",
	       total, cap, (unsigned long long)st.queue_high_water, touched, resident);
	assert_int_equal(st.queue_high_water, depth);
	assert_in_range(touched, depth, bound);
	assert_in_range(resident, 0, touched);
	assert_int_equal(st.rows_written, total);
	assert_int_equal(st.rows_dropped, 0);
	store_close(s);
	assert_int_equal(rows_as_made(boot, 4), total);
}

/* Polls until the writer has handed the spike's chunks back (it trims after
 * the commit that emptied the queue, after store_flush returned): the slots
 * resident, at most want, or more after a minute. */
static size_t resident_after_trim(struct store *s, size_t want)
{
	size_t n = 0;

	for (int tries = 0; tries < 60000 && (n = ring_resident_slots(s)) > want; tries++)
		usleep(1000);
	return n;
}

/* Frames in trace's WAL: those a passive checkpoint finds there (it copies
 * them too, which changes nothing the test then reads). */
static int wal_frames(void)
{
	sqlite3 *db;
	int log = -1, ckpt = -1;

	assert_int_equal(sqlite3_open_v2(trace, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt), SQLITE_OK);
	sqlite3_close(db);
	return log;
}

/*
 * The WAL's checkpoint is the checkpointer thread's, not the writer's
 * (store_checkpoint.c): commits of 1000 rows until the WAL holds
 * STORE_CKPT_FRAMES frames wake it, it checkpoints (awaited with a generous
 * deadline), the writer never checkpointed itself, and the writer's next
 * commit starts the WAL over: it then holds that commit's frames only.
 */
static void test_checkpoint_off_writer(void **state)
{
	struct store *s = open_fresh("ckpt.db");
	int64_t boot = begin_boot(s, 4);
	char wal[80];
	uint64_t runs = 0, inline_runs = 0, i = 0;
	struct stat sb;
	int frames;

	snprintf(wal, sizeof(wal), "%s-wal", trace);
	do {
		for (uint64_t end = i + 1000; i < end; i++) {
			struct store_row r = row_of(boot, i, 4);

			assert_true(store_push_row(s, &r));
		}
		store_flush(s);
		assert_int_equal(stat(wal, &sb), 0);
		assert_true(i < 1000000);
	} while ((sb.st_size - 32) / (4096 + 24) < STORE_CKPT_FRAMES);
	for (int ms = 0; ms < 60000 && runs == 0; ms++) {
		store_checkpoints(s, &runs, &inline_runs);
		usleep(1000);
	}
	assert_int_equal(runs, 1);
	assert_int_equal(inline_runs, 0);
	for (uint64_t end = i + 1000; i < end; i++) {
		struct store_row r = row_of(boot, i, 4);

		assert_true(store_push_row(s, &r));
	}
	store_flush(s);
	frames = wal_frames();
	assert_true(frames > 0 && frames < 200);
	store_checkpoints(s, &runs, &inline_runs);
	assert_int_equal(runs, 1);
	assert_int_equal(inline_runs, 0);
	store_close(s);
	assert_int_equal(query_int("SELECT count(*) FROM accesses"), (int64_t)i);
	assert_int_equal(rows_as_made(boot, 4), (int64_t)i);
}

/*
 * A spike (a disk that commits nothing: here the writer held in a commit):
 * the queue takes exactly --queue rows less the 1024 kept for control
 * records, drops the next row and counts it, still takes a control record;
 * every slot of those rows is then touched. Once the writer has emptied the
 * queue it hands the deep chunks back: STORE_TRIM_KEEP slots stay touched
 * and resident, and the rows all land.
 */
static void test_spike_handed_back(void **state)
{
	const size_t cap = 1 << 16;
	struct store_stats st;
	struct gate g;
	int64_t boot;
	struct store *s = open_gated("spike.db", cap, &g, &boot);
	struct store_boot_end end = { .end_ns = 2, .reason = "spike done" };
	struct store_row r;
	size_t resident;
	uint64_t i = 0;

	for (; i < cap - 1024; i++) {
		r = row_of(boot, i, 4);
		assert_true(store_push_row(s, &r));
	}
	r = row_of(boot, i, 4);
	assert_int_equal(store_push_row(s, &r), 0);
	end.id = boot;
	end.accesses = i;
	store_boot_end(s, &end);
	assert_int_equal(queue_field(s, &s->count), cap - 1024 + 1);
	assert_in_range(queue_field(s, &s->touched), cap - 1024 + 1, cap + 2 * STORE_CHUNK);
	gate_open(s, &g);
	resident = resident_after_trim(s, STORE_TRIM_KEEP);
	printf("# %zu slots resident after the spike\n", resident);
	assert_in_range(resident, 0, STORE_TRIM_KEEP);
	assert_int_equal(queue_field(s, &s->touched), STORE_TRIM_KEEP);
	store_get_stats(s, &st);
	assert_int_equal(st.rows_written, cap - 1024);
	assert_int_equal(st.rows_dropped, 1);
	store_close(s);
	assert_int_equal(rows_as_made(boot, 4), cap - 1024);
	assert_int_equal(query_int("SELECT count(*) FROM boots WHERE end_reason = 'spike done'"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_written_exactly),
		cmocka_unit_test(test_every_batch_size),
		cmocka_unit_test(test_duplicate_drops_only_itself),
		cmocka_unit_test(test_interleaved_batch_order),
		cmocka_unit_test(test_check_kept_for_others),
		cmocka_unit_test(test_lost_record_counted),
		cmocka_unit_test(test_ring_follows_depth),
		cmocka_unit_test(test_spike_handed_back),
		cmocka_unit_test(test_checkpoint_off_writer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
