/* SPDX-License-Identifier: MIT */
/* Bench 2: idsrd round trip with logging on, 1 connection, against the floor; and the --poll mode.
 * BENCH_BUSY=1: the same with one SCHED_IDLE spinner per CPU (see bench_busy_start). */
#include "bench.h"

#define MODES 3

static const char *const mode_name[MODES] = { "floor", "idsrd", "idsrd --poll" };

/* Latency figures of the modes, per round. */
struct series {
	double p50[64], p99[64], p999[64], rate[64];
	double sleeps[64], server_sleeps[64], ipis[64];	/* a round trip */
};

static void record(struct series *s, unsigned r, const struct bench_run *run)
{
	s->p50[r] = run->lat.p50;
	s->p99[r] = run->lat.p99;
	s->p999[r] = run->lat.p999;
	s->rate[r] = run->rate;
	s->sleeps[r] = run->sleeps;
	s->server_sleeps[r] = run->server_sleeps;
	s->ipis[r] = run->ipis;
}

/* Median (which 0), smallest (-1) or largest (1) over the rounds of
 * (mode / floor in the same round). */
static double ratio_of(const double *x, const double *floor, unsigned rounds, int which)
{
	double q[64];

	for (unsigned r = 0; r < rounds; r++)
		q[r] = floor[r] > 0 ? x[r] / floor[r] : 0;
	return which < 0 ? bench_min(q, rounds) : which > 0 ? bench_max(q, rounds) :
	       bench_median(q, rounds);
}

static double ratio(const double *x, const double *floor, unsigned rounds)
{
	return ratio_of(x, floor, rounds, 0);
}

static void check_rows(struct bench_daemon *d, const struct bench_run *run, const char *what)
{
	struct bench_status st;
	int64_t rows;

	if (bench_daemon_drain(d, &st) < 0)
		bench_die("%s: the store queue did not drain in 60 s", what);
	rows = bench_rows_logged(d, run->boot_id);
	if (rows != (int64_t)run->sent)
		fprintf(stderr, "bench: %s: %lld rows logged for %llu accesses sent\n", what,
			(long long)rows, (unsigned long long)run->sent);
}

int main(void)
{
	unsigned rounds;
	uint64_t n;
	unsigned spin = (unsigned)bench_env("BENCH_SPIN_US", 50);
	const char *poll_args[] = { "--poll", NULL };
	char dir[256], dir_poll[256], poll_arg[32];
	struct bench_daemon d, dp;
	struct bench_floor fl;
	struct bench_busy busy = { .n = 0 };
	bool busy_run = bench_env("BENCH_BUSY", 0) != 0;
	struct series s[MODES];
	FILE *j;

	bench_start(dir, sizeof(dir), "rt", &fl);
	rounds = bench_rounds;
	n = bench_n;
	snprintf(poll_arg, sizeof(poll_arg), "--poll=%u", spin);
	poll_args[0] = poll_arg;
	bench_tmpdir(dir_poll, sizeof(dir_poll), "rtpoll");
	bench_daemon_start(&d, dir, NULL);
	bench_daemon_start(&dp, dir_poll, poll_args);
	if (busy_run)
		bench_busy_start(&busy);
	/* warm up */
	bench_run_clients(TARGET_IDSRD, d.socket, 1, n / 10, false, 0);
	bench_run_clients(TARGET_IDSRD, dp.socket, 1, n / 10, false, spin);
	for (unsigned r = 0; r < rounds; r++) {
		struct bench_run run;

		/* Alternate who goes first: a burst of load elsewhere then hits
		 * every mode alike over the rounds. */
		for (unsigned k = 0; k < MODES; k++) {
			unsigned m = (k + r) % MODES;

			if (m == 0) {
				run = bench_run_counted(TARGET_FLOOR, fl.path, fl.pid, n, 0);
			} else if (m == 1) {
				run = bench_run_counted(TARGET_IDSRD, d.socket, d.pid, n, 0);
				check_rows(&d, &run, "idsrd");
			} else {
				run = bench_run_counted(TARGET_IDSRD, dp.socket, dp.pid, n, spin);
				check_rows(&dp, &run, "idsrd --poll");
			}
			record(&s[m], r, &run);
		}
	}
	bench_busy_stop(&busy);
	bench_floor_stop(&fl);
	bench_daemon_stop(&d);
	bench_daemon_stop(&dp);

	printf("\n2%s. Round trip, 1 connection, logging on%s: medians of %u rounds of %llu round trips\n"
	       "   (ratio: median over rounds of idsrd / floor in the same round; --poll: daemon\n"
	       "   --poll=%u and client idsr_set_spin(%u))\n\n", busy_run ? "b" : "",
	       busy_run ? ", BUSY (a SCHED_IDLE spinner per CPU)" : "", rounds, (unsigned long long)n,
	       spin, spin);
	printf("   %-14s %9s %9s %9s %11s   %7s %7s %7s %7s\n", "", "p50 µs", "p99 µs", "p99.9 µs",
	       "trips/s", "p50 x", "p99 x", "p99.9 x", "rate x");
	for (unsigned m = 0; m < MODES; m++)
		printf("   %-14s %9.2f %9.2f %9.2f %11.0f   %7.2f %7.2f %7.2f %7.2f\n", mode_name[m],
		       bench_median(s[m].p50, rounds), bench_median(s[m].p99, rounds),
		       bench_median(s[m].p999, rounds), bench_median(s[m].rate, rounds),
		       ratio(s[m].p50, s[0].p50, rounds), ratio(s[m].p99, s[0].p99, rounds),
		       ratio(s[m].p999, s[0].p999, rounds), ratio(s[m].rate, s[0].rate, rounds));
	/* Why: each sleep is a wake-up someone pays for; on an idle VM, an exit from halt. */
	printf("\n   a round trip's wake-ups (medians): sleeps of the client thread, of the server's\n"
	       "   threads (idsrd's writer included), rescheduling interrupts on all CPUs\n\n");
	printf("   %-14s %14s %14s %14s\n", "", "client sleeps", "server sleeps", "resched IPIs");
	for (unsigned m = 0; m < MODES; m++)
		printf("   %-14s %14.2f %14.2f %14.2f\n", mode_name[m], bench_median(s[m].sleeps, rounds),
		       bench_median(s[m].server_sleeps, rounds), bench_median(s[m].ipis, rounds));
	printf("\n   targets: idsrd p50 <= 1.15x, p99 <= 2x, trips/s >= 0.85x; --poll p50 <= 0.5x\n");
	printf("   met:     p50 %s, p99 %s, trips/s %s; --poll p50 %s\n\n",
	       ratio(s[1].p50, s[0].p50, rounds) <= 1.15 ? "yes" : "NO",
	       ratio(s[1].p99, s[0].p99, rounds) <= 2.0 ? "yes" : "NO",
	       ratio(s[1].rate, s[0].rate, rounds) >= 0.85 ? "yes" : "NO",
	       ratio(s[2].p50, s[0].p50, rounds) <= 0.5 ? "yes" : "NO");

	j = bench_json_open(busy_run ? "roundtrip_busy" : "roundtrip");
	fprintf(j, "{\"rounds\": %u, \"round_trips\": %llu, \"spin_us\": %u, \"busy_spinners\": %s",
		rounds, (unsigned long long)n, spin, busy_run ? "true" : "false");
	for (unsigned m = 0; m < MODES; m++) {
		struct bench_lat med = { bench_median(s[m].p50, rounds), bench_median(s[m].p99, rounds),
					 bench_median(s[m].p999, rounds), bench_median(s[m].rate, rounds) };

		fputs(", ", j);
		bench_json_lat(j, m == 0 ? "floor" : m == 1 ? "idsrd" : "idsrd_poll", &med);
		fprintf(j, ", \"%s_wakeups\": {\"client_sleeps\": %.3f, \"server_sleeps\": %.3f, "
			"\"resched_ipis\": %.3f}", m == 0 ? "floor" : m == 1 ? "idsrd" : "idsrd_poll",
			bench_median(s[m].sleeps, rounds), bench_median(s[m].server_sleeps, rounds),
			bench_median(s[m].ipis, rounds));
		if (m)
			fprintf(j, ", \"%s_ratio\": {\"p50\": %.3f, \"p99\": %.3f, \"p999\": %.3f, "
				"\"round_trips_per_s\": %.3f, \"p50_min\": %.3f, \"p50_max\": %.3f, "
				"\"rate_min\": %.3f, \"rate_max\": %.3f}", m == 1 ? "idsrd" : "idsrd_poll",
				ratio(s[m].p50, s[0].p50, rounds), ratio(s[m].p99, s[0].p99, rounds),
				ratio(s[m].p999, s[0].p999, rounds), ratio(s[m].rate, s[0].rate, rounds),
				ratio_of(s[m].p50, s[0].p50, rounds, -1), ratio_of(s[m].p50, s[0].p50, rounds, 1),
				ratio_of(s[m].rate, s[0].rate, rounds, -1),
				ratio_of(s[m].rate, s[0].rate, rounds, 1));
	}
	fputs("}\n", j);
	fclose(j);
	bench_rmtree(dir);
	bench_rmtree(dir_poll);
	return 0;
}
