/* SPDX-License-Identifier: MIT */
/*
 * Bench 8a: the fast path (issue 21) against the floor of the same run: what an
 * access costs the vCPU thread while the ring has room, and the accesses per
 * second one and four vCPUs sustain with every row committed and checked.
 *
 * The floor (a blocking echo, bench 1) runs in this process's run, round by
 * round with the fast path, so that a busy machine weighs on both alike.
 * The fast runs use bench_fast_access: registers bench_policy_text answers by
 * stateless rules (a read `value', a write `ignore'), so every access but the
 * first of each (register, direction) is answered in the VMM. A run's time
 * ends when idsrd has committed the last row (Status.rows_written), and the
 * rows are counted in the database afterwards: "committed and checked" (idsrd
 * checks each record against the policy as it takes it).
 */
#include "bench.h"

/* Accesses per burst of the cost run: under half the ring (no Wake frame),
 * so that each access finds room; idsrd takes the burst on its next tick. */
#define BURST		256
#define BURST_GAP_US	20000	/* two ticks (FP_TICK_MS): the ring is empty again */

/* p50 and p99 (µs) of one fast-path access, over n accesses in bursts; *fast
 * says how many of them the fast path answered (the rest: round trips). */
static void fast_cost(const char *sock, uint64_t n, double *p50, double *p99, uint64_t *fast)
{
	struct idsr_hello h = { .vmm = "idsr-bench", .vm_name = "bench-fast-cost", .vcpus = 1, .kernel = "bench" };
	uint64_t *ns = malloc(n * sizeof(*ns)), fast0;
	struct idsr_conn *conn;
	struct idsr_access a;
	struct idsr_verdict v;

	if (!ns)
		bench_die("out of memory for %llu samples", (unsigned long long)n);
	if (idsr_connect(sock, &h, &conn) < 0)
		bench_die("idsrd: %s", idsr_last_error());
	for (uint64_t i = 0; i < 8; i++) {	/* the round trips that fill the table */
		bench_fast_access(0, i, &a);
		if (idsr_access(conn, &a, &v) < 0)
			bench_die("access: %s", idsr_last_error());
	}
	usleep(BURST_GAP_US);
	fast0 = idsr_fast_answers(conn);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t;

		if (i && i % BURST == 0)
			usleep(BURST_GAP_US);
		bench_fast_access(0, i, &a);
		t = bench_now_ns();
		if (idsr_access(conn, &a, &v) < 0)
			bench_die("access %llu: %s", (unsigned long long)i, idsr_last_error());
		ns[i] = bench_now_ns() - t;
	}
	*fast = idsr_fast_answers(conn) - fast0;
	*p50 = bench_quantile_us(ns, n, 0.50);
	*p99 = bench_quantile_us(ns, n, 0.99);
	idsr_close(conn, "bench done");
	free(ns);
}

/* One throughput round of conns vCPUs (one connection each) making n accesses
 * in all: accesses/s from the first access to the last row's commit. */
struct fast_round {
	double rate;			/* accesses/s, every row committed */
	double answered_rate;		/* accesses/s as the vCPUs saw them (the last answer) */
	uint64_t fast, ring_full;
	double writer_us;		/* the store writer's CPU µs a row */
	double taker_us;		/* the rest of idsrd's (taking and checking records) */
	double vcpu_us;			/* the vCPU threads' (this process) */
};

static struct fast_round fast_round(struct bench_daemon *d, unsigned conns, uint64_t n)
{
	struct bench_status st0, st;
	struct fast_round fr = { 0 };
	double w0 = bench_thread_cpu_s(d->pid, "idsrd-store"), p0 = bench_proc_cpu_s(d->pid);
	double c0 = bench_self_cpu_s();
	struct bench_run run;
	uint64_t done = 0;
	int64_t rows;

	if (bench_daemon_status(d, &st0) < 0)
		bench_die("idsrd does not answer status");
	run = bench_run_clients(TARGET_FAST, d->socket, conns, n, false, 0);
	fr.vcpu_us = (bench_self_cpu_s() - c0) * 1e6 / (double)run.sent;
	/* Every row committed: the store's count moved by all of them. */
	for (int i = 0; i < 60000; i++) {
		if (bench_daemon_status(d, &st) == 0 && st.rows_written - st0.rows_written >= run.sent) {
			done = bench_now_ns();
			break;
		}
		usleep(1000);
	}
	if (!done)
		bench_die("idsrd did not commit %llu rows in 60 s", (unsigned long long)run.sent);
	rows = bench_rows_logged(d, run.boot_id);
	if (rows != (int64_t)run.sent)
		bench_die("%lld rows logged for %llu accesses", (long long)rows, (unsigned long long)run.sent);
	fr.rate = (double)run.sent * 1e9 / (double)(done - run.t0);
	fr.answered_rate = run.rate;
	fr.fast = run.fast;
	fr.ring_full = st.fp_ring_full - st0.fp_ring_full;
	fr.writer_us = (bench_thread_cpu_s(d->pid, "idsrd-store") - w0) * 1e6 / (double)run.sent;
	fr.taker_us = (bench_proc_cpu_s(d->pid) - p0) * 1e6 / (double)run.sent - fr.writer_us;
	return fr;
}

int main(void)
{
	double floor1[64], floor4[64], floor_p50[64], fast1[64], fast4[64], seen1[64], seen4[64];
	double cost50[64], cost99[64], writer1[64], writer4[64], taker1[64], taker4[64], vcpu1[64], vcpu4[64];
	uint64_t fast_in1 = 0, fast_in4 = 0, full1 = 0, full4 = 0, cost_fast = 0, cost_n;
	struct bench_daemon d;
	struct bench_floor fl;
	unsigned rounds;
	char dir[256];
	uint64_t n;
	FILE *j;

	bench_start(dir, sizeof(dir), "fastpath", &fl);
	rounds = bench_rounds;
	n = bench_n * 5;	/* 200,000 by default: the rate is over many rings */
	cost_n = bench_n;
	unsetenv("IDSR_FAST_PATH");	/* on: the default (bench_init pinned it off) */
	bench_daemon_start(&d, dir, NULL);
	for (unsigned r = 0; r < rounds; r++) {
		struct bench_run fr1 = bench_run_clients(TARGET_FLOOR, fl.path, 1, n, true, 0);
		struct bench_run fr4 = bench_run_clients(TARGET_FLOOR, fl.path, 4, n, false, 0);
		struct fast_round f1 = fast_round(&d, 1, n), f4 = fast_round(&d, 4, n);
		uint64_t fast;

		floor1[r] = fr1.rate;
		floor_p50[r] = fr1.lat.p50;
		floor4[r] = fr4.rate;
		fast1[r] = f1.rate;
		fast4[r] = f4.rate;
		seen1[r] = f1.answered_rate;
		seen4[r] = f4.answered_rate;
		writer1[r] = f1.writer_us;
		writer4[r] = f4.writer_us;
		taker1[r] = f1.taker_us;
		taker4[r] = f4.taker_us;
		vcpu1[r] = f1.vcpu_us;
		vcpu4[r] = f4.vcpu_us;
		fast_in1 += f1.fast;
		fast_in4 += f4.fast;
		full1 += f1.ring_full;
		full4 += f4.ring_full;
		fast_cost(d.socket, cost_n, &cost50[r], &cost99[r], &fast);
		cost_fast += fast;
	}
	bench_daemon_stop(&d);
	bench_floor_stop(&fl);
	bench_rmtree(dir);

	printf("\n8a. The fast path against the floor, same run: medians of %u rounds (load average %.2f)\n",
	       rounds, bench_loadavg());
	printf("   %-52s %12s %12s %10s\n", "", "fast path", "floor", "x floor");
	printf("   %-52s %12.2f %12.2f %10.3f\n", "one access on the vCPU thread, p50 µs (target <= 1)",
	       bench_median(cost50, rounds), bench_median(floor_p50, rounds),
	       bench_median(cost50, rounds) / bench_median(floor_p50, rounds));
	printf("   %-52s %12.2f %12s\n", "  p99 µs", bench_median(cost99, rounds), "");
	printf("   %-52s %12.0f %12.0f %10.2f\n", "1 vCPU: accesses/s, all committed (target >= 10x)",
	       bench_median(fast1, rounds), bench_median(floor1, rounds),
	       bench_median(fast1, rounds) / bench_median(floor1, rounds));
	printf("   %-52s %12.0f %12.0f %10.2f\n", "4 vCPUs: accesses/s, all committed (target >= 3x)",
	       bench_median(fast4, rounds), bench_median(floor4, rounds),
	       bench_median(fast4, rounds) / bench_median(floor4, rounds));
	printf("   as the vCPUs were answered (before the commit): %.0f accesses/s (1 vCPU), %.0f (4 vCPUs)\n",
	       bench_median(seen1, rounds), bench_median(seen4, rounds));
	printf("   CPU µs a row, 1 vCPU / 4 vCPUs: store writer %.2f / %.2f, the rest of idsrd (taking and\n"
	       "   checking records) %.2f / %.2f, the vCPU threads %.2f / %.2f\n",
	       bench_median(writer1, rounds), bench_median(writer4, rounds), bench_median(taker1, rounds),
	       bench_median(taker4, rounds), bench_median(vcpu1, rounds), bench_median(vcpu4, rounds));
	printf("   full-ring waits %llu and %llu over %llu accesses each; answered by the fast path: %.1f%% and\n"
	       "   %.1f%% of them, %.1f%% of the cost run's (the rest: the first of each register, and the accesses\n"
	       "   a full ring sent round)\n", (unsigned long long)full1,
	       (unsigned long long)full4, (unsigned long long)(n * rounds),
	       100.0 * (double)fast_in1 / (double)(n * rounds), 100.0 * (double)fast_in4 / (double)(n * rounds),
	       100.0 * (double)cost_fast / (double)(cost_n * rounds));

	j = bench_json_open("fastpath_rates");
	fprintf(j, "{\"rounds\": %u, \"accesses\": %llu, \"load\": %.2f, \"access_p50_us\": %.3f, "
		"\"access_p99_us\": %.3f, \"floor_p50_us\": %.2f, \"fast_1vcpu_per_s\": %.0f, "
		"\"floor_1conn_per_s\": %.0f, \"fast_1vcpu_x_floor\": %.2f, \"fast_4vcpu_per_s\": %.0f, "
		"\"floor_4conn_per_s\": %.0f, \"fast_4vcpu_x_floor\": %.2f, \"answered_1vcpu_per_s\": %.0f, "
		"\"answered_4vcpu_per_s\": %.0f, \"writer_us_per_row_1\": %.2f, \"writer_us_per_row_4\": %.2f, "
		"\"taker_us_per_row_1\": %.2f, \"taker_us_per_row_4\": %.2f, \"vcpu_us_per_access_1\": %.2f, "
		"\"vcpu_us_per_access_4\": %.2f, \"ring_full_1\": %llu, \"ring_full_4\": %llu}\n",
		rounds, (unsigned long long)n, bench_loadavg(), bench_median(cost50, rounds),
		bench_median(cost99, rounds), bench_median(floor_p50, rounds), bench_median(fast1, rounds),
		bench_median(floor1, rounds), bench_median(fast1, rounds) / bench_median(floor1, rounds),
		bench_median(fast4, rounds), bench_median(floor4, rounds),
		bench_median(fast4, rounds) / bench_median(floor4, rounds), bench_median(seen1, rounds),
		bench_median(seen4, rounds), bench_median(writer1, rounds), bench_median(writer4, rounds),
		bench_median(taker1, rounds), bench_median(taker4, rounds), bench_median(vcpu1, rounds),
		bench_median(vcpu4, rounds), (unsigned long long)full1, (unsigned long long)full4);
	fclose(j);
	return 0;
}
