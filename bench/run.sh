#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every benchmark (make bench), prints their tables and merges their results into bench/results.json.
# BENCH_ROUNDS, BENCH_N, BENCH_SPIN_US size the runs (see bench/bench.h); BENCH_LONG=1 adds the
# 10M-access memory run; BENCH_ONLY="bench_roundtrip bench_vmm ..." runs only the programs and
# scripts named (results.json then has only theirs). Benchmarks report; they never fail on a slow machine.
set -eu

BUILD=${BUILD:-build}
OUT=${BENCH_OUT:-$BUILD/bench}
RESULTS=${BENCH_RESULTS:-bench/results.json}
export BUILD BENCH_OUT="$OUT"
mkdir -p "$OUT"
rm -f "$OUT"/*.json

cc1s() { ps -eo comm= | grep -cE '^(cc1|cc1plus|ld|as|collect2|rustc|clang)$' || true; }

echo "idsrd benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); compiler processes running: $(cc1s)"
echo "the round-trip benchmarks (1-7) pin the fast path off at Hello (IDSR_FAST_PATH=0, bench_init);"
echo "8a (bench_fastpath) and 8b (bench/fastpath.sh) measure it"
load_before=$(cut -d' ' -f1 /proc/loadavg)
compilers_before=$(cc1s)

# The load average (1 minute) before and after each program, in the output and in results.json:
# a figure means little without what else ran.
loads=""
load1() { cut -d' ' -f1 /proc/loadavg; }
# run NAME COMMAND...: runs one benchmark between two load readings (unless BENCH_ONLY leaves it out)
run() {
	local name=$1 before after
	shift
	case " ${BENCH_ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
	before=$(load1)
	"$@" || echo "$name: failed (exit $?); its section is missing"
	after=$(load1)
	echo "   [$name: load average $before before, $after after]"
	loads="$loads${loads:+, }\"$name\": {\"before\": $before, \"after\": $after}"
}

# The round trip twice: as the machine is (quiet is the case that matters), then busy on purpose
# (a SCHED_IDLE spinner per CPU: no CPU halts; bench/bench.h, bench_busy_start).
for prog in bench_floor bench_roundtrip bench_roundtrip_busy bench_vmm bench_scaling bench_store bench_writer bench_replay bench_fastpath; do
	exe=${prog%_busy}
	[ -x "$BUILD/bench/$exe" ] || { echo "$prog: not built, skipped"; continue; }
	busy=0
	[ "$prog" = "$exe" ] || busy=1
	run "$prog" env BENCH_LONG=0 BENCH_BUSY=$busy "$BUILD/bench/$exe"
done
if [ "${BENCH_LONG:-0}" = 1 ]; then
	run bench_store_long env BENCH_LONG=1 "$BUILD/bench/bench_store"
	run replay_memory env REPLAY_MEM_N=10000000 "$BUILD/bench/replay_memory" "$OUT/replay-memory.db"
fi

# The diff benchmark belongs to the diff work (bench/diff*); it runs when it is there.
diff_ran=false
for script in bench/diff*.sh bench/report.sh; do
	[ -x "$script" ] || continue
	run "$script" "$script"
	diff_ran=true
done
$diff_ran || echo "5b. diff vs GNU diff -u: no bench/diff*.sh on this branch yet; skipped"
run bench/qemu.sh bench/qemu.sh
run bench/fleet.sh bench/fleet.sh
run bench/fleet_read.sh bench/fleet_read.sh
run bench/fastpath.sh bench/fastpath.sh

load_after=$(cut -d' ' -f1 /proc/loadavg)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); compiler processes running: $(cc1s)"

# One JSON object: the machine, then each program's section.
{
	printf '{\n  "date": "%s",\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
	printf '  "machine": {"cpus": %s, "model": "%s", "kernel": "%s", "load_before": %s, "load_after": %s, "compilers_before": %s}' \
		"$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr -d '"')" \
		"$(uname -r)" "$load_before" "$load_after" "$compilers_before"
	printf ',\n  "loads": {%s}' "$loads"
	for f in "$OUT"/*.json; do
		[ -e "$f" ] || continue
		printf ',\n  "%s": %s' "$(basename "$f" .json)" "$(cat "$f")"
	done
	printf '\n}\n'
} > "$RESULTS"
echo "results: $RESULTS"
