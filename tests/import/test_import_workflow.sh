# SPDX-License-Identifier: MIT
# docs/importing.md end to end: an m1n1 log (written for the tests) imported, replayed into a VM whose
# guest gets the recorded values, learnt into a policy that agrees with it, and that policy booting the guest.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."
LOG=tests/import/apple_boot.m1n1.log
q() { sqlite3 "$T/trace.db" "$1"; }
reg() { # VCPU XN: a register of the guest at its end (--regs-out)
	python3 -c "import json,sys; print([v for v in json.load(open(sys.argv[1]))['vcpus'] if v['vcpu'] == $1][0]['$2'])" "$T/regs.json"
}

check_rc "import the log" 0 "$B/idsrctl" import --format m1n1 --db "$T/m1.db" "$LOG"
start_daemon --policy examples/policy.conf || not_ok "idsrd starts"

# Replay the imported boot into the VM: the guest's reads get the machine's values.
"$B/idsrctl" replay "$T/m1.db:1" --timeout 120 > "$T/replay.out" 2>&1 &
replay_pid=$!
for _ in $(seq 1 1200); do   # wait (up to 60 s) until the daemon has the arm
	"$B/idsrctl" status 2>/dev/null | grep -q "replay armed" && break
	sleep 0.05
done
check_rc "the guest boots on 2 vCPUs" 0 "$B/idsr-vmm" --socket "$T/vmm.sock" --vcpus 2 --regs-out "$T/regs.json" "$B/guests/apple_boot.bin"
wait "$replay_pid"; rc=$?
boot_ended 1
check "replay reports the imported boot reproduced, matched without PCs" "0
note: boot 1 of $T/m1.db has no PCs (imported): accesses were matched on vCPU order, register, direction and value only
reproduced: 26 accesses on 2 vCPUs matched" "$rc
$(cat "$T/replay.out")"
check "the replaying boot got the recorded values, in order" "0|26" \
	"$(q "ATTACH '$T/m1.db' AS m1; SELECT (SELECT count(*) FROM (SELECT vcpu, seq, key, is_write, value FROM accesses WHERE boot_id = 1
		EXCEPT SELECT vcpu, seq, key, is_write, value FROM m1.accesses WHERE boot_id = 1)), (SELECT count(*) FROM accesses WHERE boot_id = 1 AND rule = -2)")"
check "vCPU 0 ends with the recorded HID0 (and its bit 20), HID4, ACC_CFG and counter" \
	"0x0000010000100000 0x0000200000000800 0x000000000000000d 0x00000000005a1f00 0x00000000005a1f30" \
	"$(reg 0 x1) $(reg 0 x2) $(reg 0 x6) $(reg 0 x8) $(reg 0 x10)"
check "vCPU 1 ends with its own HID5 write and counter" "0x2000000000000010 0x00000000005a1f48 0x00000000005a1f78" \
	"$(reg 1 x3) $(reg 1 x8) $(reg 1 x10)"

# Learn a policy from the recording; it agrees with it, and boots the guest to the same values.
check_rc "policy learn" 0 "$B/idsrctl" policy learn "$T/m1.db:1" -o "$T/m1.conf"
check_rc "replay --against: 0 divergences" 0 "$B/idsrctl" replay "$T/m1.db:1" --against "$T/m1.conf"
check_rc "load the learned policy" 0 "$B/idsrctl" policy load "$T/m1.conf"
check_rc "the guest boots under it" 0 "$B/idsr-vmm" --socket "$T/vmm.sock" --vcpus 2 --regs-out "$T/regs.json" "$B/guests/apple_boot.bin"
boot_ended 2
check "it got the recorded values: no UNDEF, the same answers as the machine gave" "0|0" \
	"$(q "ATTACH '$T/m1.db' AS m1; SELECT (SELECT count(*) FROM accesses WHERE boot_id = 2 AND action = 'undef'),
		(SELECT count(*) FROM (SELECT vcpu, seq, key, is_write, value FROM accesses WHERE boot_id = 2
		EXCEPT SELECT vcpu, seq, key, is_write, value FROM m1.accesses WHERE boot_id = 1))")"
check "and the same registers at its end" "0x0000010000100000 0x00000000005a1f30 0x00000000005a1f78" "$(reg 0 x1) $(reg 0 x10) $(reg 1 x10)"
check_rc "a VM with 4 vCPUs boots under it too" 0 "$B/idsr-vmm" --socket "$T/vmm.sock" --vcpus 4 "$B/guests/apple_boot.bin"
boot_ended 3
check "no UNDEF: vCPUs 2 and 3 are answered as vCPU 0" "52|0|0x5a1f30" \
	"$(q "SELECT count(*), sum(action = 'undef'), (SELECT printf('0x%x', value) FROM accesses WHERE boot_id = 3 AND vcpu = 3 ORDER BY seq DESC LIMIT 1)
		FROM accesses WHERE boot_id = 3")"
check_rc "diff of the VM boot against the machine's" 0 "$B/idsrctl" diff "$T/m1.db:1" "$T/trace.db:2"
done_testing
