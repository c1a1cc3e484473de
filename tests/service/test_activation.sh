# SPDX-License-Identifier: MIT
# Tests idsrd under socket activation for real: systemd-socket-activate holds
# the VMM and control sockets (named as idsrd.socket and idsrd-control.socket
# name them) and starts idsrd on the first VMM connection; sd_notify messages
# (READY, STATUS, WATCHDOG, RELOADING, STOPPING) go to a socket of ours;
# SIGHUP reloads, a bad policy is refused, SIGTERM drains a connected VMM;
# idsrd makes the sockets systemd did not pass, and refuses the wrong kind.
# With build/idsr-vmm, a guest runs through the activated socket too.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/service.sh"

for tool in systemd-socket-activate python3 sqlite3; do
	if ! command -v $tool >/dev/null; then
		ok "socket activation # SKIP $tool is not installed"
		done_testing; exit
	fi
done

D=$T/dest
install_tree "$D" || exit 1
build_installed "$D" static "$T/minimal-vmm" "$SRC/examples/minimal-vmm.c" || exit 1
build_installed "$D" static "$T/hold-vmm" "$SRC/tests/service/hold_vmm.c" || exit 1

# stands in for systemd's notify socket: one line per datagram, fields joined by |
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
	while True:
		out.write(s.recv(4096).decode().strip().replace("\n", "|") + "\n")
' "$T/notify.sock" "$T/notify.log" &
NOTIFY_PID=$!
trap 'kill $NOTIFY_PID 2>/dev/null; cleanup' EXIT
wait_sockets "$NOTIFY_PID" "$T/notify.sock" || exit 1

# wait_for FILE REGEX: up to 60 s for a line of FILE to match
wait_for() {
	local i
	for i in $(seq 1 1200); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# nothing matched /$2/ in $1:"; sed 's/^/# /' "$1" | tail -20
	return 1
}

cp "$SRC/examples/policy.conf" "$T/policy.conf"
# WATCHDOG_USEC as systemd sets it for WatchdogSec=0.4s: a ping every 200 ms
systemd-socket-activate -l "$T/vmm.sock" -l "$T/ctl.sock" --fdname=vmm:control \
	-E NOTIFY_SOCKET="$T/notify.sock" -E WATCHDOG_USEC=400000 -E JOURNAL_STREAM=8:1234 \
	"$B/idsrd" --socket "$T/vmm.sock" --control "$T/ctl.sock" --db "$T/trace.db" \
	--policy "$T/policy.conf" 2>"$T/idsrd.log" &
DAEMON_PID=$!
wait_sockets "$DAEMON_PID" "$T/vmm.sock" "$T/ctl.sock" || exit 1

check "before a connection only the launcher runs" "systemd-socket-" "$(cat /proc/$DAEMON_PID/comm)"
check "... and there is no database yet" "no" "$([ -e "$T/trace.db" ] && echo yes || echo no)"

# the first VMM connection starts idsrd, which answers it
check_rc "the example VMM through the activated socket" 0 "$T/minimal-vmm" "$T/vmm.sock"
check "its first access" "vcpu 0 pc 0xfffffe0007004000 el1 s3_0_c15_c0_0 read  -> 0x0" "$(echo "$OUT" | sed -n 2p)"
check "HID4 from the example policy" "vcpu 0 pc 0xfffffe0007005000 el1 s3_0_c15_c4_0 read  -> 0x100000000000" \
	"$(echo "$OUT" | sed -n 6p)"
check "all nine exits answered" "10" "$(echo "$OUT" | wc -l)"
check "idsrd took the launcher's place" "idsrd" "$(cat /proc/$DAEMON_PID/comm)"
wait_for "$T/notify.log" '^READY=1'
check "READY=1 with a STATUS" "READY=1|STATUS=serving VMMs on $T/vmm.sock" "$(grep -m1 '^READY=1' "$T/notify.log")"

# the control socket is the one named "control"
check_rc "idsrctl status through the activated control socket" 0 "$B/idsrctl" status --control "$T/ctl.sock" --json
check_match "... which is the activated idsrd" "\"control\": \"$T/ctl.sock\", .*\"boots_total\": 1," "$OUT"

# the watchdog: pings from the main loop at half WATCHDOG_USEC, 200 ms apart
t0=$(date +%s%N); n0=$(grep -c '^WATCHDOG=1$' "$T/notify.log")
sleep 1.5
t1=$(date +%s%N); n1=$(grep -c '^WATCHDOG=1$' "$T/notify.log")
want=$(( (t1 - t0) / 200000000 ))
# (a loaded machine delays a ping, never adds one: at most 2 more than the time allows,
# and at least half)
check "watchdog pings every 200 ms ($want, at most 2 more, at least half)" "yes" \
	"$([ $((n1 - n0)) -ge $((want / 2)) ] && [ $((n1 - n0)) -le $((want + 2)) ] && echo yes || echo "no: $((n1 - n0))")"

# SIGHUP: a new policy in force, with RELOADING=1 and READY=1 around it
sed -i 's/^HID4 .*/HID4                 read               value 0x44/' "$T/policy.conf"
kill -HUP "$DAEMON_PID"
wait_for "$T/notify.log" 'policy reloaded$'
check_match "RELOADING=1 with MONOTONIC_USEC" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "$(cat "$T/notify.log")"
check "READY=1 again" "READY=1|STATUS=serving VMMs on $T/vmm.sock; policy reloaded" \
	"$(grep '^READY=1|STATUS=.*reloaded' "$T/notify.log")"
check_rc "a VMM after the reload" 0 "$T/minimal-vmm" "$T/vmm.sock"
check "HID4 from the reloaded policy" "vcpu 0 pc 0xfffffe0007005000 el1 s3_0_c15_c4_0 read  -> 0x44" \
	"$(echo "$OUT" | sed -n 6p)"

# a bad policy: refused, the old one stays, STATUS says so, the log says why
echo "HID0 frobnicate" >>"$T/policy.conf"
kill -HUP "$DAEMON_PID"
wait_for "$T/notify.log" 'last reload failed'
check "STATUS after a failed reload" "READY=1|STATUS=serving VMMs on $T/vmm.sock; the last reload failed, the old policy is in force" \
	"$(grep 'last reload failed' "$T/notify.log")"
check_match "the log says why, at priority 3 (err)" "^<3>policy reload rejected, the old policy stays in force: $T/policy.conf:[0-9]+:[0-9]+: " \
	"$(cat "$T/idsrd.log")"
check_rc "a VMM after the failed reload" 0 "$T/minimal-vmm" "$T/vmm.sock"
check "HID4 still from the last good policy" "vcpu 0 pc 0xfffffe0007005000 el1 s3_0_c15_c4_0 read  -> 0x44" \
	"$(echo "$OUT" | sed -n 6p)"

# SIGTERM drains: a VMM connected mid-boot is cut off, every row is written
mkfifo "$T/hold.in"
"$T/hold-vmm" "$T/vmm.sock" 500 <"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD_PID=$!
exec 7>"$T/hold.in"
wait_for "$T/hold.out" '^ready boot 4$'
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check "idsrd exits 0 after SIGTERM" 0 "$?"
DAEMON_PID=
check "STOPPING=1" "STOPPING=1" "$(grep -x 'STOPPING=1' "$T/notify.log")"
check "no ping after STOPPING=1" "STOPPING=1" "$(tail -1 "$T/notify.log")"
exec 7>&-
wait "$HOLD_PID"
check_match "the held VMM was disconnected" "^after stop: (idsrd closed the connection|sending Access to idsrd: (Broken pipe|Connection reset by peer))$" \
	"$(cat "$T/hold.out")"
check "every row of the held boot is in the database" "500|500" \
	"$(sqlite3 "$T/trace.db" 'select count(*), (select accesses from boots where id = 4) from accesses where boot_id = 4')"
check "no boot is left open" "0" "$(sqlite3 "$T/trace.db" 'select count(*) from boots where end_ns is null')"
check "the held boot says why it ended" "idsrd stopped while the VMM was connected" \
	"$(sqlite3 "$T/trace.db" 'select end_reason from boots where id = 4')"
check "the sockets stay: they belong to the launcher" "yes" \
	"$([ -S "$T/vmm.sock" ] && [ -S "$T/ctl.sock" ] && echo yes)"
check_match "journal priority prefixes on stderr" "^<6>stopped; every row is in $T/trace.db$" "$(cat "$T/idsrd.log")"


# only the VMM socket from systemd (idsrd-control.socket disabled): idsrd makes
# the control socket itself, and on SIGTERM removes it but not systemd's
systemd-socket-activate -l "$T/p-vmm.sock" --fdname=vmm "$B/idsrd" --socket "$T/p-vmm.sock" \
	--control "$T/p-ctl.sock" --db "$T/p.db" 2>"$T/p.log" &
DAEMON_PID=$!
wait_sockets "$DAEMON_PID" "$T/p-vmm.sock" || exit 1
check_rc "a VMM through the only activated socket" 0 "$T/minimal-vmm" "$T/p-vmm.sock"
check "no policy: everything UNDEF" "vcpu 0 pc 0xfffffe0007004000 el1 s3_0_c15_c0_0 read  -> UNDEF" \
	"$(echo "$OUT" | sed -n 2p)"
check_rc "idsrctl status on the control socket idsrd made" 0 "$B/idsrctl" status --control "$T/p-ctl.sock"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check "idsrd exits 0" 0 "$?"
DAEMON_PID=
check "it removed its own control socket, not the activated one" "vmm: yes, control: no" \
	"vmm: $([ -S "$T/p-vmm.sock" ] && echo yes || echo no), control: $([ -e "$T/p-ctl.sock" ] && echo yes || echo no)"

# a socket unit with ListenDatagram= instead of ListenStream=: refused, exit 1
systemd-socket-activate --datagram -l "$T/dg.sock" --fdname=vmm "$B/idsrd" --socket "$T/dg.sock" \
	--control "$T/dg-ctl.sock" --db "$T/dg.db" 2>"$T/dg.log" &
DAEMON_PID=$!
wait_sockets "$DAEMON_PID" "$T/dg.sock" || exit 1
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", sys.argv[1])' "$T/dg.sock"
wait "$DAEMON_PID"
check "idsrd refuses a datagram socket: exit 1" 1 "$?"
DAEMON_PID=
check "... and says why" "idsrd: socket 3 (vmm) from systemd is not a listening unix stream socket; fix ListenStream= in its socket unit" \
	"$(grep 'from systemd' "$T/dg.log")"
check "... without making a control socket" "no" "$([ -e "$T/dg-ctl.sock" ] && echo yes || echo no)"


# a guest run through the activated socket: the reference VMM, two vCPUs
if [ -x "$B/idsr-vmm" ] && [ -f "$B/guests/apple_boot.bin" ]; then
	printf 's3_4_c15_c10_5 read counter start=0x1000 step=0x10\n* raz-wi\n' >"$T/g.conf"
	systemd-socket-activate -l "$T/g-vmm.sock" -l "$T/g-ctl.sock" --fdname=vmm:control "$B/idsrd" \
		--socket "$T/g-vmm.sock" --control "$T/g-ctl.sock" --db "$T/g.db" --policy "$T/g.conf" 2>"$T/g.log" &
	DAEMON_PID=$!
	wait_sockets "$DAEMON_PID" "$T/g-vmm.sock" "$T/g-ctl.sock" || exit 1
	check_rc "idsr-vmm runs apple_boot through the activated socket" 0 \
		"$B/idsr-vmm" --socket "$T/g-vmm.sock" --vcpus 2 --vm activated "$B/guests/apple_boot.bin"
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_PID=
	check "the guest's boot" "activated|2|26|guest halted" \
		"$(sqlite3 "$T/g.db" 'select vm_name, vcpus, accesses, end_reason from boots')"
	check "its rows, both vCPUs" "26|2" "$(sqlite3 "$T/g.db" 'select count(*), count(distinct vcpu) from accesses')"
	check "vCPU 0 polled the counter" "0x1000,0x1010,0x1020" \
		"$(sqlite3 "$T/g.db" "select group_concat(printf('0x%x', value)) from
			(select value from accesses where vcpu = 0 and key = 0xe7d5 order by seq)")"
	check "vCPU 1 wrote its core number into HID5" "0x10" \
		"$(sqlite3 "$T/g.db" "select printf('0x%x', value) from accesses where vcpu = 1 and key = 0xc7a8 and is_write")"
else
	ok "a guest through the activated socket # SKIP build/idsr-vmm or its guests are not built"
fi

done_testing
