#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo`: idsrd's main job shown to someone who has never heard of IDSRs. Starts idsrd
# on a private socket and database, boots a 2-vCPU guest through the reference VMM, shows
# its accesses live and per register, changes the policy while the daemon runs, boots
# again, compares the two boots, replays the first, and says what to try next. Installs nothing.
# DEMO_DIR=PATH puts the demo's files there (it must not exist yet); BUILD as for make.
set -u
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}
for f in idsrd idsrctl idsr-vmm guests/apple_boot.bin; do
	[ -e "$B/$f" ] || { echo "demo: $B/$f is missing: run 'make' (or 'make demo') first" >&2; exit 1; }
done
if [ -n "${DEMO_DIR:-}" ]; then
	D=$DEMO_DIR
	mkdir "$D" || { echo "demo: cannot create DEMO_DIR $D (it must not exist yet)" >&2; exit 1; }
else
	D=$(mktemp -d /tmp/idsr-demo.XXXXXX) || exit 1
fi
D=$(cd "$D" && pwd)

# idsrctl and idsr-vmm find this daemon through these, as they would find a system one
export IDSRD_SOCKET=$D/vmm.sock IDSRD_CONTROL=$D/control.sock IDSRD_DB=$D/trace.db
PATH=$(cd "$B" && pwd):$PATH
DAEMON=
TAIL=
REPLAY=
cleanup() {
	[ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null && wait "$TAIL" 2>/dev/null
	[ -n "$REPLAY" ] && kill "$REPLAY" 2>/dev/null && wait "$REPLAY" 2>/dev/null
	[ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then bold=$(printf '\033[1m') dim=$(printf '\033[2m') off=$(printf '\033[0m'); else bold= dim= off=; fi
say() { printf '%s\n' "$@"; }
step() { printf '\n%s== %s ==%s\n' "$bold" "$1" "$off"; }
# quote CMD...: sets Q to the command as a user would type it, quoted where needed
quote() {
	local a
	Q=
	for a in "$@"; do
		[[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]] && Q+=" $a" || Q+=" '$a'"
	done
}
# run CMD...: shows the command, then runs it
run() { quote "$@"; printf '%s$%s%s\n' "$dim" "$Q" "$off"; "$@"; }
# run_bg CMD...: in the background; BG is the command's own pid, so that it can be stopped
run_bg() { quote "$@"; printf '%s$%s &%s\n' "$dim" "$Q" "$off"; "$@" & BG=$!; }
fail() { echo "demo: $*" >&2; [ -s "$D/idsrd.log" ] && sed 's/^/    /' "$D/idsrd.log" >&2; exit 1; }

say "${bold}idsrd demo${off}" \
"" \
"An arm64 CPU is configured through system registers. Some of them are IMPLEMENTATION" \
"DEFINED (IDSRs): each chip maker gives them its own meaning, like the \"chicken bits\" in" \
"Apple's HID registers or a Cortex core's CPUACTLR. A hypervisor can trap a guest's" \
"access to them; stock KVM answers every one with UNDEF (an undefined-instruction" \
"exception), and a kernel written for that hardware (macOS, a vendor Linux) crashes." \
"" \
"idsrd sits at the other end of that trap. The VMM hands it each access; idsrd" \
"  - logs it (register, value, PC, vCPU, order) in an SQLite database," \
"  - answers it from a policy (read as zero, a fixed value, a 64-bit storage, a" \
"    counter, UNDEF, ...) that you can change while guests run," \
"  - replays a recorded boot, and compares two boots." \
"" \
"No KVM is needed here: $B/idsr-vmm runs a small guest program on the Unicorn CPU" \
"emulator and forwards its IDSR accesses exactly as a patched KVM would. The guest" \
"(tests/guests/apple_boot.S) does what an Apple-silicon kernel does first on each core:" \
"sets bits in HID registers, reads the cluster configuration, polls a counter." \
"Its files go to $D."

step "1. Start idsrd with the example policy"
say "examples/policy.conf is commented: it says what the guest gets for each register."
run_bg idsrd --socket "$IDSRD_SOCKET" --control "$IDSRD_CONTROL" --db "$IDSRD_DB" \
	--policy examples/policy.conf --foreground 2>"$D/idsrd.log"
DAEMON=$BG
for _ in $(seq 100); do
	[ -S "$IDSRD_SOCKET" ] && [ -S "$IDSRD_CONTROL" ] && break
	kill -0 "$DAEMON" 2>/dev/null || { DAEMON=; fail "idsrd did not start:"; }
	sleep 0.05
done
[ -S "$IDSRD_CONTROL" ] || fail "idsrd made no sockets in 5 seconds:"
say "idsrd runs (pid $DAEMON), its log is $D/idsrd.log."

step "2. Boot a guest with 2 vCPUs and watch its accesses as they happen"
say "'idsrctl tail -f' follows the live accesses. Each line: vCPU, its n-th access," \
"the guest's PC, read (<-) or write (->), the register, the value read or written, and" \
"what idsrd answered (emulate, or UNDEF) by which line of the policy."
run_bg idsrctl tail -f -n 0
TAIL=$BG
for _ in $(seq 100); do	# until the daemon has it as a subscriber
	idsrctl status 2>/dev/null | grep -q ' [1-9][0-9]* subscriber' && break
	sleep 0.05
done
run idsr-vmm --vcpus 2 --vm demo --midr 0x611f0220 "$B/guests/apple_boot.bin" || fail "the guest did not run to its end"
sleep 0.5
kill "$TAIL" 2>/dev/null; wait "$TAIL" 2>/dev/null; TAIL=
say "" "(--midr 0x611f0220 is an Apple CPU's ID: it tells idsrd to use Apple's register names.)"

step "3. What the boot touched, per register"
run idsrctl stats || fail "idsrctl stats failed"
say "" "CYC_OVRD_EL1 and ACNTPCT_EL0 got UNDEF: the example policy has no rule for them, so" \
"idsrd gave what stock KVM gives. This guest's exception handler counts the UNDEF and" \
"goes on; a real kernel would have crashed right there."

step "4. Teach the policy, live, and boot again"
say "ACNTPCT_EL0 is a counter the kernel polls; CYC_OVRD_EL1 a write it can do without."
run idsrctl policy set 'ACNTPCT_EL0 read counter start=0 step=0x10' || fail "policy set failed"
run idsrctl policy set 'CYC_OVRD_EL1 write ignore' || fail "policy set failed"
run idsr-vmm --vcpus 2 --vm demo --midr 0x611f0220 "$B/guests/apple_boot.bin" || fail "the guest did not run to its end"

step "5. Compare the two boots"
say "'-' only in the first boot, '+' only in the second, '~' the same access answered" \
"differently. The counter now moves, so the guest stops polling sooner."
run idsrctl diff "$IDSRD_DB:1" "$IDSRD_DB:2"
[ $? -le 1 ] || fail "idsrctl diff failed"

# idsrctl replay may not be built yet in this tree
if idsrctl replay --help >/dev/null 2>&1; then
	step "6. Replay boot 1"
	say "idsrd can also answer a boot from a recording instead of from the policy: every read" \
	"gets exactly the value (or UNDEF) it got then. The live policy has changed since boot 1," \
	"yet a replay of boot 1 gives the guest boot 1's answers, UNDEFs included, and checks" \
	"that the guest does the same accesses in the same order on every vCPU."
	run_bg idsrctl replay "$IDSRD_DB:1" --vm demo-replay --timeout 60
	REPLAY=$BG
	for _ in $(seq 100); do
		idsrctl status 2>/dev/null | grep -q "replay armed" && break
		sleep 0.05
	done
	run idsr-vmm --vcpus 2 --vm demo-replay --midr 0x611f0220 "$B/guests/apple_boot.bin"
	wait "$REPLAY" || { REPLAY=; fail "the replay did not reproduce boot 1"; }
	REPLAY=
fi

step "Done: what to try next"
kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; DAEMON=
say "idsrd has stopped; the boots are in $IDSRD_DB." \
"" \
"Look at the recording (no daemon needed):" \
"    $B/idsrctl show $IDSRD_DB:1          # every access of boot 1" \
"    $B/idsrctl boots $IDSRD_DB           # the boots in the database" \
"    sqlite3 $IDSRD_DB 'select * from accesses_v limit 5'" \
"" \
"Run the daemon again and play with it (each line in its own terminal, in this order):" \
"    export IDSRD_SOCKET=$IDSRD_SOCKET IDSRD_CONTROL=$IDSRD_CONTROL IDSRD_DB=$IDSRD_DB" \
"    $B/idsrd --socket \$IDSRD_SOCKET --control \$IDSRD_CONTROL --db \$IDSRD_DB --policy examples/policy.conf --foreground" \
"    $B/idsrctl tail -f" \
"    $B/idsr-vmm --vcpus 4 $B/guests/apple_boot.bin" \
"    $B/idsr-vmm --vcpus 2 --midr 0x410fd083 --undef skip $B/guests/cortex_boot.bin   # a Cortex-A72 (its MIDR): Cortex register names; the example policy has no rule for them, so each is UNDEF and --undef skip steps over it" \
"    $B/idsr-vmm $B/guests/el0_vector.bin                  # user space: always UNDEF, into the kernel's vector" \
"    $B/idsr-vmm --aarch32 $B/guests/a32_cp15.bin          # a 32-bit guest's cp15 accesses" \
"    $B/idsrctl policy show                                  # the live rules and their hits" \
"    $B/idsrctl replay 2                                     # arms a replay of boot 2 and waits for the next boot ..." \
"    $B/idsr-vmm --vcpus 2 $B/guests/apple_boot_value.bin  # ... which writes another value: replay names where it departs" \
"" \
"Read more: README.md, man/idsrctl.1.scd, man/idsrd-policy.5.scd, examples/policy.conf." \
"When done: rm -rf $D"
