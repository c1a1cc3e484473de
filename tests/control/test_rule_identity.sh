#!/bin/bash
# SPDX-License-Identifier: MIT
# A row names the rule that answered it for good: the policy version in force at its time
# (boot_policies, exact by daemon_policy_at) and its line there. After `policy set' moves the
# catch-all from line 64 to 65, boot 1's rows still name `*  undef' as policy.conf:64, boot 2's
# name the set rule by its text, `policy show --hash H' shows each version, and under policy
# swaps racing a busy guest every row's answer is the one its derived version gives.
. "$(dirname "$0")/../lib.sh"
unset IDSRD_DB
C="$B/idsrctl"
G=$B/guests
q() { sqlite3 "$T/trace.db" "$@"; }
wait_ended() {	# wait_ended N: N boots ended and committed
	for _ in $(seq 1 400); do [ "$(q 'select count(*) from boots where end_ns is not null')" == "$1" ] && return; sleep 0.025; done
}

start_daemon --policy examples/policy.conf || exit 1
"$B/idsr-vmm" --vm one "$G/apple_boot.bin" >/dev/null 2>&1
wait_ended 1
h1=$("$C" status --json | sed 's/.*"policy_hash": "\([0-9a-f]*\)".*/\1/')
check_rc "policy set" 0 "$C" policy set 'CYC_OVRD write ignore'
h2=$("$C" status --json | sed 's/.*"policy_hash": "\([0-9a-f]*\)".*/\1/')
"$B/idsr-vmm" --vm two "$G/apple_boot.bin" >/dev/null 2>&1
wait_ended 2

# CYC_OVRD_EL1 is s3_5_c15_c5_0: key 0xefa8 = 61352
check "boot 1: CYC_OVRD answered by the catch-all, line 64" "64" "$(q 'select distinct rule from accesses where boot_id = 1 and key = 61352')"
check "boot 2: by the set rule, now line 64; the catch-all is 65" "64" "$(q 'select distinct rule from accesses where boot_id = 2 and key = 61352')"
check_match "show 1: still policy.conf:64, the catch-all it was" " write +CYC_OVRD_EL1 \(s3_5_c15_c5_0\) .* UNDEF +policy.conf:64$" "$("$C" show 1)"
check_match "show 2: the set rule by its text" " write +CYC_OVRD_EL1 \(s3_5_c15_c5_0\) .* emulate 'CYC_OVRD write ignore'$" "$("$C" show 2)"
check_match "show 2: the catch-all as policy.conf's line? no: a live version's line, by text" \
	" read +ACNTPCT_EL0 \(s3_4_c15_c10_5\) .* UNDEF +'\* +undef'$" "$("$C" show 2)"
check_match "show 1 --json-lines: the version and the rule's text" \
	"\"rule\": 64, \"rule_source\": \"examples/policy.conf\", \"policy_hash\": \"$h1\", \"rule_text\": \"\* +undef\"" \
	"$("$C" show 1 --json-lines | grep -m1 '"key": 61352')"
check_match "show 2 --json-lines" "\"rule\": 64, \"rule_source\": \"live\", \"policy_hash\": \"$h2\", \"rule_text\": \"CYC_OVRD write ignore\"" \
	"$("$C" show 2 --json-lines | grep -m1 '"key": 61352')"
check_match "tail names it the same way" "'CYC_OVRD write ignore'$" "$("$C" tail -n 40 :2 --reg CYC_OVRD)"
check_match "policy show --hash H1: line 64 is the catch-all" "^   64  \* +undef$" "$("$C" policy show --hash "$h1")"
check_match "policy show --hash H2 (a prefix): line 64 is the set rule" "^   64  CYC_OVRD write ignore$" \
	"$("$C" policy show --hash "${h2:0:8}")"
check_match "... and line 65 the catch-all" "^   65  \* +undef$" "$("$C" policy show --hash "$h2")"
check "policy show --hash --json: one array, a rule each" "$(("$(q "select count(*) from policies where hash = '$h2'")" > 0))" "1"
check_rc "policy show --hash: an unknown one" 2 "$C" policy show --hash 0123
check_match "... says so" "no policy 0123 in $T/trace.db" "$OUT"
check_rc "policy set --hash: refused" 2 "$C" policy set --hash "$h1" 'x'

# tail -f: a live event names the version and the rule's text too
"$C" tail -f -n 0 --reg CYC_OVRD >"$T/tail.out" 2>&1 &
tp=$!
for _ in $(seq 1 200); do "$C" status 2>/dev/null | grep -q " 1 subscribers" && break; sleep 0.025; done
"$B/idsr-vmm" --vm three "$G/apple_boot.bin" >/dev/null 2>&1
for _ in $(seq 1 200); do [ "$(grep -c CYC_OVRD "$T/tail.out")" -ge 2 ] && break; sleep 0.025; done
kill "$tp"; wait "$tp" 2>/dev/null
check_match "tail -f: the set rule by its text" "'CYC_OVRD write ignore'$" "$(cat "$T/tail.out")"

# Exactness: swaps racing a busy guest. Each version answers HID0 with its own value;
# every row's value must be the one of the version its time maps to. The fast path (on by
# default) answers most reads in the VMM: each swap makes the next one a round trip. The
# guest makes 100,000 reads a vCPU, so that swaps (two idsrctl runs each) land during it.
printf 'HID0 read value 0x1\n* raz-wi\n' >"$T/a.conf"
printf 'HID0 read value 0x2\n* raz-wi\n' >"$T/b.conf"
"$C" policy load "$T/a.conf" >/dev/null
"$B/idsr-vmm" --vm busy --vcpus 2 "$G/bench_loop.bin" >"$T/busy.out" 2>&1 &
vp=$!
swaps=0
while kill -0 "$vp" 2>/dev/null; do
	"$C" policy load "$T/b.conf" >/dev/null && "$C" policy load "$T/a.conf" >/dev/null && swaps=$((swaps + 2))
done
wait "$vp"
wait_ended 4
busy=$(q "select id from boots where vm_name = 'busy'")
echo "# $swaps swaps during boot $busy, $(q "select count(*) from boot_policies where boot_id = $busy") versions in force"
check "the boot ran under several versions" "1" "$(q "select count(*) > 4 from boot_policies where boot_id = $busy")"
check "every row's value is its derived version's" "0" "$(q "
	select count(*) from accesses a where a.boot_id = $busy and a.value != (
		select case when p.text like 'HID0 read value 0x1%' then 1 else 2 end
		from boot_policies bp join policies p on p.hash = bp.policy_hash
		where bp.boot_id = a.boot_id and bp.since_ns <= a.ts_ns order by bp.since_ns desc limit 1)")"
check "all 200000 rows are there" "200000" "$(q "select count(*) from accesses where boot_id = $busy")"
check_match "most by the fast path" "\(1[0-9]{5} by the fast path\)" "$(cat "$T/busy.out")"
done_testing
