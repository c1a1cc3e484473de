#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrctl report on a 1M-access boot (apple_boot_long on 4 vCPUs, recorded through idsrd
# by the reference VMM): the page's size, the time idsrctl takes to write it, and its first
# complete render measured inside the page (navigation start to render done, the page's
# data-render-ms) in headless Chromium; medians of $RUNS. Baseline, same run: the report of
# a 30-access boot (apple_boot on 2 vCPUs). Writes $BENCH_OUT/report.json.
# Usage: BUILD=build bench/report.sh   (RUNS=5)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-5}
OUT_JSON=${BENCH_OUT:-$BUILD/bench}/report.json
CHROMIUM=$(command -v chromium || true)
for f in "$BUILD/idsrd" "$BUILD/idsrctl" "$BUILD/idsr-vmm" "$BUILD/guests/apple_boot_long.bin" "$CHROMIUM"; do
	[ -n "$f" ] && [ -e "$f" ] || { echo "bench/report.sh: ${f:-chromium} missing (make all; make deps)" >&2; exit 2; }
done
T=$(mktemp -d /tmp/idsr-reportbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$T"' EXIT

"$BUILD/idsrd" --socket "$T/vmm.sock" --control "$T/ctl.sock" --db "$T/trace.db" --foreground \
	--policy examples/policy.conf 2>"$T/idsrd.log" &
pid=$!
for _ in $(seq 1 200); do [ -S "$T/vmm.sock" ] && break; sleep 0.05; done
"$BUILD/idsr-vmm" --socket "$T/vmm.sock" --midr 611f0220 --vcpus 4 "$BUILD/guests/apple_boot_long.bin" >/dev/null 2>&1
"$BUILD/idsr-vmm" --socket "$T/vmm.sock" --midr 611f0220 --vcpus 2 "$BUILD/guests/apple_boot.bin" >/dev/null 2>&1
kill -TERM "$pid"; wait "$pid"; pid=

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# write BOOT: seconds idsrctl report takes
write() {
	local t0=$EPOCHREALTIME
	"$BUILD/idsrctl" report "$T/trace.db:$1" -o "$T/boot$1.html"
	printf '%.3f\n' "$(echo "$EPOCHREALTIME - $t0" | bc -l)"
}
render() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 \
		--dump-dom "file://$T/boot$1.html" 2>/dev/null | grep -o 'data-render-ms="[0-9.]*"' | grep -o '[0-9.]*'
}
rows=$(sqlite3 "$T/trace.db" "select count(*) from accesses where boot_id = 1")
for b in 1 2; do
	w[$b]=$(for _ in $(seq "$RUNS"); do write $b; done | median)
	r[$b]=$(for _ in $(seq "$RUNS"); do render $b; done | median)
	s[$b]=$(stat -c %s "$T/boot$b.html")
done
echo "6. idsrctl report (medians of $RUNS; load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '   %-28s %12s %12s %14s\n' "boot" "page bytes" "write s" "render ms"
printf '   %-28s %12s %12.3f %14.1f\n' "$rows accesses, 4 vCPUs" "${s[1]}" "${w[1]}" "${r[1]}"
printf '   %-28s %12s %12.3f %14.1f\n' "30 accesses, 2 vCPUs" "${s[2]}" "${w[2]}" "${r[2]}"
printf '   render ratio 1M / 30 accesses: %.2fx; targets: page <= 5 MB, render <= 2000 ms\n' \
	"$(echo "${r[1]} / ${r[2]}" | bc -l)"
printf -v ratio '%.2f' "$(echo "${r[1]} / ${r[2]}" | bc -l)"
printf '{"accesses": %s, "page_bytes": %s, "write_s": %s, "render_ms": %s, "baseline_page_bytes": %s, "baseline_write_s": %s, "baseline_render_ms": %s, "render_ratio": %s}\n' \
	"$rows" "${s[1]}" "${w[1]}" "${r[1]}" "${s[2]}" "${w[2]}" "${r[2]}" "$ratio" >"$OUT_JSON"
