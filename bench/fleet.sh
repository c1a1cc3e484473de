#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrctl push to a ClickHouse server started from a config in a temp dir (tests/fleet/clickhouse.sh):
# rows pushed per second and idsrctl's CPU per pushed row (user + sys; the server's own CPU aside),
# against the CPU the same rows cost SQLite to write (sqlite3 copying them into a new trace, same run);
# then docs/fleet.md's last question (distinct first values of one register per kernel) over all
# the pushed boots, median of 5, against the 1 s target. FLEET_BOOTS (1000) boots of FLEET_ROWS
# (10000) accesses each. Writes $BENCH_OUT/fleet.json. Reports; never fails on a slow machine.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=$(cd "$BUILD" && pwd)
BOOTS=${FLEET_BOOTS:-1000}
ROWS=${FLEET_ROWS:-10000}
OUT_JSON=${BENCH_OUT:-$BUILD/bench}/fleet.json
mkdir -p "$(dirname "$OUT_JSON")"
T=$(mktemp -d /tmp/idsr-fleetbench.XXXXXX)
cleanup() { rm -rf "$T"; }
tap_n=0
. tests/fleet/clickhouse.sh > "$T/skip" || true
[ -s "$T/skip" ] && { echo "6. fleet: $(cat "$T/skip")"; exit 0; }
. tests/fleet/synth.sh
N=$((BOOTS * ROWS))
synth_boots "$T/src.db" bench "$BOOTS" "$ROWS" 4
ch_start a || { echo "fleet: clickhouse-server did not start"; exit 1; }
echo
echo "6. fleet: push $BOOTS boots x $ROWS accesses ($N rows) to ClickHouse $(ch a "SELECT version()"), load $(cut -d' ' -f1 /proc/loadavg)"
cpu() { awk '{ printf "%.3f", $1 + $2 }' "$1"; }
wall() { awk '{ print $3 }' "$1"; }
sqlite3 "$T/dst.db" < schema.sql
/usr/bin/time -f '%U %S %e' -o "$T/sqlite.time" sqlite3 "$T/dst.db" \
	"PRAGMA journal_mode = WAL; ATTACH '$T/src.db' AS s; BEGIN; INSERT INTO accesses SELECT * FROM s.accesses; COMMIT" >/dev/null
/usr/bin/time -f '%U %S %e' -o "$T/push.time" "$B/idsrctl" push "$T/src.db" --to "$CH_URL_a" > "$T/push.out" 2>&1 ||
	{ echo "fleet: push failed: $(tail -2 "$T/push.out")"; exit 1; }
held=$(ch a "SELECT count() FROM accesses FORMAT TSV")
q=$(awk '/^```sql$/ { on = 1; q = ""; next } on && /^```$/ { on = 0; last = q; next } on { q = q " " $0 } END { print last }' docs/fleet.md)
q=${q//51104/50048}	# synth_boots's first register
for _ in 1 2 3 4 5; do
	s=$(date +%s%N); ch a "$q FORMAT TSV" > "$T/q.out"; e=$(date +%s%N)
	echo $(( (e - s) / 1000000 ))
done | sort -n > "$T/q.ms"
q_ms=$(sed -n 3p "$T/q.ms")
sq_cpu=$(cpu "$T/sqlite.time"); push_cpu=$(cpu "$T/push.time"); push_wall=$(wall "$T/push.time")
awk -v n="$N" -v sc="$sq_cpu" -v pc="$push_cpu" -v pw="$push_wall" -v held="$held" -v qms="$q_ms" \
    -v kernels="$(wc -l < "$T/q.out")" -v out="$OUT_JSON" 'BEGIN {
	rate = pw > 0 ? n / pw : 0; pns = pc * 1e9 / n; sns = sc * 1e9 / n
	printf "   %-44s %12s\n", "", "value"
	printf "   %-44s %12d\n", "rows on the server after the push", held
	printf "   %-44s %12.0f\n", "rows pushed per second (wall)", rate
	printf "   %-44s %12.0f\n", "idsrctl CPU per pushed row, ns", pns
	printf "   %-44s %12.0f\n", "SQLite CPU per row written (baseline), ns", sns
	printf "   %-44s %12.2f\n", "push / SQLite CPU per row", (sns > 0 ? pns / sns : 0)
	printf "   %-44s %12d\n", "fleet query, median of 5, ms (target 1000)", qms
	printf("{\"rows\": %d, \"rows_on_server\": %d, \"push_rows_per_s\": %.0f, \"push_cpu_ns_per_row\": %.1f, \"sqlite_cpu_ns_per_row\": %.1f, \"ratio\": %.2f, \"query_ms\": %d, \"query_kernels\": %d}\n", \
		n, held, rate, pns, sns, (sns > 0 ? pns / sns : 0), qms, kernels) > out
}'
