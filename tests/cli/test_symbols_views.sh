# SPDX-License-Identifier: MIT
# --symbols on show, tail (from the database and live) and diff: a guest loaded
# 1 MiB above its link address with that slide announced, read back through its
# ELF symbol table (libelf) and its nm listing alike.
. "$(dirname "$0")/../lib.sh"
CTL=$B/idsrctl
VMM=$B/idsr-vmm
G=$B/guests
if [ ! -x "$VMM" ] || [ ! -f "$G/apple_boot.elf" ]; then
	ok "# SKIP the reference VMM or its guests are not built"
	done_testing
	exit 0
fi
cd "$T" || exit 1
printf 'impl apple\n* storage init=0x0\n' >policy.conf
start_daemon --policy "$T/policy.conf" || exit 1

# tail -f, subscribed before the guest runs: its header says the subscription is in place
"$CTL" tail -f -n 0 --symbols "$G/apple_boot.elf" >tail.out 2>&1 &
TAIL=$!
for _ in $(seq 1 400); do [ -s tail.out ] && break; sleep 0.05; done
check_rc "record apple_boot at a 1 MiB slide" 0 "$VMM" --socket "$T/vmm.sock" --midr 611f0220 \
	--base 0x40100000 --slide 0x100000 "$G/apple_boot.bin"
check_rc "record apple_boot unslid" 0 "$VMM" --socket "$T/vmm.sock" --midr 611f0220 "$G/apple_boot.bin"
check_rc "record apple_boot_v2" 0 "$VMM" --socket "$T/vmm.sock" --midr 611f0220 "$G/apple_boot_v2.bin"
for _ in $(seq 1 400); do [ "$(grep -c ' <- \| -> ' tail.out)" -ge 44 ] && break; sleep 0.05; done
kill "$TAIL"; wait "$TAIL" 2>/dev/null

# what each access's PC is, as (symbol register) pairs: the same in every view
want="hid_init+0x0 HID0_EL1
hid_init+0x8 HID0_EL1
hid_init+0xc HID4_EL1
hid_init+0x14 HID4_EL1
hid_init+0x18 HID5_EL1
hid_init+0x20 HID5_EL1
hid_init+0x24 HID11_EL1
hid_init+0x2c HID11_EL1
acc_init+0x0 ACC_CFG_EL1
acc_init+0x8 CYC_OVRD_EL1
wait_counter+0x0 ACNTPCT_EL0
wait_counter+0x8 ACNTPCT_EL0
wait_counter+0x8 ACNTPCT_EL0
wait_counter+0x8 ACNTPCT_EL0
wait_counter+0x8 ACNTPCT_EL0"
check "tail -f: header with a symbol column" \
	"time          boot vcpu     seq  pc                 symbol                       dir       register                            value               action  rule" \
	"$(head -1 tail.out)"
check "tail -f: boot 1 (slide 0x100000) by function" "$want" "$(awk '$2 == 1 { print $6, $9 }' tail.out)"
check "tail -f: boot 2 (no slide) by function" "$want" "$(awk '$2 == 2 { print $6, $9 }' tail.out)"
check_match "tail -f: the slid boot's PCs are its own" '^[0-9:.]+ +1 +0 +0  0x0000000040100020 hid_init\+0x0 ' "$(sed -n 2p tail.out)"

check_rc "show --symbols ELF" 0 "$CTL" show trace.db:1 --symbols "$G/apple_boot.elf"
check "show: by function through the ELF" "$want" "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $5, $7 }')"
check_rc "show --symbols nm listing" 0 "$CTL" show trace.db:1 --symbols "$G/apple_boot.map"
check "show: by function through the listing" "$want" "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $5, $7 }')"
check_rc "show --json --symbols" 0 "$CTL" show trace.db:1 --symbols "$G/apple_boot.elf" --json --limit 1
check_match "show --json: a symbol key" '"rule": 2, .*"symbol": "hid_init\+0x0", "name": "HID0_EL1"' "$OUT"
check_rc "show without --symbols has no symbol column" 0 "$CTL" show trace.db:1 --limit 1
check_match "show: plain header" '^ boot vcpu     seq  pc                 dir    register' "$OUT"

check_rc "tail -n 2 --symbols (database)" 0 "$CTL" tail -n 2 --boot 1 --symbols "$G/apple_boot.elf"
check "tail database rows by function" "wait_counter+0x8 ACNTPCT_EL0
wait_counter+0x8 ACNTPCT_EL0" "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $6, $9 }')"

# diff: one --symbols for both sides; each boot's own slide applies
check_rc "diff --symbols --by-symbol: same functions despite the slide" 0 "$CTL" diff --color=never --by-symbol \
	--symbols "$G/apple_boot.elf" trace.db:1 trace.db:2
check_rc "diff --by-pc: the PCs less their slides agree" 0 "$CTL" diff --by-pc trace.db:1 trace.db:2
check_rc "diff --symbols-b alone" 1 "$CTL" diff --color=never --symbols-b "$G/apple_boot_v2.elf" trace.db:2 trace.db:3
check "diff: B's side by function, A's by PC" "+ hid_init+0x24 HID7_EL1
- 0x0000000040000044 HID11_EL1
- 0x000000004000004c HID11_EL1
~ 0x0000000040000034 HID4_EL1" "$(printf '%s\n' "$OUT" | awk '/^[-+~] / { print $1, $3, $4 }' | sort)"
stop_daemon

# export: perfetto's args and jsonl's objects carry the symbol; csv's columns stay the contract's
check_rc "export --format perfetto --symbols" 0 "$CTL" export trace.db:1 --format perfetto --symbols "$G/apple_boot.elf" \
	-o slid.json
check "perfetto: args.symbol by function" "$want" \
	"$(jq -r '.traceEvents[] | select(.ph == "i") | .args.symbol + " " + .name' slid.json)"
check_rc "export --format jsonl --symbols" 0 "$CTL" export trace.db:1 --format jsonl --symbols "$G/apple_boot.map"
check "jsonl: symbol by function" "$want" "$(printf '%s\n' "$OUT" | jq -r '.symbol + " " + .name')"
check_rc "export --format csv --symbols" 2 "$CTL" export trace.db:1 --format csv --symbols "$G/apple_boot.map"
check "csv --symbols message" \
	"idsrctl: export: --symbols: not with --format csv (its columns are the contract's; use jsonl or perfetto)" "$OUT"

# errors: say which file and why; exit 2 before any output
check_rc "show --symbols missing" 2 "$CTL" show trace.db:1 --symbols nope.elf
check "missing file message" "idsrctl: show: nope.elf: No such file or directory" "$OUT"
printf '\177ELF' >trunc.elf
check_rc "tail --symbols truncated ELF" 2 "$CTL" tail --db trace.db --symbols trunc.elf
check "truncated ELF message" "idsrctl: tail: trunc.elf: a damaged or truncated ELF file" "$OUT"
check_rc "diff --symbols data only" 2 "$CTL" diff --symbols policy.conf trace.db:1 trace.db:2
check "not a listing message" "idsrctl: diff: policy.conf:1: expected \`ADDRESS TYPE NAME' with a hexadecimal address" "$OUT"

done_testing
