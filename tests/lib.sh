# SPDX-License-Identifier: MIT
# Helpers for shell tests: TAP output, a private daemon in a temp dir, asserts.
# Source it; it sets $T (temp dir), $B (build dir) and cleans up on exit.
set -u
B=${BUILD:-build}
B=$(cd "$B" && pwd)
T=$(mktemp -d /tmp/idsr-test.XXXXXX)
tap_n=0
tap_failed=0
DAEMON_PID=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }

# check NAME EXPECTED ACTUAL: exact equality, printing both on failure
check() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1"; echo "# expected: $(printf '%q' "$2")"; echo "#   actual: $(printf '%q' "$3")"; fi
}
# check_rc NAME EXPECTED_RC CMD...: runs CMD, compares its exit code; output in $OUT
check_rc() {
	local name=$1 want=$2; shift 2
	OUT=$("$@" 2>&1); local rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$name"; else
		not_ok "$name"; echo "# exit $rc, expected $want: $*"; echo "$OUT" | head -10 | sed 's/^/# /'; fi
}
# check_match NAME REGEX TEXT
check_match() {
	if printf '%s' "$3" | grep -qE -- "$2"; then ok "$1"; else
		not_ok "$1"; echo "# no match for /$2/ in:"; printf '%s\n' "$3" | head -10 | sed 's/^/# /'; fi
}

# wait_until CMD...: runs CMD every 0.05 s until it succeeds, for up to 60 s; a test
# waits for a state, never for a time (a busy machine stalls idsrd for seconds).
wait_until() {
	local i
	for i in $(seq 1200); do "$@" && return 0; sleep 0.05; done
	return 1
}

# start_daemon [ARGS...]: idsrd on $T/vmm.sock, $T/ctl.sock, $T/trace.db
start_daemon() {
	# shellcheck disable=SC2086 # IDSRD_WRAPPER: words (scripts/valgrind.sh)
	${IDSRD_WRAPPER:-} "$B/idsrd" --socket "$T/vmm.sock" --control "$T/ctl.sock" --db "$T/trace.db" --foreground "$@" \
		2>>"$T/idsrd.log" &
	DAEMON_PID=$!
	local i
	for i in $(seq 1 $([ -n "${IDSRD_WRAPPER:-}" ] && echo 12000 || echo 1200)); do	# 60 s (valgrind: 600)
		[ -S "$T/vmm.sock" ] && [ -S "$T/ctl.sock" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || { echo "# idsrd died:"; sed 's/^/# /' "$T/idsrd.log"; return 1; }
		sleep 0.05
	done
	echo "# idsrd did not create its sockets"; return 1
}
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; local rc=$?
	DAEMON_PID=
	return $rc
}
export IDSRD_CONTROL="$T/ctl.sock" IDSRD_SOCKET="$T/vmm.sock"

# boot_ended N [DB]: waits (up to 60 s) until boot N's end is committed in DB ($T/trace.db):
# a VMM exits once it has said Bye, before idsrd has ended the boot and committed its rows
boot_ended() {
	local i
	for i in $(seq 1200); do
		[ "$(sqlite3 "${2:-$T/trace.db}" "SELECT count(*) FROM boots WHERE id = $1 AND end_ns IS NOT NULL")" = 1 ] && return 0
		sleep 0.05
	done
	echo "# boot $1 never ended"; return 1
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
