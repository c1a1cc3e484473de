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
check "no daemon or tail left running" "" "$(ps -eo args | grep -F "$T/demo" | grep -v grep)"
check_rc "DEMO_DIR must be new" 1 env BUILD="$B" DEMO_DIR="$T/demo" scripts/demo.sh
check_match "... and says so" "cannot create DEMO_DIR" "$OUT"
done_testing
