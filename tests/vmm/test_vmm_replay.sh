#!/bin/bash
# SPDX-License-Identifier: MIT
# Replay proven on real guest code: a boot whose every IDSR read is random is replayed, and
# the guest that folds every value it read into x19 ends with the recorded boot's x19 on
# every vCPU; a guest that writes a different value diverges, and idsrctl replay says where.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"
CTL=$B/idsrctl
if ! "$CTL" replay --help >/dev/null 2>&1; then
	ok "# SKIP idsrctl replay is not built yet"
	done_testing
	exit 0
fi

# no seed: different values every boot; HID4 reads as zero so that what apple_boot writes there is known
printf 'impl apple\nHID4 raz-wi\n* random\n' >"$T/policy.conf"
start_daemon --policy "$T/policy.conf" || exit 1

check_rc "record checksum, 2 vCPUs" 0 "$VMM" --vcpus 2 --vm rec --regs-out "$T/a.json" "$G/checksum.bin"
check_rc "a second live boot" 0 "$VMM" --vcpus 2 --vm rec --regs-out "$T/b.json" "$G/checksum.bin"
check "live boots differ (random answers)" "yes" \
	"$([ "$(reg "$T/a.json" 0 x19)" != "$(reg "$T/b.json" 0 x19)" ] && echo yes || echo no)"

replay_next again "$T/trace.db:1" || exit 1
check_rc "the replayed boot runs" 0 "$VMM" --vcpus 2 --vm again --regs-out "$T/c.json" "$G/checksum.bin"
wait $REPLAY
check "idsrctl replay: reproduced, exit 0" 0 "$?"
check "idsrctl replay says so" "reproduced: 52 accesses on 2 vCPUs matched" "$(cat "$T/replay.out")"
for v in 0 1; do
	check "vCPU $v ends with the recorded checksum" "$(reg "$T/a.json" $v x19)" "$(reg "$T/c.json" $v x19)"
done
wait_boot "$T/trace.db" 3
check "every value read is the recorded one" "52" "$(sqlite3 "$T/trace.db" "select count(*) from accesses a
	join accesses r on r.boot_id = 1 and r.vcpu = a.vcpu and r.seq = a.seq
	where a.boot_id = 3 and a.key = r.key and a.value = r.value and a.action = r.action")"

# apple_boot_value writes HID4 with bit 9 instead of bit 11: a value divergence
check_rc "record apple_boot" 0 "$VMM" --vm hid "$G/apple_boot.bin"
rec=$(sqlite3 "$T/trace.db" "select max(id) from boots")
replay_next hid2 "$T/trace.db:$rec" || exit 1
"$VMM" --vm hid2 "$G/apple_boot_value.bin" >"$T/vmm.out" 2>&1
wait $REPLAY
check "a different written value: replay exits 1" 1 "$?"
check_match "... and names the access" "vCPU 0, seq 3: .*value" "$(cat "$T/replay.out")"
wait_boot "$T/trace.db" $((rec + 1))
check "the divergence is recorded" "0|3|value|0x800|0x200" "$(sqlite3 "$T/trace.db" "select vcpu, seq, kind,
	printf('0x%x', expected_value), printf('0x%x', actual_value) from divergences")"
done_testing
