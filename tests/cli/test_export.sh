# SPDX-License-Identifier: MIT
# idsrctl export: the exact CSV, JSON-lines and Perfetto (Chrome JSON trace) output of a
# hand-made boot with two vCPUs, a value above 2^53 and an UNDEF; -o and every error path.
. "$(dirname "$0")/../lib.sh"
CTL=$B/idsrctl
cd "$T" || exit 1
sqlite3 trace.db < "$OLDPWD/schema.sql"
sqlite3 trace.db "
INSERT INTO registers VALUES (51072, 'HID0_EL1', 'apple', '');
INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, kernel, impl, vcpus, mode, end_reason, accesses, undefs)
  VALUES (1, 1700000000000000000, 1700000001500000000, 'idsr-vmm', 'mac', 'v6.9', 'apple', 2, 'live', 'bye', 4, 1);
INSERT INTO accesses VALUES (1, 0, 0, 1700000000000001000, 51072, 1073741840, 1, 0, 16, 'emulate', 2);
INSERT INTO accesses VALUES (1, 0, 1, 1700000000000002500, 51072, 1073741844, 1, 1, -1, 'emulate', 2);
INSERT INTO accesses VALUES (1, 0, 2, 1700000000000003000, 51072, 1073741844, 1, 1, -1, 'emulate', 2);
INSERT INTO accesses VALUES (1, 1, 0, 1700000000000000007, 2148468744, 1073741848, 0, 0, 0, 'undef', -1);
"

uid=$(sqlite3 trace.db "SELECT boot_uid FROM boots WHERE id = 1")
check_rc "csv" 0 "$CTL" export trace.db --format csv
check "csv: header and rows exactly (host not recorded: empty)" "boot_id,vcpu,seq,ts_ns,key,pc,el,is_write,value,action,rule,name,encoding,boot_uid,host
1,0,0,1700000000000001000,0x0000c780,0x0000000040000010,1,0,0x0000000000000010,emulate,2,HID0_EL1,s3_0_c15_c0_0,$uid,
1,0,1,1700000000000002500,0x0000c780,0x0000000040000014,1,1,0xffffffffffffffff,emulate,2,HID0_EL1,s3_0_c15_c0_0,$uid,
1,0,2,1700000000000003000,0x0000c780,0x0000000040000014,1,1,0xffffffffffffffff,emulate,2,HID0_EL1,s3_0_c15_c0_0,$uid,
1,1,0,1700000000000000007,0x800f0808,0x0000000040000018,0,0,0x0000000000000000,undef,-1,,p15:1:c0:c1:0,$uid," "$OUT"
sqlite3 trace.db "UPDATE boots SET host = 'build,7'"
check "csv: a host with a comma is quoted" "$uid,\"build,7\"" "$("$CTL" export trace.db --format csv | sed -n 2p | cut -d, -f14-)"

check_rc "jsonl" 0 "$CTL" export trace.db:1 --format jsonl
check "jsonl: what show --json-lines prints, line for line, with boot_uid and host" \
	"$("$CTL" show trace.db:1 --json-lines | sed 's/}$/, "boot_uid": "'"$uid"'", "host": "build,7"}/')" "$OUT"
check "jsonl: 4 lines, each one object" "4" "$(printf '%s\n' "$OUT" | jq -c 'select(type == "object")' | wc -l)"

check_rc "perfetto" 0 "$CTL" export trace.db --format perfetto -o trace.json
check "-o writes only the file" "" "$OUT"
check_rc "perfetto: one JSON document" 0 jq -e '.traceEvents | length == 10' trace.json
check "perfetto: metadata" '{"boot_id":1,"start_ns":"1700000000000000000","vm_name":"mac","kernel":"v6.9","impl":"apple","boot_uid":"'"$uid"'","host":"build,7"}' \
	"$(jq -c '.otherData | del(.trace, .note)' trace.json)"
check "perfetto: a process for the boot, a thread per vCPU" \
'{"ph":"M","pid":1,"name":"process_name","args":{"name":"boot 1 mac (v6.9)"}}
{"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"vCPU 0"}}
{"ph":"M","pid":1,"tid":1,"name":"thread_name","args":{"name":"vCPU 1"}}' \
	"$(jq -c '.traceEvents[] | select(.ph == "M")' trace.json)"
# instant events: µs from the boot's start, exact to the ns; 64-bit values as hex strings
check "perfetto: one instant event per access, fields as args" \
'{"ph":"i","s":"t","pid":1,"tid":0,"ts":1,"name":"HID0_EL1","cat":"read","args":{"seq":0,"pc":"0x0000000040000010","key":"0x0000c780","encoding":"s3_0_c15_c0_0","direction":"read","value":"0x0000000000000010","el":1,"action":"emulate","rule":2}}
{"ph":"i","s":"t","pid":1,"tid":0,"ts":2.5,"name":"HID0_EL1","cat":"write","args":{"seq":1,"pc":"0x0000000040000014","key":"0x0000c780","encoding":"s3_0_c15_c0_0","direction":"write","value":"0xffffffffffffffff","el":1,"action":"emulate","rule":2}}
{"ph":"i","s":"t","pid":1,"tid":0,"ts":3,"name":"HID0_EL1","cat":"write","args":{"seq":2,"pc":"0x0000000040000014","key":"0x0000c780","encoding":"s3_0_c15_c0_0","direction":"write","value":"0xffffffffffffffff","el":1,"action":"emulate","rule":2}}
{"ph":"i","s":"t","pid":1,"tid":1,"ts":0.007,"name":"p15:1:c0:c1:0","cat":"undef","args":{"seq":0,"pc":"0x0000000040000018","key":"0x800f0808","encoding":"p15:1:c0:c1:0","direction":"read","value":"0x0000000000000000","el":0,"action":"undef","rule":-1}}' \
	"$(jq -c '.traceEvents[] | select(.ph == "i")' trace.json)"
# counters: only when the value changes (the repeated write makes none)
check "perfetto: counters per register and vCPU" \
'{"ph":"C","pid":1,"ts":1,"name":"HID0_EL1 vCPU 0","args":{"value":16}}
{"ph":"C","pid":1,"ts":2.5,"name":"HID0_EL1 vCPU 0","args":{"value":18446744073709552000}}
{"ph":"C","pid":1,"ts":0.007,"name":"p15:1:c0:c1:0 vCPU 1","args":{"value":0}}' \
	"$(jq -c '.traceEvents[] | select(.ph == "C")' trace.json)"
check "perfetto: the counter's text holds the exact 64-bit value" 1 \
	"$(grep -c '"args": {"value": 18446744073709551615}' trace.json)"

# errors: exit 2, a message, and no file left behind
check_rc "no format" 2 "$CTL" export trace.db
check "no format message" "idsrctl: export: which format? --format perfetto, csv or jsonl" "$OUT"
check_rc "bad format" 2 "$CTL" export trace.db --format xml
check "bad format message" "idsrctl: export: --format \`xml': expected perfetto, csv or jsonl" "$OUT"
check_rc "unwritable -o" 2 "$CTL" export trace.db --format csv -o "$T/no/such/dir/out.csv"
check "unwritable -o message" \
	"idsrctl: export: -o $T/no/such/dir/out.csv: cannot create it: No such file or directory" "$OUT"
check_rc "unknown boot" 2 "$CTL" export trace.db:9 --format csv -o out.csv
check "unknown boot message" "idsrctl: export: trace.db: no boot 9 in this trace (idsrctl boots lists them)" "$OUT"
check "no file after a failure" "trace.db trace.json" "$(ls | tr '\n' ' ' | sed 's/ $//')"
check_rc "two boot references" 2 "$CTL" export trace.db:1 trace.db:1 --format csv
check_rc "--help" 0 "$CTL" export --help
check_match "--help text" '^Usage: idsrctl export \[TRACE\] \[--db FILE\] --format perfetto\|csv\|jsonl \[--symbols FILE\] \[-o FILE\]' "$OUT"

done_testing
