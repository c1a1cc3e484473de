#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo` (scripts/demo.sh) runs from start to end, shows what it promises, leaves its
# database behind and no process running.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1

check_rc "the demo runs" 0 env BUILD="$B" DEMO_DIR="$T/demo" scripts/demo.sh
check_match "explains IDSRs first" "^DEFINED \(IDSRs\)" "$(printf '%s\n' "$OUT" | head -5)"
check_match "shows accesses live, named" "<- read   HID0_EL1 \(s3_0_c15_c0_0\) .* emulate policy.conf:" "$OUT"
check_match "the first boot" "boot 1: 2 vCPUs halted at brk #0: 30 IDSR accesses, 12 UNDEF" "$OUT"
check_match "a per-register summary" "CYC_OVRD_EL1 +s3_5_c15_c5_0 +2 +0 +2 +2" "$OUT"
check_match "a live policy change" "\+ line [0-9]+: ACNTPCT_EL0 read counter start=0 step=0x10" "$OUT"
check_match "the second boot" "boot 2: 2 vCPUs halted at brk #0: 26 IDSR accesses, 0 UNDEF" "$OUT"
check_match "the comparison" "different: 0 added, 4 removed, 8 changed \(A: 30 accesses, B: 26 accesses\)" "$OUT"
check_match "what to run next" "idsrctl show $T/demo/trace.db:1" "$OUT"
check "both boots are in the database" "1|30|12|guest halted
2|26|0|guest halted" "$(sqlite3 "$T/demo/trace.db" 'select id, accesses, undefs, end_reason from boots where id <= 2')"
if "$B/idsrctl" replay --help >/dev/null 2>&1; then
	check_match "boot 1 replayed" "reproduced: 30 accesses on 2 vCPUs matched" "$OUT"
	check "the replay is boot 3, with boot 1's UNDEFs" "3|30|12|replay|1" "$(sqlite3 "$T/demo/trace.db" \
		'select id, accesses, undefs, mode, replay_of from boots where id = 3')"
else
	ok "# SKIP idsrctl replay is not built yet"
fi

# Every command the closing tips suggest works as printed, in the order given: each line
# after "what to try next" indented by four spaces is run as it stands (# comments are
# shell comments); the daemon, tail -f and replay, which a user runs in terminals of their
# own, in the background.
tips=$(printf '%s\n' "$OUT" | sed -n '/what to try next/,/^Read more/p' | sed -n 's/^    //p')
check "the tips name the commands" "13" "$(printf '%s\n' "$tips" | wc -l)"
tip_pids=()
while IFS= read -r cmd <&3; do
	case $cmd in
	export*) eval "$cmd"; ok "tip: $cmd" ;;
	*/idsrd\ *)
		bash -c "$cmd" 2>"$T/tip-idsrd.log" & tip_pids+=($!)
		for _ in $(seq 1 200); do [ -S "$IDSRD_CONTROL" ] && break; sleep 0.05; done
		check "tip: the daemon starts as printed" "yes" "$([ -S "$IDSRD_CONTROL" ] && echo yes)" ;;
	*"tail -f"*)
		bash -c "$cmd" >"$T/tip-tail.out" 2>&1 & tip_pids+=($!)
		for _ in $(seq 1 200); do "$B/idsrctl" status 2>/dev/null | grep -q "1 subscriber" && break; sleep 0.05; done ;;
	*"idsrctl replay"*)
		bash -c "$cmd" >"$T/tip-replay.out" 2>&1 & replay=$!
		for _ in $(seq 1 200); do "$B/idsrctl" status 2>/dev/null | grep -q "replay armed" && break; sleep 0.05; done ;;
	*) check_rc "tip: ${cmd%%  *}" 0 bash -c "$cmd" ;;
	esac
done 3<<<"$tips"
wait "$replay"
check "tip: the replay departs from boot 2 (exit 1)" "1" "$?"
check_match "... and says where" "vCPU [01], seq 3: a different written value \(value\)" "$(cat "$T/tip-replay.out")"
check_match "tip: tail -f followed the boots, with Cortex names" "-> write  CPUACTLR_EL1 \(s3_1_c15_c2_0\) +0x0802000000000000  UNDEF   policy.conf:64" "$(cat "$T/tip-tail.out")"
for p in "${tip_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
check "no daemon or tail left running" "" "$(ps -eo args | grep -F "$T/demo" | grep -v grep)"
check_rc "DEMO_DIR must be new" 1 env BUILD="$B" DEMO_DIR="$T/demo" scripts/demo.sh
check_match "... and says so" "cannot create DEMO_DIR" "$OUT"
done_testing
