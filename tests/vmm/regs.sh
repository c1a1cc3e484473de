# SPDX-License-Identifier: MIT
# Helpers for the idsr-vmm tests (source after tests/lib.sh): run a guest, read --regs-out.
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
# wait_running PID: until idsr-vmm PID takes SIGINT/SIGTERM itself (it blocks them in every
# thread before it connects: /proc shows SigBlk), at most 5 s
wait_running() {
	local i blk
	for i in $(seq 100); do
		blk=$(awk '/^SigBlk:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
		[ -n "$blk" ] && [ $((0x$blk & 0x4002)) -eq $((0x4002)) ] && return 0
		sleep 0.05
	done
	echo "# idsr-vmm $1 never got ready for signals"
	return 1
}
# wait_boot DB BOOT: until idsrd has written all of boot BOOT (ended, every row in), at most 5 s:
# a VMM does not wait for that after its goodbye
wait_boot() {
	local i
	for i in $(seq 200); do
		[ "$(sqlite3 "$1" "select count(*) from boots where id = $2 and end_ns is not null
			and accesses = (select count(*) from accesses where boot_id = $2)" 2>/dev/null)" = 1 ] && return 0
		sleep 0.025
	done
	echo "# boot $2 of $1 was not complete after 5 s"
	return 1
}
