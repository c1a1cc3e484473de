#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrctl diff against the peer a user would reach for: exporting both boots as
# one line per access and running GNU diff -u. Same run, same machine, runs
# interleaved, medians of $RUNS. Prints a table and writes $BENCH_OUT/diff.json
# (bench/run.sh merges it into bench/results.json).
# Usage: BUILD=build bench/diff.sh   (N=1000000 SMALL=100000 RUNS=5 to change sizes)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${N:-1000000}
SMALL=${SMALL:-100000}
RUNS=${RUNS:-5}
OUT_JSON=${BENCH_OUT:-$BUILD/bench}/diff.json
GEN=$BUILD/bench/diff_gen
CTL=$BUILD/idsrctl
for f in "$GEN" "$CTL"; do
	[ -x "$f" ] || { echo "bench/diff.sh: $f missing: run make all $GEN first" >&2; exit 2; }
done
T=$(mktemp -d /tmp/idsr-diffbench.XXXXXX)
trap 'rm -rf "$T"' EXIT

# What a user would export: no seq and no PC (they shift after any insertion
# or code move), so that diff -u lines up the accesses themselves.
export_boot() {
	sqlite3 "$1" "SELECT vcpu || ' ' || printf('%08x', key) || ' ' ||
		CASE is_write WHEN 1 THEN 'write' ELSE 'read' END || ' ' || printf('%016x', value)
		FROM accesses WHERE boot_id = 1 ORDER BY vcpu, seq" >"$2"
}

# run_timed OUTVAR CMD...: wall seconds (from bash) and peak RSS in KB (from time -v)
run_timed() {
	local var=$1 t0 t1 rss
	shift
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%M' -o "$T/rss" "$@" >/dev/null 2>"$T/err"
	t1=$EPOCHREALTIME
	rss=$(tail -1 "$T/rss")
	printf -v "$var" '%s %s' "$(echo "$t1 - $t0" | bc -l)" "$rss"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# bench NAME MODE SIZE [P]: generates the pair, exports it, times both RUNS times
bench() {
	local name=$1 mode=$2 size=$3 p=${4:-0.01} i r
	"$GEN" "$mode" "$T/a.db" "$T/b.db" "$size" "$p" >/dev/null || exit 2
	export_boot "$T/a.db" "$T/a.txt"
	export_boot "$T/b.db" "$T/b.txt"
	: >"$T/gnu" && : >"$T/ours"
	# one untimed run each so both start from a warm page cache
	diff -u "$T/a.txt" "$T/b.txt" >/dev/null
	"$CTL" diff --stat "$T/a.db" "$T/b.db" >"$T/stat" 2>/dev/null
	for i in $(seq "$RUNS"); do
		run_timed r diff -u "$T/a.txt" "$T/b.txt"
		echo "$r" >>"$T/gnu"
		run_timed r "$CTL" diff --stat "$T/a.db" "$T/b.db"
		echo "$r" >>"$T/ours"
	done
	local g o grss orss ratio
	g=$(cut -d' ' -f1 "$T/gnu" | median)
	o=$(cut -d' ' -f1 "$T/ours" | median)
	grss=$(cut -d' ' -f2 "$T/gnu" | sort -n | tail -1)
	orss=$(cut -d' ' -f2 "$T/ours" | sort -n | tail -1)
	ratio=$(echo "$o / $g" | bc -l)
	printf '%-34s %9.3f %9.3f %7.2f %9d %9d   %s\n' "$name" "$g" "$o" "$ratio" $((grss / 1024)) \
		$((orss / 1024)) "$(tail -1 "$T/stat")"
	printf '%s{"name": "%s", "accesses": %d, "gnu_diff_s": %.4f, "idsrctl_diff_s": %.4f, "ratio": %.3f, "gnu_diff_rss_mb": %d, "idsrctl_diff_rss_mb": %d}' \
		"$sep" "$name" "$size" "$g" "$o" "$ratio" $((grss / 1024)) $((orss / 1024)) >>"$T/json"
	sep=$',\n  '
}

sep=""
: >"$T/json"
echo "5b. idsrctl diff --stat (reading both SQLite files) vs GNU diff -u on pre-exported text; median of $RUNS runs"
printf '%-34s %9s %9s %7s %9s %9s   %s\n' "case" "diff -u" "idsrctl" "ratio" "RSS diff" "RSS ours" "result"
printf '%-34s %9s %9s %7s %9s %9s\n' "" "s" "s" "" "MB" "MB"
bench "related, 1% of positions differ" related "$N" 0.01
bench "unrelated (disjoint registers)" unrelated "$SMALL"
bench "unrelated (same registers)" shuffled "$SMALL"
echo "targets: related ratio <= 1.0 and RSS <= 300 MB; unrelated ratio <= 3.0"
mkdir -p "$(dirname "$OUT_JSON")"
printf '{"cases": [\n  %s\n]}\n' "$(cat "$T/json")" >"$OUT_JSON"
echo "wrote $OUT_JSON"
