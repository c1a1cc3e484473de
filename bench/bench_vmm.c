/* SPDX-License-Identifier: MIT */
/*
 * Bench 2c: end to end. A real guest (bench_loop_short: 20000 reads of an
 * Apple HID register, tests/guests/guests.mk) run by idsr-vmm through idsrd
 * (--socket) and answered in-process (--local raz, no daemon): the difference
 * over the accesses is what idsrd adds to a guest's access, VMM, client
 * library and kernel included. Against the floor's mean round trip (its
 * wall time over its round trips) in the same rounds: both are means.
 */
#include "bench.h"

/* LOOPS of bench_loop_short in tests/guests/guests.mk. */
#define GUEST_ACCESSES	20000

/* Where idsr-vmm's output goes (it says what failed). */
static char vmm_log[320];

/* Runs idsr-vmm with args on the guest; its wall time in ns, or dies. */
static uint64_t vmm_run(const char *vmm, const char *guest, const char *how, const char *arg)
{
	uint64_t t0 = bench_now_ns();
	int st = 0;
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(vmm_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(vmm, vmm, how, arg, guest, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_die("%s %s %s %s failed (status %d; see %s)", vmm, how, arg, guest, st, vmm_log);
	return bench_now_ns() - t0;
}

int main(void)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	double floor_us[64], added_us[64], ratio[64], local_us[64];
	char vmm[512], guest[512], dir[256];
	struct bench_daemon d;
	struct bench_floor fl;
	struct bench_status st;
	uint64_t written0, n;
	unsigned rounds;
	FILE *j;

	snprintf(vmm, sizeof(vmm), "%s/idsr-vmm", build);
	snprintf(guest, sizeof(guest), "%s/guests/bench_loop_short.bin", build);
	printf("\n2c. End to end: a real guest's access through idsr-vmm and idsrd, against the floor\n");
	if (access(vmm, X_OK) != 0 || access(guest, R_OK) != 0) {
		printf("   %s or %s is not built (make guests); skipped\n\n", vmm, guest);
		j = bench_json_open("vmm");
		fputs("{\"available\": false}\n", j);
		fclose(j);
		return 0;
	}
	bench_start(dir, sizeof(dir), "vmm", &fl);
	rounds = bench_rounds;
	n = bench_n;
	bench_daemon_start(&d, dir, NULL);
	snprintf(vmm_log, sizeof(vmm_log), "%s/idsr-vmm.log", dir);
	vmm_run(vmm, guest, "--socket", d.socket);	/* warm up */
	if (bench_daemon_drain(&d, &st) < 0)
		bench_die("the store queue did not drain in 60 s");
	written0 = st.rows_written;
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t sock_ns = 0, local_ns = 0;

		/* Who goes first turns each round (see bench.h). */
		for (unsigned k = 0; k < 3; k++) {
			switch ((k + r) % 3) {
			case 0:
				floor_us[r] = 1e6 / bench_run_clients(TARGET_FLOOR, fl.path, 1, n, false, 0).rate;
				break;
			case 1:
				sock_ns = vmm_run(vmm, guest, "--socket", d.socket);
				break;
			default:
				local_ns = vmm_run(vmm, guest, "--local", "raz");
			}
		}
		local_us[r] = (double)local_ns / 1e3 / GUEST_ACCESSES;
		added_us[r] = ((double)sock_ns - (double)local_ns) / 1e3 / GUEST_ACCESSES;
		ratio[r] = added_us[r] / floor_us[r];
	}
	if (bench_daemon_drain(&d, &st) < 0)
		bench_die("the store queue did not drain in 60 s");
	bench_floor_stop(&fl);
	bench_daemon_stop(&d);
	bench_rmtree(dir);

	printf("   (bench_loop_short: %d HID0_EL1 reads; idsr-vmm --socket less --local raz, over\n"
	       "   the reads; the floor's mean round trip, %llu a round; medians of %u rounds)\n\n",
	       GUEST_ACCESSES, (unsigned long long)n, rounds);
	printf("   %-44s %10s %14s\n", "", "µs", "(min-max)");
	printf("   %-44s %10.2f %6.2f-%-6.2f\n", "floor round trip (mean)", bench_median(floor_us, rounds),
	       bench_min(floor_us, rounds), bench_max(floor_us, rounds));
	printf("   %-44s %10.2f %6.2f-%-6.2f\n", "guest access through idsrd, added (mean)",
	       bench_median(added_us, rounds), bench_min(added_us, rounds), bench_max(added_us, rounds));
	printf("   %-44s %10.2f\n", "guest access answered in-process (--local raz)",
	       bench_median(local_us, rounds));
	printf("   %-44s %10.2f %6.2f-%-6.2f\n", "ratio (added / floor, per round)",
	       bench_median(ratio, rounds), bench_min(ratio, rounds), bench_max(ratio, rounds));
	printf("   rows logged: %llu of %llu accesses\n",
	       (unsigned long long)(st.rows_written - written0), (unsigned long long)rounds * GUEST_ACCESSES);
	printf("\n   target: a guest's added cost per access <= 1.3x the floor round trip: %s\n\n",
	       bench_median(ratio, rounds) <= 1.3 ? "met" : "NOT met");

	j = bench_json_open("vmm");
	fprintf(j, "{\"available\": true, \"rounds\": %u, \"guest_accesses\": %d, \"floor_round_trip_us\": %.2f, "
		"\"added_us_per_access\": %.2f, \"local_us_per_access\": %.2f, \"ratio\": %.3f, "
		"\"ratio_min\": %.3f, \"ratio_max\": %.3f, \"rows_logged\": %llu}\n", rounds,
		GUEST_ACCESSES, bench_median(floor_us, rounds), bench_median(added_us, rounds),
		bench_median(local_us, rounds), bench_median(ratio, rounds), bench_min(ratio, rounds),
		bench_max(ratio, rounds), (unsigned long long)(st.rows_written - written0));
	fclose(j);
	return 0;
}
