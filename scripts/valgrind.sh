#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the integration tests with idsrd under valgrind (memcheck: invalid accesses, uses of
# uninitialised values, definite leaks) and the test programs, which drive the client
# library, under it too; then reports what valgrind found. Exit 0 only if it found nothing.
# Usage: scripts/valgrind.sh [NAME...]   (test names without test_, globs allowed;
#        default: daemon stress crash reconnect hostile access schema_upgrade)
# Needs a build: make check-build. Slow (valgrind is ~30x): the load test runs scaled down.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
logs=$BUILD/valgrind
rm -rf "$logs"
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
vg="$vg --show-leak-kinds=definite --child-silent-after-fork=yes --fair-sched=yes"

# idsrd under valgrind, started by the harness and tests/lib.sh
export IDSRD_WRAPPER="$vg --log-file=$logs/idsrd.%p.log"
# valgrind is slow: the timing-bound tests are told so
export IDSR_SLOW=1 TEST_TIMEOUT=1800

patterns=("$@")
[ ${#patterns[@]} -eq 0 ] && patterns=(daemon stress crash reconnect hostile access schema_upgrade)
rc=0
for p in "${patterns[@]}"; do
	for t in "$BUILD"/tests/test_$p; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		# the test program too (the client library runs in it)
		CMOCKA_MESSAGE_OUTPUT=TAP BUILD=$BUILD $vg --log-file="$logs/$name.%p.log" "$t" \
			>"$logs/$name.tap" 2>&1
		r=$?
		printf '%-28s exit %d, %d ok, %d not ok\n' "$name" "$r" "$(grep -c '^ok' "$logs/$name.tap")" \
			"$(grep -c '^not ok' "$logs/$name.tap")"
		[ $r -eq 0 ] || rc=1
	done
	for t in tests/*/test_$p.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		BUILD=$BUILD bash "$t" >"$logs/$name.tap" 2>&1
		r=$?
		printf '%-28s exit %d, %d ok, %d not ok\n' "$name" "$r" "$(grep -c '^ok' "$logs/$name.tap")" \
			"$(grep -c '^not ok' "$logs/$name.tap")"
		[ $r -eq 0 ] || rc=1
	done
done
# Every valgrind log is empty when it found nothing (--quiet).
found=$(find "$logs" -name '*.log' -size +0 | sort)
if [ -n "$found" ]; then
	echo "valgrind reports:"
	for f in $found; do echo "== $f"; head -40 "$f"; done
	rc=1
else
	echo "valgrind: nothing to report ($(find "$logs" -name '*.log' | wc -l) processes checked)"
fi
exit $rc
