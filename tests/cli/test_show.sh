# SPDX-License-Identifier: MIT
# idsrctl boots/show/status: exact output on a hand-made trace, and every error path.
. "$(dirname "$0")/../lib.sh"

db=$T/trace.db
sqlite3 "$db" < schema.sql
sqlite3 "$db" "
INSERT INTO registers VALUES (51072, 'HID0_EL1', 'apple', '');
INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, impl, vcpus, mode, end_reason, accesses, undefs)
  VALUES (1, 1700000000000000000, 1700000001500000000, 'idsr-vmm', 'mac', 'apple', 2, 'live', 'bye', 3, 1);
INSERT INTO accesses VALUES (1, 0, 0, 1700000000000000001, 51072, 1073741840, 1, 0, 16, 'emulate', 2);
INSERT INTO accesses VALUES (1, 0, 1, 1700000000000000002, 51072, 1073741844, 1, 1, -1, 'emulate', 2);
INSERT INTO accesses VALUES (1, 1, 0, 1700000000000000003, 2148468744, 1073741848, 0, 0, 0, 'undef', -1);
"

check_rc "show exits 0" 0 "$B/idsrctl" show "$db"
check "show prints named hex rows" \
"$(printf '%s\n' \
' boot vcpu     seq  pc                 dir    register                            value               action  rule' \
'    1    0       0  0x0000000040000010 read   HID0_EL1 (s3_0_c15_c0_0)            0x0000000000000010  emulate line 2' \
'    1    0       1  0x0000000040000014 write  HID0_EL1 (s3_0_c15_c0_0)            0xffffffffffffffff  emulate line 2' \
'    1    1       0  0x0000000040000018 read   p15:1:c0:c1:0                       0x0000000000000000  UNDEF   el0-rule')" "$OUT"

check_rc "show --vcpu 1 --json-lines" 0 "$B/idsrctl" show "$db:1" --vcpu 1 --json-lines
check "json row has the contract keys" \
'{"boot_id": 1, "vcpu": 1, "seq": 0, "ts_ns": 1700000000000000003, "key": 2148468744, "pc": 1073741848, "el": 0, "is_write": 0, "value": 0, "action": "undef", "rule": -1, "name": null, "encoding": "p15:1:c0:c1:0", "pc_hex": "0x0000000040000018", "value_hex": "0x0000000000000000"}' "$OUT"

check_rc "show --limit 1" 0 "$B/idsrctl" show "$db" --limit 1 --json-lines
check "limit 1 prints one row" 1 "$(printf '%s\n' "$OUT" | wc -l)"

check_rc "boots --json-lines" 0 "$B/idsrctl" boots "$db" --json-lines
check_match "boots json" '^\{"boot_id": 1, "start_ns": 1700000000000000000, "end_ns": 1700000001500000000, "vm_name": "mac", "vmm": "idsr-vmm", "vcpus": 2, "mode": "live",' "$OUT"
check_rc "boots human" 0 "$B/idsrctl" boots "$db"
check_match "boots human line" '^    1  [0-9-]+ [0-9:]+     1\.500s  mac +idsr-vmm +2  live +3 +1 +0 +0  bye$' "$(printf '%s\n' "$OUT" | tail -1)"

check_rc "accesses_v view reads well" 0 sqlite3 "$db" "select name, pc, direction, value from accesses_v where vcpu = 0 order by seq"
check "accesses_v rows" "HID0_EL1|0x0000000040000010|read|0x0000000000000010
HID0_EL1|0x0000000040000014|write|0xffffffffffffffff" "$OUT"

# errors: exit 2 and `idsrctl: <what>: <why>'
check_rc "show missing file" 2 "$B/idsrctl" show "$T/nope.db"
check "missing file message" "idsrctl: show: $T/nope.db: No such file or directory" "$OUT"
check_rc "show unknown boot" 2 "$B/idsrctl" show "$db:7"
check "unknown boot message" "idsrctl: show: $db: no boot 7 in this trace (idsrctl boots lists them)" "$OUT"
echo "not a database at all, just text" > "$T/text.db"
check_rc "show not a trace" 2 "$B/idsrctl" show "$T/text.db"
check_match "not a trace message" "^idsrctl: show: $T/text.db is not an idsrd trace database" "$OUT"
sqlite3 "$T/newer.db" < schema.sql; sqlite3 "$T/newer.db" "PRAGMA user_version = 9"
check_rc "show newer schema" 2 "$B/idsrctl" show "$T/newer.db"
check "newer schema message" "idsrctl: show: $T/newer.db has schema version 9, newer than this build reads (5): use a newer idsrctl" "$OUT"
sqlite3 "$T/other.db" "create table t(x)"
check_rc "boots on a foreign sqlite file" 2 "$B/idsrctl" boots "$T/other.db"
check "foreign message" "idsrctl: boots: $T/other.db is not an idsrd trace database (no idsrd schema in it)" "$OUT"
check_rc "show bad option" 2 "$B/idsrctl" show "$db" --vcpu x
check "bad vcpu message" "idsrctl: show: --vcpu: \`x' is not a number (decimal, or hexadecimal after 0x)" "$OUT"
check_rc "unknown command" 2 "$B/idsrctl" frobnicate
check "unknown command message" "idsrctl: \`frobnicate': no such command (try idsrctl --help)" "$OUT"
check_rc "status without daemon" 2 "$B/idsrctl" status --control "$T/none.sock"
check "status no daemon message" "idsrctl: status: idsrd is not running (nothing answers on $T/none.sock): start idsrd, or point at it with --control or \$IDSRD_CONTROL" "$OUT"
for c in boots show status decode policy; do
	check_rc "$c --help exits 0" 0 "$B/idsrctl" $c --help
	check_match "$c --help shows usage" "^Usage: idsrctl $c" "$OUT"
done

# status against a live daemon
start_daemon
check_rc "status live" 0 "$B/idsrctl" status --json
check_match "status json" '"rows_dropped": 0, "policy_hash": "[0-9a-f]{16}"' "$OUT"
check_match "status names the db" "\"db\": \"$T/trace.db\"" "$OUT"
check_rc "status human" 0 "$B/idsrctl" status
check_match "status human rows" 'rows: +0 written, 0 dropped' "$OUT"
stop_daemon
check "daemon stop exit code" 0 "$?"

done_testing
