#!/bin/bash
# SPDX-License-Identifier: MIT
# idsr-vmm's errors say what failed, on what, and what to do: bad command lines (exit 2),
# a missing guest, no daemon, a guest fault (exit 1, naming vCPU and PC).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"

check_rc "--help" 0 "$VMM" --help
check_match "--help names the flags" "--regs-out FILE" "$OUT"
check_rc "no guest" 2 "$VMM" --local raz
check_match "no guest: says so" "no guest binary given" "$OUT"
check_rc "bad --vcpus" 2 "$VMM" --vcpus 0 --local raz "$G/el0.bin"
check_match "bad --vcpus: quotes it" "--vcpus: \`0' is out of range 1-64" "$OUT"
check_rc "bad --undef" 2 "$VMM" --undef maybe --local raz "$G/el0.bin"
check_match "bad --undef: lists the choices" "--undef: \`maybe' is not one of vector, skip, stop" "$OUT"
check_rc "bad --local" 2 "$VMM" --local zero "$G/el0.bin"
check_rc "bad --base" 2 "$VMM" --base 0x1234 --local raz "$G/el0.bin"
check_match "bad --base: alignment" "not 4 KiB aligned" "$OUT"
check_rc "bad --midr" 2 "$VMM" --midr xyz --local raz "$G/el0.bin"
check_match "bad --midr" "--midr: \`xyz' is not a hexadecimal number" "$OUT"

check_rc "missing guest file" 1 "$VMM" --local raz "$T/nope.bin"
check_match "missing guest: names the file" "cannot open guest binary \`$T/nope.bin': No such file or directory" "$OUT"
check_rc "guest too big for --mem" 1 "$VMM" --local raz --mem 1 --vcpus 64 "$G/undef_vector.bin"
check_match "too big: what to do" "raise --mem" "$OUT"

check_rc "no daemon" 1 "$VMM" --socket "$T/none.sock" "$G/apple_boot.bin"
check_match "no daemon: names the socket" "vCPU 0: cannot connect to idsrd at $T/none.sock" "$OUT"
check_match "no daemon: what to do" "start idsrd .* or run without a daemon with --local raz" "$OUT"

# ldr x1, [x2] with x2 = 0: a read from unmapped memory
printf '\x41\x00\x40\xf9' >"$T/fault.bin"
check_rc "guest fault" 1 "$VMM" --local raz --vcpus 2 "$T/fault.bin"
check_match "guest fault: vCPU, PC and address" \
	"vCPU 1 stopped: guest fault at PC 0x40000000: read from unmapped address 0x0 \(guest RAM is 0x40000000-0x43ffffff\)" "$OUT"
# brk #1 is not the end
printf '\x20\x00\x20\xd4' >"$T/brk1.bin"
check_rc "brk #1" 1 "$VMM" --local raz "$T/brk1.bin"
check_match "brk #1: says only brk #0 ends" "vCPU 0 stopped: brk #1 at PC 0x40000000 \(only brk #0 ends a vCPU\)" "$OUT"
# svc #0 (0xd4000001): not an exception this VMM handles
printf '\x01\x00\x00\xd4' >"$T/svc.bin"
check_rc "svc" 1 "$VMM" --local raz "$T/svc.bin"
check_match "svc: named, at its PC" "vCPU 0 stopped: svc at PC 0x40000000: the reference VMM handles no guest calls" "$OUT"
# 0xffffffff is undefined: the injected UNDEF goes to VBAR_EL1 = 0, which is not RAM
printf '\xff\xff\xff\xff' >"$T/undef.bin"
check_rc "UNDEF with no vector" 1 "$VMM" --local raz "$T/undef.bin"
check_match "no vector: explains" "the UNDEF vector just injected; the guest has set no vector base" "$OUT"

# a guest that loops forever (b .) is stopped by Ctrl-C, and still reports its registers
printf '\x00\x00\x00\x14' >"$T/loop.bin"
"$VMM" --local raz --vcpus 2 --regs-out "$T/r.json" "$T/loop.bin" >"$T/loop.out" 2>&1 &
vmm=$!
wait_running $vmm
sleep 0.1
kill -INT $vmm
wait $vmm
check "SIGINT: exit 1" 1 "$?"
check "SIGINT: each vCPU says where it was" "idsr-vmm: vCPU 0 stopped: interrupted by SIGINT at PC 0x40000000
idsr-vmm: vCPU 1 stopped: interrupted by SIGINT at PC 0x40000000" "$(cat "$T/loop.out")"
check_regs sigint "$T/r.json" 1 pc=0x0000000040000000 halted=false

done_testing
