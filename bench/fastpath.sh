#!/bin/bash
# SPDX-License-Identifier: MIT
# 8b. The fast path end to end: idsr-vmm boots a guest making 200,000 reads of HID0_EL1 (the
# bench_loop_200k guest) under `* raz-wi', answered by the fast path (the default), by round
# trips (IDSR_FAST_PATH=0 pins it off), and in-process (--local raz: no idsrd, the limit). Every access of
# the idsrd boots is logged (the row count is checked). Best of BENCH_FP_RUNS (3) wall times;
# ratios are against the in-process boot of the same run. Writes $BENCH_OUT/fastpath.json.
# Reports; never fails on a slow machine.
set -u
B=${BUILD:-build}
OUT=${BENCH_OUT:-$B/bench}
G=$B/guests
RUNS=${BENCH_FP_RUNS:-3}
echo
echo "8b. the fast path end to end: a 200,000-read guest booted by idsr-vmm (best of $RUNS)"
if [ ! -x "$B/idsr-vmm" ] || [ ! -f "$G/bench_loop_200k.bin" ]; then
	echo "   idsr-vmm or the bench_loop_200k guest is not built (make guests); skipped"
	exit 0
fi
. "$(dirname "$0")/idsrd.sh"
bench_idsrd_start fp
local_ns=$(best "$B/idsr-vmm" --local raz "$G/bench_loop_200k.bin")
fast_ns=$(best env -u IDSR_FAST_PATH "$B/idsr-vmm" --socket "$T/vmm.sock" "$G/bench_loop_200k.bin")
trip_ns=$(best env IDSR_FAST_PATH=0 "$B/idsr-vmm" --socket "$T/vmm.sock" "$G/bench_loop_200k.bin")
kill "$DAEMON" && wait "$DAEMON" 2>/dev/null
DAEMON=
rows=$(sqlite3 "$T/trace.db" "select count(*) from accesses" 2>/dev/null || echo "?")
load=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }'; }
ms() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1e6 }'; }
printf '   %-46s %10s %16s\n' "200,000 reads of HID0_EL1, answered by" "ms" "x in-process"
printf '   %-46s %10s %16s\n' "in-process (idsr-vmm --local raz, the limit)" "$(ms "$local_ns")" "1.0"
printf '   %-46s %10s %16s\n' "idsrd, fast path (the default; target <= 6x)" "$(ms "$fast_ns")" "$(ratio "$fast_ns" "$local_ns")"
printf '   %-46s %10s %16s\n' "idsrd, round trips (IDSR_FAST_PATH=0)" "$(ms "$trip_ns")" "$(ratio "$trip_ns" "$local_ns")"
echo "   rows idsrd logged: $rows (= 2 x $RUNS x 200000 when every access is logged); load average: $load"
mkdir -p "$OUT"
printf '{"local_ns": %s, "fast_path_ns": %s, "round_trip_ns": %s, "fast_vs_local": %s, "trips_vs_local": %s, "rows": "%s", "load": "%s"}\n' \
	"$local_ns" "$fast_ns" "$trip_ns" "$(ratio "$fast_ns" "$local_ns")" "$(ratio "$trip_ns" "$local_ns")" "$rows" "$load" \
	>"$OUT/fastpath.json"
