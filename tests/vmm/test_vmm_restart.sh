#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrd killed (kill -9) three times under a busy 4-vCPU boot on idsr-vmm, restarted each time:
# idsr-vmm reconnects by default and its records put back what each kill took from the store,
# so the boot's rows are exactly those of the same boot without kills (every access, gapless per
# vCPU, values as answered) and the guest ends with the same registers. Then a VMM killed with
# kill -9: idsrd keeps every access it had received. Waits for states (accesses in `idsrctl
# status`, boots ended), never for a time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"

# Stateless answers only: the stateful rules' state (storage, counters) dies with idsrd, so
# under them a boot with kills could not end as one without.
cat >"$T/policy" <<'POL'
impl apple
HID0_EL1        read value 0x1000
s3_0_c15_c4_0   read value 0x2000
s3_0_c15_c5_0   read value 0x3000
s3_0_c15_c11_0  read value 0xff
ACC_CFG         read value 0xac
s3_4_c15_c10_5  read value 0x40
*               raz-wi
POL
PER_VCPU=90000		# apple_boot_restart: 6000 x 15 accesses a vCPU
start_daemon --policy "$T/policy" || exit 1

# accesses VM: the accesses idsrd counts for VM's boot in progress (empty if none)
accesses() {
	"$B/idsrctl" status 2>/dev/null | sed -n "s/.* vm \`$1' .* \([0-9][0-9]*\) accesses .*/\1/p"
}
# boot_of VM: VM's boot id
boot_of() {
	sqlite3 "$T/trace.db" "select id from boots where vm_name = '$1'"
}
all_rows() {
	sqlite3 "$T/trace.db" "select vcpu, seq, key, pc, el, is_write, value, action from accesses
		where boot_id = $1 order by vcpu, seq"
}

# ---- the boot without kills
"$VMM" --vcpus 4 --vm calm --regs-out "$T/calm.json" "$G/apple_boot_restart.bin" >"$T/calm.out" 2>&1
check "no kills: the VMM exits 0" 0 "$?"
calm=$(boot_of calm)
boot_ended "$calm"
wait_boot "$T/trace.db" "$calm"

# ---- the same boot, idsrd killed three times
"$VMM" --vcpus 4 --vm killed --regs-out "$T/killed.json" "$G/apple_boot_restart.bin" >"$T/killed.out" 2>&1 &
vmm=$!
# Each kill once the boot has gone 2000 accesses past the last kill, so that the kills land
# early in the boot: the fast path (on by default) runs the guest's 360,000 accesses in well
# under a second once it is going, and a kill after the VMM's last Bye would take rows no VMM
# is left to re-send. One sight of the boot past the mark is enough (counting from the first
# count a resumed boot showed needed two, and a VMM back from its reconnect could finish the
# boot between them), and the checks come every 10 ms.
base=0
for kill_n in 1 2 3; do
	for i in $(seq 12000); do	# two minutes at least for idsrd to get that far
		n=$(accesses killed)
		[ -n "$n" ] && [ "$n" -ge $((base + 2000)) ] && break
		kill -0 $vmm 2>/dev/null || break
		sleep 0.01
	done
	check_match "kill $kill_n: the boot went 2000 accesses further" "^[0-9]+$" "$n"
	[ -n "$n" ] && [ "$n" -ge $((base + 2000)) ] || { echo "# only ${n:-no} accesses"; break; }
	echo "# kill $kill_n at $n accesses"
	base=$n
	kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
	start_daemon --policy "$T/policy" || exit 1
done
wait $vmm
check "kills: the VMM exits 0" 0 "$?"
check "kills: no access went to the fallback, none unprotected" "" \
	"$(grep -E 'while idsrd was away|before idsrd committed' "$T/killed.out")"
killed=$(boot_of killed)
check_match "kills: one boot, resumed each time" "^[0-9]+$" "$killed"
boot_ended "$killed"
wait_boot "$T/trace.db" "$killed"
check "kills: the boot ended as the guest halted" "guest halted" \
	"$(sqlite3 "$T/trace.db" "select end_reason from boots where id = $killed")"
check "kills: every access of every vCPU, gapless" "0|$PER_VCPU|0|$((PER_VCPU - 1))
1|$PER_VCPU|0|$((PER_VCPU - 1))
2|$PER_VCPU|0|$((PER_VCPU - 1))
3|$PER_VCPU|0|$((PER_VCPU - 1))" \
	"$(sqlite3 "$T/trace.db" "select vcpu, count(*), min(seq), max(seq) from accesses where boot_id = $killed
		group by vcpu")"
all_rows "$calm" >"$T/calm.rows"
all_rows "$killed" >"$T/killed.rows"
check "kills: the rows are the boot's without kills (keys, PCs, values, actions)" "" \
	"$(diff "$T/calm.rows" "$T/killed.rows" | head -5)"
resent=$(sqlite3 "$T/trace.db" "select count(*) from accesses where boot_id = $killed and rule = -5")
echo "# $resent rows re-sent by idsr-vmm after the three kills"
check_match "kills: the kills took rows from the store, and they came back (rule -5)" "^[1-9][0-9]*$" "$resent"
check "kills: the guest's final registers are the ones without kills" "$(cat "$T/calm.json")" \
	"$(cat "$T/killed.json")"

# ---- a vCPU that halted before a restart: its connection idle, and dead when the VM ends.
# vCPU 1 reads 8 times and halts; vCPU 0 reads on until the next idsrd's policy reads 1. The
# VMM's connections must all reconnect before any says Bye: the boot ends with its last
# connection, and vCPU 1's (idle since, reconnected only when flushed) came after vCPU 0's Bye,
# was refused the ended boot, started a second one and released its records as unprotected.
printf 'impl apple\ns3_0_c15_c3_0 read value %s\n* raz-wi\n' 0 >"$T/wait0"
printf 'impl apple\ns3_0_c15_c3_0 read value %s\n* raz-wi\n' 1 >"$T/wait1"
stop_daemon
start_daemon --policy "$T/wait0" || exit 1
# Round trips only: vCPU 1's rows are then in the database as it halts (fast-path records
# would wait in its ring for the connection's next frame).
IDSR_FAST_PATH=0 "$VMM" --vcpus 2 --vm halted "$G/wait_restart.bin" >"$T/halted.out" 2>&1 &
vmm=$!
vcpu1_rows() {
	[ "$(sqlite3 "$T/trace.db" "select count(*) from accesses a join boots b on a.boot_id = b.id
		where b.vm_name = 'halted' and a.vcpu = 1")" = "$1" ]
}
wait_until vcpu1_rows 8
check "halted vCPU: vCPU 1's 8 accesses are committed, vCPU 0 reads on" 0 "$?"
stop_daemon
start_daemon --policy "$T/wait1" || exit 1
wait $vmm
check "halted vCPU: the VMM exits 0" 0 "$?"
check "halted vCPU: nothing released unprotected, no fallback" "" \
	"$(grep -E 'while idsrd was away|before idsrd committed' "$T/halted.out")"
# The VMM exits once it has said Bye, before idsrd has committed the boot's end: wait for an
# end, then a clean stop commits whatever else idsrd was sent (a second boot, before the fix).
halted_ended() {
	[ "$(sqlite3 "$T/trace.db" "select count(*) from boots where vm_name = 'halted'
		and end_ns is not null")" -ge 1 ]
}
wait_until halted_ended
stop_daemon
check "halted vCPU: one boot, ended as the guest halted" "guest halted" \
	"$(sqlite3 "$T/trace.db" "select group_concat(end_reason) from boots where vm_name = 'halted'")"
b=$(boot_of halted)
check "halted vCPU: vCPU 1's 8 rows, vCPU 0's up to its read of 1" "1|8|0|7
1" "$(sqlite3 "$T/trace.db" "select vcpu, count(*), min(seq), max(seq) from accesses where boot_id = $b
		and vcpu = 1; select value from accesses where boot_id = $b and vcpu = 0 and seq =
		(select max(seq) from accesses where boot_id = $b and vcpu = 0)")"

# ---- a VMM killed with kill -9: idsrd keeps everything it had received
start_daemon --policy "$T/policy" || exit 1
"$VMM" --vm vmmkill "$G/bench_loop.bin" >"$T/vmmkill.out" 2>&1 &
vmm=$!
for i in $(seq 2400); do
	n=$(accesses vmmkill)
	[ -n "$n" ] && [ "$n" -ge 2000 ] && break
	sleep 0.05
done
kill -KILL $vmm; wait $vmm 2>/dev/null
b=$(boot_of vmmkill)
boot_ended "$b"
check "VMM killed: its boot ends with the connection" 0 "$?"
echo "# its end reason: $(sqlite3 "$T/trace.db" "select end_reason from boots where id = $b")"
check_match "VMM killed: every access idsrd counted is a row, seqs gapless" "^([0-9]+)\|\1\|\1$" \
	"$(sqlite3 "$T/trace.db" "select accesses, (select count(*) from accesses where boot_id = $b),
		(select max(seq) + 1 from accesses where boot_id = $b) from boots where id = $b")"
stop_daemon
done_testing
