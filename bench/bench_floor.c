/* SPDX-License-Identifier: MIT */
/* Bench 1: the physical floor — blocking unix-socket echo of Access/Verdict-sized frames, one connection. */
#include "bench.h"

int main(void)
{
	unsigned rounds;
	uint64_t n;
	double p50[64], p99[64], p999[64], rate[64];
	struct bench_floor fl;
	char dir[256];
	FILE *j;

	bench_start(dir, sizeof(dir), "floor", &fl);
	rounds = bench_rounds;
	n = bench_n;
	for (unsigned r = 0; r < rounds; r++) {
		struct bench_run run = bench_run_clients(TARGET_FLOOR, fl.path, 1, n, true, 0);

		p50[r] = run.lat.p50;
		p99[r] = run.lat.p99;
		p999[r] = run.lat.p999;
		rate[r] = run.rate;
	}
	bench_floor_stop(&fl);
	bench_rmtree(dir);

	printf("\n1. Floor: blocking echo over AF_UNIX, %zu-byte Access / %zu-byte Verdict frames,\n"
	       "   server in its own process, 1 connection; %u rounds of %llu round trips\n\n",
	       bench_alen, bench_vlen, rounds, (unsigned long long)n);
	printf("   %-22s %10s %10s %10s\n", "", "median", "min", "max");
	printf("   %-22s %10.2f %10.2f %10.2f\n", "p50 (µs)", bench_median(p50, rounds),
	       bench_min(p50, rounds), bench_max(p50, rounds));
	printf("   %-22s %10.2f %10.2f %10.2f\n", "p99 (µs)", bench_median(p99, rounds),
	       bench_min(p99, rounds), bench_max(p99, rounds));
	printf("   %-22s %10.2f %10.2f %10.2f\n", "p99.9 (µs)", bench_median(p999, rounds),
	       bench_min(p999, rounds), bench_max(p999, rounds));
	printf("   %-22s %10.0f %10.0f %10.0f\n", "round trips/s", bench_median(rate, rounds),
	       bench_min(rate, rounds), bench_max(rate, rounds));

	j = bench_json_open("floor");
	fprintf(j, "{\"access_bytes\": %zu, \"verdict_bytes\": %zu, \"rounds\": %u, \"round_trips\": %llu, "
		"\"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, \"round_trips_per_s\": %.0f}\n",
		bench_alen, bench_vlen, rounds, (unsigned long long)n, bench_median(p50, rounds),
		bench_median(p99, rounds), bench_median(p999, rounds), bench_median(rate, rounds));
	fclose(j);
	return 0;
}
