# SPDX-License-Identifier: MIT
# idsrctl import: an m1n1 log, CSV and JSON lines become a finished boot with exact rows; bad input
# is refused with FILE:LINE:COLUMN and nothing written; a database a running idsrd writes is refused.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."
LOG=tests/import/apple_boot.m1n1.log
rows() { # DB BOOT: the contract columns, ts relative to the boot's start, values in hex
	sqlite3 "$1" "SELECT vcpu, seq, ts_ns - (SELECT start_ns FROM boots WHERE id = $2), key, printf('%x', pc), el, is_write,
		printf('%x', value), action, rule FROM accesses WHERE boot_id = $2 ORDER BY vcpu, seq"
}
same_rows() { # DB A B: rows of boot A not in B and of B not in A
	local c="vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule"
	sqlite3 "$1" "SELECT (SELECT count(*) FROM (SELECT $c FROM accesses WHERE boot_id = $2 EXCEPT SELECT $c FROM accesses WHERE boot_id = $3))
		+ (SELECT count(*) FROM (SELECT $c FROM accesses WHERE boot_id = $3 EXCEPT SELECT $c FROM accesses WHERE boot_id = $2)),
		(SELECT count(*) FROM accesses WHERE boot_id = $3)"
}

# ---- m1n1 ----
check_rc "import an m1n1 log" 0 "$B/idsrctl" import --format m1n1 --db "$T/imp.db" "$LOG"
check "it prints the boot id, and says what it read and skipped" "1
idsrctl: import: boot 1 in $T/imp.db: 26 accesses from 32 lines of $LOG; 5 other lines skipped; 1 access outside the IDSR space skipped (--all keeps them); no PCs recorded" "$OUT"
check "the rows: EL1, no PC, per-vCPU order, times from the 24 MHz counter, rule -4 (imported)" \
"0|0|0|51072|0|1|0|10000000000|emulate|-4
0|1|1000|51072|0|1|1|10000100000|emulate|-4
0|2|2000|51104|0|1|0|200000000000|emulate|-4
0|3|3000|51104|0|1|1|200000000800|emulate|-4
0|4|5000|51112|0|1|0|2000000000000000|emulate|-4
0|5|6000|51112|0|1|1|2000000000000000|emulate|-4
0|6|7000|51160|0|1|0|800000000000008|emulate|-4
0|7|8000|51160|0|1|1|800000000000000|emulate|-4
0|8|10000|61344|0|1|0|d|emulate|-4
0|9|11000|61352|0|1|1|d|emulate|-4
0|10|14000|59349|0|1|0|5a1f00|emulate|-4
0|11|16000|59349|0|1|0|5a1f18|emulate|-4
0|12|18000|59349|0|1|0|5a1f30|emulate|-4
1|0|12000|51072|0|1|0|10000000000|emulate|-4
1|1|13000|51072|0|1|1|10000100000|emulate|-4
1|2|15000|51104|0|1|0|200000000000|emulate|-4
1|3|17000|51104|0|1|1|200000000800|emulate|-4
1|4|19000|51112|0|1|0|2000000000000000|emulate|-4
1|5|20000|51112|0|1|1|2000000000000010|emulate|-4
1|6|21000|51160|0|1|0|800000000000008|emulate|-4
1|7|22000|51160|0|1|1|800000000000000|emulate|-4
1|8|23000|61344|0|1|0|d|emulate|-4
1|9|24000|61352|0|1|1|d|emulate|-4
1|10|25000|59349|0|1|0|5a1f48|emulate|-4
1|11|26000|59349|0|1|0|5a1f60|emulate|-4
1|12|27000|59349|0|1|0|5a1f78|emulate|-4" "$(rows "$T/imp.db" 1)"
check "the boot: imported, ended, no PCs, from the file, owned by the importer" \
	"1|imported|0|m1n1:$PWD/$LOG|m1n1|apple_boot.m1n1.log|apple|2|imported|26|0|0|27000|$(id -u)" \
	"$(sqlite3 "$T/imp.db" "SELECT id, mode, has_pcs, imported_from, vmm, vm_name, impl, vcpus, end_reason, accesses,
		undefs, rows_dropped, end_ns - start_ns, peer_uid FROM boots")"
check_rc "boots --json-lines" 0 "$B/idsrctl" boots "$T/imp.db" --json-lines
check_match "it has has_pcs and imported_from" '"mode": "imported", .*"has_pcs": 0, "imported_from": "m1n1:' "$OUT"
check_rc "boots" 0 "$B/idsrctl" boots "$T/imp.db"
check_match "the mode column holds imported" '^    1  .* m1n1 +  2  imported       26       0       0      0  imported$' "$OUT"
check_rc "show names an imported row's rule" 0 "$B/idsrctl" show "$T/imp.db:1" --limit 1
check "show's line" "    1    0       0  0x0000000000000000 read   HID0_EL1 (s3_0_c15_c0_0)            0x0000010000000000  emulate imported" \
	"$(echo "$OUT" | sed -n 2p)"
check_rc "--all keeps MDSCR_EL1; --timebase-hz halves the times; --vm-name; --json" 0 \
	"$B/idsrctl" import --format m1n1 --db "$T/imp.db" --all --timebase-hz 48000000 --vm-name j274 --json "$LOG"
check "--json outcome" "{\"boot_id\": 2, \"db\": \"$T/imp.db\", \"format\": \"m1n1\", \"file\": \"$LOG\", \"accesses\": 27, \"has_pcs\": false, \"lines\": 32, \"other_lines\": 5, \"outside_idsr\": 0, \"bad_lines\": 0}" "$OUT"
check "MDSCR_EL1 (s2_0_c0_c2_2) kept, at 500 ns a tick" "0|8|4500|32786|0|1|1|1000|emulate|-4" "$(rows "$T/imp.db" 2 | sed -n 9p)"
check "vm name" "j274" "$(sqlite3 "$T/imp.db" "SELECT vm_name FROM boots WHERE id = 2")"
printf '[cpu0] Shadow: msr DBGBCR3_EL1, x0 = 1e5\n[cpu0] Pass: msr DC CIVAC, x0 = 8000c000 (OK) (DC CIVAC)\n' > "$T/dbg.log"
check_rc "--all: debug registers and cache maintenance by their encodings" 0 \
	"$B/idsrctl" import --format m1n1 --all --db "$T/dbg.db" "$T/dbg.log"
check "DBGBCR3_EL1 is s2_0_c0_c3_5, DC CIVAC s1_3_c7_c14_1" "32797|1e5
23537|8000c000" "$(sqlite3 "$T/dbg.db" "SELECT key, printf('%x', value) FROM accesses ORDER BY seq")"

# ---- bad m1n1 input: the file, line and column; nothing written, not even the database ----
bad_m1n1() { # NAME LINE EXPECTED_MESSAGE
	printf '# [0x10][cpu0] Pass: mrs x1, HID0_EL1 = 5 (HID0_EL1)\n%s\n' "$2" > "$T/bad.log"
	check_rc "$1: refused" 2 "$B/idsrctl" import --format m1n1 --db "$T/none.db" "$T/bad.log"
	check "$1: message" "idsrctl: import: $T/bad.log:2:$3" "$OUT"
}
bad_m1n1 "a bad hex value" "# [0x20][cpu0] Pass: mrs x1, HID0_EL1 = 12g4 (HID0_EL1)" \
	"43: unexpected \`g4 (HID0_EL1)' after the access"
bad_m1n1 "an unknown register" "# [0x20][cpu1] Pass: msr HDI0_EL1, x1 = 1 (OK) (HDI0_EL1)" \
	"26: unknown register \`HDI0_EL1' in apple (near: HID0_EL1, EHID0_EL1, HID10_EL1, HID1_EL1)"
bad_m1n1 "a register x32" "[cpu0] Shadow: mrs x32, HID0_EL1 = 0" "21: expected a register x0 to x31 and \`, '"
bad_m1n1 "a vCPU out of range" "# [0x20][cpu4096] Skip: msr CYC_OVRD_EL1, x0 = 0" \
	"13: expected a vCPU number (0 to 4095) and \`] '"
bad_m1n1 "a 17-digit value" "Pass: mrs x1, HID0_EL1 = 10000000000000000 (HID0_EL1)" \
	"26: expected \` = ' and the value in hex (1 to 16 digits, no 0x)"
bad_m1n1 "a bad timestamp" "# [0xq][cpu0] Pass: mrs x1, HID0_EL1 = 5 (HID0_EL1)" \
	"6: expected the timestamp's hex digits and \`]'"
check "nothing was written: no database made" "no" "$([ -e "$T/none.db" ] && echo yes || echo no)"
printf 'x\n# [0x20][cpu0] Pass: mrs x1, HID0_EL1 = 12g4 (HID0_EL1)\n[cpu1] Pass: mrs x1, HID0_EL1 = 7 (HID0_EL1)\n[cpu1] Pass: mrs x1, NOPE = 7\n' > "$T/bad.log"
check_rc "--lenient skips and counts them" 0 "$B/idsrctl" import --format m1n1 --lenient --db "$T/imp.db" "$T/bad.log"
check "--lenient summary" "3
idsrctl: import: boot 3 in $T/imp.db: 1 access from 4 lines of $T/bad.log; 1 other line skipped; no PCs recorded
idsrctl: import: 2 lines that did not parse skipped (--lenient); the first: $T/bad.log:2:43: unexpected \`g4 (HID0_EL1)' after the access" "$OUT"
check "--lenient row" "1|0|0|51072|0|1|0|7|emulate|-4" "$(rows "$T/imp.db" 3)"
printf 'hello\n' > "$T/empty.log"
check_rc "a file without accesses" 2 "$B/idsrctl" import --format m1n1 --db "$T/imp.db" "$T/empty.log"
check "its message" "idsrctl: import: $T/empty.log: no accesses in its 1 lines (is it a m1n1 file?); nothing was imported" "$OUT"
check_rc "no such file" 2 "$B/idsrctl" import --format m1n1 --db "$T/imp.db" "$T/nope.log"
check "its message" "idsrctl: import: $T/nope.log: No such file or directory" "$OUT"
check_rc "an unknown format" 2 "$B/idsrctl" import --format pcap "$LOG"
check "its message" "idsrctl: import: --format: \`pcap' is not a format (m1n1, csv, jsonl)" "$OUT"
check_rc "no format" 2 "$B/idsrctl" import "$LOG"
check "its message" "idsrctl: import: which format? give --format m1n1, csv or jsonl" "$OUT"
check_rc "a bad --timebase-hz" 2 "$B/idsrctl" import --format m1n1 --timebase-hz ' -5' "$LOG"
check "its message" "idsrctl: import: --timebase-hz: \` -5' is not a frequency in Hz (e.g. 24000000)" "$OUT"
check "three boots, none from the failures" "3" "$(sqlite3 "$T/imp.db" "SELECT count(*) FROM boots")"

# ---- what show --json-lines prints, and a CSV of the contract columns, import back to identical rows ----
"$B/idsrctl" show "$T/imp.db:1" --json-lines > "$T/boot1.jsonl"
check_rc "import show --json-lines' output" 0 "$B/idsrctl" import --format jsonl --db "$T/imp.db" "$T/boot1.jsonl"
check "identical rows (0 differ of 26)" "0|26" "$(same_rows "$T/imp.db" 1 4)"
check "PCs all 0 are no PCs" "0|apple_boot.m1n1.log|jsonl" \
	"$(sqlite3 "$T/imp.db" "SELECT has_pcs, vm_name IS NOT NULL, substr(imported_from, 1, 5) FROM boots WHERE id = 4" | sed 's/|1|/|apple_boot.m1n1.log|/')"
sqlite3 -header -csv "$T/imp.db" "SELECT boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule FROM accesses WHERE boot_id = 2" > "$T/boot2.csv"
check_rc "import a CSV of the accesses table" 0 "$B/idsrctl" import --format csv --db "$T/imp.db" "$T/boot2.csv"
check "identical rows (0 differ of 27)" "0|27" "$(same_rows "$T/imp.db" 2 5)"
# another tool's CSV: reg names and encodings, dir words, hex, decimal with a leading 0 (not octal) and
# negative (two's complement) values, quotes, no seq
cat > "$T/other.csv" <<'CSV'
vcpu,reg,dir,value,pc,el,action,extra
0,HID0_EL1,read,0x10,0xffff800010001000,1,emulate,"a, quoted ""field"""
0,s3_0_c15_c0_0,write,-1,0xffff800010001004,1,emulate,
1,hid4,read,010,0xffff800010001000,0,undef,
0,51072,read,0x0,0xffff800010001008,1,emulate,x
CSV
check_rc "import another tool's CSV" 0 "$B/idsrctl" import --format csv --db "$T/imp.db" --impl apple "$T/other.csv"
check "its rows: seqs in file order per vCPU, times 1 ns apart, el and action kept" \
"0|0|0|51072|ffff800010001000|1|0|10|emulate|-4
0|1|1|51072|ffff800010001004|1|1|ffffffffffffffff|emulate|-4
0|2|3|51072|ffff800010001008|1|0|0|emulate|-4
1|0|2|51104|ffff800010001000|0|0|a|undef|-4" "$(rows "$T/imp.db" 6)"
check "it has PCs" "1|2|1" "$(sqlite3 "$T/imp.db" "SELECT has_pcs, vcpus, undefs FROM boots WHERE id = 6")"
"$B/idsrctl" export "$T/imp.db:6" --format csv -o "$T/export.csv"
"$B/idsrctl" export "$T/imp.db:6" --format jsonl -o "$T/export.jsonl"
check_rc "import what export --format csv wrote" 0 "$B/idsrctl" import --format csv --db "$T/imp.db" "$T/export.csv"
check "identical rows (0 differ of 4)" "0|4" "$(same_rows "$T/imp.db" 6 7)"
check_rc "import what export --format jsonl wrote" 0 "$B/idsrctl" import --format jsonl --db "$T/imp.db" "$T/export.jsonl"
check "identical rows (0 differ of 4)" "0|4" "$(same_rows "$T/imp.db" 6 8)"
check "both have PCs" "1|1" "$(sqlite3 "$T/imp.db" "SELECT group_concat(has_pcs, '|') FROM boots WHERE id IN (7, 8)")"
bad_csv() { # NAME CSV EXPECTED_MESSAGE
	printf '%s\n' "$2" > "$T/bad.csv"
	check_rc "csv: $1: refused" 2 "$B/idsrctl" import --format csv --db "$T/imp.db" "$T/bad.csv"
	check "csv: $1: message" "idsrctl: import: $T/bad.csv:$3" "$OUT"
}
bad_csv "no value column" "vcpu,key,dir
0,HID0_EL1,read" "2:1: no value"
bad_csv "a bad direction" "vcpu,key,dir,value
0,HID0_EL1,read,1
0,HID0_EL1,up,1" "3:12: dir \`up' is not read or write"
bad_csv "a bad is_write" "vcpu,key,is_write,value
0,HID0_EL1,2,1" "2:12: is_write \`2' is not 0 or 1 (or false or true)"
bad_csv "a value over 64 bits" "vcpu,key,is_write,value
0,HID0_EL1,0,0x10000000000000000" "2:14: value \`0x10000000000000000' is not a 64-bit number"
bad_csv "an unknown register" "vcpu,key,is_write,value
0,HID0_EL9,0,1" "2:3: unknown register \`HID0_EL9' (near: HID0_EL1, EHID0_EL1, HID10_EL1, HID1_EL1)"
bad_csv "a seq twice" "vcpu,seq,key,is_write,value
0,0,HID0_EL1,0,1
0,0,HID0_EL1,0,1" "3: vCPU 0 seq 0 again (line 2 has it)"
bad_csv "a seq missing" "vcpu,seq,key,is_write,value
1,0,HID0_EL1,0,1
1,2,HID0_EL1,0,1" "3: vCPU 1 seq 2 follows seq 0: a vCPU's seqs run 0, 1, 2, ... with none missing"
bad_csv "an EL of 4" "vcpu,key,is_write,value,el
0,HID0_EL1,0,1,4" "2:16: el \`4' is not 0, 1, 2 or 3"
bad_csv "too few fields" "vcpu,key,is_write,value
0,HID0_EL1,0" "2:1: 3 fields where the header names 4"
bad_csv "an open quote" "vcpu,key,is_write,value
0,\"HID0_EL1,0,1" "2:3: a quoted field is not closed"
bad_jsonl() { # NAME LINE EXPECTED_MESSAGE
	printf '%s\n' "$2" > "$T/bad.jsonl"
	check_rc "jsonl: $1: refused" 2 "$B/idsrctl" import --format jsonl --db "$T/imp.db" "$T/bad.jsonl"
	check "jsonl: $1: message" "idsrctl: import: $T/bad.jsonl:$3" "$OUT"
}
bad_jsonl "not an object" "1" "1:1: expected \`{': one JSON object a line"
bad_jsonl "a JSON array (show --json)" '[{"vcpu": 0}]' "1:1: a JSON array: give one object a line (idsrctl show --json-lines, not --json)"
bad_jsonl "a nested value" '{"vcpu": 0, "key": {"a": 1}}' "1:20: expected a string, number, true, false or null"
bad_jsonl "a missing comma" '{"vcpu": 0 "key": 1}' "1:12: expected \`,' or \`}' after a member"
bad_jsonl "a bad action" '{"vcpu": 0, "reg": "HID0", "dir": "read", "value": 1, "action": "maybe"}' \
	"1:65: action \`maybe' is not emulate or undef"
check "eight boots: none from the failures" "8" "$(sqlite3 "$T/imp.db" "SELECT count(*) FROM boots")"

# ---- imported boots in replay --against and diff ----
printf 'impl apple\n*  raz-wi\n' > "$T/raz.conf"
check_rc "replay --against an imported boot" 1 "$B/idsrctl" replay "$T/imp.db:1" --against "$T/raz.conf"
check "it says the boot has no PCs" "note: boot 1 of $T/imp.db has no PCs (imported): accesses were matched on vCPU order, register, direction and value only" \
	"$(echo "$OUT" | grep '^note')"
check_rc "diff --by-pc refuses a boot without PCs" 2 "$B/idsrctl" diff "$T/imp.db:1" "$T/imp.db:4" --by-pc
check "its message" "idsrctl: diff: boot 1 of $T/imp.db has no PCs (imported): --by-pc cannot match its accesses; leave it out to match on register and direction" "$OUT"
check_rc "diff of two imported boots" 0 "$B/idsrctl" diff "$T/imp.db:1" "$T/imp.db:4"
check_match "its header says so" "boot 1 .* no PCs \(imported\): matched on vCPU order, register, direction and value" "$OUT"
check_rc "diff --json (they differ)" 1 "$B/idsrctl" diff "$T/imp.db:1" "$T/imp.db:6" --stat --json
check "--json says which side has PCs" "false true" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(str(d["a"]["has_pcs"]).lower(), str(d["b"]["has_pcs"]).lower())')"

# ---- a database a running idsrd writes is refused (its boot ids are its own) ----
start_daemon --policy examples/policy.conf || not_ok "idsrd starts"
check_rc "import into the running idsrd's database" 2 "$B/idsrctl" import --format m1n1 --db "$T/trace.db" "$LOG"
check "its message names the daemon" "idsrctl: import: $T/trace.db is in use by idsrd pid $DAEMON_PID (VMM socket $T/vmm.sock, control socket $T/ctl.sock): one writer at a time; stop it, or choose another database (idsrd hands out its boot ids itself: import into another file with --db FILE, which idsrctl replay reads as well)" "$OUT"
check "nothing written to it" "0" "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM boots")"
stop_daemon
check_rc "once idsrd has stopped, the import goes in" 0 "$B/idsrctl" import --format m1n1 --db "$T/trace.db" "$LOG"
done_testing
