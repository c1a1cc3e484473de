/* SPDX-License-Identifier: MIT */
/* Bench 5a: a replayed access's latency against a live one's (and the floor's), 1 connection. */
#include "bench.h"

#define MODES 3

static const char *const mode_name[MODES] = { "floor", "idsrd live", "idsrd replay" };

int main(void)
{
	unsigned rounds;
	uint64_t n;
	double p50[MODES][64], p99[MODES][64], rate[MODES][64], q50[64], q99[64];
	struct bench_daemon live;
	struct bench_floor fl;
	char dir[256], rdir[256];
	bool available = true;
	FILE *j;

	bench_start(dir, sizeof(dir), "replay", &fl);
	rounds = bench_rounds;
	n = bench_n;
	bench_daemon_start(&live, dir, NULL);
	bench_run_clients(TARGET_IDSRD, live.socket, 1, n / 10, false, 0);

	/* Each round records a boot live, then replays it on a daemon started
	 * with --replay on that boot: the same accesses, answered from the trace. */
	for (unsigned r = 0; r < rounds && available; r++) {
		struct bench_run fr, lr, rr;
		struct bench_status st;
		struct bench_daemon rep;
		char ref[400];
		const char *args[] = { "--replay", ref, NULL };

		fr = bench_run_clients(TARGET_FLOOR, fl.path, 1, n, true, 0);
		lr = bench_run_clients(TARGET_IDSRD, live.socket, 1, n, true, 0);
		if (bench_daemon_drain(&live, &st) < 0)
			bench_die("the store queue did not drain in 60 s");
		snprintf(ref, sizeof(ref), "%s:%llu", live.db, (unsigned long long)lr.boot_id);
		snprintf(rdir, sizeof(rdir), "%s/r%u", dir, r);
		if (mkdir(rdir, 0700) < 0)
			bench_die("mkdir %s: %s", rdir, strerror(errno));
		bench_daemon_start(&rep, rdir, args);
		rr = bench_run_clients(TARGET_IDSRD, rep.socket, 1, n, true, 0);
		bench_daemon_stop(&rep);
		available = rr.replaying;
		p50[0][r] = fr.lat.p50, p99[0][r] = fr.lat.p99, rate[0][r] = fr.rate;
		p50[1][r] = lr.lat.p50, p99[1][r] = lr.lat.p99, rate[1][r] = lr.rate;
		p50[2][r] = rr.lat.p50, p99[2][r] = rr.lat.p99, rate[2][r] = rr.rate;
		q50[r] = rr.lat.p50 / lr.lat.p50;
		q99[r] = rr.lat.p99 / lr.lat.p99;
	}
	bench_floor_stop(&fl);
	bench_daemon_stop(&live);
	bench_rmtree(dir);

	j = bench_json_open("replay");
	if (!available) {
		printf("\n5a. Replay: this idsrd did not answer from the recording (Welcome mode LIVE):\n"
		       "    replay is not on this branch yet; skipped\n\n");
		fputs("{\"available\": false}\n", j);
		fclose(j);
		return 0;
	}
	printf("\n5a. Replay: a boot recorded live, then replayed (idsrd --replay TRACE:BOOT), 1 connection;\n"
	       "    medians of %u rounds of %llu accesses\n\n", rounds, (unsigned long long)n);
	printf("   %-14s %9s %9s %11s\n", "", "p50 µs", "p99 µs", "trips/s");
	for (unsigned m = 0; m < MODES; m++)
		printf("   %-14s %9.2f %9.2f %11.0f\n", mode_name[m], bench_median(p50[m], rounds),
		       bench_median(p99[m], rounds), bench_median(rate[m], rounds));
	printf("\n   replay / live (median of per-round ratios): p50 %.2fx, p99 %.2fx\n\n",
	       bench_median(q50, rounds), bench_median(q99, rounds));
	fprintf(j, "{\"available\": true, \"rounds\": %u, \"round_trips\": %llu", rounds,
		(unsigned long long)n);
	for (unsigned m = 0; m < MODES; m++)
		fprintf(j, ", \"%s\": {\"p50_us\": %.2f, \"p99_us\": %.2f, \"round_trips_per_s\": %.0f}",
			m == 0 ? "floor" : m == 1 ? "live" : "replay", bench_median(p50[m], rounds),
			bench_median(p99[m], rounds), bench_median(rate[m], rounds));
	fprintf(j, ", \"replay_over_live\": {\"p50\": %.3f, \"p99\": %.3f}}\n", bench_median(q50, rounds),
		bench_median(q99, rounds));
	fclose(j);
	return 0;
}
