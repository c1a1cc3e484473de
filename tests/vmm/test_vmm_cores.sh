#!/bin/bash
# SPDX-License-Identifier: MIT
# Each Arm core the register table knows, booted through idsrd with its MIDR (idsr-vmm --midr):
# the boot gets that core's implementation from data/midr.tsv, and `idsrctl show` names the
# registers the guest's TF-A style reset sequence touches with that core's names (AArch64
# cortex_boot, and the AArch32 cp15 forms through a32_cortex_boot).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"

printf '* raz-wi\n' >"$T/policy.conf"
start_daemon --policy "$T/policy.conf" || exit 1

n=0
# boot NAME MIDR GUEST [VMM OPTIONS]: one vCPU through idsrd; then $b is its boot id
boot() {
	local name=$1 midr=$2 guest=$3; shift 3
	check_rc "$name: boots through idsrd" 0 "$VMM" --midr "$midr" "$@" "$G/$guest.bin"
	n=$((n + 1))
	wait_boot "$T/trace.db" $n
	b=$n
}
# registers BOOT: the register column of `idsrctl show`, each run of one register once
registers() {
	"$B/idsrctl" show "$T/trace.db:$1" | awk 'NR > 1 { print $6 }' | uniq | tr '\n' ' ' | sed 's/ $//'
}
impl_of() { sqlite3 "$T/trace.db" "select coalesce(impl, '(none)') from boots where id = $1"; }

# MIDR (implementer 0x41, part numbers of Linux's cputype.h), implementation, the names shown
while IFS='|' read -r midr impl names; do
	boot "$impl" "$midr" cortex_boot
	check "$impl: the MIDR names the implementation" "$impl" "$(impl_of $b)"
	check "$impl: show names its registers" "$names" "$(registers $b)"
done <<'CORES'
410fd034|arm-cortex-a53|CPUACTLR_EL1 ECTLR_EL1 L2ACTLR_EL1 L2ECTLR_EL1
412fd050|arm-cortex-a55|CPUACTLR_EL1 CPUECTLR_EL1 CPUPWRCTLR_EL1
411fd073|arm-cortex-a57|CPUACTLR_EL1 ECTLR_EL1 L2CTLR_EL1 L2ECTLR_EL1
410fd083|arm-cortex-a72|CPUACTLR_EL1 ECTLR_EL1 L2CTLR_EL1 s3_1_c11_c0_3
414fd0b1|arm-cortex-a76|CPUACTLR_EL1 CPUECTLR_EL1 CPUPWRCTLR_EL1
411fd411|arm-cortex-a78|CPUACTLR_EL1 CPUECTLR_EL1 ACTLR5_EL1 CPUPWRCTLR_EL1
411fd440|arm-cortex-x1|CPUACTLR_EL1 CPUECTLR_EL1 ACTLR5_EL1 CPUPWRCTLR_EL1
414fd0c1|arm-neoverse-n1|CPUACTLR_EL1 CPUECTLR_EL1 CPUPWRCTLR_EL1
410fd490|arm-neoverse-n2|CPUACTLR_EL1 CPUECTLR_EL1 CPUECTLR2_EL1 CPUPWRCTLR_EL1
411fd401|arm-neoverse-v1|CPUACTLR_EL1 CPUECTLR_EL1 CPUACTLR4_EL1 ACTLR5_EL1 CPUPWRCTLR_EL1
CORES
# (TF-A's Cortex-A72 header gives no L2ECTLR_EL1: its encoding shows, not a borrowed A57 name)

# a core the table does not know (Cortex-A73, part 0xd09): no implementation, so a name only
# where every implementation agrees (s3_0_c15_c1_0 is HID1_EL1 on Apple, CPUACTLR_EL1 on Arm's)
boot "unknown core" 410fd090 cortex_boot
check "unknown core: no implementation" "(none)" "$(impl_of $b)"
check "unknown core: agreed names only" "s3_0_c15_c1_0 CPUECTLR_EL1 CPUPWRCTLR_EL1" "$(registers $b)"
check_match "unknown core: the log says why" \
	"boot $b started: .*, register names architectural only \(no MIDR row matches MIDR 0x410fd090\)$" "$(cat "$T/idsrd.log")"

# AArch32: the cp15 forms, 64-bit (MRRC/MCRR) and 32-bit, per core
while IFS='|' read -r midr impl names; do
	boot "$impl AArch32" "$midr" a32_cortex_boot --aarch32
	check "$impl AArch32: the MIDR names the implementation" "$impl" "$(impl_of $b)"
	check "$impl AArch32: show names the cp15 registers" "$names" "$(registers $b)"
done <<'CORES'
411fd073|arm-cortex-a57|CPUACTLR ECTLR L2CTLR L2ECTLR
410fd083|arm-cortex-a72|CPUACTLR ECTLR L2CTLR p15:1:c9:c0:3
410fd034|arm-cortex-a53|CPUACTLR ECTLR p15:1:c9:c0:2 L2ECTLR
CORES

stop_daemon
done_testing
