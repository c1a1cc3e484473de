#!/bin/bash
# SPDX-License-Identifier: MIT
# `make check-busy`: runs COMMAND (make check: the suite, then the suite under
# ASan+UBSan) beside BUSY_HOGS processes that spin on the CPU, as on a machine
# shared with other builds; BUSY_ROUNDS times, stopping at the first failure. A
# test that waits by time instead of for a state fails here first. The hogs
# are killed on every way out (success, failure, ^C, SIGTERM), and each also
# ends by itself once this script is gone, even after a SIGKILL.
# Usage: scripts/check-busy.sh COMMAND...   (BUSY_HOGS=2, BUSY_ROUNDS=1)
set -u
cd "$(dirname "$0")/.."
hogs=()
stop_hogs() {
	local pid
	for pid in "${hogs[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	hogs=()
}
trap stop_hogs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq "${BUSY_HOGS:-2}"); do
	# spins while this script lives (kill -0 is a shell builtin: no fork)
	sh -c 'while kill -0 "$1" 2>/dev/null; do :; done' hog $$ &
	hogs+=($!)
done
echo "  BUSY    ${#hogs[@]} CPU hogs (pids ${hogs[*]}) beside: $*"
echo "  BUSY    $(uptime)"
rc=0
for round in $(seq "${BUSY_ROUNDS:-1}"); do
	start=$SECONDS
	"$@"
	rc=$?
	echo "  BUSY    round $round of ${BUSY_ROUNDS:-1}: $([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)")" \
	     "in $((SECONDS - start)) s;$(uptime)"
	[ $rc -eq 0 ] || break
done
exit $rc
