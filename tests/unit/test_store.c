/* SPDX-License-Identifier: MIT */
/* Unit tests of the store writer on a real SQLite file: every row written
 * with its values, and a bad row (a duplicate key) dropping only itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "db.h"
#include "idsrd/boot.h"
#include "idsrd/store.h"
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

static struct store *open_fresh(const char *name)
{
	struct store *s = NULL;
	char why[256];

	snprintf(trace, sizeof(trace), "%s/%s", dir, name);
	assert_int_equal(store_open(trace, 1 << 16, &s, why, sizeof(why)), 0);
	return s;
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

/* Rows of boot whose every column is what row_of made (after store_close). */
static int64_t rows_as_made(int64_t boot)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM accesses WHERE boot_id = %lld AND"
		 " seq = (ts_ns / 10) / 4 AND vcpu = (ts_ns / 10) %% 4 AND key = 51072 + (ts_ns / 10) %% 7"
		 " AND pc = %lld + (ts_ns / 10) * 4 AND value = (ts_ns / 10) * 16777217"
		 " AND el = 1 AND is_write = ((ts_ns / 10) %% 3 = 0)"
		 " AND action = CASE WHEN (ts_ns / 10) %% 11 = 0 THEN 'undef' ELSE 'emulate' END"
		 " AND rule = (ts_ns / 10) %% 5", (long long)boot, (long long)0xffff800010000000ull);
	return query_int(sql);
}

/* 10000 rows (many 32-row statements and a tail) land exactly as pushed. */
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
	assert_int_equal(rows_as_made(boot), 10000);
}

/* Batches of every size from 1 to 64 rows (a flush after each makes the
 * writer commit exactly that batch): a batch goes in statements of 32, 16,
 * 8, 4, 2 and 1 rows, and every row of each lands once, as pushed. */
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
	assert_int_equal(rows_as_made(boot), 2080);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_written_exactly),
		cmocka_unit_test(test_every_batch_size),
		cmocka_unit_test(test_duplicate_drops_only_itself),
		cmocka_unit_test(test_lost_record_counted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
