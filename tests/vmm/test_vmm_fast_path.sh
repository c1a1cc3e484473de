#!/bin/bash
# SPDX-License-Identifier: MIT
# The fast path on the reference guests: every boot made with it and the same boot made with
# round trips only (the default; IDSR_FAST_PATH=1 turns it on) leave the same `accesses' rows but ts_ns, in the same
# per-vCPU order; a boot made with it is replayed exactly; a boot of 100,000 reads of a `value'
# register is answered by it (all but the table's first fill and full rings).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/regs.sh"

start_daemon --policy "$(dirname "$0")/daemon.conf" || exit 1
n=0
# all_rows BOOT: every contract column but ts_ns, in per-vCPU order
all_rows() {
	wait_boot "$T/trace.db" "$1" >&2
	sqlite3 "$T/trace.db" "select vcpu, seq, key, pc, el, is_write, value, action, rule from accesses
		where boot_id = $1 order by vcpu, seq"
}
# same NAME VMM-ARGS...: the guest once with round trips only, once with the fast path
same() {
	local name=$1; shift
	IDSR_FAST_PATH=0 "$VMM" "$@" >"$T/off.out" 2>&1
	n=$((n + 1)); local off=$n
	check_rc "$name with the fast path" 0 env IDSR_FAST_PATH=1 "$VMM" "$@"
	n=$((n + 1)); ON=$n
	FAST=$(grep -o '([0-9]* by the fast path)' <<<"$OUT" | grep -o '[0-9]*')
	check_match "$name without it says nothing of it" "IDSR accesses, [0-9]* UNDEF$" "$(cat "$T/off.out")"
	local a b
	a=$(all_rows $off); b=$(all_rows $ON)
	check "$name: the same rows either way" "$a" "$b"
	check "$name: rows there" "yes" "$([ -n "$a" ] && echo yes || echo no)"
}

same "apple_boot, 2 vCPUs" --vcpus 2 --midr 611f0220 "$G/apple_boot.bin"
same "undef_vector" "$G/undef_vector.bin"
same "el0" --el0 --undef skip "$G/el0.bin"
same "a32_cp15" --aarch32 "$G/a32_cp15.bin"
same "cortex_boot, 4 vCPUs" --vcpus 4 "$G/cortex_boot.bin"

# HID0 as a `value': bench_loop's 100,000 reads are the fast path's case
printf 'HID0_EL1 read value 0x77\n' >"$T/hid0.conf"
sed '/^impl/d' "$(dirname "$0")/daemon.conf" >>"$T/hid0.conf"
check_rc "policy load" 0 "$B/idsrctl" policy load "$T/hid0.conf"
same "bench_loop, 100,000 reads" "$G/bench_loop.bin"
check "bench_loop: the fast path answered all but its misses" "yes" \
	"$([ "${FAST:-0}" -ge 90000 ] && echo yes || echo "no: ${FAST:-0}")"
check "bench_loop: every read 0x77 by rule 1" "100000" \
	"$(sqlite3 "$T/trace.db" "select count(*) from accesses where boot_id = $ON and value = 0x77 and rule = 1")"

# a replay of the fast-path boot: answered from the recording (round trips), exactly
replay_next again "$T/trace.db:$ON" || exit 1
check_rc "the replay runs" 0 env IDSR_FAST_PATH=1 "$VMM" --vm again "$G/bench_loop.bin"
n=$((n + 1))
wait $REPLAY
check "idsrctl replay: reproduced, exit 0" 0 "$?"
check "idsrctl replay says so" "reproduced: 100000 accesses on 1 vCPUs matched" "$(cat "$T/replay.out")"
check "the replay made no fast-path answer" "" "$(grep -o 'by the fast path' <<<"$OUT")"

stop_daemon
done_testing
