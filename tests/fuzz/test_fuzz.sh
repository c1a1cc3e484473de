# SPDX-License-Identifier: MIT
# Builds every libFuzzer harness and runs each for a few seconds from its seed corpus
# (`make fuzz` runs them longer). IDSR_FUZZ_SECONDS sets the time per target.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."
secs=${IDSR_FUZZ_SECONDS:-3}
targets=(frame policy encoding names readers import fastpath)
[ -f replay/symbols.c ] && [ -f tests/fuzz/fuzz_symbols.c ] && targets+=(symbols)
if ! command -v clang-14 >/dev/null && ! command -v clang >/dev/null; then
	echo "1..0 # SKIP clang is not installed"
	exit 0
fi
for t in "${targets[@]}"; do
	check_rc "fuzz $t: ${secs}s from the seed corpus, no crash or sanitizer report" 0 \
		tests/fuzz/run.sh "$secs" "$t"
	check_match "fuzz $t: the harness ran inputs" 'number_of_executed_units: [1-9]' "$OUT"
done
done_testing
