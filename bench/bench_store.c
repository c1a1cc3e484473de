/* SPDX-License-Identifier: MIT */
/* Bench 4: the store under VMMs sending as fast as they can — rows/s, queue high water, waits, RSS. */
#include "bench.h"
#include "idsrd/store.h"

struct flood {
	const char *socket;
	unsigned conns;
	uint64_t total;
	struct bench_run run;
	volatile bool done;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;

	f->run = bench_run_clients(TARGET_IDSRD, f->socket, f->conns, f->total, false, 0);
	f->done = true;
	return NULL;
}

/* What idsrd said about waiting when it stopped (store_close): verdicts
 * held for a commit (pacing past its queue limit), stalls, and pushes that
 * found the queue's lock taken. -1 where the line is not there. */
struct waits {
	long long paced, stalls, lock, lock_max_us;
};

static struct waits read_waits(const char *log)
{
	struct waits w = { -1, -1, -1, -1 };
	char line[1024];
	FILE *f = fopen(log, "r");

	if (!f)
		return w;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "queue high water");

		if (p && (p = strchr(p, ';')))
			sscanf(p, "; %lld rows waited for a commit, %lld stalls; %lld rows waited for the"
			       " queue's lock (longest %lld", &w.paced, &w.stalls, &w.lock, &w.lock_max_us);
	}
	fclose(f);
	return w;
}

int main(void)
{
	bool is_long = bench_env("BENCH_LONG", 0) != 0;
	uint64_t total = bench_env("BENCH_STORE_N", is_long ? 10000000 : 400000);
	unsigned conns = (unsigned)bench_env("BENCH_STORE_CONNS", 4);
	struct flood f = { .conns = conns, .total = total };
	struct bench_status st0, st, end;
	struct bench_daemon d;
	uint64_t t0, t1, t_drained, max_depth = 0, next_rss = total / 10;
	long rss_start, rss_end, rss_max = 0;
	struct waits w;
	double flood_s, rows_per_s;
	int64_t rows;
	pthread_t t;
	char dir[256];
	FILE *j;

	bench_init();
	bench_tmpdir(dir, sizeof(dir), "store");
	bench_daemon_start(&d, dir, NULL);
	f.socket = d.socket;
	bench_run_clients(TARGET_IDSRD, d.socket, conns, 20000, false, 0);	/* warm up */
	if (bench_daemon_drain(&d, &st0) < 0)
		bench_die("the store queue did not drain in 60 s");
	rss_start = bench_rss_kib(d.pid);

	printf("\n4. Store: %u VMM connections sending %llu accesses as fast as they can%s\n\n", conns,
	       (unsigned long long)total, is_long ? " (BENCH_LONG: the memory run)" : "");
	if (is_long)
		printf("   %12s %12s %10s\n", "rows written", "queue", "RSS KiB");
	t0 = bench_now_ns();
	if (pthread_create(&t, NULL, flood_main, &f))
		bench_die("cannot start the flood thread");
	while (!f.done) {
		long rss;

		usleep(50000);
		if (bench_daemon_status(&d, &st) < 0)
			bench_die("idsrd stopped answering its control socket (see %s)", d.log);
		max_depth = st.queue_depth > max_depth ? st.queue_depth : max_depth;
		rss = bench_rss_kib(d.pid);
		rss_max = rss > rss_max ? rss : rss_max;
		if (is_long && st.rows_written - st0.rows_written >= next_rss) {
			printf("   %12llu %12llu %10ld\n",
			       (unsigned long long)(st.rows_written - st0.rows_written),
			       (unsigned long long)st.queue_depth, rss);
			fflush(stdout);
			next_rss += total / 10;
		}
	}
	pthread_join(t, NULL);
	t1 = bench_now_ns();
	if (bench_daemon_status(&d, &st) < 0)
		bench_die("idsrd stopped answering its control socket (see %s)", d.log);
	rss_end = bench_rss_kib(d.pid);
	if (bench_daemon_drain(&d, &end) < 0)
		bench_die("the store queue did not drain in 60 s");
	t_drained = bench_now_ns();
	rows = bench_rows_logged(&d, f.run.boot_id);
	bench_daemon_stop(&d);
	w = read_waits(d.log);

	/* Sustained: every row of the flood committed, over the flood and the
	 * drain after it (a writer that fell behind pays here). */
	flood_s = (double)(t_drained - t0) / 1e9;
	rows_per_s = (double)(end.rows_written - st0.rows_written) / flood_s;
	printf("   %-44s %14.0f\n", "accesses answered per second", f.run.rate);
	printf("   %-44s %14.0f\n", "rows committed per second (flood and drain)", rows_per_s);
	printf("   %-44s %14.1f\n", "ms from the last verdict to the last commit",
	       (double)(t_drained - t1) / 1e6);
	printf("   %-44s %14llu\n", "rows not yet committed, most seen (50 ms)",
	       (unsigned long long)max_depth);
	printf("   %-44s %14llu\n", "queue high water (daemon)", (unsigned long long)end.queue_high_water);
	printf("   %-44s %14llu\n", "rows dropped", (unsigned long long)end.rows_dropped);
	printf("   %-44s %14lld\n", "rows logged for the boot", (long long)rows);
	printf("   %-44s %14llu\n", "accesses sent", (unsigned long long)f.run.sent);
	printf("   %-44s %14lld\n", "verdicts that waited for a commit (pacing)", w.paced);
	printf("   %-44s %14lld\n", "  writer stalls (pacing given up)", w.stalls);
	printf("   %-44s %14lld\n", "verdicts that waited for the queue's lock", w.lock);
	printf("   %-44s %14lld\n", "  longest such wait (µs)", w.lock_max_us);
	printf("   %-44s %8ld -> %ld (max %ld)\n", "daemon RSS KiB, start -> end", rss_start, rss_end,
	       rss_max);
	/* The target (issue 7): the store keeps up with the live rate, its
	 * queue bounded, nothing dropped. Pacing keeps the queue bounded by
	 * holding a verdict for a commit (past STORE_PACE_ROWS, plus a row
	 * per connection racing for the last slot): how often it did is
	 * reported, and "without holding a verdict" is the stricter line. */
	printf("\n   store keeps up (rows/s >= 0.95x accesses/s, queue bounded by pacing,\n"
	       "   nothing dropped, every row logged): %s\n",
	       rows_per_s >= 0.95 * f.run.rate && end.queue_high_water <= STORE_PACE_ROWS + f.conns &&
	       end.rows_dropped == 0 && rows == (int64_t)f.run.sent ? "yes" : "NO");
	printf("   ... and without holding any verdict for a commit: %s (%lld held)\n\n",
	       w.paced == 0 ? "yes" : "no", w.paced);

	j = bench_json_open(is_long ? "store_long" : "store");
	fprintf(j, "{\"connections\": %u, \"accesses\": %llu, \"accesses_per_s\": %.0f, "
		"\"rows_per_s\": %.0f, \"drain_ms\": %.1f, \"queue_max_seen\": %llu, "
		"\"queue_high_water\": %llu, \"rows_dropped\": %llu, \"rows_logged\": %lld, "
		"\"paced\": %lld, \"stalls\": %lld, \"lock_waits\": %lld, \"lock_wait_max_us\": %lld, "
		"\"rss_start_kib\": %ld, "
		"\"rss_end_kib\": %ld, \"rss_max_kib\": %ld}\n", conns, (unsigned long long)f.run.sent,
		f.run.rate, rows_per_s, (double)(t_drained - t1) / 1e6, (unsigned long long)max_depth,
		(unsigned long long)end.queue_high_water, (unsigned long long)end.rows_dropped,
		(long long)rows, w.paced, w.stalls, w.lock, w.lock_max_us, rss_start, rss_end, rss_max);
	fclose(j);
	bench_rmtree(dir);
	return 0;
}
