# SPDX-License-Identifier: MIT
# Tests `idsrctl decode`: keys, encodings and names both ways, --impl, --json, errors.
. "$(dirname "$0")/../lib.sh"
D() { "$B/idsrctl" decode "$@"; }

check_rc "name decodes" 0 D HID0_EL1
check "name: header line" "s3_0_c15_c0_0  HID0_EL1" "$(echo "$OUT" | sed -n 1p)"
check "name: key in hex and decimal" "  key      0xc780 (51072)" "$(echo "$OUT" | sed -n 2p)"
check "name: fields" "  fields   AArch64 op0=3 op1=0 CRn=15 CRm=0 op2=0" "$(echo "$OUT" | sed -n 3p)"
check "name: idsr" "  idsr     yes (IMPLEMENTATION DEFINED, trapped by HCR_EL2.TIDCP)" "$(echo "$OUT" | sed -n 4p)"
check_match "name: apple row" '^  names    HID0_EL1 +apple +Hardware Implementation-Dependent Register 0$' "$OUT"
check "name: where it came from" "             from data/registers.tsv:3 (built in); source: m1n1 proxyclient/m1n1/apple_regs.json" \
	"$(echo "$OUT" | sed -n 6p)"

# the same register by suffix-less name, encoding (any case), hex and decimal key
for arg in hid0 s3_0_c15_c0_0 S3_0_C15_C0_0 0xc780 51072; do
	check "$arg is HID0_EL1" "s3_0_c15_c0_0  HID0_EL1" "$(D "$arg" | sed -n 1p)"
done

# one encoding, two implementations: both rows; --impl picks the name
OUT=$(D s3_1_c15_c2_0)
check "two impls: no best name without --impl" "s3_1_c15_c2_0" "$(echo "$OUT" | sed -n 1p)"
check_match "two impls: apple row" '^  names    PMCR2_EL1 +apple ' "$OUT"
check_match "two impls: cortex row" '^           CPUACTLR_EL1 +arm-cortex-a57 ' "$OUT"
check "two impls: cortex row's origin" \
	"             from data/registers.tsv:1072 (built in); source: TF-A 6a164dda7208 include/lib/cpus/aarch64/cortex_a57.h CORTEX_A57_CPUACTLR_EL1" \
	"$(echo "$OUT" | grep -A1 ' arm-cortex-a57 ' | sed -n 2p)"
check "--impl picks the cortex name" "s3_1_c15_c2_0  CPUACTLR_EL1" \
	"$(D --impl arm-cortex-a57 s3_1_c15_c2_0 | sed -n 1p)"
check "--impl=apple picks the apple name" "s3_1_c15_c2_0  PMCR2_EL1" "$(D --impl=apple s3_1_c15_c2_0 | sed -n 1p)"
check "--impl scopes name lookup" "s3_0_c15_c1_4  CPUECTLR_EL1" "$(D cpuectlr --impl arm-cortex-a76 | sed -n 1p)"

# AArch32, narrow and wide, and a key outside the IDSR space
OUT=$(D p15:0:c9:c0:0)
check "aarch32 key" "  key      0x800f0480 (2148467840)" "$(echo "$OUT" | sed -n 2p)"
check "aarch32 fields" "  fields   AArch32 MCR/MRC coproc=15 opc1=0 CRn=9 CRm=0 opc2=0" "$(echo "$OUT" | sed -n 3p)"
check "aarch32 no names" "  names    none known" "$(echo "$OUT" | sed -n 5p)"
OUT=$(D 0xc00f0878)
check "wide from key" "p15:1:c15  ECTLR" "$(echo "$OUT" | sed -n 1p)"
check "wide fields" "  fields   AArch32 MCRR/MRRC (64-bit) coproc=15 opc1=1 CRm=15" "$(echo "$OUT" | sed -n 3p)"
check "p15:0:c9:c3:0 is not IDSR" "  idsr     no (outside the IMPLEMENTATION DEFINED space)" \
	"$(D p15:0:c9:c3:0 | sed -n 4p)"
check "SCTLR_EL1 is not IDSR" "  idsr     no (outside the IMPLEMENTATION DEFINED space)" "$(D sctlr_el1 | sed -n 4p)"

# several arguments: blank-line separated blocks
check "several arguments" "s3_0_c15_c0_0  HID0_EL1|p15:4:c15" \
	"$(D hid0 p15:4:c15 | awk 'NR == 1 || prev == "" { printf "%s%s", sep, $0; sep = "|" } { prev = $0 }')"

# --json: one object per argument
check_rc "--json-lines" 0 D --json-lines --impl apple hid0 p15:4:c15
check "--json aarch64 object" '{"input": "hid0", "key": 51072, "hex": "0xc780", "encoding": "s3_0_c15_c0_0", "name": "HID0_EL1", "names": [{"name": "HID0_EL1", "implementation": "apple", "description": "Hardware Implementation-Dependent Register 0", "source": "m1n1 proxyclient/m1n1/apple_regs.json", "file": "data/registers.tsv", "line": 3, "built_in": true}], "aarch32": false, "wide": false, "op0": 3, "op1": 0, "crn": 15, "crm": 0, "op2": 0, "idsr": true}' \
	"$(echo "$OUT" | sed -n 1p)"
check "--json wide object" '{"input": "p15:4:c15", "key": 3222216824, "hex": "0xc00f2078", "encoding": "p15:4:c15", "name": null, "names": [], "aarch32": true, "wide": true, "coproc": 15, "opc1": 4, "crn": 0, "crm": 15, "opc2": 0, "idsr": true}' \
	"$(echo "$OUT" | sed -n 2p)"
check "--json-lines: one line per argument" 2 "$(echo "$OUT" | wc -l)"
check "--json, several arguments: one document, their array" "2 hid0 p15:4:c15" \
	"$(D --json --impl apple hid0 p15:4:c15 | python3 -c 'import json, sys; a = json.load(sys.stdin); print(len(a), *[o["input"] for o in a])')"
check "--json, one argument: its object" "hid0 51072" \
	"$(D --json hid0 | python3 -c 'import json, sys; o = json.load(sys.stdin); print(o["input"], o["key"])')"
check_match "--json two names" '"names": \[\{"name": "PMCR2_EL1", "implementation": "apple", [^]]*\}, \{"name": "CPUACTLR_EL1", "implementation": "arm-cortex-a53", ' \
	"$(D --json s3_1_c15_c2_0)"

# errors: exit 2, `idsrctl: decode: ...' on stderr, nothing on stdout
check_rc "unknown name" 2 D foo
check "unknown name message" "idsrctl: decode: \`foo': not a register name or encoding (no register of that name in any implementation; encodings look like s3_0_c15_c0_0 or p15:0:c9:c0:0)" "$OUT"
check_rc "bad encoding" 2 D s3_0_c16_c0_0
check "bad encoding message" "idsrctl: decode: \`s3_0_c16_c0_0': not a register name or encoding (CRn out of range (0-15))" "$OUT"
check_rc "bad key" 2 D 0x10000
check "bad key message" "idsrctl: decode: \`0x10000': not a register name or encoding (number has bits set that no encoding uses)" "$OUT"
check_rc "wide opc1 range" 2 D p15:16:c15
check "wide opc1 message" "idsrctl: decode: \`p15:16:c15': not a register name or encoding (opc1 out of range (0-7; 0-15 for MCRR/MRRC))" "$OUT"
check_rc "ambiguous name" 2 D CPUACTLR_EL1
check "ambiguous name message" "idsrctl: decode: \`CPUACTLR_EL1': names several encodings: s3_0_c15_c1_0 on arm-cortex-a55 and 6 more, s3_1_c15_c2_0 on arm-cortex-a53 and 2 more; give --impl or an encoding" "$OUT"
check_rc "name not in --impl" 2 D --impl arm-cortex-a76 hid0
check_match "name not in --impl message" "^idsrctl: decode: \`hid0': not a register name or encoding \(no register of that name in arm-cortex-a76 or arm-architectural;" "$OUT"
check_rc "unknown --impl" 2 D --impl nope hid0
check "unknown --impl message" "idsrctl: decode: --impl \`nope': no such implementation in the register table (known: apple, arm-architectural, arm-cortex-a53, arm-cortex-a55, arm-cortex-a57, arm-cortex-a72, arm-cortex-a76, arm-cortex-a78, arm-cortex-x1, arm-neoverse-n1, arm-neoverse-n2, arm-neoverse-v1)" "$OUT"
check_rc "no arguments" 2 D
check "no arguments message" "idsrctl: decode: expected a key, encoding or register name (try idsrctl decode --help)" "$OUT"
check_rc "--impl without value" 2 D --impl
check_rc "unknown option" 2 D --frobnicate hid0
check "unknown option message" "idsrctl: decode: \`--frobnicate': unknown option (try idsrctl decode --help)" "$OUT"
check "good arguments still print when one is bad" "s3_0_c15_c0_0  HID0_EL1" "$(D hid0 foo 2>/dev/null | sed -n 1p)"
D hid0 foo >/dev/null 2>&1
check "one bad argument fails the command" 2 "$?"

check_rc "--help" 0 D --help
check "--help usage line" "Usage: idsrctl decode KEY|ENCODING|NAME... [--impl IMPL] [--json|--json-lines]" "$(echo "$OUT" | sed -n 1p)"

done_testing
