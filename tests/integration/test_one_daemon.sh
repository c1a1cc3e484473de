#!/bin/bash
# SPDX-License-Identifier: MIT
# One idsrd per database: a second one, with sockets of its own, refuses at start (exit 1)
# naming the running one's pid and socket, and changes nothing in the file; the lock is
# the kernel's, so an idsrd killed with SIGKILL leaves nothing taken. A start that fails
# on its socket creates no database.
. "$(dirname "$0")/../lib.sh"
G=$B/guests
# wait_rows SQL WANT: polls the database (rows are committed after the VMM is answered)
wait_rows() {
	local i
	for i in $(seq 1 2400); do	# 60 s at most
		[ "$(sqlite3 "$T/trace.db" "$1" 2>/dev/null)" == "$2" ] && return 0
		sleep 0.025
	done
}

start_daemon --policy examples/policy.conf || exit 1
check_rc "a guest boots" 0 "$B/idsr-vmm" --socket "$T/vmm.sock" --vcpus 2 --vm first "$G/apple_boot.bin"
wait_rows "select accesses from boots where end_ns is not null" 30
wal=$(stat -c %s "$T/trace.db-wal")
check "status: the database's size with its WAL ($wal bytes)" "$(($(stat -c %s "$T/trace.db") + wal))" \
	"$("$B/idsrctl" status --json | grep -o '"db_bytes": [0-9]*' | cut -d' ' -f2)"
sqlite3 "$T/trace.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
before=$(cat "$T/trace.db" "$T/trace.db-wal" 2>/dev/null | sha256sum)

check_rc "a second idsrd on the same --db exits 1" 1 \
	"$B/idsrd" --socket "$T/b.sock" --control "$T/b-ctl.sock" --db "$T/trace.db" --policy examples/policy.conf
check_match "it names the running one's pid and socket" \
	"idsrd: $T/trace.db is in use by idsrd pid $DAEMON_PID \(VMM socket $T/vmm.sock, control socket $T/ctl.sock\): one writer at a time; stop it, or choose another database" "$OUT"
check "it left no socket behind" "" "$(ls "$T" | grep '^b')"
check "the database is byte for byte as it was" "$before" "$(cat "$T/trace.db" "$T/trace.db-wal" 2>/dev/null | sha256sum)"
check_rc "the first one still serves" 0 "$B/idsr-vmm" --socket "$T/vmm.sock" --vm second "$G/apple_boot.bin"
wait_rows "select count(*) from boots where end_ns is not null" 2
check "two boots, ids 1 and 2, each its own VM's" "1|first|30|0
2|second|15|0" "$(sqlite3 "$T/trace.db" 'select id, vm_name, accesses, rows_dropped from boots order by id')"

# A crash releases the database: the kernel drops the lock with the process.
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
rm -f "$T/vmm.sock" "$T/ctl.sock"
start_daemon --policy examples/policy.conf
check "after SIGKILL a new idsrd has the database" "1" "$(kill -0 "$DAEMON_PID" 2>/dev/null && echo 1)"
check_rc "and serves" 0 "$B/idsr-vmm" --socket "$T/vmm.sock" --vm third "$G/apple_boot.bin"

# Failed starts leave no database file.
long=$T/$(printf 'x%.0s' $(seq 1 120)).sock
check_rc "a socket path too long: exit 1" 1 "$B/idsrd" --socket "$long" --db "$T/new1.db"
check_rc "a socket in use: exit 1" 1 "$B/idsrd" --socket "$T/vmm.sock" --control "$T/c2.sock" --db "$T/new2.db"
check_match "says it is in use" "$T/vmm.sock is in use by a running idsrd" "$OUT"
check "neither created its database" "" "$(ls "$T" | grep '^new')"
stop_daemon
check "stopped cleanly" "3" "$(sqlite3 "$T/trace.db" 'select count(*) from boots')"

done_testing
