#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrctl push to a ClickHouse server started from a config in a temp dir (tests/fleet/clickhouse.sh):
# rows pushed per second and idsrctl's CPU per pushed row (user + sys; the server's own CPU aside),
# against the CPU the same rows cost SQLite to write (sqlite3 copying them into a new trace, same run);
# then docs/fleet.md's last question (distinct first values of one register per kernel) over all
# the pushed boots, median of 5, against the 1 s target. FLEET_BOOTS (1000) boots of FLEET_ROWS
# (10000) accesses each. Writes $BENCH_OUT/fleet.json. Then what idsrd --push costs VMMs (below).
# Reports; never fails on a slow machine.
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

# What idsrd --push costs the trap path: the bench_loop guest (100,000 reads of HID0_EL1 by round
# trips) through two idsrds at once, one with --push to the same server and one without, runs
# interleaved; each boot of the first is pushed as it ends, while the next boot runs. Median wall
# time of PUSH_RUNS (5) each; the ratio on/off is the cost (1.00: none). Writes fleet_push.json.
RUNS=${PUSH_RUNS:-5}
G=$B/guests/bench_loop.bin
[ -f "$G" ] || { echo "   (idsrd --push: the bench_loop guest is not built; skipped)"; exit 0; }
echo '* raz-wi' > "$T/raz.conf"
for d in off on; do
	mkdir -p "$T/$d"
	"$B/idsrd" --socket "$T/$d/vmm.sock" --control "$T/$d/ctl.sock" --db "$T/$d/trace.db" --policy "$T/raz.conf" \
		$([ $d = on ] && echo --push "$CH_URL_a") 2>"$T/$d/idsrd.log" &
	eval "PID_$d=$!"
done
for d in off on; do
	for _ in $(seq 200); do [ -S "$T/$d/ctl.sock" ] && break; sleep 0.05; done
done
for i in $(seq "$RUNS"); do
	for d in off on; do
		s=$(date +%s%N)
		IDSR_FAST_PATH=0 "$B/idsr-vmm" --socket "$T/$d/vmm.sock" "$G" >/dev/null 2>&1 || echo "   boot $i failed ($d)"
		e=$(date +%s%N)
		echo $(( (e - s) / 1000 )) >> "$T/$d.us"
	done
done
push_pending() { "$B/idsrctl" status --control "$T/on/ctl.sock" --json | jq -r '.push.boots_pushed'; }
for _ in $(seq 1200); do [ "$(push_pending)" = "$RUNS" ] && break; sleep 0.1; done
pushed=$(push_pending)
# the pusher thread's own CPU (user + sys ticks), off the VMMs' threads
push_ticks=$(for t in /proc/"$PID_on"/task/*; do [ "$(cat "$t/comm")" = idsrd-push ] &&
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat"; done)
kill "$PID_off" "$PID_on"; wait "$PID_off" "$PID_on" 2>/dev/null
med() { sort -n "$1" | sed -n "$(( (RUNS + 1) / 2 ))p"; }
off_us=$(med "$T/off.us"); on_us=$(med "$T/on.us")
logged=$(sqlite3 "$T/on/trace.db" "SELECT count(*) FROM accesses")
on_server=$(ch a "SELECT count() FROM accesses WHERE host != 'bench' FORMAT TSV")
awk -v off="$off_us" -v on="$on_us" -v runs="$RUNS" -v pushed="$pushed" -v logged="$logged" -v held="$on_server" \
    -v ticks="${push_ticks:-0}" -v hz="$(getconf CLK_TCK)" \
    -v load="$(cut -d' ' -f1-3 /proc/loadavg)" -v out="${OUT_JSON%.json}_push.json" 'BEGIN {
	printf "   %-44s %12s\n", "bench_loop boot (100,000 round trips), median of " runs, "ms"
	printf "   %-44s %12.1f\n", "idsrd without --push", off / 1000
	printf "   %-44s %12.1f\n", "idsrd --push (boots pushed as they end)", on / 1000
	printf "   %-44s %12.2f\n", "--push / without", (off > 0 ? on / off : 0)
	cpu_ns = logged > 0 ? ticks * 1e9 / hz / logged : 0
	printf "   %-44s %12.0f\n", "idsrd-push thread CPU per pushed row, ns", cpu_ns
	printf "   boots pushed %s of %d; rows logged %s, on the server %s; load %s\n", pushed, runs, logged, held, load
	printf("{\"push_off_us\": %d, \"push_on_us\": %d, \"push_on_off\": %.2f, \"push_boots\": \"%s\", \"push_rows_logged\": %d, \"push_rows_on_server\": %d, \"push_thread_cpu_ns_per_row\": %.0f, \"push_load\": \"%s\"}\n", \
		off, on, (off > 0 ? on / off : 0), pushed, logged, held, cpu_ns, load) > out
}'
