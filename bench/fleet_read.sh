#!/bin/bash
# SPDX-License-Identifier: MIT
# Reading a boot back from ClickHouse (a server started from a config in a temp dir): one boot of
# FLEET_READ_ROWS (1,000,000) accesses over 4 vCPUs is pushed, then `idsrctl show URL#UID` (the
# rows pulled into a private trace file, then read as any trace) is timed against `idsrctl show
# trace.db:1` (the same rows, read from the local file), best of 3 each, and `idsrctl pull` gives
# rows pulled per second. The ratio is what asking the fleet costs over asking the local trace.
# Writes $BENCH_OUT/fleet_read.json. Reports; never fails on a slow machine.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=$(cd "$BUILD" && pwd)
ROWS=${FLEET_READ_ROWS:-1000000}
OUT_JSON=${BENCH_OUT:-$BUILD/bench}/fleet_read.json
mkdir -p "$(dirname "$OUT_JSON")"
T=$(mktemp -d /tmp/idsr-fleetread.XXXXXX)
cleanup() { rm -rf "$T"; }
. tests/fleet/clickhouse.sh > "$T/skip" || true
[ -s "$T/skip" ] && { echo "6b. fleet reads: $(cat "$T/skip")"; exit 0; }
. tests/fleet/synth.sh
synth_boots "$T/src.db" bench 1 "$ROWS" 4
ch_start a || { echo "fleet reads: clickhouse-server did not start"; exit 1; }
"$B/idsrctl" push "$T/src.db" --to "$CH_URL_a" > "$T/push.out" 2>&1 ||
	{ echo "fleet reads: push failed: $(tail -2 "$T/push.out")"; exit 1; }
uid=$(sqlite3 "$T/src.db" "SELECT boot_uid FROM boots WHERE id = 1")
echo
echo "6b. fleet reads: one boot of $ROWS accesses back from ClickHouse $(ch a "SELECT version()"), load $(cut -d' ' -f1 /proc/loadavg)"
# best3 CMD...: the least wall time of three runs, in ms
best3() {
	local i s e best=
	for i in 1 2 3; do
		s=$(date +%s%N); "$@" > /dev/null 2>&1; e=$(date +%s%N)
		e=$(( (e - s) / 1000000 )); [ -z "$best" ] || [ "$e" -lt "$best" ] && best=$e
	done
	echo "$best"
}
local_ms=$(best3 "$B/idsrctl" show "$T/src.db:1")
fleet_ms=$(best3 "$B/idsrctl" show "$CH_URL_a#$uid")
pull_ms=$(best3 sh -c "rm -f '$T/p.db' && '$B/idsrctl' pull '$CH_URL_a#$uid' -o '$T/p.db'")
same=$([ "$("$B/idsrctl" show "$T/src.db:1" | md5sum)" = "$("$B/idsrctl" show "$CH_URL_a#$uid" | md5sum)" ] && echo yes || echo NO)
awk -v n="$ROWS" -v l="$local_ms" -v f="$fleet_ms" -v p="$pull_ms" -v same="$same" -v out="$OUT_JSON" 'BEGIN {
	printf "   %-44s %12s\n", "", "value"
	printf "   %-44s %12d\n", "show trace.db:1, best of 3, ms (baseline)", l
	printf "   %-44s %12d\n", "show URL#UID, best of 3, ms", f
	printf "   %-44s %12.2f\n", "show URL#UID / show trace.db:1", (l > 0 ? f / l : 0)
	printf "   %-44s %12.0f\n", "rows pulled per second (pull -o FILE)", (p > 0 ? n * 1000 / p : 0)
	printf "   %-44s %12s\n", "the two outputs the same", same
	printf("{\"rows\": %d, \"show_local_ms\": %d, \"show_url_ms\": %d, \"ratio\": %.2f, \"pull_rows_per_s\": %.0f, \"same\": \"%s\"}\n", \
		n, l, f, (l > 0 ? f / l : 0), (p > 0 ? n * 1000 / p : 0), same) > out
}'
