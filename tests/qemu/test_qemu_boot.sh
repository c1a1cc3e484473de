#!/bin/bash
# SPDX-License-Identifier: MIT
# The patched QEMU (integrations/qemu, make qemu) as an idsrd client: the reference guests boot
# under -M virt on 1 and 2 vCPUs, AArch64 (cortex-a57) and AArch32 (cortex-a15), and leave the
# rows idsr-vmm leaves, exactly, and the same final registers; an UNDEF verdict lands in the
# guest's vector as QEMU's own UNDEF does; all=on forwards the registers the CPU model
# implements itself; without -idsr QEMU is unchanged; bad options and a missing idsrd are
# refused with a message.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../vmm/regs.sh"
. "$(dirname "$0")/qemu.sh"
z=0x0000000000000000

start_daemon --policy "$(dirname "$0")/../vmm/daemon.conf" || exit 1
IDSR="socket=$T/vmm.sock"

# ---- apple_boot, 2 vCPUs: the rows test_vmm_daemon asserts for idsr-vmm, the same registers
qemu_boot apple_boot cortex-a57 2 -idsr "$IDSR,vm=apple"
boot_done
for v in 0 1; do
	check "apple_boot rows on QEMU, vCPU $v" "$(apple_boot_rows $v)" "$(rows $b | grep "^$v|")"
	check "apple_boot on QEMU: vCPU $v's x1 x3 x6 x9 x10 x20" \
		"0x0000000000101000 $(printf '0x%016x' $((v << 4))) 0x00000000000000ac 0x0000000000000001 0x0000000000001020 $z" \
		"$(echo $(for r in x1 x3 x6 x9 x10 x20; do qreg apple_boot $v $r; done))"
done
check "apple_boot's boot row from QEMU" "apple|apple_boot.elf|qemu 4.2.0|2|0x411fd070|arm-cortex-a57|30|0|qemu exited" \
	"$(sqlite3 "$T/trace.db" "select vm_name, kernel, vmm, vcpus, printf('0x%x', midr), impl, accesses, undefs, end_reason
		from boots where id = $b")"
qemu_b=$b
check_rc "apple_boot on idsr-vmm" 0 "$VMM" --vcpus 2 --regs-out "$T/r.json" "$G/apple_boot.bin"
boot_done
check "apple_boot: QEMU's rows are idsr-vmm's" "$(rows $b)" "$(rows $qemu_b)"
for v in 0 1; do same_regs apple_boot $v "$T/r.json" $A64_REGS; done
check_rc "idsrctl diff: the QEMU boot against the idsr-vmm boot" 0 "$B/idsrctl" diff --color=never \
	"$T/trace.db:$qemu_b" "$T/trace.db:$b"

# ---- one vCPU: PSCI CPU_ON finds no second CPU; one stream
qemu_boot apple_boot cortex-a57 1 -idsr "$IDSR"
boot_done
check "apple_boot on 1 vCPU: one stream of 15" "0|15|0|14" \
	"$(sqlite3 "$T/trace.db" "select group_concat(distinct vcpu), count(*), min(seq), max(seq) from accesses where boot_id = $b")"

# ---- UNDEF by policy: both HID9 accesses land in the guest's vector, ESR EC=0 IL=1, ELR the PC
qemu_boot undef_vector cortex-a57 1 -idsr "$IDSR"
boot_done
check "undef_vector rows on QEMU" "0|0|0xc780|+0x18|1|0|0x1000|emulate
0|1|0xc7c8|+0x20|1|0|0x0|undef
0|2|0xc7c8|+0x24|1|1|0x1000|undef" "$(rows $b)"
check "undef_vector on QEMU: x2 x20 x21 x22" "0x0000000000000077 0x0000000000000003 0x0000000002000000 $(sym undef_vector undefined_insn)" \
	"$(echo $(for r in x2 x20 x21 x22; do qreg undef_vector 0 $r; done))"
check_rc "undef_vector on idsr-vmm" 0 "$VMM" --regs-out "$T/r.json" "$G/undef_vector.bin"
boot_done
same_regs undef_vector 0 "$T/r.json" $A64_REGS

# ---- AArch32 cp15, 1 and 2 vCPUs. The cortex-a15 model answers L2CTLR and L2ECTLR itself, and
# all of CRn=15 (QEMU's catch-all RAZ/WI C15_IMPDEF cpreg of its ARMv7 cores): with all=on
# they are forwarded too, and the rows are idsr-vmm's
k() { printf '0x%x' $(((1 << 31) | 15 << 16 | $1 << 11 | $2 << 7 | $3 << 3 | $4)); }
kw() { printf '0x%x' $(((1 << 31) | (1 << 30) | 15 << 16 | $1 << 11 | $2 << 3)); }
for vcpus in 1 2; do
	qemu_boot a32_cp15 cortex-a15 $vcpus -idsr "$IDSR,all=on"
	boot_done
	qemu_b=$b
	for v in $(seq 0 $((vcpus - 1))); do
		check "a32_cp15 rows on QEMU, all=on, vCPU $v of $vcpus" "$v|0|$(k 0 15 0 0)|+0x14|1|0|0x10|emulate
$v|1|$(k 0 15 0 0)|+0x1c|1|1|0x50|emulate
$v|2|$(k 1 9 0 2)|+0x20|1|0|0x0|emulate
$v|3|$(k 1 9 0 3)|+0x28|1|1|0x1|emulate
$v|4|$(k 0 11 0 0)|+0x2c|1|0|0x0|emulate
$v|5|$(kw 0 15)|+0x38|1|0|0x1122334455667788|emulate
$v|6|$(kw 1 15)|+0x40|1|1|0x1122334455667789|emulate" "$(rows $qemu_b | grep "^$v|")"
		check "a32_cp15 on QEMU: vCPU $v's r1 r8 r9 r10" "0x00000050 0x55667789 0x11223344 0x00000001" \
			"$(echo $(for r in r1 r8 r9 r10; do qreg a32_cp15 $v $r; done))"
	done
	check_rc "a32_cp15 on idsr-vmm, $vcpus vCPUs" 0 "$VMM" --aarch32 --vcpus $vcpus --regs-out "$T/r.json" "$G/a32_cp15.bin"
	boot_done
	check "a32_cp15, $vcpus vCPUs: QEMU's rows are idsr-vmm's" "$(rows $b)" "$(rows $qemu_b)"
	for v in $(seq 0 $((vcpus - 1))); do same_regs a32_cp15 $v "$T/r.json" $A32_REGS; done
done
qemu_boot a32_cp15 cortex-a15 1 -idsr "$IDSR"
boot_done
check "a32_cp15, all=off: the model answers L2CTLR, L2ECTLR and CRn=15; c11 and MRRC/MCRR forwarded" \
	"$(k 0 11 0 0) $(kw 0 15) $(kw 1 15)" \
	"$(echo $(sqlite3 "$T/trace.db" "select printf('0x%x', key) from accesses where boot_id = $b order by seq"))"

# ---- all=on: the Cortex-A57 model's own IMPDEF registers (CPUACTLR_EL1, ECTLR_EL1,
# L2CTLR_EL1, L2ECTLR_EL1) reach idsrd; without it QEMU answers them and idsrd sees nothing
qemu_boot cortex_boot cortex-a57 2 -idsr "$IDSR"
boot_done
check "cortex_boot, all=off: the model answers every access" "0" \
	"$(sqlite3 "$T/trace.db" "select count(*) from accesses where boot_id = $b")"
qemu_boot cortex_boot cortex-a57 2 -idsr "$IDSR,all=on"
boot_done
qemu_b=$b
check "cortex_boot, all=on: the A57's registers in the trace, by name" "0|CPUACTLR_EL1|read|0x0
0|CPUACTLR_EL1|write|0x802000000000000
0|ECTLR_EL1|read|0x0
0|ECTLR_EL1|write|0x40
0|L2CTLR_EL1|read|0x0
0|L2CTLR_EL1|write|0x82
0|L2ECTLR_EL1|read|0x0
0|L2ECTLR_EL1|write|0x1
1|CPUACTLR_EL1|read|0x0
1|CPUACTLR_EL1|write|0x802000000000000
1|ECTLR_EL1|read|0x0
1|ECTLR_EL1|write|0x40" "$(sqlite3 "$T/trace.db" "select v.vcpu, v.name, v.direction, printf('0x%x', a.value)
	from accesses_v v join accesses a on a.boot_id = v.boot_id and a.vcpu = v.vcpu and a.seq = v.seq
	where v.boot_id = $b order by v.vcpu, v.seq")"
check_rc "cortex_boot on idsr-vmm (the A57's MIDR)" 0 "$VMM" --vcpus 2 --midr 411fd070 --regs-out "$T/r.json" "$G/cortex_boot.bin"
boot_done
check "cortex_boot: QEMU's rows (all=on) are idsr-vmm's" "$(rows $b)" "$(rows $qemu_b)"
for v in 0 1; do same_regs cortex_boot $v "$T/r.json" $A64_REGS; done

# ---- without -idsr QEMU is what it was: every HID access is an UNDEF the guest counts
before=$(sqlite3 "$T/trace.db" "select count(*) from boots")
qemu_boot apple_boot cortex-a57 1
check "without -idsr: 15 UNDEFs counted in x20" "0x000000000000000f" "$(qreg apple_boot 0 x20)"
check "without -idsr: idsrd sees no boot" "$before" "$(sqlite3 "$T/trace.db" "select count(*) from boots")"

# ---- refusals
check_rc "-idsr with idsrd not there: QEMU does not start" 1 "$QEMU" -M virt -cpu cortex-a57 -nodefaults \
	-display none -kernel "$QG/apple_boot.elf" -idsr "socket=$T/none.sock"
check_match "... and says which socket and what to do" "-idsr: vCPU 0: .*none\.sock.*is idsrd running\?" "$OUT"
check_rc "-idsr fallback=maybe" 1 "$QEMU" -M virt -cpu cortex-a57 -nodefaults -display none \
	-kernel "$QG/apple_boot.elf" -idsr "$IDSR,fallback=maybe"
check_match "... is named" "fallback=maybe: expected undef or raz" "$OUT"
check_rc "-idsr all=perhaps" 1 "$QEMU" -M virt -cpu cortex-a57 -nodefaults -display none \
	-kernel "$QG/apple_boot.elf" -idsr "$IDSR,all=perhaps"
check_match "... is named" "all" "$OUT"
check_match "-help documents -idsr" "-idsr \[socket=path\]\[,vm=name\]\[,all=on\|off\]\[,fallback=undef\|raz\]" \
	"$("$QEMU" -help)"
check "idsrd logged no error" "" "$(grep -i error "$T/idsrd.log")"

# ---- idsrd killed mid-boot: libidsr-client's fallback (raz) answers the rest, the guest ends
"$QEMU" -M virt -cpu cortex-a57 -m 64 -nodefaults -display none -serial "file:$T/uart.outage" \
	-kernel "$QG/bench_a57.elf" -idsr "$IDSR,vm=outage,all=on,fallback=raz" >"$T/qemu.out" 2>&1 &
qemu_pid=$!
for i in $(seq 200); do	# until idsrd has answered some of its accesses
	[ "$(sqlite3 "$T/trace.db" "select count(*) from boots where vm_name = 'outage'" 2>/dev/null)" = 1 ] &&
		"$B/idsrctl" status 2>/dev/null | grep -q outage && break
	sleep 0.05
done
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
wait $qemu_pid
check "idsrd killed: QEMU ends the boot anyway (exit 0)" 0 "$?"
check "... every vCPU reported" "end" "$(tail -1 "$T/uart.outage")"
check "... the loop ran to its end (x2 = 0)" "0x0000000000000000" \
	"$(awk '$2 == 0 && $3 == "x2" { print $4 }' "$T/uart.outage")"
done_testing
