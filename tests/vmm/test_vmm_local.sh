#!/bin/bash
# SPDX-License-Identifier: MIT
# idsr-vmm with --local raz (no daemon): every guest's exact final registers and access counts,
# EL0 UNDEF, UNDEF delivered to the guest's vector, AArch32 cp15, 4 vCPUs, --undef modes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"
z=0x0000000000000000

check_rc "apple_boot, 2 vCPUs, halts" 0 "$VMM" --local raz --vcpus 2 --regs-out "$T/r.json" "$G/apple_boot.bin"
check_match "summary on stderr" "answered in-process \(--local raz\): 2 vCPUs halted at brk #0: 30 IDSR accesses, 0 UNDEF" "$OUT"
brk=$(printf '0x%016x' $(($(sym apple_boot _start) + 0x1c)))
for v in 0 1; do
	# HID0 |= 1<<20, HID4 |= 1<<11, HID5 |= core<<4, HID11 &= ~8, CYC_OVRD = 0xd, 4 polls
	check_regs apple_boot "$T/r.json" $v x0=$(printf '0x%016x' $v) x1=0x0000000000100000 \
		x2=0x0000000000000800 x3=$(printf '0x%016x' $((v << 4))) x5=$z x6=$z x7=0x000000000000000d \
		x9=$z x19=$(printf '0x%016x' $v) x20=$z pc=$brk accesses=15 undefs=0 halted=true
done

check_rc "cortex_boot, 2 vCPUs" 0 "$VMM" --local raz --vcpus 2 --regs-out "$T/r.json" "$G/cortex_boot.bin"
check_regs cortex_boot "$T/r.json" 0 x1=0x0802000000000000 x2=0x0000000000000040 x3=0x0000000000000082 \
	x5=0x0000000000000001 accesses=8
check_regs cortex_boot "$T/r.json" 1 x1=0x0802000000000000 x3=$z accesses=4

# 24 folds of zero: x = ror(x, 7) + 1 each; xzr edges forwarded, midr/mpidr not
check_rc "checksum" 0 "$VMM" --local raz --regs-out "$T/r.json" "$G/checksum.bin"
check_regs checksum "$T/r.json" 0 x19=0x0e1c3870e0c18307 x2=0x00000000410fd083 accesses=26 undefs=0

# like KVM, per vCPU: MIDR_EL1 = --midr, MPIDR_EL1 = 0x80000000 | index (through VPIDR/VMPIDR_EL2)
check_rc "checksum, 3 vCPUs, --midr" 0 "$VMM" --local raz --vcpus 3 --midr 611f0220 --regs-out "$T/r.json" "$G/checksum.bin"
for v in 0 1 2; do
	check_regs checksum-ids "$T/r.json" $v x19=0x0e1c3870e0c18307 x2=0x00000000611f0220 x3=0x000000008000000$v
done

check_rc "undef_vector" 0 "$VMM" --local raz --regs-out "$T/r.json" "$G/undef_vector.bin"
# raz answers the HID accesses; only the udf reaches the vector: ESR EC=0 IL=1, ELR = the udf
check_regs undef_vector "$T/r.json" 0 x1=$z x2=$z x20=0x0000000000000001 x21=0x0000000002000000 \
	x22=$(sym undef_vector undefined_insn) accesses=3 undefs=0

check_rc "el0 --undef skip" 0 "$VMM" --local raz --el0 --undef skip --regs-out "$T/r.json" "$G/el0.bin"
check_regs el0 "$T/r.json" 0 x1=0x0000000000005a5a x4=0x0000000000001234 pstate=0x00000000 accesses=2 undefs=2
check_rc "el0 --undef vector, no vector set" 1 "$VMM" --local raz --el0 "$G/el0.bin"
check_match "no vector: explains" "guest fault at PC 0x400: .*the UNDEF vector just injected; the guest has set no vector base" "$OUT"
check_rc "el0 --undef stop" 1 "$VMM" --local raz --el0 --undef stop --regs-out "$T/r.json" "$G/el0.bin"
check_match "el0 stop: names vCPU and PC" "vCPU 0 stopped: UNDEF for the IDSR access at PC 0x40000004 \(--undef stop\)" "$OUT"
check_regs el0-stop "$T/r.json" 0 pc=0x0000000040000004 x1=0x0000000000005a5a accesses=1 undefs=1 halted=false

# EL0 UNDEFs enter EL1 for real (through a virtual IRQ, see tests/vmm/README.md)
check_rc "el0_vector" 0 "$VMM" --local raz --regs-out "$T/r.json" "$G/el0_vector.bin"
check_regs el0_vector "$T/r.json" 0 x1=0x0000000000005a5a x20=0x0000000000000003 x21=0x0000000002000000 \
	x22=$(sym el0_vector user_udf) x23=0x0000000000000004 pstate=0x00000000 accesses=2 undefs=2
check_rc "el0_vector --undef skip" 0 "$VMM" --local raz --undef skip --regs-out "$T/r.json" "$G/el0_vector.bin"
check_regs el0_vector-skip "$T/r.json" 0 x1=0x0000000000005a5a x20=0x0000000000000001 undefs=2

check_rc "a32_cp15" 0 "$VMM" --local raz --aarch32 --regs-out "$T/r.json" "$G/a32_cp15.bin"
lr=$(printf '0x%08x' $((0x$(awk '$3 == "undefined_insn" { print $1 }' "$G/a32_cp15.map") + 4)))
# r2: MIDR of the Cortex-A15 model runs natively; r6: the failed mrceq left it alone
check_regs a32_cp15 "$T/r.json" 0 r1=0x00000040 r2=0x412fc0f1 r3=0x00000001 r5=0x00000000 r6=0x00000001 \
	r8=0x00000001 r9=0x00000000 r10=0x00000001 r12=$lr cpsr=0x000001d3 accesses=7 undefs=0

check_rc "a32_thumb" 0 "$VMM" --local raz --aarch32 --regs-out "$T/r.json" "$G/a32_thumb.bin"
udf=$(awk '$3 == "thumb_udf" { print $1 }' "$G/a32_thumb.map")
# r6: the IT block skipped its mov; r12: the UNDEF's LR is the 16-bit udf + 2; cpsr: Thumb, SVC
check_regs a32_thumb "$T/r.json" 0 r1=0x00000040 r6=0x00000001 r8=0x00000001 r10=0x00000001 \
	r12=$(printf '0x%08x' $((0x$udf + 2))) r15=$(printf '0x%08x' $((0x$udf + 2))) cpsr=0x000001f3 accesses=5 halted=true

check_rc "a32_el0 from SVC: UNDEFs reach its vector" 0 "$VMM" --local raz --aarch32 --regs-out "$T/r.json" "$G/a32_el0.bin"
check_regs a32_el0 "$T/r.json" 0 r1=0x0000005a r10=0x00000002 accesses=2 undefs=2
check_rc "a32_el0 --el0 --undef skip" 0 "$VMM" --local raz --aarch32 --el0 --undef skip --regs-out "$T/r.json" "$G/a32_el0.bin"
check_regs a32_el0-usr "$T/r.json" 0 r1=0x0000005a r10=0x00000000 accesses=2 undefs=2

check_rc "4 vCPUs" 0 "$VMM" --local raz --vcpus 4 --regs-out "$T/r.json" "$G/apple_boot.bin"
for v in 0 1 2 3; do
	check_regs 4vcpus "$T/r.json" $v x3=$(printf '0x%016x' $((v << 4))) accesses=15 halted=true
done

done_testing
