#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrd --push cut in the middle of a boot (the server killed -9 between its batches): status shows
# the failure and the boot still pending; once the server is back (same data directory) the retry
# sends only what is missing: count() of the boot equals its rows, no (vcpu, seq) twice, one boots
# row. The boot is queued by a row of `pushes' in the trace, as idsrd queues a boot it starts.
# Then a boot the server holds a foreign row of is skipped (logged, status) and the next one goes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
. "$(dirname "$0")/synth.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
N=1000000
synth_boots "$T/trace.db" host-a 1 $N 4
sqlite3 "$T/trace.db" "INSERT INTO pushes(boot_id, queued_ns) SELECT id, start_ns FROM boots"
uid=$(sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots")
count() { # the boot's rows on the server (0 before its table is made)
	local n
	n=$(ch a "SELECT count() FROM accesses WHERE boot_uid = toUUID('$uid') FORMAT TSV" 2>/dev/null)
	case $n in ''|*[!0-9]*) echo 0;; *) echo "$n";; esac
}

ch_start a || exit 1
U=$CH_URL_a
start_daemon --push "$U" || exit 1
wait_until eval '[ "$(count)" -gt 0 ]'
ch_stop a KILL
wait_until eval '[ "$(push_field failures)" -ge 1 ]'
check "status: the boot is still pending after the failure" "1 0" "$(push_field pending) $(push_field boots_pushed)"
check_match "... the error says the server went away" "^$U: " "$(push_field last_error)"
check "the trace still queues it" "1|" "$(sqlite3 "$T/trace.db" "SELECT boot_id, pushed_ns FROM pushes")"
kill -STOP "$DAEMON_PID"	# no retry before the server's part is counted
ch_start a || { kill -CONT "$DAEMON_PID"; exit 1; }
held=$(count)
kill -CONT "$DAEMON_PID"
check_match "the server held part of the boot ($held of $N rows)" "^[1-9][0-9]*$" "$([ "$held" -lt $N ] && echo "$held")"
check "... and no boots row" "0" "$(ch a "SELECT count() FROM boots FORMAT TSV")"
wait_long eval '[ "$(push_field boots_pushed)" = 1 ]' || echo "# not pushed: $(push_field last_error)"
check "the retry sent only what was missing" "$((N - held)) 0 0" \
	"$(push_field rows_pushed) $(push_field pending) $(push_field failures)"
check "count() is the boot's rows, no row twice" "$N	$N" \
	"$(ch a "SELECT count(), uniqExact(vcpu, seq) FROM accesses WHERE boot_uid = toUUID('$uid') FORMAT TSV")"
check "each vCPU's rows are its seq 0 to N/4-1" "$(printf '0\t0\t249999\t250000\n1\t0\t249999\t250000\n2\t0\t249999\t250000\n3\t0\t249999\t250000')" \
	"$(ch a "SELECT vcpu, min(seq), max(seq), count() FROM accesses GROUP BY vcpu ORDER BY vcpu FORMAT TSV")"
check "the values are the trace's" "$(sqlite3 "$T/trace.db" "SELECT sum(value % 1000003) FROM accesses")" \
	"$(ch a "SELECT sum(toInt64(value) % 1000003) FROM accesses FORMAT TSV")"
check "one boots row" "1" "$(ch a "SELECT count() FROM boots FORMAT TSV")"
check "the trace marks it pushed, with its rows" "$U|$N" "$(sqlite3 "$T/trace.db" "SELECT url, rows FROM pushes WHERE pushed_ns IS NOT NULL")"
stop_daemon

# A boot the server holds a row of that the trace has not (another writer's): its count can never
# match, so it is logged and not tried again until idsrd restarts; the boots after it still go.
synth_boots "$T/trace.db" host-a 2 1000 2
sqlite3 "$T/trace.db" "INSERT INTO pushes(boot_id, queued_ns) SELECT id, start_ns FROM boots WHERE id > 1"
uid2=$(sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots WHERE id = 2")
uid3=$(sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots WHERE id = 3")
ch a "INSERT INTO accesses (boot_uid, host, vcpu, seq) VALUES ('$uid2', 'elsewhere', 0, 999999)"
start_daemon --push "$U" || exit 1
wait_long eval '[ "$(push_field boots_pushed)" = 1 ] && [ "$(push_field skipped)" = 1 ]'
check "status: boot 3 pushed, boot 2 skipped, nothing pending, no failure of the server" "1 1 0 0" \
	"$(push_field boots_pushed) $(push_field skipped) $(push_field pending) $(push_field failures)"
check "boot 3 is on the server, exactly" "1000	1000" \
	"$(ch a "SELECT count(), uniqExact(vcpu, seq) FROM accesses WHERE boot_uid = toUUID('$uid3') FORMAT TSV")"
check "boot 2 stays queued in the trace" "2" "$(sqlite3 "$T/trace.db" "SELECT boot_id FROM pushes WHERE pushed_ns IS NULL")"
check_match "the log says why and what to do" \
	"push: boot 2 $uid2 is not sent to $U again until idsrd restarts: the server holds 501 rows \(501 distinct\) of the boot, the trace 1000 \(check it with idsrctl push $T/trace.db:2 --to URL\)" \
	"$(cat "$T/idsrd.log")"
stop_daemon
ch_stop a
done_testing
