#!/bin/bash
# SPDX-License-Identifier: MIT
# --json is one JSON document, as jq, python3 -m json.tool and scripts expect: every listing
# prints one array (empty: []); --json-lines the old form, one object per line; the streams
# (tail -f, top) print JSON lines with either. Each document is parsed by python3's json.
. "$(dirname "$0")/../lib.sh"
command -v python3 >/dev/null || { echo "1..0 # SKIP needs python3"; exit 0; }
unset IDSRD_DB
C="$B/idsrctl"
# doc CMD...: "array N" (or "object KEYS" / "invalid: why") for the one document CMD prints
doc() {
	"$@" 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError as e:
    print("invalid:", e); sys.exit(0)
print("array %d" % len(d) if isinstance(d, list) else "object " + " ".join(sorted(d)[:3]))'
}
# lines CMD...: "N objects" when every line CMD prints is one JSON object
lines() {
	"$@" 2>/dev/null | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    if not isinstance(json.loads(line), dict):
        print("not an object:", line); sys.exit(0)
    n += 1
print(n, "objects")'
}

start_daemon --policy examples/policy.conf || exit 1
check "boots --json, no boots yet: []" "array 0" "$(doc "$C" boots --json)"
check "... and the text is []" "[]" "$("$C" boots --json)"
"$B/idsr-vmm" --vcpus 2 --vm a "$B/guests/apple_boot.bin" >/dev/null 2>&1
"$B/idsr-vmm" --vm b "$B/guests/apple_boot.bin" >/dev/null 2>&1
boot_ended 1 && boot_ended 2

check "boots --json: one array of 2" "array 2" "$(doc "$C" boots --json)"
check "boots --json-lines: 2 objects" "2 objects" "$(lines "$C" boots --json-lines)"
check "boots --json: each boot its own boot_uid (a UUID's text) and this host's name" "2 2 $(hostname)" \
	"$("$C" boots --json | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
u = [b["boot_uid"] for b in d]
print(len(set(u)), sum(bool(re.fullmatch("[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", x)) for x in u),
      " ".join(sorted(set(b["host"] for b in d))))')"
check "show 1 --json: one array of 30" "array 30" "$(doc "$C" show 1 --json)"
check "show 1 --json-lines: 30 objects" "30 objects" "$(lines "$C" show 1 --json-lines)"
nregs=$(sqlite3 "$T/trace.db" 'select count(distinct key) from accesses where boot_id = 1')
check "stats 1 --json: one array, a register each" "array $nregs" "$(doc "$C" stats 1 --json)"
check "stats 1 --json-lines" "$nregs objects" "$(lines "$C" stats 1 --json-lines)"
check "tail -n 5 --json: one array of 5" "array 5" "$(doc "$C" tail -n 5 --json)"
check "tail -n 5 --json-lines" "5 objects" "$(lines "$C" tail -n 5 --json-lines)"
nrules=$("$C" policy check examples/policy.conf | sed 's/.*OK, \([0-9]*\) rules.*/\1/')
check "policy check --json: one array, a rule each" "array $nrules" "$(doc "$C" policy check --json examples/policy.conf)"
check "policy check --json-lines" "$nrules objects" "$(lines "$C" policy check --json-lines examples/policy.conf)"
check "policy show --json: one array, a rule each" "array $nrules" "$(doc "$C" policy show --json)"
check "policy show --json-lines" "$nrules objects" "$(lines "$C" policy show --json-lines)"
check "decode --json, several: one array" "array 3" "$(doc "$C" decode --json HID0 HID1 p15:0:c9:c0:0)"
check "decode --json, one: its object" "object aarch32 crm crn" "$(doc "$C" decode --json HID0)"
check "decode --json-lines" "3 objects" "$(lines "$C" decode --json-lines HID0 HID1 p15:0:c9:c0:0)"
printf '* raz-wi\n' >"$T/raz.conf"
ndiff=$("$C" replay 1 --against "$T/raz.conf" | tail -1 | sed 's/^differs: \([0-9]*\) of.*/\1/')
check "replay --against --json: one array, a difference each" "array $ndiff" \
	"$(doc "$C" replay 1 --against "$T/raz.conf" --json)"
check "replay --against --json-lines" "$ndiff objects" "$(lines "$C" replay 1 --against "$T/raz.conf" --json-lines)"
check "status --json: one object" "object boots boots_total connections" "$(doc "$C" status --json)"
check "diff --json: one object" "object a align b" "$(doc "$C" diff 1 2 --json)"

# The streams: JSON lines with --json too (a stream never ends, so it is no array).
"$C" tail -f -n 3 --json >"$T/tail.out" 2>&1 &
tail_pid=$!
for _ in $(seq 1 200); do [ "$(wc -l <"$T/tail.out")" -ge 3 ] && break; sleep 0.025; done
kill "$tail_pid"; wait "$tail_pid" 2>/dev/null
check "tail -f --json: JSON lines" "3 objects" "$(lines cat "$T/tail.out")"
nregs2=$(sqlite3 "$T/trace.db" 'select count(distinct key) from accesses where boot_id = 2')
check "top --iterations 1 --json: JSON lines, the last boot's registers" "$nregs2 objects" \
	"$(lines "$C" top --iterations 1 --json)"
check_rc "a listing that fails: exit 2" 2 "$C" show 9 --json
check "... and prints nothing on stdout" "" "$("$C" show 9 --json 2>/dev/null)"
done_testing
