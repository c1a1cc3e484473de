#!/bin/bash
# SPDX-License-Identifier: MIT
# A tool, not part of `make bench`: user-space instructions a round trip (fast path off) of
# idsrd's answering thread, its store writer and the client library, counted by callgrind,
# which does not depend on the machine's load. idsrd runs under
# `valgrind --tool=callgrind --separate-threads=yes` twice, once for N1 and once for N2 round
# trips of build/bench/bench_instr (itself under callgrind); each count a round trip is
# (count at N2 - count at N1) / (N2 - N1), so start-up and shutdown cancel out.
#   BUILD=build N1=2000 N2=12000 bench/instructions.sh [OUTDIR]
# OUTDIR (default a temp dir, removed) keeps the callgrind files for callgrind_annotate.
set -eu
B=${BUILD:-build}
N1=${N1:-2000}
N2=${N2:-12000}
command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed" >&2; exit 2; }
[ -x "$B/idsrd" ] && [ -x "$B/bench/bench_instr" ] ||
	{ echo "instructions: build $B/idsrd and $B/bench/bench_instr first (make bench)" >&2; exit 2; }
if [ $# -gt 0 ]; then
	O=$1
	mkdir -p "$O"
else
	O=$(mktemp -d /tmp/idsr-instr.XXXXXX)
	trap 'rm -rf "$O"' EXIT
fi
"$B/bench/bench_instr" --policy >"$O/policy.conf"
for n in "$N1" "$N2"; do
	rm -f "$O"/trace.db* "$O/vmm.sock" "$O/ctl.sock"
	valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$O/idsrd.$n" \
		"$B/idsrd" --socket "$O/vmm.sock" --control "$O/ctl.sock" --db "$O/trace.db" \
		--foreground --policy "$O/policy.conf" 2>"$O/idsrd.$n.log" &
	daemon=$!
	for _ in $(seq 600); do [ -S "$O/ctl.sock" ] && break; sleep 0.1; done
	[ -S "$O/ctl.sock" ] || { echo "instructions: idsrd did not start: $(tail -3 "$O/idsrd.$n.log")" >&2; exit 1; }
	valgrind --tool=callgrind --callgrind-out-file="$O/client.$n" \
		"$B/bench/bench_instr" "$O/vmm.sock" "$n" 2>"$O/client.$n.log"
	kill "$daemon"
	wait "$daemon" || true
done
# total FILE: the file's instruction count; thread N FN: total of the thread whose profile has FN
total() { awk '/^totals:/ { print $2 }' "$1"; }
thread() {
	local f
	for f in "$O/idsrd.$1"-*; do
		grep -q "$2" "$f" && { total "$f"; return; }
	done
	echo 0
}
per() { awk -v a="$1" -v b="$2" -v n=$((N2 - N1)) 'BEGIN { printf "%7.0f", (b - a) / n }'; }
echo "instructions a round trip (callgrind, $N1 and $N2 round trips, fast path off):"
echo "   idsrd answering thread $(per "$(thread "$N1" session_main)" "$(thread "$N2" session_main)")"
echo "   idsrd store writer     $(per "$(thread "$N1" store_writer)" "$(thread "$N2" store_writer)")"
echo "   client (library, loop) $(per "$(total "$O/client.$N1")" "$(total "$O/client.$N2")")"
