/* SPDX-License-Identifier: MIT */
/*
 * A tool, not part of `make bench`: N round trips through libidsr-client and
 * nothing else, for counting the instructions of a round trip under
 * callgrind on either side (bench/instructions.sh runs it). Counts do not
 * depend on the machine's load, so a change to the trap path can be measured
 * on a busy machine.
 *
 *   bench_instr SOCKET N    N accesses of bench_access's mix on vCPU 0
 *   bench_instr --policy    prints the policy they are answered by
 */
#include "bench.h"

int main(int argc, char **argv)
{
	struct idsr_hello h = { .vmm = "bench_instr", .vm_name = "bench_instr", .vcpus = 1 };
	struct idsr_conn *c;
	char *end;
	unsigned long long n;

	if (argc == 2 && strcmp(argv[1], "--policy") == 0) {
		fputs(bench_policy_text, stdout);
		return 0;
	}
	if (argc != 3)
		bench_die("usage: bench_instr SOCKET N | bench_instr --policy");
	n = strtoull(argv[2], &end, 10);
	if (*argv[2] < '0' || *argv[2] > '9' || *end)
		bench_die("N `%s' is not a number", argv[2]);
	setenv("IDSR_FAST_PATH", "0", 1);	/* round trips, as the round-trip benchmarks */
	if (idsr_connect(argv[1], &h, &c) < 0)
		bench_die("%s", idsr_last_error());
	for (unsigned long long i = 0; i < n; i++) {
		struct idsr_access a;
		struct idsr_verdict v;

		bench_access(0, i, &a);
		if (idsr_access(c, &a, &v) < 0)
			bench_die("access %llu: %s", i, idsr_last_error());
	}
	if (idsr_close(c, "bench_instr") < 0)
		bench_die("%s", idsr_last_error());
	return 0;
}
