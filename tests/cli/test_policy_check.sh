# SPDX-License-Identifier: MIT
# Tests `idsrctl policy check`: OK lines, hashes, --json, positioned errors, exit codes, the example policy.
. "$(dirname "$0")/../lib.sh"
P() { "$B/idsrctl" policy "$@"; }
EXAMPLE=$(cd "$(dirname "$0")/../.." && pwd)/examples/policy.conf

# the shipped example is accepted
check_rc "example policy is accepted" 0 P check "$EXAMPLE"
check_match "example: OK line" "^$EXAMPLE: OK, [0-9]+ rules, hash [0-9a-f]{16}\$" "$OUT"

# OK line, rule count and the FNV-1a hash of the text
printf '* undef\n' >"$T/one.conf"
check_rc "one rule" 0 P check "$T/one.conf"
check "one rule: exact line" "$T/one.conf: OK, 1 rule, hash da185d528a97f77f" "$OUT"
: >"$T/empty.conf"
check_rc "empty file is a policy (everything UNDEF)" 0 P check "$T/empty.conf"
check "empty: exact line" "$T/empty.conf: OK, 0 rules, hash cbf29ce484222325" "$OUT"
printf 'impl apple\n# comment\nHID0 storage init=1 wmask=0xff\nHID4 read value 0x44\n* undef\n' >"$T/three.conf"
check_rc "three rules" 0 P check "$T/three.conf"
check_match "three rules: counted" "^$T/three.conf: OK, 3 rules, hash [0-9a-f]{16}\$" "$OUT"

# --json: one object per rule
check_rc "--json-lines" 0 P check --json-lines "$T/three.conf"
check "--json-lines: one line per rule" 3 "$(echo "$OUT" | wc -l)"
check "--json: storage rule" \
	'{"line": 3, "text": "HID0 storage init=1 wmask=0xff", "selector": "HID0", "direction": "any", "el": null, "vcpu": null, "pc_lo": null, "pc_hi": null, "action": "storage", "init": 1, "wmask": 255, "scope": "vcpu"}' \
	"$(echo "$OUT" | sed -n 1p)"
check "--json: value rule" \
	'{"line": 4, "text": "HID4 read value 0x44", "selector": "HID4", "direction": "read", "el": null, "vcpu": null, "pc_lo": null, "pc_hi": null, "action": "value", "value": 68}' \
	"$(echo "$OUT" | sed -n 2p)"

# errors: file:line:column, what was expected, what was found; exit 2
printf 'impl apple\n\n# a typo\nHID4       read valu 0x44\n' >"$T/bad.conf"
check_rc "bad action exits 2" 2 P check "$T/bad.conf"
check "bad action: message" \
	"idsrctl: policy check: $T/bad.conf:4:17: expected an action (undef, raz-wi, value, ignore, storage, counter, random), got \`valu'" \
	"$OUT"
printf 'HID0 read ignore\n' >"$T/ignore.conf"
check_rc "ignore on a read rule exits 2" 2 P check "$T/ignore.conf"
check "ignore on a read rule: message" \
	"idsrctl: policy check: $T/ignore.conf:1:11: \`ignore' is for write rules only: add \`write' before it, or answer reads with raz-wi or value V" \
	"$OUT"
printf 'impl nosuch\n' >"$T/impl.conf"
check_rc "unknown impl exits 2" 2 P check "$T/impl.conf"
check_match "unknown impl: message" "^idsrctl: policy check: $T/impl.conf:1:6: unknown implementation \`nosuch': expected one of .*apple" "$OUT"
printf 'HID0 value 0x10000000000000000\n' >"$T/big.conf"
check_rc "overflow exits 2" 2 P check "$T/big.conf"
check "overflow: message" \
	"idsrctl: policy check: $T/big.conf:1:12: number \`0x10000000000000000' does not fit in 64 bits" "$OUT"
check_rc "missing file exits 2" 2 P check "$T/nope.conf"
check "missing file: message" \
	"idsrctl: policy check: $T/nope.conf: cannot read the policy: No such file or directory" "$OUT"
check_rc "a directory exits 2" 2 P check "$T"
check "a directory: message" "idsrctl: policy check: $T: cannot read the policy: Is a directory" "$OUT"
check "--json prints nothing on stdout for a bad file" "" "$(P check --json "$T/bad.conf" 2>/dev/null)"

# usage
check_rc "no file exits 2" 2 P check
check "no file: message" "idsrctl: policy check: expected a policy FILE (try idsrctl policy check --help)" "$OUT"
check_rc "two files exit 2" 2 P check "$T/one.conf" "$T/three.conf"
check_rc "unknown option exits 2" 2 P check --jsn "$T/one.conf"
check "unknown option: message" "idsrctl: policy check: unknown option \`--jsn' (try idsrctl policy check --help)" "$OUT"
check_rc "check --help exits 0" 0 P check --help
check_match "check --help: usage" "^Usage: idsrctl policy check FILE \[--json\|--json-lines\]" "$OUT"
check_rc "policy --help exits 0" 0 P --help
check_match "policy --help lists check" "^  check +Parses a policy file offline" "$OUT"
check_rc "no subcommand exits 2" 2 P
check_rc "unknown subcommand exits 2" 2 P frobnicate
check "unknown subcommand: message" \
	"idsrctl: policy: unknown subcommand \`frobnicate' (try idsrctl policy --help)" "$OUT"

done_testing
