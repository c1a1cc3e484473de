#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrd --push against a real ClickHouse server: boots of the reference guests, run by idsr-vmm,
# arrive with exact counts once they end; with the server down the VMMs are answered as ever and
# status shows the boots pending, the failures, the backoff and the last error; once the server is
# back they arrive, each row once; boots pending when idsrd stops are sent by the next start; a boot
# cut off by a crash goes once its VMM has exited; bad --push and --credentials are refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
unset IDSRD_DB

push_is() { [ "$(push_field "$1")" = "$2" ]; }
snap() { SNAP=$("$C" status --control "$T/ctl.sock" --json | jq -c .push); }	# one status, read by f
f() { echo "$SNAP" | jq -r ".$1"; }
vmm() { # VM [ARGS...]: one boot of apple_boot.bin; its exit status
	local vm=$1; shift
	"$B/idsr-vmm" --socket "$T/vmm.sock" --vm "$vm" "$@" "$B/guests/apple_boot.bin" >/dev/null 2>&1
}
uid_of() { sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots WHERE id = $1"; }
rows_of() { sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = $1"; }
server_count() { # BOOT: count() and distinct (vcpu, seq) of its rows on the server
	ch a "SELECT count(), uniqExact(vcpu, seq) FROM accesses WHERE boot_uid = toUUID('$(uid_of "$1")') FORMAT TSV"
}

# Bad options: refused before anything starts (exit 2), saying what is wrong.
check_rc "--push without a database in the URL" 2 "$B/idsrd" --db "$T/x.db" --push "http://127.0.0.1:1/"
check "... says what a URL is" "idsrd: --push: \`http://127.0.0.1:1/': expected http://HOST:PORT/DATABASE (no credentials in it: use --credentials FILE)" "$OUT"
check_rc "credentials in the URL are refused" 2 "$B/idsrd" --db "$T/x.db" --push "http://u:p@127.0.0.1:1/idsr"
check_rc "--credentials without --push" 2 "$B/idsrd" --db "$T/x.db" --credentials "$T/none"
check "... says so" "idsrd: --credentials is for --push URL, which is not given" "$OUT"
printf 'user default\n' > "$T/cred"; chmod 644 "$T/cred"
check_rc "a credentials file others can read" 2 "$B/idsrd" --db "$T/x.db" --push "http://127.0.0.1:1/idsr" --credentials "$T/cred"
check "... is refused, saying what to do" "idsrd: --push: credentials $T/cred: readable by others (mode 644): chmod 600 it" "$OUT"
check "nothing was created" "no" "$([ -e "$T/x.db" ] && echo yes || echo no)"
check_rc "--help names --push and --credentials" 0 "$B/idsrd" --help
check_match "... both" "--push URL.*" "$OUT"
check_match "... both" "--credentials FILE" "$OUT"

# A server that takes the connection and never answers: VMMs are answered all the same, the
# boot is shown being sent, and idsrd's stop cuts the push instead of waiting for the server.
hung_port=$(ch_free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(600)' "$hung_port" &
hung_pid=$!
wait_until eval 'grep -q ":$(printf %04X "$hung_port") 00000000:0000 0A" /proc/net/tcp'
start_daemon --policy examples/policy.conf --push "http://127.0.0.1:$hung_port/idsr" || exit 1
check_rc "with a server that never answers, a VMM's boot runs to its end" 0 vmm hung
wait_until push_is boot_id 1
check "status: boot 1 is being sent, pending, no failure yet" "1 1 0" "$(push_field boot_id) $(push_field pending) $(push_field failures)"
check_match "... in text too" "^                sending boot 1$" "$("$C" status --control "$T/ctl.sock")"
stop_daemon
check "idsrd stops all the same, cleanly (the push in flight is cut)" 0 "$?"
check "the boot stays queued for the next start" "1|" "$(sqlite3 "$T/trace.db" "SELECT boot_id, pushed_ns FROM pushes")"
kill "$hung_pid"; wait "$hung_pid" 2>/dev/null
rm -f "$T/trace.db" "$T/trace.db-wal" "$T/trace.db-shm" "$T/idsrd.log"

ch_start a || exit 1
U=$CH_URL_a
chmod 600 "$T/cred"
start_daemon --policy examples/policy.conf --push "$U" --credentials "$T/cred" || exit 1
check "status without a boot: the URL, nothing pending or pushed" "$U 0 0 0 0" \
	"$(push_field url) $(push_field pending) $(push_field boots_pushed) $(push_field rows_pushed) $(push_field failures)"
check_rc "a 2-vCPU boot" 0 vmm a --vcpus 2
check_rc "a 1-vCPU boot" 0 vmm b
wait_until push_is boots_pushed 2 || echo "# not pushed: $(push_field last_error)"
n1=$(rows_of 1) n2=$(rows_of 2)
check "boot 1 on the server: count() = its rows in the trace, each (vcpu, seq) once" "$n1	$n1" "$(server_count 1)"
check "boot 2 too" "$n2	$n2" "$(server_count 2)"
check "the rows are real: every access the boots answered ($n1 + $n2)" "$n1 $n2" \
	"$(sqlite3 "$T/trace.db" "SELECT group_concat(accesses, ' ') FROM boots ORDER BY id")"
check "their boots rows: host, vm, vcpus, accesses" "$(hostname)	a	2	$n1
$(hostname)	b	1	$n2" "$(ch a "SELECT host, vm_name, vcpus, accesses FROM boots ORDER BY vm_name FORMAT TSV")"
check "status: 2 boots and their rows pushed, none pending, no failure" "2 $((n1 + n2)) 0 0 0" \
	"$(push_field boots_pushed) $(push_field rows_pushed) $(push_field pending) $(push_field failures) $(push_field backoff_ms)"
check "the queue in the trace: both pushed, to $U, with their rows" "1|$U|$n1|1
2|$U|$n2|1" "$(sqlite3 "$T/trace.db" "SELECT boot_id, url, rows, pushed_ns >= queued_ns FROM pushes ORDER BY boot_id")"
check_rc "status in text" 0 "$C" status --control "$T/ctl.sock"
check "... names the server and the counts" "  push:         $U: 0 boots pending, 0 waiting for their VMM to exit; 2 boots ($((n1 + n2)) rows) pushed since start" \
	"$(echo "$OUT" | grep '^  push:')"

# The server goes away: boots end, VMMs are answered, the boots wait in the queue.
ch_stop a
check_rc "with the server down, a VMM's boot runs to its end" 0 vmm c
check "... every access answered and logged" "$(sqlite3 "$T/trace.db" "SELECT accesses FROM boots WHERE id = 3")" "$(rows_of 3)"
wait_until eval 'snap; [ "$(f pending)" = 1 ] && [ "$(f failures)" -ge 1 ]'
check "status: boot 3 pending after a failure, the backoff 1 s doubled a failure, the next try after it" "1 1" \
	"$(f pending) $([ "$(f backoff_ms)" = $((1000 << ($(f failures) - 1))) ] && [ "$(f next_try_ns)" -gt "$(f last_error_ns)" ] && echo 1)"
check_match "... and the last error, naming the server" "^$U: Couldn't connect to server$" "$(f last_error)"
check_rc "another boot while the server is down" 0 vmm d --vcpus 3
wait_until push_is pending 2
check "both pending" "2" "$(push_field pending)"
wait_until eval 'snap; [ "$(f failures)" -ge 3 ]'
check "the waits double: 1 s, 2 s, 4 s ..." "$((1000 << ($(f failures) - 1)))" "$(f backoff_ms)"
check_rc "status in text shows the failure" 0 "$C" status --control "$T/ctl.sock"
check_match "... FAILING, the tries, the next" "FAILING: [0-9]+ tries failed; next in [0-9.]+m?s \(backoff [0-9]+ s\)" "$OUT"
check_match "... the last error" "last error \([0-9.ms]+ ago\): $U: Couldn't connect to server" "$OUT"
check "the trace keeps them queued" "3|
4|" "$(sqlite3 "$T/trace.db" "SELECT boot_id, pushed_ns FROM pushes WHERE pushed_ns IS NULL ORDER BY boot_id")"

# Back: both go, once each.
ch_start a || exit 1
wait_long push_is boots_pushed 4 || echo "# not pushed: $(push_field last_error)"
check "boots 3 and 4 arrive with exact counts" "$(rows_of 3)	$(rows_of 3) $(rows_of 4)	$(rows_of 4)" \
	"$(server_count 3) $(server_count 4)"
check "no row twice on the server, nothing missing" "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses")	4	4" \
	"$(ch a "SELECT count(), uniqExact(boot_uid), (SELECT count() FROM boots) FROM accesses FORMAT TSV")"
check "status: nothing pending, failures and backoff cleared" "0 0 0 0" \
	"$(push_field pending) $(push_field failures) $(push_field backoff_ms) $(push_field next_try_ns)"

# idsrd stops with a boot pending: the next start sends it.
ch_stop a
check_rc "a boot while the server is down" 0 vmm e
wait_until push_is pending 1
stop_daemon
check "stopped with boot 5 queued in the trace" "5" "$(sqlite3 "$T/trace.db" "SELECT boot_id FROM pushes WHERE pushed_ns IS NULL")"
ch_start a || exit 1
start_daemon --policy examples/policy.conf --push "$U" --credentials "$T/cred" || exit 1
wait_long push_is boots_pushed 1
check "the next start sends it, exactly" "$(rows_of 5)	$(rows_of 5)" "$(server_count 5)"
check "the queue is empty" "0" "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM pushes WHERE pushed_ns IS NULL")"

# idsrd stops under a running boot: its VMM may resume it, so it is not sent while the VMM runs
# (here held stopped: status counts it as waiting); resumed, it is sent once it ends, whole, once.
"$B/idsr-vmm" --socket "$T/vmm.sock" --vm r "$B/guests/bench_loop.bin" >/dev/null 2>&1 &
vmm_pid=$!
wait_until eval '[ "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 6")" -gt 100 ]'
kill -STOP "$vmm_pid"
stop_daemon
check "boot 6 ended by the stop" "idsrd stopped while the VMM was connected" \
	"$(sqlite3 "$T/trace.db" "SELECT end_reason FROM boots WHERE id = 6")"
start_daemon --policy examples/policy.conf --push "$U" --credentials "$T/cred" || { kill -CONT "$vmm_pid"; exit 1; }
wait_until push_is waiting 1
check "status: boot 6 waits for its VMM, nothing pending" "1 0 0" "$(push_field waiting) $(push_field pending) $(push_field boots_pushed)"
kill -CONT "$vmm_pid"
wait "$vmm_pid"
rc=$?
boot_ended 6
check "the VMM resumed its boot and ran it to its end" "0 guest halted" \
	"$rc $(sqlite3 "$T/trace.db" "SELECT end_reason FROM boots WHERE id = 6")"
wait_long push_is boots_pushed 1
check "boot 6 is sent whole, once" "$(rows_of 6)	$(rows_of 6)" "$(server_count 6)"
check "... all its accesses (bench_loop: 100,000 reads and more)" "1" "$([ "$(rows_of 6)" -ge 100000 ] && echo 1)"
check "status: nothing waits any more" "0 0" "$(push_field waiting) $(push_field pending)"

# A crash cuts a boot off: it is sent when idsrd next runs and its VMM has exited (it cannot be
# resumed then), with the rows the trace kept.
"$B/idsr-vmm" --socket "$T/vmm.sock" --vm f --no-reconnect "$B/guests/bench_loop.bin" >/dev/null 2>&1 &
vmm_pid=$!
wait_until eval '[ "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 7")" -gt 100 ]'
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
rm -f "$T/vmm.sock" "$T/ctl.sock"	# left by the kill: start_daemon waits for the new ones
wait "$vmm_pid"
check "the VMM stopped with idsrd (--no-reconnect)" "1" "$?"
start_daemon --policy examples/policy.conf --push "$U" --credentials "$T/cred" || exit 1
check "boot 7 is cut off" "cut off: idsrd stopped without ending it" \
	"$(sqlite3 "$T/trace.db" "SELECT end_reason FROM boots WHERE id = 7")"
wait_long push_is boots_pushed 1
check "its VMM gone, it is sent with the rows the trace kept" "$(rows_of 7)	$(rows_of 7)" "$(server_count 7)"
check "... and its end" "cut off: idsrd stopped without ending it" \
	"$(ch a "SELECT end_reason FROM boots WHERE boot_uid = toUUID('$(uid_of 7)') FORMAT TSV")"
check "seven boots on the server, each once" "7	7" "$(ch a "SELECT count(), uniqExact(boot_uid) FROM boots FORMAT TSV")"

# The server loses its tables (a new, empty server at the same URL): the next boot fails once,
# then the tables are made again and it lands.
ch a "DROP TABLE accesses" && ch a "DROP TABLE boots"
check_rc "a boot after the tables are gone" 0 vmm h
wait_long push_is boots_pushed 2
check "it lands in tables made again, exactly" "$(rows_of 8)	$(rows_of 8) 1" "$(server_count 8) $(ch a "SELECT count() FROM boots FORMAT TSV")"
check_match "... after a failure naming the missing table" "push: boot 8 not sent: .*Table idsr.boots doesn't exist" "$(cat "$T/idsrd.log")"
stop_daemon
start_daemon --policy examples/policy.conf || exit 1
check "without --push, status --json has push null" "null" "$("$C" status --control "$T/ctl.sock" --json | jq -c .push)"
check "... and the text no push line" "" "$("$C" status --control "$T/ctl.sock" | grep push:)"
check_rc "a boot of an idsrd without --push" 0 vmm g
boot_ended 9
stop_daemon
check "... is not queued" "8|9" "$(sqlite3 "$T/trace.db" "SELECT count(*), (SELECT max(id) FROM boots) FROM pushes")"
ch_stop a
done_testing
