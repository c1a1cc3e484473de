#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrd, idsrctl and idsr-vmm (libidsr-client) agree on the default sockets (proto/paths.c):
# /run/idsrd/ for root, $XDG_RUNTIME_DIR/idsrd/ for others, else ${TMPDIR:-/tmp}/idsrd-UID/,
# a directory refused unless it is the user's own and closed to others. Run as root, the
# per-user cases run as nobody (setpriv); run as a user, as that user.
. "$(dirname "$0")/../lib.sh"
unset IDSRD_CONTROL IDSRD_SOCKET IDSRD_DB
G=$B/guests
chmod 755 "$T"

if [ "$(id -u)" -eq 0 ]; then
	U=$(id -u nobody)
	user_prefix=(setpriv --reuid="$U" --regid="$(id -g nobody)" --clear-groups --)
	check_match "root: idsrd --help shows /run/idsrd" "--socket PATH +VMM socket \(default /run/idsrd/vmm.sock\)" \
		"$(env -u XDG_RUNTIME_DIR XDG_RUNTIME_DIR=/x "$B/idsrd" --help)"
	check_match "root: the database in /var/lib/idsrd" "--db PATH +trace database \(default /var/lib/idsrd/trace.db\)" \
		"$("$B/idsrd" --help)"
	check_match "root: idsr-vmm --help shows /run/idsrd" "here /run/idsrd/vmm.sock" \
		"$(env -u XDG_RUNTIME_DIR "$B/idsr-vmm" --help)"
else
	U=$(id -u)
	user_prefix=()
fi
as_user() { "${user_prefix[@]}" "$@"; }
mkdir -m 1777 "$T/tmp"	# as /tmp is
D=$T/tmp/idsrd-$U
run() { as_user env -u XDG_RUNTIME_DIR TMPDIR="$T/tmp" HOME="$T" "$@"; }

check_match "XDG_RUNTIME_DIR wins" "here /x/idsrd/vmm.sock" \
	"$(as_user env XDG_RUNTIME_DIR=/x "$B/idsr-vmm" --help)"
check_match "idsrd --help: the /tmp fallback" "--socket PATH +VMM socket \(default $D/vmm.sock\)" \
	"$(run "$B/idsrd" --help)"

# The daemon with default sockets; the VMM and idsrctl find it with no path given.
mkdir "$T/db" && chmod 777 "$T/db"
# (a simple command, not the function: $! is then idsrd itself, which stop_daemon stops;
# through run's subshell the daemon outlived the test)
"${user_prefix[@]}" env -u XDG_RUNTIME_DIR TMPDIR="$T/tmp" HOME="$T" \
	"$B/idsrd" --db "$T/db/trace.db" --policy examples/policy.conf 2>"$T/idsrd.log" &
DAEMON_PID=$!
for _ in $(seq 1 1200); do	# 60 s at most
	[ -S "$D/control.sock" ] && break
	kill -0 "$DAEMON_PID" 2>/dev/null || break
	sleep 0.05
done
check "idsrd made the directory, mode 700" "directory 700 $U" "$(stat -c '%F %a %u' "$D" 2>&1)"
check_rc "idsr-vmm with no --socket boots through it" 0 run "$B/idsr-vmm" --vcpus 2 "$G/apple_boot.bin"
check_rc "idsrctl status with no --control finds it" 0 run "$B/idsrctl" status
check_match "status: its 30 rows" "rows: +30 written, 0 dropped" "$OUT"
stop_daemon
check "the boot's accesses are in the database" "30" "$(sqlite3 "$T/db/trace.db" 'select accesses from boots where id = 1')"

# Someone else's directory (or one others may write) is refused by all three.
rm -rf "$D"
mkdir -m 700 "$D"
chown "$((U + 1))" "$D"
check_rc "idsrd refuses a directory another user owns" 1 run "$B/idsrd" --db "$T/db/x.db"
check_match "idsrd: says whose and what to do" "no default --socket: $D belongs to uid $((U + 1)), not to uid $U: refusing to use it .* set XDG_RUNTIME_DIR" "$OUT"
check_rc "idsr-vmm refuses it too" 1 run "$B/idsr-vmm" "$G/apple_boot.bin"
check_match "idsr-vmm: says why" "no socket to connect to: $D belongs to uid $((U + 1))" "$OUT"
check_rc "idsrctl refuses it too (exit 2)" 2 run "$B/idsrctl" status
check_match "idsrctl: says why" "idsrctl: $D belongs to uid $((U + 1))" "$OUT"
chown "$U" "$D"
chmod 770 "$D"
check_rc "a group-writable directory is refused" 1 run "$B/idsrd" --db "$T/db/x.db"
check_match "names the mode" "$D is writable by others \(mode 0770\)" "$OUT"
rm -rf "$D"
ln -s /tmp "$D"
check_rc "a symlink is refused" 1 run "$B/idsrd" --db "$T/db/x.db"
check_match "says it is not a directory" "$D is not a directory" "$OUT"
check "no database made by the refused starts" "" "$(ls "$T/db" | grep x.db)"

# A socket this user may not use: the VMM says how to get access, not to start idsrd.
if [ "$(id -u)" -eq 0 ]; then
	start_daemon --socket-mode 0600 || exit 1
	check_rc "a VMM socket of mode 0600, as nobody: exit 1" 1 as_user "$B/idsr-vmm" --socket "$T/vmm.sock" "$G/apple_boot.bin"
	check_match "says permission denied" "cannot connect to idsrd at $T/vmm.sock: Permission denied" "$OUT"
	check_match "and how to get access" "idsrd is running but this user may not use its socket: run as a member of the socket's group" "$OUT"
	check "and not to start one" "" "$(printf '%s\n' "$OUT" | grep 'start idsrd (its socket')"
	stop_daemon
fi
check_match "idsrd --help: --workers, as the man page says" "--workers N +accepted for old scripts and ignored" "$("$B/idsrd" --help)"
done_testing
