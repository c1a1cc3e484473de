#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test (cmocka binaries in $BUILD/tests, shell tests in tests/*/test_*.sh),
# all speaking TAP, and ends with one line "N passed, N failed".
# `tests/run.sh PATTERN` runs only the tests whose name contains PATTERN.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD CMOCKA_MESSAGE_OUTPUT=TAP
# the tester's own register names ($XDG_CONFIG_HOME/idsrd/registers.d) stay out of the tests
export XDG_CONFIG_HOME="$PWD/$BUILD/test-config"
filter=${1:-}
passed=0 failed=0 failed_names=()
log_dir=$BUILD/test-logs
mkdir -p "$log_dir"

run_one() {
	local name=$1; shift
	local log=$log_dir/$name.log
	local start=$SECONDS
	timeout -k 10 "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
	local rc=$?
	local ok notok
	ok=$(grep -cE '^ok [0-9]+' "$log")
	notok=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then notok=1; fi
	passed=$((passed + ok)); failed=$((failed + notok))
	if [ "$notok" -gt 0 ]; then
		failed_names+=("$name")
		printf 'FAIL  %-40s %3d ok, %d failed (exit %d, %ds) — %s\n' "$name" "$ok" "$notok" "$rc" $((SECONDS - start)) "$log"
		grep -E '^not ok|^# |ERROR|error' "$log" | head -20 | sed 's/^/      /'
	else
		printf 'PASS  %-40s %3d ok (%ds)\n' "$name" "$ok" $((SECONDS - start))
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	run_one "$name" "$t"
done
for t in tests/*/test_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	run_one "$name" bash "$t"
done

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
