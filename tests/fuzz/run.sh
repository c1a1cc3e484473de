#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined) straight
# against the parsers' own .c files and runs each for SECONDS (default 60) from its seed
# corpus in tests/fuzz/corpus/<target>/.
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (targets: frame policy encoding names readers symbols import fastpath)
# New inputs go to $BUILD/fuzz/corpus-<target>/; crashes to $BUILD/fuzz/crash-<target>-*.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
seconds=${1:-60}
[ $# -gt 0 ] && shift
CLANG=${CLANG:-$(command -v clang-14 || command -v clang || true)}
if [ -z "$CLANG" ]; then
	echo "fuzz: clang not found; install clang and libclang-rt-dev (make deps)" >&2
	exit 2
fi
out=$BUILD/fuzz
mkdir -p "$out"
[ -f "$BUILD/gen/idsr.pb-c.c" ] || make --no-print-directory -s BUILD="$BUILD" "$BUILD/gen/idsr.pb-c.c"

flags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Ilib -Iproto -I"$BUILD/gen" -Ireplay -Icli -Iidsrd)
# target: sources beyond the harness, and libraries
declare -A srcs=(
	[frame]="proto/frame.c $BUILD/gen/idsr.pb-c.c"
	[policy]="lib/policy.c lib/policy_parse.c lib/policy_selector.c lib/policy_state.c lib/regnames.c lib/regtable.c lib/encoding.c lib/number.c lib/log.c lib/embed.S"
	[encoding]="lib/encoding.c lib/number.c lib/regnames.c lib/regtable.c lib/log.c lib/embed.S"
	[symbols]="replay/symbols.c"
	[names]="lib/regtable.c lib/regnames.c lib/encoding.c lib/number.c lib/log.c lib/embed.S"
	[fastpath]="idsrd/fastpath_check.c proto/client_fast.c proto/frame.c $BUILD/gen/idsr.pb-c.c lib/policy.c lib/policy_parse.c lib/policy_selector.c lib/policy_state.c lib/regnames.c lib/regtable.c lib/encoding.c lib/number.c lib/log.c lib/embed.S"
	[import]="cli/import_rows.c cli/import_m1n1.c cli/import_table.c cli/util.c proto/paths.c lib/regnames.c lib/regtable.c lib/encoding.c lib/number.c lib/log.c lib/embed.S"
	[readers]="replay/access_rows.c replay/bootstream.c replay/trace.c lib/db.c lib/db_upgrade.c lib/encoding.c lib/number.c lib/regnames.c lib/regtable.c lib/log.c lib/embed.S"
)
declare -A libs=([frame]="$(pkg-config --libs libprotobuf-c)" [fastpath]="$(pkg-config --libs libprotobuf-c)" [symbols]="$(pkg-config --libs libelf)"
		[readers]="$(pkg-config --libs sqlite3)")
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	targets=(frame policy encoding names readers import fastpath)
	[ -f replay/symbols.c ] && [ -f tests/fuzz/fuzz_symbols.c ] && targets+=(symbols)
fi

rc=0
for t in "${targets[@]}"; do
	bin=$out/fuzz_$t
	# shellcheck disable=SC2086
	if ! "$CLANG" "${flags[@]}" -o "$bin" "tests/fuzz/fuzz_$t.c" ${srcs[$t]} ${libs[$t]:-} -lm \
		2>"$out/build-$t.log"; then
		echo "fuzz: building $t failed:" >&2
		cat "$out/build-$t.log" >&2
		rc=1
		continue
	fi
	corpus=$out/corpus-$t
	mkdir -p "$corpus"
	cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
	echo "fuzz: $t for ${seconds}s"
	if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$bin" -max_total_time="$seconds" \
		-max_len=70000 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$t-" "$corpus" >"$out/run-$t.log" 2>&1; then
		echo "fuzz: $t FAILED; see $out/run-$t.log:" >&2
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/run-$t.log" | head -10 >&2
		rc=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/run-$t.log" | tr '\n' ' ' | sed "s/^/fuzz: $t ok: /"
	echo
done
exit $rc
