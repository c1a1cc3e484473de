#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrctl's live commands: --help, every error path (no daemon, bad arguments, bad files) with its
# message and exit code 2, the control socket's mode, and policy show/set/unset/load on a live daemon.
. "$(dirname "$0")/../lib.sh"
C="$B/idsrctl"

# ---- no daemon -------------------------------------------------------------
for cmd in "status" "tail -f" "policy show" "policy set '* undef'" "policy unset 1" "top --iterations 1"; do
	check_rc "no daemon: $cmd exits 2" 2 bash -c "$C $cmd"
	check_match "no daemon: $cmd says so" "^idsrctl: [a-z ]+: idsrd is not running \(nothing answers on $T/ctl.sock\): start idsrd" "$OUT"
done

# ---- --help on every command ---------------------------------------------
for cmd in tail stats top status "policy show" "policy load" "policy set" "policy unset" "policy reload" "policy check"; do
	check_rc "$cmd --help exits 0" 0 bash -c "$C $cmd --help"
	check_match "$cmd --help prints usage" "^Usage: idsrctl $cmd" "$OUT"
done

# ---- bad arguments: idsrctl: <what>: <why>, exit 2 ---------------------------
bad() {	# bad NAME REGEX ARGS...
	local name=$1 re=$2; shift 2
	check_rc "$name exits 2" 2 "$C" "$@"
	check_match "$name: message" "$re" "$OUT"
}
bad "tail --vcpu x" "^idsrctl: tail: --vcpu: \`x' is not a number" tail --vcpu x
# one number parser: a digit first (strtoull would skip the blank and wrap the minus), no overflow
bad "tail -n ' -5'" "^idsrctl: tail: -n: \` -5' is not a number \(decimal, or hexadecimal after 0x\)$" tail -n ' -5'
bad "tail --vcpu past 32 bits" "^idsrctl: tail: --vcpu: \`4294967296' is out of range \(at most 4294967295\)$" tail --vcpu 4294967296
bad "tail --boot 0" "^idsrctl: tail: --boot: \`0' is not a boot id \(1 or more\)$" tail --boot 0
bad "tail --pc 0x" "^idsrctl: tail: --pc: \`0x' is not a number" tail --pc 0x-0x10
bad "stats --limit past 64 bits" "^idsrctl: stats: --limit: \`99999999999999999999999' is out of range \(at most [0-9]+\)$" \
	stats --limit 99999999999999999999999
bad "stats --limit 1x" "^idsrctl: stats: --limit: \`1x' is not a number" stats --limit 1x
bad "top --iterations ' 1'" "^idsrctl: top: --iterations: \` 1' is not a number" top --iterations ' 1'
bad "policy unset +1" "^idsrctl: policy unset: \`\+1' is not a number" policy unset +1
bad "tail --read --write" "^idsrctl: tail: --read and --write exclude each other" tail --read --write
bad "tail --action" "^idsrctl: tail: --action: \`maybe' is not undef or emulate" tail --action maybe
bad "tail --pc backwards" "^idsrctl: tail: --pc: \`0x20-0x10': the low end is above the high end" tail --pc 0x20-0x10
bad "tail --reg unknown" "^idsrctl: tail: --reg \`NOSUCHREG': unknown register \`NOSUCHREG'" tail --reg NOSUCHREG
bad "tail --reg empty item" "^idsrctl: tail: --reg \`HID0,,HID1': expected comma-separated" tail --reg HID0,,HID1
bad "tail --boot and --vm" "^idsrctl: tail: --boot and --vm exclude each other" tail --boot 1 --vm x
bad "tail operand: a trace that is not there" "^idsrctl: tail: foo: No such file or directory" tail foo
bad "tail two operands" "^idsrctl: tail: unexpected argument \`bar' \(filters are options" tail foo bar
bad "tail missing database" "^idsrctl: tail: .*nope.db" tail --db "$T/nope.db"
bad "stats missing database" "^idsrctl: stats: .*nope.db" stats --db "$T/nope.db"
bad "stats --limit" "^idsrctl: stats: --limit: \`-1' is not a number \(decimal, or hexadecimal after 0x\)$" stats --limit -1
bad "top --interval" "^idsrctl: top: --interval: \`0' is not a number of seconds" top --interval 0
bad "policy unset 0" "^idsrctl: policy unset: \`0' is not a rule number" policy unset 0
bad "policy set without a rule" "^idsrctl: policy set: missing argument" policy set
bad "policy load unreadable" "^idsrctl: policy load: cannot read $T/none.conf: No such file" policy load "$T/none.conf"
bad "policy nonsense" "^idsrctl: policy: unknown subcommand \`frob'" policy frob

# ---- a live daemon ---------------------------------------------------------
cat > "$T/policy.conf" <<'P'
impl apple
HID0_EL1   storage init=0x10
HID1       read value 0x1111
*          undef
P
start_daemon --policy "$T/policy.conf" || exit 1
check "control socket is 0600" "600" "$(stat -c %a "$T/ctl.sock")"

check_rc "policy show" 0 "$C" policy show
check_match "policy show: hash and source" "^policy [0-9a-f]{16} from $T/policy.conf, live since " "$OUT"
check_match "policy show: rules with origins" "   2     3          0  HID1 read value 0x1111 +$T/policy.conf:3" "$OUT"
hash=$("$C" status --json | sed 's/.*"policy_hash": "\([0-9a-f]*\)".*/\1/')

printf 'impl apple\nHID0 raz-wi\nHID1 read valu 3\n' > "$T/bad.conf"
bad "policy load bad file" "^idsrctl: policy load: $T/bad.conf:3:11: expected an action" policy load "$T/bad.conf"
check "bad file: the old policy stays" "$hash" "$("$C" status --json | sed 's/.*"policy_hash": "\([0-9a-f]*\)".*/\1/')"
bad "policy set bad rule" "^idsrctl: policy set: rule \`HID4 red value 1': column 6: expected an action" policy set 'HID4 red value 1'
bad "policy set a second impl" "^idsrctl: policy set: rule \`impl apple': column 1: duplicate \`impl'" policy set 'impl apple'
bad "policy unset out of range" "^idsrctl: policy unset: there is no rule 4: the live policy has 3 rules" policy unset 4

check_rc "policy set" 0 "$C" policy set 'HID4 read value 0x44'
check "policy set: what changed" "+ line 4: HID4 read value 0x44" "$(echo "$OUT" | sed -n 2p)"
check_rc "policy show --text" 0 "$C" policy show --text
check "policy set: before the catch-all" "$(printf 'impl apple\nHID0_EL1   storage init=0x10\nHID1       read value 0x1111\nHID4 read value 0x44\n*          undef')" "$OUT"
check_rc "policy set a shadowed rule" 0 "$C" policy set 'HID1 read value 0x2222'
check "policy set: says which rule answers first" \
	"note: the new rule never answers: line 3 (\`HID1       read value 0x1111') comes first for every access it names; put it first (policy set --first), unset that rule, or edit the file and \`policy load' it" \
	"$(echo "$OUT" | sed -n 3p)"
check_rc "policy set a partly shadowed rule" 0 "$C" policy set 's3_0_c15_c0-c1_0 write ignore'
check_match "policy set: partly" "^note: line 2 \(\`HID0_EL1   storage init=0x10'\) and other earlier rules come first for 1 of the 2 registers" "$OUT"
check_rc "unset the partly shadowed one" 0 "$C" policy unset 5
check_rc "unset the shadowed one" 0 "$C" policy unset 4
check_rc "policy unset 2" 0 "$C" policy unset 2
check "policy unset: what changed" "- line 3: HID1       read value 0x1111" "$(echo "$OUT" | sed -n 2p)"
check_match "policy show --json: rules renumbered" '^\{"index": 2, "line": 3, "text": "HID4 read value 0x44", "origin": "set by uid '"$(id -u)"' \(pid [0-9]+\) at [0-9-]+ [0-9:]+", "hits": 0, "policy_hash": "[0-9a-f]{16}"\}$' \
	"$("$C" policy show --json-lines | sed -n 2p)"
check_rc "policy load the file again" 0 "$C" policy load "$T/policy.conf"
check_match "policy load: counts" "^policy [0-9a-f]{16} -> $hash: 1 rule added, 1 removed, 3 in force" "$OUT"
u=$(id -u)
# (the store commits within its linger time; longer under the sanitizers)
for i in $(seq 1 600); do	# 60 s at most
	changes=$(sqlite3 "$T/trace.db" "select group_concat(how || ':' || peer_uid, ' ') from (select * from policy_changes order by id)")
	[ "$changes" = "start:$u set:$u set:$u set:$u unset:$u unset:$u unset:$u load:$u" ] && break
	sleep 0.1
done
check "changes recorded with uid" "start:$u set:$u set:$u set:$u unset:$u unset:$u unset:$u load:$u" "$changes"
check_rc "policy reload" 0 "$C" policy reload
check_match "policy reload: unchanged" "^policy $hash unchanged \(3 rules\)" "$OUT"

check_rc "tail on an empty trace" 0 "$C" tail
check_match "tail: header only" "^time +boot vcpu +seq +pc +dir +register" "$OUT"
check_rc "stats on an empty trace" 2 "$C" stats
check_match "stats: no boot" "^idsrctl: stats: .*(no boot|boots)" "$OUT"
check_rc "top --iterations 1 --json" 0 "$C" top --iterations 1 --json
check "top --json with no boots prints nothing" "" "$OUT"
check_rc "status" 0 "$C" status
check_match "status: rows" "rows: +0 written, 0 dropped" "$OUT"

stop_daemon
done_testing
