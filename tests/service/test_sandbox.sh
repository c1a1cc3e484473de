# SPDX-License-Identifier: MIT
# Tests that idsrd fits the sandbox idsrd.service puts it in, without systemd:
# idsrd runs socket-activated under strace through a VMM boot, idsrctl status,
# a reload and a stop, and every system call it makes must pass the unit's
# SystemCallFilter=, every socket it opens be AF_UNIX (RestrictAddressFamilies=)
# and no mapping be writable and executable (MemoryDenyWriteExecute=).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/service.sh"

for tool in strace systemd-analyze systemd-socket-activate; do
	if ! command -v $tool >/dev/null; then
		ok "sandbox # SKIP $tool is not installed"
		done_testing; exit
	fi
done
if ! strace -o /dev/null true 2>/dev/null; then
	ok "sandbox # SKIP strace cannot trace here"
	done_testing; exit
fi

# the unit's filter, as systemd-analyze expands its groups
syscalls() {
	systemd-analyze syscall-filter "$1" | awk 'NR > 1 && NF && $1 !~ /^#/ { print $1 }' |
		while read -r s; do case $s in @*) syscalls "$s" ;; *) echo "$s" ;; esac; done
}
S=$SRC/systemd/idsrd.service
allow=$(grep '^SystemCallFilter=[^~]' "$S" | cut -d= -f2)
deny=$(grep '^SystemCallFilter=~' "$S" | cut -d~ -f2)
check "the unit's filter" "@system-service|@privileged @resources" "$allow|$deny"
for g in $allow; do syscalls "$g"; done | sort -u >"$T/allow"
for g in $deny; do syscalls "$g"; done | sort -u >"$T/deny"
comm -23 "$T/allow" "$T/deny" >"$T/allowed"

D=$T/dest
install_tree "$D" || exit 1
build_installed "$D" static "$T/minimal-vmm" "$SRC/examples/minimal-vmm.c" || exit 1
# idsrd runs as the unprivileged idsrd user under systemd: here as nobody
# (as root, SQLite would also fchown its journal files to the database's owner)
W=$T/run
chmod 0711 "$T"
mkdir -m 0777 "$W"
cp "$SRC/examples/policy.conf" "$W/policy.conf"
if [ "$(id -u)" = 0 ]; then as_user="setpriv --reuid=nobody --regid=nogroup --clear-groups"; else as_user=; fi

# (ASAN_OPTIONS: the LeakSanitizer of a `make SANITIZE=1` idsrd cannot run under ptrace)
strace -f -qq -o "$T/strace" $as_user systemd-socket-activate -l "$W/vmm.sock" -l "$W/ctl.sock" \
	--fdname=vmm:control -E NOTIFY_SOCKET="$W/no-notify.sock" -E WATCHDOG_USEC=200000 \
	-E ASAN_OPTIONS=detect_leaks=0 \
	"$B/idsrd" --socket "$W/vmm.sock" --control "$W/ctl.sock" --db "$W/trace.db" \
	--policy "$W/policy.conf" 2>"$T/idsrd.log" &
STRACE_PID=$!
wait_sockets "$STRACE_PID" "$W/vmm.sock" "$W/ctl.sock" || exit 1
# strace's child: the launcher, which becomes idsrd
DAEMON_PID=$(pgrep -P "$STRACE_PID")
check_rc "a boot" 0 "$T/minimal-vmm" "$W/vmm.sock"
check_rc "idsrctl status" 0 "$B/idsrctl" status --control "$W/ctl.sock"
sleep 0.3	# a few watchdog pings
kill -HUP "$DAEMON_PID"
for i in $(seq 1 1200); do grep -q '(sighup)' "$T/idsrd.log" && break; sleep 0.05; done
check_match "a reload" "in force \(sighup\)" "$(cat "$T/idsrd.log")"
kill -TERM "$DAEMON_PID"
wait "$STRACE_PID"
check "idsrd stops cleanly under strace" 0 "$?"
DAEMON_PID=

# what idsrd did: from its execve on (the launcher's own calls are not idsrd's)
awk -v exe="execve(\"$B/idsrd\"" 'index($0, exe) { on = 1; next } on' "$T/strace" >"$T/idsrd.strace"
check "strace saw idsrd" "yes" "$([ -s "$T/idsrd.strace" ] && echo yes)"
sed -nE 's/^[0-9]+ +(<\.\.\. )?([a-z0-9_]+)[( ].*/\2/p' "$T/idsrd.strace" | sort -u >"$T/used"
check "idsrd makes enough calls for the check to mean something" "yes" \
	"$([ "$(wc -l <"$T/used")" -ge 40 ] && echo yes || echo "only $(wc -l <"$T/used")")"
check "every system call idsrd makes passes SystemCallFilter=" "" "$(comm -23 "$T/used" "$T/allowed" | tr '\n' ' ')"
check "idsrd opens only AF_UNIX sockets" "" \
	"$(grep -oE ' socket\(AF_[A-Z0-9]+' "$T/idsrd.strace" | grep -v AF_UNIX | sort -u)"
check "no mapping is writable and executable" "" \
	"$(grep -E '(mmap|mprotect|pkey_mprotect)\(' "$T/idsrd.strace" | grep -E 'PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE' | head -3)"

done_testing
