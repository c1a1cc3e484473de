# SPDX-License-Identifier: MIT
# idsrctl policy learn: boots recorded by idsr-vmm under known policies learn back an equivalent
# policy (exact text) that replay --against finds in agreement (0 divergences); what no rule kind
# explains is answered with its most common value and named; several boots learn one policy.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."

cat > "$T/known.conf" <<'POL'
impl apple
HID0_EL1          storage init=0x40
HID1_EL1          value 0x11
ACNTPCT_EL0       counter start=0x1000 step=0x20
HID5_EL1  vcpu=1  value 0x51
HID5_EL1          value 0x50
CYC_OVRD_EL1      write ignore
HID4_EL1          raz-wi
*                 undef
POL
start_daemon --policy "$T/known.conf" || not_ok "idsrd starts"
booted=0
boot() { # the next boot of the learn guest on 2 vCPUs (args: idsr-vmm's, else the learn guest's)
	booted=$((booted + 1))
	if [ $# -eq 0 ]; then set -- --vcpus 2 --undef skip "$B/guests/learn.bin"; fi
	"$B/idsr-vmm" --socket "$T/vmm.sock" "$@" >/dev/null 2>&1 && boot_ended $booted
}
boot && ok "boot 1 under the known policy" || not_ok "boot 1 under the known policy"
check_rc "learn a policy from it" 0 "$B/idsrctl" policy learn "$T/trace.db:1" -o "$T/learned.conf"
check "the summary" "idsrctl: policy learn: 10 rules for 7 registers from 32 accesses" "$OUT"
check "the learned policy: the same answers, with what was seen" \
"# Learned by idsrctl policy learn from boot 1 of $T/trace.db (32 accesses).
# Each rule answers its register as the recording saw it.
impl apple

# HID0_EL1: 6 reads, 4 writes, 3 values read, vCPUs 0-1, first PC 0x40000004
HID0_EL1         storage init=0x40

# HID1_EL1: 4 reads, 0 writes, 1 value read, vCPUs 0-1, first PC 0x40000020
HID1_EL1         value 0x11

# HID4_EL1: 6 reads, 0 writes, 1 value read, vCPUs 0-1, first PC 0x40000040
HID4_EL1         value 0x0

# HID5_EL1: 2 reads, 0 writes, 2 values read, vCPUs 0-1, first PC 0x40000034
HID5_EL1         vcpu=0 value 0x50
HID5_EL1         vcpu=1 value 0x51
# vCPUs the recording did not have: as vCPU 0
HID5_EL1         value 0x50

# HID7_EL1: 2 reads, 0 writes (2 UNDEF), vCPUs 0-1, first PC 0x4000003c
HID7_EL1         undef

# ACNTPCT_EL0: 6 reads, 0 writes, 3 values read, vCPUs 0-1, first PC 0x40000028
ACNTPCT_EL0      counter start=0x1000 step=0x20

# CYC_OVRD_EL1: 0 reads, 2 writes, vCPUs 0-1, first PC 0x40000038
CYC_OVRD_EL1     write ignore

# Registers the recording never saw: UNDEF, as stock KVM answers.
*                undef" "$(cat "$T/learned.conf")"
check_rc "replay --against the learned policy" 0 "$B/idsrctl" replay "$T/trace.db:1" --against "$T/learned.conf"
check "0 divergences" "agrees: 0 of 32 recorded answers of boot 1 differ under $T/learned.conf" "$OUT"
check_rc "policy check takes it" 0 "$B/idsrctl" policy check "$T/learned.conf"
check_rc "learn from the same boot twice" 0 "$B/idsrctl" policy learn "$T/trace.db:1" "$T/trace.db:1" -o "$T/twice.conf"
check "two boots that agree: the same rules" "$(grep -v '^#' "$T/learned.conf")" "$(grep -v '^#' "$T/twice.conf")"
check "their comments count both" "# HID0_EL1: 12 reads, 8 writes, 3 values read, vCPUs 0-1, first PC 0x40000004" \
	"$(grep '^# HID0' "$T/twice.conf")"

# The learned policy, made live, answers the next boot as the recording was answered.
check_rc "load the learned policy" 0 "$B/idsrctl" policy load "$T/learned.conf"
boot && ok "boot 2 under the learned policy" || not_ok "boot 2 under the learned policy"
check "boot 2 got boot 1's answers" "0" "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM (SELECT vcpu, seq, key, is_write, value, action
	FROM accesses WHERE boot_id = 1 EXCEPT SELECT vcpu, seq, key, is_write, value, action FROM accesses WHERE boot_id = 2)")"

# What no rule kind explains: HID4 random is answered with its most common value, and named.
sed 's/^HID4_EL1 .*/HID4_EL1 random seed=7/' "$T/known.conf" > "$T/random.conf"
"$B/idsrctl" policy load "$T/random.conf" >/dev/null
boot && ok "boot 3 with HID4 random" || not_ok "boot 3 with HID4 random"
check_rc "learn from it" 0 "$B/idsrctl" policy learn "$T/trace.db:3" -o "$T/varies.conf"
check "the summary names what varies" \
	"idsrctl: policy learn: 10 rules for 7 registers from 32 accesses; 1 vary, answered with their most common value: HID4_EL1" "$OUT"
hid4=$(sqlite3 "$T/trace.db" "SELECT printf('0x%x', value) FROM accesses WHERE boot_id = 3 AND key = 51104 ORDER BY vcpu, seq")
common=$(echo "$hid4" | sort | uniq -c | sort -k1,1nr -k2,2 | head -1 | awk '{print $2}')
check_match "its rule says it varies" "# varies: answered with the most common, $common; also read" "$(cat "$T/varies.conf")"
check_rc "replay --against finds the accesses it cannot answer" 1 "$B/idsrctl" replay "$T/trace.db:3" --against "$T/varies.conf"
check "5 of 6 HID4 reads differ" "differs: 5 of 32 recorded answers of boot 3 differ under $T/varies.conf" "$(echo "$OUT" | tail -1)"

# Several boots: a register whose value differs between them is reported.
sed 's/^HID1_EL1 .*/HID1_EL1 value 0x12/' "$T/known.conf" > "$T/hid1.conf"
"$B/idsrctl" policy load "$T/hid1.conf" >/dev/null
boot && ok "boot 4 with another HID1" || not_ok "boot 4 with another HID1"
check_rc "learn from boots 1 and 4" 0 "$B/idsrctl" policy learn "$T/trace.db:1" "$T/trace.db:4" -o "$T/two.conf"
check "the difference is reported" "idsrctl: policy learn: HID1_EL1 differs between boots: boot 1 of $T/trace.db: value 0x11; boot 4 of $T/trace.db: value 0x12
idsrctl: policy learn: 10 rules for 7 registers from 64 accesses; 1 vary, answered with their most common value: HID1_EL1" "$OUT"

# EL0 accesses answered by the rules make the learned policy allow-el0; refused by the EL0 rule, undef.
printf 'impl apple\nallow-el0\nHID0_EL1 value 0x77\n' > "$T/el0.conf"
"$B/idsrctl" policy load "$T/el0.conf" >/dev/null
boot --el0 --undef skip "$B/guests/el0.bin" && ok "boot 5 at EL0, allowed" || not_ok "boot 5 at EL0, allowed"
check_rc "learn from it" 0 "$B/idsrctl" policy learn "$T/trace.db:5" -o "$T/el0-learned.conf"
check "allow-el0 and the value" "impl apple
allow-el0

HID0_EL1         value 0x77

*                undef" "$(grep -v '^#' "$T/el0-learned.conf")"
check_rc "it agrees" 0 "$B/idsrctl" replay "$T/trace.db:5" --against "$T/el0-learned.conf"
"$B/idsrctl" policy load "$T/known.conf" >/dev/null
boot --el0 --undef skip "$B/guests/el0.bin" && ok "boot 6 at EL0, refused" || not_ok "boot 6 at EL0, refused"
check_rc "learn from it" 0 "$B/idsrctl" policy learn "$T/trace.db:6" -o "$T/el0-undef.conf"
check "no allow-el0; UNDEF" "impl apple

HID0_EL1         undef

*                undef" "$(grep -v '^#' "$T/el0-undef.conf")"
check_rc "it agrees" 0 "$B/idsrctl" replay "$T/trace.db:6" --against "$T/el0-undef.conf"

# An imported m1n1 log: a policy that agrees with it.
"$B/idsrctl" import --format m1n1 --db "$T/m1.db" tests/import/apple_boot.m1n1.log >/dev/null 2>&1
check_rc "learn from an imported m1n1 log" 0 "$B/idsrctl" policy learn "$T/m1.db" -o "$T/m1.conf"
check "the learned policy" "# Learned by idsrctl policy learn from boot 1 of $T/m1.db (26 accesses).
# Each rule answers its register as the recording saw it.
impl apple

# HID0_EL1: 2 reads, 2 writes, 1 value read, vCPUs 0-1
HID0_EL1         value 0x10000000000

# HID4_EL1: 2 reads, 2 writes, 1 value read, vCPUs 0-1
HID4_EL1         value 0x200000000000

# HID5_EL1: 2 reads, 2 writes, 1 value read, vCPUs 0-1
HID5_EL1         value 0x2000000000000000

# HID11_EL1: 2 reads, 2 writes, 1 value read, vCPUs 0-1
HID11_EL1        value 0x800000000000008

# ACNTPCT_EL0: 6 reads, 0 writes, 6 values read, vCPUs 0-1
ACNTPCT_EL0      vcpu=0 counter start=0x5a1f00 step=0x18
ACNTPCT_EL0      vcpu=1 counter start=0x5a1f48 step=0x18
# vCPUs the recording did not have: as vCPU 0
ACNTPCT_EL0      counter start=0x5a1f00 step=0x18

# ACC_CFG_EL1: 2 reads, 0 writes, 1 value read, vCPUs 0-1
ACC_CFG_EL1      value 0xd

# CYC_OVRD_EL1: 0 reads, 2 writes, vCPUs 0-1
CYC_OVRD_EL1     write ignore

# Registers the recording never saw: UNDEF, as stock KVM answers.
*                undef" "$(cat "$T/m1.conf")"
check_rc "replay --against it" 0 "$B/idsrctl" replay "$T/m1.db:1" --against "$T/m1.conf"
check "0 divergences, matched without PCs" "note: boot 1 of $T/m1.db has no PCs (imported): accesses were matched on vCPU order, register, direction and value only
agrees: 0 of 26 recorded answers of boot 1 differ under $T/m1.conf" "$OUT"

check_rc "no boot given" 2 "$B/idsrctl" policy learn
check "its message" "idsrctl: policy learn: which boots? give TRACE (FILE, FILE:BOOT or :BOOT; try idsrctl policy learn --help)" "$OUT"
check_rc "a boot of the default database (--db)" 0 "$B/idsrctl" policy learn --db "$T/m1.db" :1 -o "$T/m1b.conf"
check "the same policy" "$(cat "$T/m1.conf")" "$(cat "$T/m1b.conf")"
check_rc "no such boot" 2 "$B/idsrctl" policy learn "$T/m1.db:9"
check "its message" "idsrctl: policy learn: $T/m1.db: no boot 9 in this trace (idsrctl boots lists them)" "$OUT"
check_rc "an -o that cannot be written" 2 "$B/idsrctl" policy learn "$T/m1.db" -o "$T/no/such/dir.conf"
check "its message" "idsrctl: policy learn: -o: cannot create $T/no/such/dir.conf: No such file or directory" "$OUT"
done_testing
