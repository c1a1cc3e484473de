#!/bin/bash
# SPDX-License-Identifier: MIT
# 7. A guest's IDSR access on QEMU (make qemu): CPUACTLR_EL1 read in a loop (the bench_a57
# guests), answered by QEMU's own cpreg (the cortex-a57 model defines it: the in-process limit;
# 100M reads), by idsrd through -idsr all=on, and by idsrd through idsr-vmm (100000 reads). A run's cost less that of the 1-read
# guest (starting and stopping the VMM), over the reads, is the cost of a read. Best of
# BENCH_QEMU_RUNS (3). Writes $BENCH_OUT/qemu.json. Reports; never fails on a slow machine.
set -u
B=${BUILD:-build}
OUT=${BENCH_OUT:-$B/bench}
QEMU=$B/qemu/qemu-system-aarch64
G=$B/guests
RUNS=${BENCH_QEMU_RUNS:-3}
echo
echo "7. a guest's IDSR read on QEMU: QEMU's cpreg vs idsrd (QEMU -idsr, idsr-vmm)"
if [ ! -x "$QEMU" ] || [ ! -f "$G/qemu/bench_a57.elf" ] || [ ! -x "$B/idsr-vmm" ]; then
	echo "   QEMU, the bench guests or idsr-vmm are not built (make qemu guests); skipped"
	exit 0
fi
. "$(dirname "$0")/idsrd.sh"
bench_idsrd_start qemu
qemu() { IDSR_FAST_PATH=0 "$QEMU" -M virt -cpu cortex-a57 -m 64 -nodefaults -display none -kernel "$G/qemu/$1.elf" "${@:2}"; }
# round trips: the fast path (bench/fastpath.sh measures it) is pinned off
vmm() { IDSR_FAST_PATH=0 "$B/idsr-vmm" --socket "$T/vmm.sock" "$G/$1.bin"; }
# per_read NS_N NS_1 N: ns a read, to a tenth
per_read() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (a - b) / (n - 1) }'; }

mkdir -p "$OUT"
cpreg_ns=$(per_read "$(best qemu bench_a57_big)" "$(best qemu bench_a57_1)" 100000000)
qidsr_ns=$(per_read "$(best qemu bench_a57 -idsr "socket=$T/vmm.sock,all=on")" \
	"$(best qemu bench_a57_1 -idsr "socket=$T/vmm.sock,all=on")" 100000)
vmm_ns=$(per_read "$(best vmm bench_a57)" "$(best vmm bench_a57_1)" 100000)
load=$(cut -d' ' -f1-3 /proc/loadavg)
rows=$(sqlite3 "$T/trace.db" "select count(*) from accesses" 2>/dev/null || echo "?")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }'; }
printf '   %-44s %10s\n' "CPUACTLR_EL1 read, answered by" "ns a read"
printf '   %-44s %10s\n' "QEMU's cpreg (cortex-a57, no -idsr)" "$cpreg_ns"
printf '   %-44s %10s   %s x the cpreg\n' "idsrd, from QEMU (-idsr all=on)" "$qidsr_ns" "$(ratio "$qidsr_ns" "$cpreg_ns")"
printf '   %-44s %10s   QEMU/idsr-vmm %s\n' "idsrd, from idsr-vmm (Unicorn)" "$vmm_ns" "$(ratio "$qidsr_ns" "$vmm_ns")"
echo "   round trips (IDSR_FAST_PATH=0); the fast path, answering in the VMM: section 8 (bench/fastpath.sh)"
echo "   rows idsrd logged: $rows; load average: $load (best of $RUNS runs each)"
printf '{"cpreg_ns": %s, "qemu_idsrd_ns": %s, "vmm_idsrd_ns": %s, "qemu_idsrd_vs_cpreg": %s, "qemu_vs_vmm": %s, "load": "%s"}\n' \
	"$cpreg_ns" "$qidsr_ns" "$vmm_ns" "$(ratio "$qidsr_ns" "$cpreg_ns")" "$(ratio "$qidsr_ns" "$vmm_ns")" "$load" >"$OUT/qemu.json"
