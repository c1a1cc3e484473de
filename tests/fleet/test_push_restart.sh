#!/bin/bash
# SPDX-License-Identifier: MIT
# A push interrupted by the server dying (kill -9 in the middle) fails saying so; run again once the
# server is back (same data directory), it sends only what is missing: count() of the boot equals its
# accesses and no (vcpu, seq) appears twice.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
. "$(dirname "$0")/synth.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
N=1000000
synth_boots "$T/big.db" host-a 1 $N 4
uid=$(sqlite3 "$T/big.db" "SELECT boot_uid FROM boots")
ch_start a || exit 1
U=$CH_URL_a
count() { ch a "SELECT count() FROM accesses WHERE boot_uid = toUUID('$uid') FORMAT TSV" 2>/dev/null; }

"$C" push "$T/big.db:1" --to "$U" --batch 2000 > "$T/push1.out" 2>&1 &
push=$!
for _ in $(seq 1 2400); do
	[ "$(count)" -gt 0 ] 2>/dev/null && break
	sleep 0.05
done
ch_stop a KILL
wait $push; rc=$?
check "the push in flight fails" 2 "$rc"
check_match "... saying the server went away and to run it again" \
	"push: $T/big.db:1 $uid: http://127.0.0.1:[0-9]+/idsr: .*run the push again" "$(cat "$T/push1.out")"
ch_start a || exit 1
held=$(count)
check_match "the server holds part of the boot ($held rows)" "^[1-9][0-9]*$" "$([ "$held" -lt $N ] && echo "$held")"
check "... and no boots row" "0" "$(ch a "SELECT count() FROM boots FORMAT TSV")"
check_rc "the push run again" 0 "$C" push "$T/big.db:1" --to "$U" --batch 100000
check "it sends what was missing" "$T/big.db:1 $uid -> $U: $((N - held)) rows sent in $(( (N - held + 99999) / 100000 )) batch$([ $(( (N - held + 99999) / 100000 )) = 1 ] || echo es), $N on the server" "$OUT"
check "count() is the boot's accesses, no row twice" "$N	$N" \
	"$(ch a "SELECT count(), uniqExact(vcpu, seq) FROM accesses WHERE boot_uid = toUUID('$uid') FORMAT TSV")"
check "each vCPU's rows are its seq 0 to N/4-1" "$(printf '0\t0\t249999\t250000\n1\t0\t249999\t250000\n2\t0\t249999\t250000\n3\t0\t249999\t250000')" \
	"$(ch a "SELECT vcpu, min(seq), max(seq), count() FROM accesses GROUP BY vcpu ORDER BY vcpu FORMAT TSV")"
check "the values are the trace's" "$(sqlite3 "$T/big.db" "SELECT sum(value % 1000003) FROM accesses")" \
	"$(ch a "SELECT sum(toInt64(value) % 1000003) FROM accesses FORMAT TSV")"
check "one boots row" "1" "$(ch a "SELECT count() FROM boots FORMAT TSV")"
ch_stop a
done_testing
