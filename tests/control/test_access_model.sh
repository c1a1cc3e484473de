# SPDX-License-Identifier: MIT
# A user who is not an admin reads their own boots through idsrd (TraceRead) though
# the database is closed to them: every reading command prints what root prints of
# the file; another user's boot is "no boot N", exactly as a boot never logged; a
# member of --admin-group sees both. Real users, made for the run (root only) and
# removed after it; the names carry the test's pid, so two runs at once do not meet.
. "$(dirname "$0")/../lib.sh"
CTL=$B/idsrctl
VMM=$B/idsr-vmm
G=$B/guests
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
	ok "# SKIP needs root, useradd and setpriv to make and be a second user"
	done_testing
	exit 0
fi
if [ ! -x "$VMM" ] || [ ! -f "$G/apple_boot.bin" ]; then
	ok "# SKIP the reference VMM or its guests are not built"
	done_testing
	exit 0
fi

# The users: USR, a plain user; ADM, in the admin group. Both reach the sockets
# through the socket group. Removed at exit, whatever happened.
SOCKG=idsrt-s$$ ADMG=idsrt-a$$ USR=idsrt-u$$ ADM=idsrt-m$$
users_remove() {
	userdel "$USR" 2>/dev/null; userdel "$ADM" 2>/dev/null
	groupdel "$ADMG" 2>/dev/null; groupdel "$SOCKG" 2>/dev/null
}
trap 'users_remove; cleanup' EXIT
groupadd "$SOCKG" && groupadd "$ADMG" &&
	useradd -M -N -g "$SOCKG" -s /usr/sbin/nologin -d / "$USR" &&
	useradd -M -N -g "$SOCKG" -G "$ADMG" -s /usr/sbin/nologin -d / "$ADM" ||
	{ not_ok "make the test users"; done_testing; exit 1; }
# as NAME CMD...: CMD as user NAME with their groups, a private TMPDIR for copies
# and configuration directory (run.sh's is root's, closed to others)
as() {
	local who=$1; shift
	HOME=/ TMPDIR=$T/tmp-$who XDG_CONFIG_HOME=$T/tmp-$who setpriv --reuid="$who" --regid="$SOCKG" --init-groups -- "$@"
}
mkdir "$T/tmp-$USR" "$T/tmp-$ADM" && chown "$USR" "$T/tmp-$USR" && chown "$ADM" "$T/tmp-$ADM"
chmod 0711 "$T"
cd "$T" || exit 1

printf 'impl apple\n* storage init=0x0\n' >policy.conf
start_daemon --policy "$T/policy.conf" --socket-group "$SOCKG" --control-group "$SOCKG" \
	--control-mode 0660 --admin-group "$ADMG" || exit 1
check "the database is closed to others" "-rw-r-----" "$(stat -c %A trace.db)"

# boot_ended N: waits (60 s at most) for boot N's end to be committed.
boot_ended() {
	local i
	for i in $(seq 1 1200); do
		[ "$(sqlite3 trace.db "SELECT end_ns IS NOT NULL FROM boots WHERE id = $1" 2>/dev/null)" = 1 ] && return 0
		sleep 0.05
	done
	echo "# boot $1 did not end"; return 1
}
APPLE_MIDR=611f0220
check_rc "root's boot" 0 "$VMM" --socket "$T/vmm.sock" --midr $APPLE_MIDR "$G/apple_boot.bin"
boot_ended 1
check_rc "$USR's boot, on 2 vCPUs" 0 as "$USR" "$VMM" --socket "$T/vmm.sock" --midr $APPLE_MIDR --vcpus 2 "$G/apple_boot.bin"
boot_ended 2
check_rc "$USR's second boot" 0 as "$USR" "$VMM" --socket "$T/vmm.sock" --midr $APPLE_MIDR "$G/apple_boot.bin"
boot_ended 3
check "the boots' owners" "1|0
2|$(id -u "$USR")
3|$(id -u "$USR")" "$(sqlite3 trace.db "SELECT id, peer_uid FROM boots ORDER BY id")"

check_rc "$USR cannot open the file" 1 as "$USR" sqlite3 trace.db "SELECT count(*) FROM boots"

# same NAME CMD...: CMD as USR prints what it prints as root, who reads the file.
same() {
	local name=$1 want got; shift
	want=$("$@" 2>&1); local wrc=$?
	got=$(as "$USR" "$@" 2>&1); local grc=$?
	check "$name: as root (rc $wrc)" "$want" "$got"
	check "$name: exit code" "$wrc" "$grc"
}
same "show 2" "$CTL" show 2
same "show trace.db:3 --json" "$CTL" show trace.db:3 --json
same "stats 2" "$CTL" stats 2
same "stats 3 --json-lines" "$CTL" stats 3 --json-lines
same "diff 2 3" "$CTL" diff --color=never 2 3
same "export 2 csv" "$CTL" export --format csv 2
same "export 3 jsonl" "$CTL" export --format jsonl trace.db:3
same "tail -n 5 --boot 2" "$CTL" tail -n 5 --boot 2
same "tail -n 4 3" "$CTL" tail -n 4 3
same "report 2" "$CTL" report 2
same "replay 3 --against" "$CTL" replay 3 --against "$T/policy.conf"
printf 'impl apple\nHID0 storage init=0x5\n* storage init=0x0\n' >other.conf
same "replay 2 --against, differing" "$CTL" replay 2 --against "$T/other.conf" --json
HASH=$(sqlite3 trace.db "SELECT policy_hash FROM boots WHERE id = 2")
same "policy show --hash (boot 2's policy)" "$CTL" policy show --hash "$HASH"
same "policy learn 2 3" "$CTL" policy learn 2 3
# tail -f: the history through idsrd, then the stream; stopped by its pid.
HOME=/ TMPDIR=$T/tmp-$USR XDG_CONFIG_HOME=$T/tmp-$USR setpriv --reuid="$USR" --regid="$SOCKG" --init-groups -- \
	"$CTL" tail -f -n 3 3 >tail-f.out 2>&1 &
TAILPID=$!
for i in $(seq 1 1200); do [ "$(wc -l <tail-f.out)" -ge 4 ] && break; sleep 0.05; done
kill "$TAILPID"; wait "$TAILPID" 2>/dev/null
check "tail -f -n 3 3 as $USR starts with root's tail -n 3 3" "$("$CTL" tail -n 3 3)" "$(cat tail-f.out)"
check "no copies left behind" "" "$(ls -A "$T/tmp-$USR")"

# What differs: only USR's boots are there for USR.
check_rc "boots as $USR" 0 as "$USR" "$CTL" boots --json-lines
check "$USR lists boots 2 and 3" "2
3" "$(printf '%s\n' "$OUT" | sed -n 's/^{"boot_id": \([0-9]*\),.*/\1/p')"
check "boots as $USR: the lines root prints of them" \
	"$("$CTL" boots --json-lines | grep -v '^{"boot_id": 1,')" "$OUT"
check_rc "show (the last boot) as $USR" 0 as "$USR" "$CTL" show
check "the last is $USR's last" "$("$CTL" show 3)" "$OUT"
check_rc "tail -n 3 (every boot) as $USR" 0 as "$USR" "$CTL" tail -n 3
check "tail of all is tail of $USR's" "$("$CTL" tail -n 3 3)" "$OUT"

# Another user's boot is not there: the words of a boot never logged.
for cmd in show stats "export --format csv"; do
	# shellcheck disable=SC2086 # cmd: words
	check_rc "$cmd 1 as $USR" 2 as "$USR" "$CTL" $cmd 1
	check "$cmd 1: no boot 1" "idsrctl: ${cmd%% *}: $T/trace.db: no boot 1 in this trace (idsrctl boots lists them)" "$OUT"
	# shellcheck disable=SC2086
	check "$cmd 1 as $USR says what $cmd 9 (never logged) says" \
		"$(as "$USR" "$CTL" $cmd 9 2>&1 | sed 's/boot 9/boot N/')" "$(printf '%s\n' "$OUT" | sed 's/boot 1/boot N/')"
done
check_rc "diff 1 2 as $USR" 2 as "$USR" "$CTL" diff 1 2
check_match "diff 1: no boot 1" "no boot 1" "$OUT"
check_rc "tail -n 5 --boot 1 as $USR" 0 as "$USR" "$CTL" tail -n 5 --boot 1
check "tail of boot 1: nothing, as of boot 9" "$(as "$USR" "$CTL" tail -n 5 --boot 9 2>&1)" "$OUT"
check_rc "boots 1 as $USR" 2 as "$USR" "$CTL" boots 1
check_match "boots 1: no boot 1" "no boot 1 in this trace" "$OUT"
check "never permission denied" "" "$(grep -i "permission denied" "$T/idsrd.log")"

# The admin group sees every boot, as root does.
for args in "boots --json-lines" "show 1" "stats 2" "diff --color=never 1 2" "tail -n 6"; do
	# shellcheck disable=SC2086 # args: words
	check "$args as $ADM (admin group)" "$("$CTL" $args 2>&1)" "$(as "$ADM" "$CTL" $args 2>&1)"
done
check "no copies left behind ($ADM)" "" "$(ls -A "$T/tmp-$ADM")"

# A big boot comes in many pages, each within a frame, and whole.
sqlite3 trace.db "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49999)
	INSERT INTO accesses SELECT 3, 1, 100 + i, ts_ns + i, key, pc, el, is_write, value, action, rule
	FROM n, (SELECT * FROM accesses WHERE boot_id = 3 LIMIT 1)" || not_ok "grow boot 3"
same "export of 50000 more rows" "$CTL" export --format jsonl 3
check "its rows" "$(sqlite3 trace.db "SELECT count(*) FROM accesses WHERE boot_id = 3")" \
	"$(as "$USR" "$CTL" export --format jsonl 3 | wc -l)"

stop_daemon
# No daemon: the file's own refusal, not a copy.
check_rc "show 2 as $USR without idsrd" 2 as "$USR" "$CTL" show trace.db:2
check "its message" "idsrctl: show: cannot open trace.db: unable to open database file" "$OUT"
done_testing
