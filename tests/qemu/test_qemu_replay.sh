#!/bin/bash
# SPDX-License-Identifier: MIT
# A boot on the patched QEMU and a boot on idsr-vmm of the same guest are the same boot to idsrd:
# idsrctl diff finds no IDSR difference, a boot recorded on one replays on the other (checksum
# folds every value it reads into x19: the replayed boot ends with the recorded x19), both ways.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../vmm/regs.sh"
. "$(dirname "$0")/qemu.sh"
CTL=$B/idsrctl

# no seed: different values every boot; checksum reads L2CTLR_EL1, which the cortex-a57 model
# answers itself, so QEMU forwards with all=on
printf 'impl apple\nHID4 raz-wi\n* random\n' >"$T/policy.conf"
start_daemon --policy "$T/policy.conf" || exit 1
IDSR="socket=$T/vmm.sock,all=on"

# ---- recorded on idsr-vmm, replayed on QEMU
check_rc "record checksum on idsr-vmm, 2 vCPUs" 0 "$VMM" --vcpus 2 --vm vmm --regs-out "$T/vmm.json" "$G/checksum.bin"
boot_done
vmm_b=$b
replay_next on-qemu "$T/trace.db:$vmm_b" || exit 1
qemu_boot checksum cortex-a57 2 -idsr "$IDSR,vm=on-qemu"
boot_done
wait $REPLAY
check "idsr-vmm's boot replayed on QEMU: reproduced" "0|reproduced: 52 accesses on 2 vCPUs matched" "$?|$(cat "$T/replay.out")"
for v in 0 1; do
	check "on QEMU, vCPU $v ends with the checksum recorded on idsr-vmm" "$(reg "$T/vmm.json" $v x19)" "$(qreg checksum $v x19)"
done

# ---- recorded on QEMU (a live boot: new random values), replayed on idsr-vmm
qemu_boot checksum cortex-a57 2 -idsr "$IDSR,vm=qemu"
boot_done
qemu_b=$b
check "QEMU's live boot read other values than idsr-vmm's" "yes" \
	"$([ "$(qreg checksum 0 x19)" != "$(reg "$T/vmm.json" 0 x19)" ] && echo yes || echo no)"
cp "$T/uart.checksum" "$T/uart.recorded"
replay_next on-vmm "$T/trace.db:$qemu_b" || exit 1
check_rc "QEMU's boot replayed on idsr-vmm" 0 "$VMM" --vcpus 2 --vm on-vmm --regs-out "$T/replayed.json" "$G/checksum.bin"
boot_done
wait $REPLAY
check "... reproduced" "0|reproduced: 52 accesses on 2 vCPUs matched" "$?|$(cat "$T/replay.out")"
for v in 0 1; do
	check "on idsr-vmm, vCPU $v ends with the checksum recorded on QEMU" \
		"$(awk -v v=$v '$2 == v && $3 == "x19" { print $4 }' "$T/uart.recorded")" "$(reg "$T/replayed.json" $v x19)"
done

# ---- idsrctl diff: the QEMU boot and the idsr-vmm boot it replayed differ in nothing
check_rc "idsrctl diff: idsr-vmm's recording against its replay on QEMU" 0 "$CTL" diff --color=never \
	"$T/trace.db:$vmm_b" "$T/trace.db:$((vmm_b + 1))"
check_rc "idsrctl diff: QEMU's recording against its replay on idsr-vmm" 0 "$CTL" diff --color=never \
	"$T/trace.db:$qemu_b" "$T/trace.db:$((qemu_b + 1))"
check_match "... says they are the same" "same|identical|no difference" "$OUT"
done_testing
