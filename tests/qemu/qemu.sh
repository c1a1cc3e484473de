# SPDX-License-Identifier: MIT
# Helpers for the QEMU tests (source after tests/lib.sh and tests/vmm/regs.sh): boot a reference
# guest on the patched qemu-system-aarch64 (make qemu) under -M virt, read the registers its
# exit (tests/guests/qemu/virt_*.S) printed on the UART, compare with idsr-vmm.
QEMU=$B/qemu/qemu-system-aarch64
QG=$G/qemu
if [ ! -x "$QEMU" ] || [ ! -f "$QG/apple_boot.elf" ]; then
	ok "# SKIP QEMU is not built: run make qemu (make check does)"
	done_testing
	exit 0
fi

# qemu_boot GUEST CPU VCPUS [QEMU ARGS...]: boots GUEST's virt ELF to its PSCI SYSTEM_OFF;
# its UART output in $T/uart.GUEST, exit code checked by check_rc (output in $OUT)
qemu_boot() {
	local guest=$1 cpu=$2 vcpus=$3 args; shift 3
	args="$*"
	rm -f "$T/uart.$guest"
	check_rc "$guest on QEMU ($cpu, $vcpus vCPUs${args:+, ${args//$T\//}})" 0 timeout 120 "$QEMU" -M virt -cpu "$cpu" \
		-smp "$vcpus" -m 64 -nodefaults -display none -serial "file:$T/uart.$guest" \
		-kernel "$QG/$guest.elf" "$@"
	check "$guest on QEMU: every vCPU reported" "end" "$(tail -1 "$T/uart.$guest" 2>/dev/null)"
}
# qreg GUEST VCPU NAME: a register the guest's exit printed ("0x..."), as reg does for --regs-out
qreg() {
	awk -v v="$2" -v r="$3" '$1 == "vcpu" && $2 == v && $3 == r { print $4 }' "$T/uart.$1"
}
# same_regs GUEST VCPU JSON REG...: each register as QEMU's boot left it equals idsr-vmm's
same_regs() {
	local guest=$1 vcpu=$2 json=$3 r q v diffs=; shift 3
	for r in "$@"; do
		q=$(qreg "$guest" "$vcpu" "$r"); v=$(reg "$json" "$vcpu" "$r")
		[ -n "$q" ] && [ "$q" == "$v" ] || diffs="$diffs $r: QEMU ${q:-none}, idsr-vmm ${v:-none};"
	done
	check "$guest: vCPU $vcpu's registers on QEMU are idsr-vmm's ($1 $*)" "" "$diffs"
}
A64_REGS=$(echo x{0..30})
A32_REGS=$(echo r{0..12} r14)
# boot_done: after each boot (QEMU's or idsr-vmm's): b = its id (they count from 1), once
# idsrd has written all of it
n=0
boot_done() {
	n=$((n + 1))
	b=$n
	wait_boot "$T/trace.db" $b
}
