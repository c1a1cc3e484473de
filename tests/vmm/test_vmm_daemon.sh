#!/bin/bash
# SPDX-License-Identifier: MIT
# idsr-vmm through a real idsrd: exact rows in the database (the contract columns of `accesses')
# and exact final registers under a known policy, for AArch64 and AArch32 guests, EL0, UNDEF
# into the guest's vector, 4 vCPUs in one boot, and what the VMM says when idsrd goes away.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"
z=0x0000000000000000

start_daemon --policy "$(dirname "$0")/daemon.conf" || exit 1

# boot_of: the id of the boot the last run made (the n-th; ids count from 1), once written
n=0
boot_of() { wait_boot "$T/trace.db" $n >&2; echo $n; }

# ---- apple_boot, 2 vCPUs: per-core HID read-modify-write, ACC, counter polling
check_rc "apple_boot through idsrd" 0 "$VMM" --vcpus 2 --midr 611f0220 --regs-out "$T/r.json" "$G/apple_boot.bin"
n=$((n + 1))
b=$(boot_of)
check_match "summary names the boot" "boot $b: 2 vCPUs halted at brk #0: 30 IDSR accesses, 0 UNDEF" "$OUT"
for v in 0 1; do
	check "apple_boot rows, vCPU $v" "$(apple_boot_rows $v)" "$(rows $b | grep "^$v|")"
	check_regs apple_boot "$T/r.json" $v x1=0x0000000000101000 x3=$(printf '0x%016x' $((v << 4))) \
		x6=0x00000000000000ac x9=0x0000000000000001 x10=0x0000000000001020 x20=$z accesses=15 undefs=0
done
check "apple_boot's boot row" "apple_boot|apple_boot|idsr-vmm 0.1.0|2|1073741824|1629422112|apple|30|0|guest halted" \
	"$(sqlite3 "$T/trace.db" "select vm_name, kernel, vmm, vcpus, image_base, midr, impl, accesses, undefs,
		end_reason from boots where id = $b")"

# ---- undef_vector: HID9 is UNDEF by policy: both accesses land in the guest's vector
check_rc "undef_vector through idsrd" 0 "$VMM" --regs-out "$T/r.json" "$G/undef_vector.bin"
n=$((n + 1))
b=$(boot_of)
check "undef_vector rows" "0|0|0xc780|+0x18|1|0|0x1000|emulate
0|1|0xc7c8|+0x20|1|0|0x0|undef
0|2|0xc7c8|+0x24|1|1|0x1000|undef" "$(rows $b)"
check_regs undef_vector "$T/r.json" 0 x1=0x0000000000001000 x2=0x0000000000000077 x20=0x0000000000000003 \
	x21=0x0000000002000000 x22=$(sym undef_vector undefined_insn) accesses=3 undefs=2
check_rc "undef_vector --undef skip" 0 "$VMM" --undef skip --regs-out "$T/r.json" "$G/undef_vector.bin"
n=$((n + 1))
check_regs undef-skip "$T/r.json" 0 x2=0x0000000000000077 x20=0x0000000000000001 undefs=2
check_rc "undef_vector --undef stop" 1 "$VMM" --undef stop --regs-out "$T/r.json" "$G/undef_vector.bin"
n=$((n + 1))
check_match "--undef stop: names vCPU and PC" "vCPU 0 stopped: UNDEF for the IDSR access at PC 0x40000020 \(--undef stop\)" "$OUT"
check "--undef stop: the boot ends with the reason" "UNDEF for the IDSR access at PC 0x40000020 (--undef stop)" \
	"$(sqlite3 "$T/trace.db" "select end_reason from boots where id = $(boot_of)")"

# ---- EL0: whatever the policy (raz-wi here), idsrd answers UNDEF
check_rc "el0 through idsrd" 0 "$VMM" --el0 --undef skip --regs-out "$T/r.json" "$G/el0.bin"
n=$((n + 1))
check "el0 rows: el=0, undef" "0|0|0xc780|+0x4|0|0|0x0|undef
0|1|0xc780|+0xc|0|1|0xa5|undef" "$(rows $(boot_of))"
check_regs el0 "$T/r.json" 0 x1=0x0000000000005a5a x4=0x0000000000001234 accesses=2 undefs=2

check_rc "el0_vector through idsrd" 0 "$VMM" --regs-out "$T/r.json" "$G/el0_vector.bin"
n=$((n + 1))
check "el0_vector rows" "0|0|0xc780|+0x24|0|0|0x0|undef
0|1|0xc780|+0x28|0|1|0x5a5a|undef" "$(rows $(boot_of))"
check_regs el0_vector "$T/r.json" 0 x1=0x0000000000005a5a x20=0x0000000000000003 x23=0x0000000000000004 undefs=2

# ---- AArch32: cp15 keys, a 64-bit MRRC split over Rt/Rt2, MCRR's Rt2:Rt
check_rc "a32_cp15 through idsrd" 0 "$VMM" --aarch32 --regs-out "$T/r.json" "$G/a32_cp15.bin"
n=$((n + 1))
k() { printf '0x%x' $(((1 << 31) | 15 << 16 | $1 << 11 | $2 << 7 | $3 << 3 | $4)); }
kw() { printf '0x%x' $(((1 << 31) | (1 << 30) | 15 << 16 | $1 << 11 | $2 << 3)); }
check "a32_cp15 rows" "0|0|$(k 0 15 0 0)|+0x14|1|0|0x10|emulate
0|1|$(k 0 15 0 0)|+0x1c|1|1|0x50|emulate
0|2|$(k 1 9 0 2)|+0x20|1|0|0x0|emulate
0|3|$(k 1 9 0 3)|+0x28|1|1|0x1|emulate
0|4|$(k 0 11 0 0)|+0x2c|1|0|0x0|emulate
0|5|$(kw 0 15)|+0x38|1|0|0x1122334455667788|emulate
0|6|$(kw 1 15)|+0x40|1|1|0x1122334455667789|emulate" "$(rows $(boot_of))"
check_regs a32_cp15 "$T/r.json" 0 r1=0x00000050 r8=0x55667789 r9=0x11223344 r10=0x00000001 accesses=7
check_rc "a32_thumb through idsrd" 0 "$VMM" --aarch32 --regs-out "$T/r.json" "$G/a32_thumb.bin"
n=$((n + 1))
check "a32_thumb rows: Thumb-2 encodings, the same keys" "0|0|$(k 0 15 0 0)|+0x14|1|0|0x10|emulate
0|1|$(k 0 15 0 0)|+0x1c|1|1|0x50|emulate
0|2|$(k 1 9 0 2)|+0x20|1|0|0x0|emulate
0|3|$(kw 0 15)|+0x24|1|0|0x1122334455667788|emulate
0|4|$(kw 1 15)|+0x2c|1|1|0x1122334455667789|emulate" "$(rows $(boot_of))"
check_regs a32_thumb "$T/r.json" 0 r1=0x00000050 r8=0x55667789 r9=0x11223344 r10=0x00000001
check_rc "a32_el0 through idsrd" 0 "$VMM" --aarch32 --regs-out "$T/r.json" "$G/a32_el0.bin"
n=$((n + 1))
check "a32_el0 rows: USR mode is el 0, UNDEF" "0|0|$(k 0 15 0 0)|+0x24|0|0|0x0|undef
0|1|$(kw 0 15)|+0x2c|0|1|0xa5000000a5|undef" "$(rows $(boot_of))"
check_regs a32_el0 "$T/r.json" 0 r1=0x0000005a r10=0x00000002 undefs=2

# ---- 4 vCPUs at once: one boot, four per-vCPU streams numbered from 0
check_rc "4 vCPUs through idsrd" 0 "$VMM" --vcpus 4 --vm four "$G/apple_boot.bin"
n=$((n + 1))
b=$(boot_of)
check "4 vCPUs: one boot" "four|4|60|guest halted" \
	"$(sqlite3 "$T/trace.db" "select vm_name, vcpus, accesses, end_reason from boots where id = $b")"
check "4 vCPUs: each stream complete" "0|15|0|14
1|15|0|14
2|15|0|14
3|15|0|14" "$(sqlite3 "$T/trace.db" "select vcpu, count(*), min(seq), max(seq) from accesses where boot_id = $b group by vcpu")"
check "4 vCPUs: each wrote its core number into HID5" "0x0,0x10,0x20,0x30" \
	"$(sqlite3 "$T/trace.db" "select group_concat(printf('0x%x', value)) from (select value from accesses
		where boot_id = $b and key = 0xc7a8 and is_write order by vcpu)")"

# ---- SIGTERM to the VMM: every vCPU says goodbye with the reason, the boot ends cleanly
printf '\x00\x00\x00\x14' >"$T/loop.bin"	# b .
"$VMM" --vcpus 2 --vm looping "$T/loop.bin" >"$T/vmm.out" 2>&1 &
n=$((n + 1))
vmm=$!
wait_running $vmm
sleep 0.1
kill -TERM $vmm
wait $vmm
check "SIGTERM: the VMM exits 1" 1 "$?"
check "SIGTERM: the boot's end reason" "looping|interrupted by SIGTERM at PC 0x40000000" \
	"$(sqlite3 "$T/trace.db" "select vm_name, end_reason from boots where id = $(boot_of)")"

# ---- idsrd goes away mid-boot under --no-reconnect: the VMM stops with a message naming the access
"$VMM" --no-reconnect --vm killme --regs-out "$T/r.json" "$G/bench_loop.bin" >"$T/vmm.out" 2>&1 &
vmm=$!
for i in $(seq 1200); do	# until idsrd has the boot (60 s at most)
	"$B/idsrctl" status 2>/dev/null | grep -q killme && break
	sleep 0.05
done
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
wait $vmm; rc=$?
check "idsrd killed: the VMM exits 1" 1 "$rc"
check_match "idsrd killed: says which access went unanswered" \
	"vCPU 0 stopped: idsrd did not answer the access to key 0x0000c780 at PC 0x40000004: " "$(cat "$T/vmm.out")"
check_regs killed "$T/r.json" 0 pc=0x0000000040000004 halted=false

done_testing
