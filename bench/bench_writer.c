/* SPDX-License-Identifier: MIT */
/*
 * Bench 4b: the store's writer alone (idsrd/store*.c in this process, no
 * sockets): the CPU a row costs its thread (idsrd-store) to insert into
 * SQLite, for one vCPU and four interleaved, committed 120 and 1000 rows at a
 * time, against the floor's round trip in the same run.
 *
 * Why: with the fast path the writer is what bounds a VMM's accesses/s
 * (docs/performance.md, "The fast path"): one vCPU at 10x the floor's round
 * trips/s needs a row to cost the writer under a tenth of the floor's round
 * trip. "rows/s of writer CPU / floor round trips/s" is that ratio (>= 10
 * needed, with a CPU for the writer alone).
 *
 * Each case pushes BENCH_WRITER_N rows (default 100000) of one boot and waits
 * for the commit (store_flush) after every 120 or 1000, so that the batches
 * are those sizes whatever the load; the rows are then counted in the file.
 * BENCH_WRITER_CASE=V:C runs only V vCPUs in C-row commits, once, without the
 * floor: for `valgrind --tool=callgrind --separate-threads=yes`, which counts
 * the writer thread's instructions a row (docs/performance.md says how).
 */
#include "bench.h"
#include "db.h"
#include "idsrd/store.h"
#include "log.h"

#define NCASES	4

struct writer_case {
	unsigned vcpus, commit;
};

static const struct writer_case cases[NCASES] = { { 1, 120 }, { 1, 1000 }, { 4, 120 }, { 4, 1000 } };

struct writer_run {
	double cpu_us, wall_us;		/* a row: the writer thread's CPU, the wall clock */
	uint64_t commits;
};

/* Row i of a boot with vcpus vCPUs interleaved: a kernel PC, a timestamp of
 * now, values that differ (their record is as long as a real one's). */
static struct store_row writer_row(int64_t boot, uint64_t i, unsigned vcpus)
{
	return (struct store_row){ .boot_id = boot, .ts_ns = 1764700000000000000ll + (int64_t)i * 250,
				   .seq = i / vcpus, .vcpu = (uint32_t)(i % vcpus),
				   .key = 0xc780 + (uint32_t)(i % 7), .pc = 0xffff800010000000ull + (i % 4096) * 4,
				   .value = i * 0x1000001ull, .el = 1, .is_write = i % 3 == 0,
				   .undef = i % 11 == 0, .rule = (int32_t)(i % 5) + 1 };
}

static int64_t count_rows(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char why[512];
	int64_t n = -1;

	if (db_open(path, DB_READONLY, &db, why, sizeof(why)) < 0)
		bench_die("%s", why);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM accesses", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	db_close(db);
	return n;
}

static struct writer_run writer_case_run(const char *dir, const struct writer_case *c, uint64_t n)
{
	struct store_boot b = { .start_ns = 1, .vmm = "idsr-bench", .vm_name = "bench-writer", .kernel = "bench" };
	struct store_stats st0, st;
	struct writer_run wr;
	struct store *s;
	char path[512], why[512];
	double cpu0;
	uint64_t t0;

	snprintf(path, sizeof(path), "%s/writer-%u-%u.db", dir, c->vcpus, c->commit);
	if (store_open(path, 1 << 16, &s, why, sizeof(why)) < 0)
		bench_die("%s", why);
	b.vcpus = c->vcpus;
	b.id = store_next_boot_id(s);
	store_boot_begin(s, &b);
	store_flush(s);
	store_get_stats(s, &st0);
	cpu0 = bench_thread_cpu_s(getpid(), "idsrd-store");
	t0 = bench_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		struct store_row r = writer_row(b.id, i, c->vcpus);

		if (!store_push_row(s, &r))
			bench_die("the store's queue refused row %llu", (unsigned long long)i);
		if ((i + 1) % c->commit == 0 || i + 1 == n)
			store_flush(s);
	}
	wr.wall_us = (double)(bench_now_ns() - t0) / 1e3 / (double)n;
	wr.cpu_us = (bench_thread_cpu_s(getpid(), "idsrd-store") - cpu0) * 1e6 / (double)n;
	store_get_stats(s, &st);
	wr.commits = st.commits - st0.commits;
	if (st.rows_written - st0.rows_written != n || st.rows_dropped)
		bench_die("%llu of %llu rows written, %llu dropped",
			  (unsigned long long)(st.rows_written - st0.rows_written), (unsigned long long)n,
			  (unsigned long long)st.rows_dropped);
	store_close(s);
	if (count_rows(path) != (int64_t)n)
		bench_die("%s holds %lld rows, not %llu", path, (long long)count_rows(path), (unsigned long long)n);
	unlink(path);
	return wr;
}

/* BENCH_WRITER_CASE=V:C: one case, once, nothing else (for callgrind). */
static int writer_one(const char *spec, uint64_t n)
{
	struct writer_case c;
	struct writer_run wr;
	char dir[256];

	if (sscanf(spec, "%u:%u", &c.vcpus, &c.commit) != 2 || !c.vcpus || !c.commit)
		bench_die("BENCH_WRITER_CASE=`%s' is not VCPUS:ROWS_A_COMMIT (e.g. 4:1000)", spec);
	bench_tmpdir(dir, sizeof(dir), "writer");
	wr = writer_case_run(dir, &c, n);
	printf("%u vCPUs, %u-row commits: %llu rows, %.3f µs of writer CPU a row, %llu commits\n", c.vcpus,
	       c.commit, (unsigned long long)n, wr.cpu_us, (unsigned long long)wr.commits);
	bench_rmtree(dir);
	return 0;
}

int main(void)
{
	uint64_t n = bench_env("BENCH_WRITER_N", 100000);
	struct writer_run runs[NCASES][64];
	double floor_rate[64], cpu[64], wall[64], med_cpu[NCASES], med_wall[NCASES], floor;
	struct bench_floor fl;
	struct bench_cpu fc;
	char dir[256];
	FILE *j;

	log_init("bench_writer", false, LOG_LVL_WARN);	/* not store_close's line a case */
	db_configure_process();		/* as idsrd's main */
	if (getenv("BENCH_WRITER_CASE")) {
		bench_init();
		return writer_one(getenv("BENCH_WRITER_CASE"), n);
	}
	bench_start(dir, sizeof(dir), "writer", &fl);
	for (unsigned r = 0; r < bench_rounds; r++) {
		floor_rate[r] = bench_floor_round(&fl, 1, bench_n, &fc).rate;
		for (int k = 0; k < NCASES; k++)
			runs[k][r] = writer_case_run(dir, &cases[k], n);
	}
	bench_floor_stop(&fl);
	bench_rmtree(dir);
	floor = bench_median(floor_rate, bench_rounds);

	printf("\n4b. The store's writer alone: %llu rows of one boot into SQLite (idsrd/store*.c, no\n"
	       "    sockets), a commit every 120 or 1000 rows; CPU of its thread a row; medians of %u\n"
	       "    rounds, each after a floor round (1 connection: %.0f round trips/s)\n\n",
	       (unsigned long long)n, bench_rounds, floor);
	printf("   %-26s %12s %12s %14s %18s\n", "", "CPU µs/row", "wall µs/row", "rows/CPU-s",
	       "x floor trips/s");
	j = bench_json_open("writer");
	fprintf(j, "{\"rows\": %llu, \"rounds\": %u, \"floor_round_trips_per_s\": %.0f, \"cases\": [", (unsigned long long)n,
		bench_rounds, floor);
	for (int k = 0; k < NCASES; k++) {
		char name[64];

		for (unsigned r = 0; r < bench_rounds; r++) {
			cpu[r] = runs[k][r].cpu_us;
			wall[r] = runs[k][r].wall_us;
		}
		med_cpu[k] = bench_median(cpu, bench_rounds);
		med_wall[k] = bench_median(wall, bench_rounds);
		snprintf(name, sizeof(name), "%u vCPU%s, %u-row commits", cases[k].vcpus,
			 cases[k].vcpus > 1 ? "s" : "", cases[k].commit);
		printf("   %-26s %12.3f %12.3f %14.0f %17.2fx\n", name, med_cpu[k], med_wall[k],
		       1e6 / med_cpu[k], 1e6 / med_cpu[k] / floor);
		fprintf(j, "%s{\"vcpus\": %u, \"rows_a_commit\": %u, \"cpu_us_a_row\": %.3f, \"wall_us_a_row\": %.3f,"
			" \"rows_per_cpu_s\": %.0f, \"x_floor\": %.2f}", k ? ", " : "", cases[k].vcpus,
			cases[k].commit, med_cpu[k], med_wall[k], 1e6 / med_cpu[k], 1e6 / med_cpu[k] / floor);
	}
	fprintf(j, "]}\n");
	fclose(j);
	/* The fast path's target (issue 21): one vCPU at 10x the floor's round
	 * trips/s, every row committed: the writer must manage at least that on
	 * a CPU of its own (it shares it with the vCPUs and idsrd's threads). */
	printf("\n   the writer alone reaches 10x the floor's round trips/s (the fast path's 1-vCPU\n"
	       "   target, with a CPU to itself), 1000-row commits: %s (%.2fx)\n\n",
	       1e6 / med_cpu[1] / floor >= 10 ? "yes" : "no", 1e6 / med_cpu[1] / floor);
	return 0;
}
