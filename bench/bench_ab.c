/* SPDX-License-Identifier: MIT */
/*
 * A/B: two idsrd at once — two builds, or one build with two sets of options —
 * measured in alternating rounds against the floor, for changes whose effect
 * is smaller than the machine's noise from one run to the next. Not part of
 * `make bench`: a tool for whoever changes the trap path.
 *
 *   AB_A, AB_B             build directories of the two idsrd (default: BUILD)
 *   AB_ARGS_A, AB_ARGS_B   more options for each (space-separated)
 *   AB_CONNS               VMM connections (default 4)
 *   BENCH_ROUNDS, BENCH_N  rounds (default 5; use 9+) and accesses a round and side
 *
 *   AB_B=/tmp/old/build build/bench/bench_ab
 */
#include "bench.h"

#define AB_MAX_ARGS 8

/* Starts idsrd from build dir `build` with the options in `args`. */
static void ab_start(struct bench_daemon *d, const char *dir, const char *build, char *args)
{
	const char *argv[AB_MAX_ARGS + 1];
	int argc = 0;
	char *save;

	for (char *w = args ? strtok_r(args, " ", &save) : NULL; w && argc < AB_MAX_ARGS;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		bench_die("mkdir %s: %s", dir, strerror(errno));
	setenv("BUILD", build, 1);
	bench_daemon_start(d, dir, argv);
}

static char *env_copy(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

int main(void)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char *build_a = env_copy("AB_A"), *build_b = env_copy("AB_B");
	char *args_a = env_copy("AB_ARGS_A"), *args_b = env_copy("AB_ARGS_B");
	unsigned conns = (unsigned)bench_env("AB_CONNS", 4), rounds;
	double fl_rate[64], ratio_a[64], ratio_b[64], a_over_b[64];
	struct bench_cpu cpu_a[64], cpu_b[64], med_a, med_b;
	struct bench_daemon a, b;
	struct bench_floor fl;
	struct bench_status st;
	char dir[256], dir_a[300], dir_b[300];
	uint64_t n;

	bench_start(dir, sizeof(dir), "ab", &fl);
	rounds = bench_rounds;
	n = bench_n;
	if (conns < 1 || conns > BENCH_MAX_THREADS)
		bench_die("AB_CONNS must be 1..%d", BENCH_MAX_THREADS);
	snprintf(dir_a, sizeof(dir_a), "%s/a", dir);
	snprintf(dir_b, sizeof(dir_b), "%s/b", dir);
	ab_start(&a, dir_a, build_a ? build_a : build, args_a);
	ab_start(&b, dir_b, build_b ? build_b : build, args_b);
	setenv("BUILD", build, 1);
	bench_run_clients(TARGET_IDSRD, a.socket, 2, n / 10, false, 0);
	bench_run_clients(TARGET_IDSRD, b.socket, 2, n / 10, false, 0);
	if (bench_daemon_drain(&a, &st) < 0 || bench_daemon_drain(&b, &st) < 0)
		bench_die("a store queue did not drain in 60 s");

	printf("\nA/B, %u connections, %llu accesses a round and side; A: %s %s; B: %s %s\n\n", conns,
	       (unsigned long long)n, build_a ? build_a : build, args_a ? getenv("AB_ARGS_A") : "",
	       build_b ? build_b : build, args_b ? getenv("AB_ARGS_B") : "");
	printf("   %5s %14s %8s %8s %8s   %s\n", "round", "floor trips/s", "A x", "B x", "A / B",
	       "CPU µs a trip: A (writer)  B (writer)");
	/* Who goes first turns each round (see bench.h). */
	for (unsigned r = 0; r < rounds; r++) {
		struct bench_run f, ra, rb;

		if (r % 2 == 0) {
			f = bench_run_clients(TARGET_FLOOR, fl.path, conns, n, false, 0);
			ra = bench_idsrd_round(&a, conns, n, &cpu_a[r]);
			rb = bench_idsrd_round(&b, conns, n, &cpu_b[r]);
		} else {
			rb = bench_idsrd_round(&b, conns, n, &cpu_b[r]);
			ra = bench_idsrd_round(&a, conns, n, &cpu_a[r]);
			f = bench_run_clients(TARGET_FLOOR, fl.path, conns, n, false, 0);
		}
		fl_rate[r] = f.rate;
		ratio_a[r] = ra.rate / f.rate;
		ratio_b[r] = rb.rate / f.rate;
		a_over_b[r] = ra.rate / rb.rate;
		printf("   %5u %14.0f %8.2f %8.2f %8.2f   %6.2f (%4.2f) %6.2f (%4.2f)\n", r, f.rate, ratio_a[r],
		       ratio_b[r], a_over_b[r], cpu_a[r].server, cpu_a[r].writer, cpu_b[r].server,
		       cpu_b[r].writer);
		fflush(stdout);
	}
	med_a = bench_cpu_median(cpu_a, rounds);
	med_b = bench_cpu_median(cpu_b, rounds);
	printf("   %5s %14.0f %8.3f %8.3f %8.3f   %6.2f (%4.2f) %6.2f (%4.2f)\n\n", "median",
	       bench_median(fl_rate, rounds), bench_median(ratio_a, rounds), bench_median(ratio_b, rounds),
	       bench_median(a_over_b, rounds), med_a.server, med_a.writer, med_b.server, med_b.writer);
	bench_floor_stop(&fl);
	bench_daemon_stop(&a);
	bench_daemon_stop(&b);
	bench_rmtree(dir);
	free(build_a); free(build_b); free(args_a); free(args_b);
	return 0;
}
