#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every benchmark (make bench), prints their tables and merges their results into bench/results.json.
# BENCH_ROUNDS, BENCH_N, BENCH_SPIN_US size the runs (see bench/bench.h); BENCH_LONG=1 adds the
# 10M-access memory run. Benchmarks report; they never fail on a slow machine.
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
load_before=$(cut -d' ' -f1 /proc/loadavg)
compilers_before=$(cc1s)

for prog in bench_floor bench_roundtrip bench_scaling bench_store bench_replay; do
	[ -x "$BUILD/bench/$prog" ] || { echo "$prog: not built, skipped"; continue; }
	BENCH_LONG=0 "$BUILD/bench/$prog" || echo "$prog: failed (exit $?); its section is missing"
done
if [ "${BENCH_LONG:-0}" = 1 ]; then
	BENCH_LONG=1 "$BUILD/bench/bench_store" || echo "bench_store (memory run): failed (exit $?)"
	REPLAY_MEM_N=10000000 "$BUILD/bench/replay_memory" "$OUT/replay-memory.db"
fi

# The diff benchmark belongs to the diff work (bench/diff*); it runs when it is there.
diff_ran=false
for script in bench/diff*.sh bench/report.sh; do
	[ -x "$script" ] || continue
	"$script" || echo "$script: failed (exit $?); its section is missing"
	diff_ran=true
done
$diff_ran || echo "5b. diff vs GNU diff -u: no bench/diff*.sh on this branch yet; skipped"
bench/qemu.sh || echo "bench/qemu.sh: failed (exit $?); its section is missing"

load_after=$(cut -d' ' -f1 /proc/loadavg)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); compiler processes running: $(cc1s)"

# One JSON object: the machine, then each program's section.
{
	printf '{\n  "date": "%s",\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
	printf '  "machine": {"cpus": %s, "model": "%s", "kernel": "%s", "load_before": %s, "load_after": %s, "compilers_before": %s}' \
		"$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr -d '"')" \
		"$(uname -r)" "$load_before" "$load_after" "$compilers_before"
	for f in "$OUT"/*.json; do
		[ -e "$f" ] || continue
		printf ',\n  "%s": %s' "$(basename "$f" .json)" "$(cat "$f")"
	done
	printf '\n}\n'
} > "$RESULTS"
echo "results: $RESULTS"
