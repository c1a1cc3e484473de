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

/* One round of side d; its CPU µs a round trip, all of idsrd and its store
 * writer, counting the drain. */
static struct bench_run ab_round(struct bench_daemon *d, unsigned conns, uint64_t n, double *cpu,
				 double *writer)
{
	double d0 = bench_proc_cpu_s(d->pid), w0 = bench_thread_cpu_s(d->pid, "idsrd-store");
	struct bench_run run = bench_run_clients(TARGET_IDSRD, d->socket, conns, n, false, 0);
	struct bench_status st;

	if (bench_daemon_drain(d, &st) < 0)
		bench_die("a store queue did not drain in 60 s");
	*cpu = (bench_proc_cpu_s(d->pid) - d0) * 1e6 / (double)n;
	*writer = (bench_thread_cpu_s(d->pid, "idsrd-store") - w0) * 1e6 / (double)n;
	return run;
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
	double cpu_a[64], cpu_b[64], writer_a[64], writer_b[64];
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
			ra = ab_round(&a, conns, n, &cpu_a[r], &writer_a[r]);
			rb = ab_round(&b, conns, n, &cpu_b[r], &writer_b[r]);
		} else {
			rb = ab_round(&b, conns, n, &cpu_b[r], &writer_b[r]);
			ra = ab_round(&a, conns, n, &cpu_a[r], &writer_a[r]);
			f = bench_run_clients(TARGET_FLOOR, fl.path, conns, n, false, 0);
		}
		fl_rate[r] = f.rate;
		ratio_a[r] = ra.rate / f.rate;
		ratio_b[r] = rb.rate / f.rate;
		a_over_b[r] = ra.rate / rb.rate;
		printf("   %5u %14.0f %8.2f %8.2f %8.2f   %6.2f (%4.2f) %6.2f (%4.2f)\n", r, f.rate, ratio_a[r],
		       ratio_b[r], a_over_b[r], cpu_a[r], writer_a[r], cpu_b[r], writer_b[r]);
		fflush(stdout);
	}
	printf("   %5s %14.0f %8.3f %8.3f %8.3f   %6.2f (%4.2f) %6.2f (%4.2f)\n\n", "median",
	       bench_median(fl_rate, rounds), bench_median(ratio_a, rounds), bench_median(ratio_b, rounds),
	       bench_median(a_over_b, rounds), bench_median(cpu_a, rounds), bench_median(writer_a, rounds),
	       bench_median(cpu_b, rounds), bench_median(writer_b, rounds));
	bench_floor_stop(&fl);
	bench_daemon_stop(&a);
	bench_daemon_stop(&b);
	bench_rmtree(dir);
	free(build_a); free(build_b); free(args_a); free(args_b);
	return 0;
}
