#!/bin/bash
# SPDX-License-Identifier: MIT
# Record and replay on real guest code (build/idsr-vmm): the determinism proof (a checksum guest
# under random and counter answers, replayed ten times on 3 vCPUs, ends with the recorded
# registers and rows every time) and the divergence reports for guests that changed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../vmm/regs.sh"
CTL=$B/idsrctl

cat >"$T/policy.conf" <<'EOF'
impl apple
HID0                read  counter start=0x1000 step=8
ACNTPCT_EL0         read  counter start=0x100 step=0x10
HID4                      storage init=0x40
*                   read  random
*                   write ignore
EOF
start_daemon --policy "$T/policy.conf" || exit 1

# replay_next VM ARGS...: idsrctl replay in the background (pid in REPLAY, output in
# $T/replay.out, errors in $T/replay.err) for the next boot of VM; waits until it is armed
replay_next() {
	local vm=$1 i; shift
	"$CTL" replay "$@" --vm "$vm" --timeout 60 >"$T/replay.out" 2>"$T/replay.err" &
	REPLAY=$!
	for i in $(seq 1200); do	# 60 s at most
		"$CTL" status 2>/dev/null | grep -q "replay armed" && return 0
		sleep 0.05
	done
	echo "# idsrd never said the replay was armed"; cat "$T/replay.err" | sed 's/^/# /'
	return 1
}
# rows BOOT: the rows replay must reproduce, per vCPU in order, PCs as the guest has them
rows() {
	sqlite3 "$T/trace.db" "select vcpu, seq, key, pc, is_write, value, action from accesses
		where boot_id = $1 order by vcpu, seq"
}
q() { sqlite3 "$T/trace.db" "$@"; }
# ended VM N: waits (up to 60 s) until N boots of VM have their end committed: the
# VMM exits once it has said Bye, before idsrd has ended the boot and the store
# has committed it
ended() {
	local i
	for i in $(seq 1200); do
		[ "$(q "select count(*) from boots where vm_name = '$1' and end_ns is not null")" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "# $2 boots of vm $1 never ended"
}

# ---- the determinism proof ------------------------------------------------------------
check_rc "live boot 1: checksum guest, 3 vCPUs" 0 "$VMM" --vcpus 3 --vm live --regs-out "$T/live1.json" "$G/checksum.bin"
check_rc "live boot 2" 0 "$VMM" --vcpus 3 --vm live --regs-out "$T/live2.json" "$G/checksum.bin"
for v in 0 1 2; do
	check "vCPU $v: two live boots end with different checksums" yes \
		"$([ "$(reg "$T/live1.json" $v x19)" != "$(reg "$T/live2.json" $v x19)" ] && echo yes || echo no)"
done
ended live 2
check "boot 1 logged 78 accesses" 78 "$(q "select accesses from boots where id = 1")"

for n in $(seq 1 10); do
	replay_next "again$n" "$T/trace.db:1" || break
	"$VMM" --vcpus 3 --vm "again$n" --regs-out "$T/again.json" "$G/checksum.bin" >/dev/null 2>&1
	vmm_rc=$?
	wait $REPLAY; ctl_rc=$?
	boot=$(q "select max(id) from boots")
	check "replay $n: the VMM ran to the end" 0 "$vmm_rc"
	check "replay $n: idsrctl says reproduced, exit 0" \
		"0 reproduced: 78 accesses on 3 vCPUs matched" "$ctl_rc $(cat "$T/replay.out")"
	# every register of every vCPU, x19 (the checksum) included, as in the first boot
	check "replay $n: final registers equal boot 1's" "$(cat "$T/live1.json")" "$(cat "$T/again.json")"
	check "replay $n: rows equal boot 1's per vCPU" "$(rows 1)" "$(rows "$boot")"
	check "replay $n: logged as a replay of boot 1" "replay|1|$T/trace.db|0" \
		"$(q "select mode, replay_of, replay_source, divergences from boots where id = $boot")"
done
check "no divergence in ten replays" 0 "$(q "select count(*) from divergences")"
check "every replayed answer came from the recording" 780 \
	"$(q "select count(*) from accesses a join boots b on b.id = a.boot_id where b.mode = 'replay' and a.rule = -2")"

# ---- divergences: apple_boot recorded, changed guests replayed ------------------------
check_rc "record apple_boot" 0 "$VMM" --vm hid "$G/apple_boot.bin"
rec=$(q "select max(id) from boots")
hid4=$(q "select printf('0x%016x', value) from accesses where boot_id = $rec and seq = 2")

# diverge NAME GUEST MODE: replays boot $rec against GUEST; RC, OUT, BOOT for the checks
diverge() {
	replay_next "$1" "$T/trace.db:$rec" "$3" || return 1
	"$VMM" --vm "$1" "$G/$2.bin" >/dev/null 2>&1
	wait $REPLAY; RC=$?
	OUT=$(cat "$T/replay.out")
	BOOT=$(q "select max(id) from boots")
}
divs() {
	q "select vcpu, seq, kind, printf('%x', expected_key), printf('%x', actual_key) from divergences
		where boot_id = $BOOT order by id"
}

diverge added apple_boot_added --strict
check "an inserted access: exit 1" 1 "$RC"
check_match "... names vCPU, seq and both registers" "vCPU 0, seq 6: a different register \(key\)" "$OUT"
check_match "... the recorded side" "recorded: seq 6 .* read  HID11_EL1 \(s3_0_c15_c11_0\)" "$OUT"
check_match "... the live side" "live: +seq 6 .* read  HID7_EL1 \(s3_0_c15_c7_0\)" "$OUT"
check_match "... and what matched before it" "0 +5  0x[0-9a-f]+ write  HID5_EL1" "$OUT"
check "... one divergence row" "0|6|key|c7d8|c7b8" "$(divs)"
check "... UNDEF from there on (strict)" "0" \
	"$(q "select count(*) from accesses where boot_id = $BOOT and seq >= 6 and (action != 'undef' or rule != -3)")"

diverge removed apple_boot_removed --strict
check "a removed access: exit 1" 1 "$RC"
check_match "... vCPU 0, seq 6" "vCPU 0, seq 6: a different register \(key\)" "$OUT"
check_match "... the live side is ACC_CFG" "live: +seq 6 .* read  ACC_CFG_EL1 \(s3_5_c15_c4_0\)" "$OUT"
check "... one divergence row" "0|6|key|c7d8|efa0" "$(divs)"

diverge value apple_boot_value --strict
check "a different written value: exit 1" 1 "$RC"
check_match "... vCPU 0, seq 3, value" "vCPU 0, seq 3: a different written value \(value\)" "$OUT"
check "... both values" "$(printf '0x%x|0x%x' $((hid4 | 0x800)) $((hid4 | 0x200)))" \
	"$(q "select printf('0x%x', expected_value), printf('0x%x', actual_value) from divergences where boot_id = $BOOT")"

diverge moved apple_boot_moved --strict
check "moved code: exit 1" 1 "$RC"
check_match "... vCPU 0, seq 8, the PC" "vCPU 0, seq 8: a different PC \(pc\)" "$OUT"
check "... the PC moved by 0x40" "64" \
	"$(q "select actual_pc - expected_pc from divergences where boot_id = $BOOT")"

# lenient: every divergence listed, each once; what the recording has is still answered from it
diverge v2-lenient apple_boot_v2 --lenient
check "the next kernel version, lenient: exit 1" 1 "$RC"
check "... lenient lists them: value, inserted, removed, then moved PCs" \
	"0|3|value|c7a0|c7a0
0|6|key|c7d8|c7b8
0|7|key|c7d8|efa0
0|8|pc|efa8|efa8
0|9|pc|e7d5|e7d5
0|10|pc|e7d5|e7d5" "$(divs | head -6)"

# lenient --json: each divergence's live side as the database logged it (action, rule, a
# read's value), not emulate/rule 0 whatever it was answered
replay_next v2-json "$T/trace.db:$rec" --lenient --json || exit 1
"$VMM" --vm v2-json "$G/apple_boot_v2.bin" >/dev/null 2>&1
wait $REPLAY
BOOT=$(q "select max(id) from boots")
check "lenient --json: the live sides as logged (vcpu|seq|action|rule|value)" \
	"$(q "select a.vcpu, a.seq, a.action, a.rule, a.value from divergences d join accesses a
		on a.boot_id = d.boot_id and a.vcpu = d.vcpu and a.seq = d.seq
		where d.boot_id = $BOOT and d.kind != 'missing' order by d.id limit 8")" \
	"$(python3 -c '
import json, sys
for d in json.load(sys.stdin)["details"]:
    a = d["actual"]
    if a:
        v = int(a["value"], 16) if isinstance(a["value"], str) else a["value"]
        print("%d|%d|%s|%d|%d" % (a["vcpu"], a["seq"], a["action"], a["rule"], v - (1 << 64) if v >= 1 << 63 else v))
' <"$T/replay.out" | head -8)"
check "... among them an answer of the live policy's catch-all (line 5)" "1" \
	"$(q "select count(*) > 0 from divergences d join accesses a on a.boot_id = d.boot_id and a.vcpu = d.vcpu
		and a.seq = d.seq where d.boot_id = $BOOT and a.rule = 5")"

# ---- bad input leaves the daemon alone ------------------------------------------------
echo "not a trace" >"$T/notes.txt"
check_rc "not a trace: exit 2" 2 "$CTL" replay "$T/notes.txt"
check_match "... says so" "idsrctl: replay: .*notes.txt is not an idsrd trace database" "$OUT"
check_rc "an unknown boot: exit 2" 2 "$CTL" replay "$T/trace.db:4242"
check_match "... says which" "no boot 4242" "$OUT"
sqlite3 "$T/trace.db" "vacuum into '$T/newer.db'" && sqlite3 "$T/newer.db" "pragma user_version = 99"
check_rc "a newer schema: exit 2" 2 "$CTL" replay "$T/newer.db"
check_match "... says to use a newer idsrctl" "schema version 99, newer than this build reads .*use a newer idsrctl" "$OUT"
check_rc "no daemon: exit 2" 2 "$CTL" replay "$T/trace.db:1" --control "$T/none.sock"
check_match "... says to start it" "idsrd is not running" "$OUT"
check_rc "the daemon still answers live" 0 "$VMM" --vcpus 2 --vm after "$G/checksum.bin"
ended after 1
check "... and logged it live" "live|52" "$(q "select mode, accesses from boots where vm_name = 'after'")"
done_testing
