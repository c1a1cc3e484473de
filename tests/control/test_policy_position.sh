#!/bin/bash
# SPDX-License-Identifier: MIT
# policy set --first / --before N put a rule where it answers (the man page's own example,
# `HID4 read value 0x44', never answers after the example policy's HID4 storage rule);
# SET_AT is an op of its own, so an idsrd without it refuses rather than ignoring the
# position (its default case: "unknown policy operation"); `policy set allow-el0' works; `policy check' warns about rules that never answer.
. "$(dirname "$0")/../lib.sh"
C="$B/idsrctl"
G=$B/guests
q() { sqlite3 "$T/trace.db" "$@"; }

start_daemon --policy examples/policy.conf || exit 1
check_rc "policy set HID4: accepted" 0 "$C" policy set 'HID4 read value 0x44'
check_match "... with a note: it never answers, and how to put it first" \
	"note: the new rule never answers: line 27 \(\`HID4 +storage init=0x0000100000000000'\) comes first for every access it names; put it first \(policy set --first\)" "$OUT"
check_rc "policy set --first" 0 "$C" policy set --first 'HID4 read value 0x44'
check_match "policy show: rule 1" "^   1    25 +0  HID4 read value 0x44 +set by uid" "$("$C" policy show)"
check_rc "policy set --before 3" 0 "$C" policy set --before 3 'HID5 read value 0x55'
check_match "policy show: rule 3" "^   3    27 +0  HID5 read value 0x55 " "$("$C" policy show)"
"$B/idsr-vmm" --vm one "$G/apple_boot.bin" >/dev/null 2>&1
for _ in $(seq 1 400); do [ "$(q 'select count(*) from boots where end_ns is not null')" == 1 ] && break; sleep 0.025; done
# HID4_EL1 is s3_0_c15_c4_0: key 0xc7a0 = 51104; the guest reads it at seq 2
check "the guest's HID4 read got 0x44, by rule line 25" "2|68|25" \
	"$(q 'select seq, value, rule from accesses where boot_id = 1 and key = 51104 and is_write = 0')"
check_rc "--before past the last rule" 2 "$C" policy set --before 99 'HID5 read value 0x55'
check "... says how many there are" "idsrctl: policy set: policy set --before 99: the policy has 20 rules (idsrctl policy show numbers them)" "$OUT"
check_rc "--before 0" 2 "$C" policy set --before 0 'HID5 read value 0x55'
check_rc "--first is for set" 2 "$C" policy show --first
check "... says so" "idsrctl: policy show: --first is for policy set" "$OUT"

check_rc "policy set allow-el0: a directive works" 0 "$C" policy set allow-el0
check_match "... and says what changed" "~ allow-el0 added: EL0 accesses reach the rules" "$OUT"
check_match "... in the live text" "^allow-el0$" "$("$C" policy show --text)"
check_rc "again: nothing to change" 2 "$C" policy set allow-el0
check "... says so" "idsrctl: policy set: \`allow-el0' changes nothing: the policy says so already" "$OUT"
check_rc "not a rule nor a directive" 2 "$C" policy set 'HID4'
check_match "... says what is expected" "rule .HID4.: column 5: expected an action" "$OUT"

# policy check: rules that can never answer, on stderr; still exit 0
printf 'impl apple\nHID0 storage\n* undef\nHID4 read value 0x44\nHID1 el=0 read value 1\ns3_0_c1_c0_0 read value 0\n' >"$T/p.conf"
check_rc "policy check with warnings: exit 0" 0 "$C" policy check "$T/p.conf"
check "three warnings, each FILE:LINE" "$T/p.conf:4: warning: \`HID4 read value 0x44' never answers: line 3 (\`* undef') comes first for every access it names
$T/p.conf:5: warning: \`HID1 el=0 read value 1' never answers: an access from EL0 is UNDEF before any rule unless the policy has an \`allow-el0' line
$T/p.conf:6: warning: \`s3_0_c1_c0_0 read value 0' never answers: it names no register in the trapped IDSR space (HCR_EL2.TIDCP traps op0=3 CRn=11/15 and the AArch32 cp15 c9-c11, c15 blocks; \`idsrctl decode' tells)" \
	"$("$C" policy check "$T/p.conf" 2>&1 >/dev/null)"
check "the example policy: no warning" "" "$("$C" policy check examples/policy.conf 2>&1 >/dev/null)"
done_testing
