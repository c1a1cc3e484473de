# SPDX-License-Identifier: MIT
# idsrctl diff on real guests: apple_boot and its variant built with every
# --defsym switch (an access added, a read-modify-write removed, a written
# value changed, code moved), both recorded through idsrd by the reference VMM.
. "$(dirname "$0")/../lib.sh"
CTL=$B/idsrctl
VMM=$B/idsr-vmm
G=$B/guests
if [ ! -x "$VMM" ] || [ ! -f "$G/apple_boot.bin" ] || [ ! -f "$G/apple_boot_v2.bin" ]; then
	ok "# SKIP the reference VMM or its guests are not built"
	done_testing
	exit 0
fi
cd "$T" || exit 1

# Every IMPDEF register is a 64-bit storage: a boot's values follow from its code alone.
printf 'impl apple\n* storage init=0x0\n' >policy.conf
start_daemon --policy "$T/policy.conf" || exit 1
APPLE_MIDR=611f0220
check_rc "record apple_boot" 0 "$VMM" --socket "$T/vmm.sock" --midr $APPLE_MIDR --kernel v1 "$G/apple_boot.bin"
check_rc "record apple_boot_v2" 0 "$VMM" --socket "$T/vmm.sock" --midr $APPLE_MIDR --kernel v2 "$G/apple_boot_v2.bin"
check_rc "record apple_boot on 2 vCPUs" 0 "$VMM" --socket "$T/vmm.sock" --midr $APPLE_MIDR --vcpus 2 "$G/apple_boot.bin"
stop_daemon

# the guests' own symbol maps (nm -n of their ELF files)
check_rc "default alignment" 1 "$CTL" diff --color=never trace.db:1 trace.db:2
check "exactly the three changes" "+ HID7_EL1 (s3_0_c15_c7_0) read
- HID11_EL1 (s3_0_c15_c11_0) read
- HID11_EL1 (s3_0_c15_c11_0) write
~ HID4_EL1 (s3_0_c15_c4_0) write 0x0000000000000800 -> 0x0000000000000200" \
	"$(printf '%s\n' "$OUT" | awk '/^[-+~] / { line = $1 " " $4 " " $5 " " $6; if ($1 == "~") line = line " " $7 " -> " $9; print line }' | sort -k1,1 -s)"
check "summary" "different: 1 added, 2 removed, 1 changed (A: 15 accesses, B: 14 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"

check_rc "--by-symbol" 1 "$CTL" diff --color=never --by-symbol --symbols-a "$G/apple_boot.map" \
	--symbols-b "$G/apple_boot_v2.map" trace.db:1 trace.db:2
check "--by-symbol: the same three changes" "different: 1 added, 2 removed, 1 changed (A: 15 accesses, B: 14 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"
check "--by-symbol: changed lines name the function" "+ hid_init+0x24
- hid_init+0x24
- hid_init+0x2c
~ hid_init+0x14" "$(printf '%s\n' "$OUT" | awk '/^[-+~] / { print $1 " " $3 }' | sort -k1,1 -s)"
check "--by-symbol: moved code is context, not change" "0" \
	"$(printf '%s\n' "$OUT" | grep -cE '^[-+~] .*(acc_init|wait_counter)')"

# the moved code shows only when aligning on PCs
check_rc "--by-pc" 1 "$CTL" diff --color=never --by-pc --stat trace.db:1 trace.db:2
check "--by-pc: the moved accesses are removed and added" "different: 8 added, 9 removed, 1 changed (A: 15 accesses, B: 14 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"
check "--by-pc: per register" "HID7_EL1 0 1 1 0 0
HID11_EL1 2 0 0 2 0
ACNTPCT_EL0 5 5 5 5 0
ACC_CFG_EL1 1 1 1 1 0
CYC_OVRD_EL1 1 1 1 1 0" "$(printf '%s\n' "$OUT" | awk '$1 ~ /^(HID7|HID11|ACNTPCT|ACC_CFG|CYC_OVRD)/ { print $1, $3, $4, $5, $6, $7 }')"

check_rc "a recorded boot against itself" 0 "$CTL" diff trace.db:1 trace.db:1

# one vCPU more: vCPU 0 is the same boot, vCPU 1 (HID5 gets its core number) is all new
check_rc "1 vCPU against 2" 1 "$CTL" diff --color=never trace.db:1 trace.db:3
check "vCPU 1 is one hunk of additions" "@@ vcpu 1 -0,0 +0,15 @@|15|0" \
	"$(printf '%s\n' "$OUT" | grep '^@@')|$(printf '%s\n' "$OUT" | grep -c '^+  ')|$(printf '%s\n' "$OUT" | grep -c '^[-~]  ')"
check "1 vCPU against 2: summary" "different: 15 added, 0 removed, 0 changed (A: 15 accesses, B: 30 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"
check "vCPU 1's HID5 write carries its core number" "+      5  0x0000000040000040  HID5_EL1 (s3_0_c15_c5_0)            write  0x0000000000000010" \
	"$(printf '%s\n' "$OUT" | grep '^+ .*HID5_EL1.*write')"
done_testing
