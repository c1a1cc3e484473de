#!/bin/bash
# SPDX-License-Identifier: MIT
# Your own register names: `idsrd --names FILE` and `idsrctl --names FILE`, the registers.d
# directory, a user row overriding a built-in one, a MIDR row for a core the project does not
# know, rules written with a user's name, `decode` saying where a name came from, and bad rows
# refused with FILE:LINE (idsrd does not start, nothing is created).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../vmm/regs.sh"
export XDG_CONFIG_HOME="$T/config"

# a core no table knows (implementer 0x7a, part 0x001) and a register no table names
# (s3_7_c15_c15_7, the last IDSR encoding, which checksum.bin reads); and the TRM's name of
# the Cortex-A57's s3_1_c15_c2_1, which TF-A calls ECTLR_EL1
printf '%s\n' '# the lab'"'"'s names' \
	"$(printf 'midr\t0x7a\t0x001\t*\tlab-core\tthe lab'"'"'s core\tlab notebook p. 12')" \
	"$(printf 's3_7_c15_c15_7\tLAB_LAST_EL1\tlab-core\tthe last IDSR encoding\tlab notebook p. 12')" \
	"$(printf 's3_1_c15_c2_1\tCPUECTLR_EL1\tarm-cortex-a57\tCPU Extended Control Register\tCortex-A57 TRM')" \
	>"$T/lab.tsv"
printf 'impl lab-core\nLAB_LAST_EL1 read value 0x77\n* raz-wi\n' >"$T/policy.conf"

# ---- idsrctl --names: decode says where each name came from
check_rc "decode a user name" 0 "$B/idsrctl" --names "$T/lab.tsv" decode LAB_LAST
check "decode: the name" "s3_7_c15_c15_7  LAB_LAST_EL1" "$(echo "$OUT" | sed -n 1p)"
check "decode: its row" "  names    LAB_LAST_EL1     lab-core             the last IDSR encoding" "$(echo "$OUT" | sed -n 5p)"
check "decode: its file and line" "             from $T/lab.tsv:3; source: lab notebook p. 12" "$(echo "$OUT" | sed -n 6p)"
check_rc "decode an overridden name" 0 "$B/idsrctl" --names="$T/lab.tsv" decode --impl arm-cortex-a57 s3_1_c15_c2_1
check "override: the user's name wins" "s3_1_c15_c2_1  CPUECTLR_EL1" "$(echo "$OUT" | sed -n 1p)"
check "override: what it replaced" \
	"             from $T/lab.tsv:4, replacing data/registers.tsv:1070; source: Cortex-A57 TRM" \
	"$(echo "$OUT" | grep -A1 ' arm-cortex-a57 ' | sed -n 2p)"
check "override: other cores keep theirs" "s3_1_c15_c2_1  ECTLR_EL1" \
	"$("$B/idsrctl" --names "$T/lab.tsv" decode --impl arm-cortex-a72 s3_1_c15_c2_1 | sed -n 1p)"
check_match "decode --json: file, line, replaces" \
	'\{"name": "CPUECTLR_EL1", "implementation": "arm-cortex-a57", "description": "CPU Extended Control Register", "source": "Cortex-A57 TRM", "file": "[^"]*/lab.tsv", "line": 4, "built_in": false, "replaces": "data/registers.tsv:1070"\}' \
	"$("$B/idsrctl" --names "$T/lab.tsv" decode --json s3_1_c15_c2_1)"
check_rc "without --names: unknown" 2 "$B/idsrctl" decode LAB_LAST
check_rc "without --names: no such implementation" 2 "$B/idsrctl" decode --impl lab-core hid0

# ---- idsrd --names: the MIDR row names the boot's implementation, the policy uses the name
start_daemon --names "$T/lab.tsv" --policy "$T/policy.conf" || exit 1
check_rc "a lab-core boot" 0 "$VMM" --midr 7a0f0010 --regs-out "$T/r.json" "$G/checksum.bin"
wait_boot "$T/trace.db" 1
check "the MIDR row named the implementation" "lab-core" "$(sqlite3 "$T/trace.db" "select impl from boots where id = 1")"
check_match "the log says which row" "boot 1 started: .*, register names lab-core \(MIDR 0x7a0f0010, $T/lab.tsv:2\)$" \
	"$(cat "$T/idsrd.log")"
check "the rule on the user's name answered" "0x77|emulate" \
	"$(sqlite3 "$T/trace.db" "select distinct printf('0x%x', value), action from accesses where boot_id = 1 and key = $((3 << 14 | 7 << 11 | 15 << 7 | 15 << 3 | 7))")"
check "the trace's registers table has the user's rows" "LAB_LAST_EL1|lab-core" \
	"$(sqlite3 "$T/trace.db" "select name, implementation from registers where implementation = 'lab-core'")"
check "accesses_v names it" "LAB_LAST_EL1" "$(sqlite3 "$T/trace.db" "select distinct name from accesses_v where key = '0x0000ffff'")"
check_match "show --names names it" "LAB_LAST_EL1 \(s3_7_c15_c15_7\) +0x0000000000000077" \
	"$("$B/idsrctl" --names "$T/lab.tsv" show "$T/trace.db:1")"
check_match "show without names: the encoding" " s3_7_c15_c15_7 +0x0000000000000077" "$("$B/idsrctl" show "$T/trace.db:1")"
# the override reaches a real boot: a Cortex-A57 shows the TRM's name
check_rc "a Cortex-A57 boot" 0 "$VMM" --midr 411fd073 "$G/cortex_boot.bin"
wait_boot "$T/trace.db" 2
check_match "the log says which built-in row" "boot 2 started: .*, register names arm-cortex-a57 \(MIDR 0x411fd073, data/midr.tsv:8\)$" \
	"$(cat "$T/idsrd.log")"
check "A57 boot: the user's name for s3_1_c15_c2_1" "CPUACTLR_EL1 CPUECTLR_EL1 L2CTLR_EL1 L2ECTLR_EL1" \
	"$("$B/idsrctl" --names "$T/lab.tsv" show "$T/trace.db:2" | awk 'NR > 1 { print $6 }' | uniq | tr '\n' ' ' | sed 's/ $//')"
stop_daemon

# ---- the user's registers.d: read without --names; *.tsv only, in name order (later wins)
mkdir -p "$T/config/idsrd/registers.d"
cp "$T/lab.tsv" "$T/config/idsrd/registers.d/10-lab.tsv"
printf 's3_7_c15_c15_7\tLAB_LAST2_EL1\tlab-core\trenamed later\n' >"$T/config/idsrd/registers.d/20-later.tsv"
printf 'not a table at all\n' >"$T/config/idsrd/registers.d/README"
check_match "registers.d: show names it" "LAB_LAST2_EL1 \(s3_7_c15_c15_7\)" "$("$B/idsrctl" show "$T/trace.db:1")"
check_rc "registers.d: decode" 0 "$B/idsrctl" decode --impl lab-core s3_7_c15_c15_7
check "registers.d: the later file wins" \
	"             from $T/config/idsrd/registers.d/20-later.tsv:1, replacing $T/config/idsrd/registers.d/10-lab.tsv:3" \
	"$(echo "$OUT" | sed -n 6p)"
check "--names comes after registers.d" "s3_7_c15_c15_7  LAB_LAST_EL1" \
	"$("$B/idsrctl" --names "$T/lab.tsv" decode --impl lab-core s3_7_c15_c15_7 | sed -n 1p)"
rm -r "$T/config/idsrd"

# ---- bad rows: refused with FILE:LINE and what is wrong
printf 's3_0_c15_c0_0\tOK_EL1\tlab-core\nmidr\t0x41\t0xd0g\t*\tlab-core\n' >"$T/bad.tsv"
check_rc "idsrctl: a bad row" 2 "$B/idsrctl" --names "$T/bad.tsv" decode hid0
check "idsrctl: FILE:LINE and why" \
	"idsrctl: register names: $T/bad.tsv:2: part \`0xd0g': expected a hex part number from 0x000 to 0xfff, or * for any" "$OUT"
check_rc "idsrctl: a missing file" 2 "$B/idsrctl" --names "$T/nope.tsv" decode hid0
check "idsrctl: missing file message" "idsrctl: register names: $T/nope.tsv: No such file or directory" "$OUT"
check_rc "idsrctl: --names without a file" 2 "$B/idsrctl" --names
check "idsrctl: --names without a file message" "idsrctl: --names needs a file (try idsrctl --help)" "$OUT"
mkdir -p "$T/config/idsrd/registers.d"
printf 's3_0_c15_c0_0\tHID0 EL1\tapple\n' >"$T/config/idsrd/registers.d/space.tsv"
check_rc "idsrctl: a bad row in registers.d" 2 "$B/idsrctl" status
check "idsrctl: registers.d FILE:LINE" \
	"idsrctl: register names: $T/config/idsrd/registers.d/space.tsv:1: name \`HID0 EL1': a register name holds only letters, digits, \`_' and \`.'" "$OUT"
rm -r "$T/config/idsrd"

check_rc "idsrd: a bad row refuses to start" 1 "$B/idsrd" --socket "$T/v2.sock" --db "$T/new.db" --names "$T/bad.tsv"
check_match "idsrd: FILE:LINE and why" "register names: $T/bad.tsv:2: part \`0xd0g'" "$OUT"
check "idsrd: nothing created" "no" "$([ -e "$T/new.db" ] || [ -e "$T/v2.sock" ] && echo yes || echo no)"

check_rc "idsrctl --help names --names" 0 "$B/idsrctl" --help
check_match "idsrctl --help" "^Usage: idsrctl \[--names FILE\]\.\.\. <command> \[options\]" "$OUT"
check_rc "idsrd --help names --names" 0 "$B/idsrd" --help
check_match "idsrd --help" "  --names FILE  +more register names and MIDR rows" "$OUT"
done_testing
