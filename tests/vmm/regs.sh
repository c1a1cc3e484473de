# SPDX-License-Identifier: MIT
# Helpers for the idsr-vmm tests (source after tests/lib.sh): run a guest, read --regs-out, read
# the rows of a boot, arm a replay. tests/qemu uses them too.
VMM="$B/idsr-vmm"
G="$B/guests"

# reg FILE VCPU NAME: one field of one vCPU from a --regs-out file ("0x..." without quotes)
reg() {
	sed -n "/\"vcpu\": $2,/p" "$1" | grep -o "\"$3\": \"\{0,1\}[^\",}]*" | sed 's/.*: "\{0,1\}//'
}
# sym GUEST NAME: a symbol's address from the guest's nm map, as 0x + 16 hex digits
sym() {
	local a
	a=$(awk -v n="$2" '$3 == n { print $1 }' "$G/$1.map")
	printf '0x%016x' "0x$a"
}
# check_regs NAME FILE VCPU REG=VALUE...: exact register values, one check each
check_regs() {
	local name=$1 file=$2 vcpu=$3 kv; shift 3
	for kv in "$@"; do
		check "$name: vCPU $vcpu ${kv%%=*}" "${kv#*=}" "$(reg "$file" "$vcpu" "${kv%%=*}")"
	done
}
# sigs_blocked PID: idsr-vmm PID takes SIGINT/SIGTERM itself (it blocks them in every
# thread before it connects: /proc shows SigBlk)
sigs_blocked() {
	local blk
	blk=$(awk '/^SigBlk:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$blk" ] && [ $((0x$blk & 0x4002)) -eq $((0x4002)) ]
}
# wait_running PID: until idsr-vmm PID is ready for signals (wait_until's deadline)
wait_running() {
	wait_until sigs_blocked "$1" && return 0
	echo "# idsr-vmm $1 never got ready for signals"
	return 1
}
# boot_complete DB BOOT: idsrd has written all of boot BOOT (ended, every row in)
boot_complete() {
	[ "$(sqlite3 "$1" "select count(*) from boots where id = $2 and end_ns is not null
		and accesses = (select count(*) from accesses where boot_id = $2)" 2>/dev/null)" = 1 ]
}
# wait_boot DB BOOT: until boot BOOT is complete: a VMM does not wait for that after its goodbye
wait_boot() {
	wait_until boot_complete "$1" "$2" && return 0
	echo "# boot $2 of $1 was not complete after 60 s"
	return 1
}
# rows BOOT: one line per access of $T/trace.db's boot BOOT, in per-vCPU order, PCs relative to
# the load address
rows() {
	sqlite3 "$T/trace.db" "select vcpu, seq, printf('0x%x', key), printf('+0x%x', pc - 0x40000000), el,
		is_write, printf('0x%x', value), action from accesses where boot_id = $1 order by vcpu, seq"
}
# replay_next VM ARGS...: arms `idsrctl replay ARGS` for the next boot of VM in the background
# (REPLAY is its pid, its output in $T/replay.out) and waits until idsrd says it is armed
replay_next() {
	local vm=$1 i; shift
	"$B/idsrctl" replay "$@" --vm "$vm" --timeout 120 >"$T/replay.out" 2>&1 &
	REPLAY=$!
	for i in $(seq 200); do
		"$B/idsrctl" status 2>/dev/null | grep -q "replay armed" && return 0
		sleep 0.05
	done
	echo "# idsrd never said the replay was armed"
	return 1
}
# apple_boot_rows VCPU: the rows (as rows prints them) apple_boot leaves on vCPU VCPU under
# tests/vmm/daemon.conf, in any VMM
apple_boot_rows() {
	local v=$1
	echo "$v|0|0xc780|+0x20|1|0|0x1000|emulate
$v|1|0xc780|+0x28|1|1|0x101000|emulate
$v|2|0xc7a0|+0x2c|1|0|0x0|emulate
$v|3|0xc7a0|+0x34|1|1|0x800|emulate
$v|4|0xc7a8|+0x38|1|0|0x0|emulate
$v|5|0xc7a8|+0x40|1|1|$(printf '0x%x' $((v << 4)))|emulate
$v|6|0xc7d8|+0x44|1|0|0x0|emulate
$v|7|0xc7d8|+0x4c|1|1|0x0|emulate
$v|8|0xefa0|+0x54|1|0|0xac|emulate
$v|9|0xefa8|+0x5c|1|1|0xd|emulate
$v|10|0xe7d5|+0x64|1|0|0x1000|emulate
$v|11|0xe7d5|+0x6c|1|0|0x1008|emulate
$v|12|0xe7d5|+0x6c|1|0|0x1010|emulate
$v|13|0xe7d5|+0x6c|1|0|0x1018|emulate
$v|14|0xe7d5|+0x6c|1|0|0x1020|emulate"
}
