# SPDX-License-Identifier: MIT
# idsrctl diff on trace databases built directly with sqlite3 and schema.sql:
# exact hunks and summaries, alignments, vCPU mismatches, empty boots, errors.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CTL=$B/idsrctl
cd "$T" || exit 1

# mkboot DB BOOT_ID KERNEL VCPUS SLIDE < lines "vcpu seq key pc is_write value [action]"
mkboot() {
	local db=$1 id=$2 kernel=$3 vcpus=$4 slide=$5 v s k pc w val act
	{
		[ -f "$db" ] || cat "$ROOT/schema.sql"
		echo "BEGIN;"
		echo "INSERT INTO boots (id, start_ns, kernel, impl, vcpus, slide)" \
		     "VALUES ($id, 1, '$kernel', 'apple', $vcpus, $slide);"
		while read -r v s k pc w val act; do
			[ -n "$v" ] || continue
			echo "INSERT INTO accesses (boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value, action)" \
			     "VALUES ($id, $v, $s, 0, $k, $pc, 1, $w, $val, '${act:-emulate}');"
		done
		echo "COMMIT;"
	} | sqlite3 "$db"
}
# a JSON field of stdin, by SQLite's json_extract (readfile needs a real file)
jq_() { cat >"$T/jq.json"; sqlite3 :memory: "SELECT json_extract(readfile('$T/jq.json'), '$1')"; }
# an SQL expression over the JSON document on stdin, as j
jsql() { cat >"$T/jsql.json"; sqlite3 :memory: "SELECT $1 FROM (SELECT readfile('$T/jsql.json') AS j)"; }

HID0=51072 HID1=51080 HID2=51088 HID4=51104

# A: ten accesses on vCPU 0. B ("the next kernel"): HID1 write at seq 2 gone,
# the HID0 write at seq 4 writes 4 instead of 3, a HID2 write added after seq 5,
# and everything from seq 6 on runs 4 bytes later.
mkboot a.db 1 v1 1 0 <<EOF
0 0 $HID0 0x80000 0 0
0 1 $HID0 0x80004 1 1
0 2 $HID1 0x80008 1 5
0 3 $HID4 0x8000c 0 0
0 4 $HID0 0x80010 1 3
0 5 $HID1 0x80014 0 7
0 6 $HID0 0x80018 0 9
0 7 $HID0 0x8001c 0 9
0 8 $HID0 0x80020 0 9
0 9 $HID0 0x80024 0 9
EOF
mkboot b.db 1 v2 1 0 <<EOF
0 0 $HID0 0x80000 0 0
0 1 $HID0 0x80004 1 1
0 2 $HID4 0x8000c 0 0
0 3 $HID0 0x80010 1 4
0 4 $HID1 0x80014 0 7
0 5 $HID2 0x80018 1 2
0 6 $HID0 0x8001c 0 9
0 7 $HID0 0x80020 0 9
0 8 $HID0 0x80024 0 9
0 9 $HID0 0x80028 0 9
EOF

check_rc "different boots exit 1" 1 "$CTL" diff a.db b.db --color=never
check "unified hunks and summary" "--- a.db boot 1  kernel v1  impl apple  vcpus 1  slide 0x0
+++ b.db boot 1  kernel v2  impl apple  vcpus 1  slide 0x0
@@ vcpu 0 -0,9 +0,9 @@
       0  0x0000000000080000  HID0_EL1 (s3_0_c15_c0_0)            read   0x0000000000000000
       1  0x0000000000080004  HID0_EL1 (s3_0_c15_c0_0)            write  0x0000000000000001
-      2  0x0000000000080008  HID1_EL1 (s3_0_c15_c1_0)            write  0x0000000000000005
       3  0x000000000008000c  HID4_EL1 (s3_0_c15_c4_0)            read   0x0000000000000000
~      4  0x0000000000080010  HID0_EL1 (s3_0_c15_c0_0)            write  0x0000000000000003 -> 0x0000000000000004  (B: 3  0x0000000000080010)
       5  0x0000000000080014  HID1_EL1 (s3_0_c15_c1_0)            read   0x0000000000000007
+      5  0x0000000000080018  HID2_EL1 (s3_0_c15_c2_0)            write  0x0000000000000002
       6  0x0000000000080018  HID0_EL1 (s3_0_c15_c0_0)            read   0x0000000000000009
       7  0x000000000008001c  HID0_EL1 (s3_0_c15_c0_0)            read   0x0000000000000009
       8  0x0000000000080020  HID0_EL1 (s3_0_c15_c0_0)            read   0x0000000000000009
register                                   A         B   added removed changed  first change
HID0_EL1 (s3_0_c15_c0_0)                   7         7       0       0       1  ~ vcpu 0 seq 4
HID1_EL1 (s3_0_c15_c1_0)                   2         1       0       1       0  - vcpu 0 seq 2
HID2_EL1 (s3_0_c15_c2_0)                   0         1       1       0       0  + vcpu 0 seq 5
HID4_EL1 (s3_0_c15_c4_0)                   1         1       0       0       0  -
different: 1 added, 1 removed, 1 changed (A: 10 accesses, B: 10 accesses)" "$OUT"

check_rc "--context 0 splits the hunks" 1 "$CTL" diff --context 0 a.db b.db
check "hunk headers with --context 0" "@@ vcpu 0 -2,1 +2,0 @@
@@ vcpu 0 -4,1 +3,1 @@
@@ vcpu 0 -6,0 +5,1 @@" "$(printf '%s\n' "$OUT" | grep '^@@')"

full=$("$CTL" diff a.db b.db)
check_rc "--stat" 1 "$CTL" diff --stat a.db b.db
check "--stat prints the summary only" "$(printf '%s\n' "$full" | grep -vE '^(---|\+\+\+|@@|[-+~ ] +[0-9])')" "$OUT"

# --by-pc: the moved PCs are changes now (seq 6 at 0x80018 vs the new 0x80028)
check_rc "--by-pc" 1 "$CTL" diff --by-pc --stat a.db b.db
check "--by-pc reports the moved PCs" "different: 2 added, 2 removed, 1 changed (A: 10 accesses, B: 10 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"

# JSON document
json=$("$CTL" diff --json a.db b.db)
check "json exit code" 1 "$?"
check "json: align and identical" "key|0" "$(printf '%s' "$json" | jq_ '$.align')|$(printf '%s' "$json" | jq_ '$.identical')"
check "json: hunks" "1|10|-|2|1|~|4|3|3|4" "$(printf '%s' "$json" | jsql "json_array_length(j, '\$.hunks') || '|' ||
	json_array_length(j, '\$.hunks[0].lines') || '|' || json_extract(j, '\$.hunks[0].lines[2].op') || '|' ||
	json_extract(j, '\$.hunks[0].lines[2].a.seq') || '|' || json_extract(j, '\$.hunks[0].lines[2].a.is_write') || '|' ||
	json_extract(j, '\$.hunks[0].lines[4].op') || '|' || json_extract(j, '\$.hunks[0].lines[4].a.seq') || '|' ||
	json_extract(j, '\$.hunks[0].lines[4].b.seq') || '|' || json_extract(j, '\$.hunks[0].lines[4].a.value') || '|' ||
	json_extract(j, '\$.hunks[0].lines[4].b.value')")"
check "json: row keys are the contract columns" "vcpu,seq,key,name,encoding,pc,el,is_write,value,action" \
	"$(printf '%s' "$json" | jsql "(SELECT group_concat(key) FROM json_each(j, '\$.hunks[0].lines[2].a'))")"
check "json: summary" "1|1|1|HID2_EL1|s3_0_c15_c2_0|0|1|+|5" "$(printf '%s' "$json" | jsql "
	json_extract(j, '\$.summary.added') || '|' || json_extract(j, '\$.summary.removed') || '|' ||
	json_extract(j, '\$.summary.changed') || '|' || json_extract(j, '\$.summary.registers[2].name') || '|' ||
	json_extract(j, '\$.summary.registers[2].encoding') || '|' || json_extract(j, '\$.summary.registers[2].count_a') || '|' ||
	json_extract(j, '\$.summary.registers[2].count_b') || '|' || json_extract(j, '\$.summary.registers[2].first_change.op') || '|' ||
	json_extract(j, '\$.summary.registers[2].first_change.seq')")"
check "json --stat has no hunks" "|1" "$("$CTL" diff --json --stat a.db b.db | jsql "
	coalesce(json_extract(j, '\$.hunks'), '') || '|' || json_extract(j, '\$.summary.added')")"

# a boot compared with itself, and FILE:BOOT references
check_rc "a boot against itself exits 0" 0 "$CTL" diff a.db a.db:1
check "itself: same" "same: 0 added, 0 removed, 0 changed (A: 10 accesses, B: 10 accesses)" "$(printf '%s\n' "$OUT" | tail -1)"
check "itself: no hunks" "0" "$(printf '%s\n' "$OUT" | grep -c '^@@')"

# an empty boot (boot 2 of a.db) against a full one, and two empty ones
mkboot a.db 2 v1 1 0 </dev/null
check_rc "empty vs full" 1 "$CTL" diff --stat a.db:2 a.db:1
check "empty vs full: all added" "different: 10 added, 0 removed, 0 changed (A: 0 accesses, B: 10 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"
check_rc "full vs empty" 1 "$CTL" diff a.db:1 a.db:2
check "full vs empty: one hunk of removals" "@@ vcpu 0 -0,10 +0,0 @@|10" \
	"$(printf '%s\n' "$OUT" | grep '^@@')|$(printf '%s\n' "$OUT" | grep -c '^- ')"
check_rc "empty vs empty" 0 "$CTL" diff a.db:2 a.db:2
check "empty vs empty: no registers" "same: 0 added, 0 removed, 0 changed (A: 0 accesses, B: 0 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"

# different vCPU counts: boot 3 has vCPU 0 as boot 1 plus a vCPU 1 with two accesses
sqlite3 -separator ' ' a.db "SELECT vcpu, seq, key, printf('0x%x', pc), is_write, value FROM accesses WHERE boot_id = 1" >rows3
printf '1 0 %s 0x90000 0 1\n1 1 %s 0x90004 1 2\n' $HID4 $HID4 >>rows3
mkboot a.db 3 v1 2 0 <rows3
check_rc "2 vCPUs vs 1" 1 "$CTL" diff a.db:3 a.db:1
check "vCPU 1 only in A: removed" "@@ vcpu 1 -0,2 +0,0 @@
-      0  0x0000000000090000  HID4_EL1 (s3_0_c15_c4_0)            read   0x0000000000000001
-      1  0x0000000000090004  HID4_EL1 (s3_0_c15_c4_0)            write  0x0000000000000002
HID4_EL1 (s3_0_c15_c4_0)                   3         1       0       2       0  - vcpu 1 seq 0" \
	"$(printf '%s\n' "$OUT" | grep -E '^@@|^-  |^HID4')"
check_rc "1 vCPU vs 2" 1 "$CTL" diff --stat a.db:1 a.db:3
check "vCPU 1 only in B: added" "different: 2 added, 0 removed, 0 changed (A: 10 accesses, B: 12 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"

# --by-symbol: B is a KASLR boot (slide 0x10000) of a kernel where f2 moved by 0x100;
# the write in f1 changed value; aligning on functions keeps every access matched
cat >a.map <<EOF
0000000000080000 T _start
0000000000080010 t f1
0000000000080020 T f2
0000000000000001 A EXTRA
                 U undefined_sym
0000000000090000 d some_data
EOF
cat >b.map <<EOF
0000000000080000 T _start
0000000000080010 t f1
0000000000080120 T f2
EOF
mkboot sym.db 1 v1 1 0 <<EOF
0 0 $HID0 0x80004 0 0
0 1 $HID0 0x80014 1 1
0 2 $HID1 0x80024 0 5
0 3 $HID1 0x80028 0 5
EOF
mkboot sym.db 2 v2 1 0x10000 <<EOF
0 0 $HID0 0x90004 0 0
0 1 $HID0 0x90014 1 2
0 2 $HID1 0x90124 0 5
0 3 $HID1 0x90128 0 5
EOF
check_rc "--by-symbol" 1 "$CTL" diff --by-symbol --symbols-a a.map --symbols-b b.map sym.db:1 sym.db:2
check "--by-symbol prints function+offset" "@@ vcpu 0 -0,4 +0,4 @@
       0  _start+0x4          HID0_EL1 (s3_0_c15_c0_0)            read   0x0000000000000000
~      1  f1+0x4              HID0_EL1 (s3_0_c15_c0_0)            write  0x0000000000000001 -> 0x0000000000000002  (B: 1  f1+0x4)
       2  f2+0x4              HID1_EL1 (s3_0_c15_c1_0)            read   0x0000000000000005
       3  f2+0x8              HID1_EL1 (s3_0_c15_c1_0)            read   0x0000000000000005
different: 0 added, 0 removed, 1 changed (A: 4 accesses, B: 4 accesses)" \
	"$(printf '%s\n' "$OUT" | grep -vE '^(---|\+\+\+|register|HID)')"
# the same boots with B's map applied to A: f2's accesses fall into f1 there
check_rc "--by-symbol with the wrong map" 1 "$CTL" diff --by-symbol --symbols-a b.map --symbols-b b.map --stat sym.db:1 sym.db:2
check "wrong map: f2 accesses no longer match" "different: 2 added, 2 removed, 1 changed (A: 4 accesses, B: 4 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"
# --slide-b overrides the boot's slide column
check_rc "--slide-b" 1 "$CTL" diff --by-symbol --symbols-a a.map --symbols-b b.map --slide-b 0x10014 --stat sym.db:1 sym.db:2
check "--slide-b 0x10014 moves B's accesses into other functions" "different: 4 added, 4 removed, 0 changed (A: 4 accesses, B: 4 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"
# --by-pc normalizes with the slide: same kernel, different slides -> only the f2 move
check_rc "--by-pc with slides" 1 "$CTL" diff --by-pc --stat sym.db:1 sym.db:2
check "--by-pc subtracts each boot's slide" "different: 2 added, 2 removed, 1 changed (A: 4 accesses, B: 4 accesses)" \
	"$(printf '%s\n' "$OUT" | tail -1)"

# an access answered UNDEF in one boot and emulated in the other is a change, even with equal values
mkboot undef.db 1 v1 1 0 <<EOF
0 0 $HID0 0x80000 0 0
0 1 $HID1 0x80004 0 0
EOF
mkboot undef.db 2 v1 1 0 <<EOF
0 0 $HID0 0x80000 0 0
0 1 $HID1 0x80004 0 0 undef
EOF
check_rc "UNDEF vs emulate" 1 "$CTL" diff undef.db:1 undef.db:2
check "UNDEF vs emulate line" "~      1  0x0000000000080004  HID1_EL1 (s3_0_c15_c1_0)            read   0x0000000000000000 -> 0x0000000000000000 UNDEF  (B: 1  0x0000000000080004)" \
	"$(printf '%s\n' "$OUT" | grep '^~')"
check "UNDEF in JSON" "emulate|undef" "$("$CTL" diff --json undef.db:1 undef.db:2 | jsql "
	json_extract(j, '\$.hunks[0].lines[1].a.action') || '|' || json_extract(j, '\$.hunks[0].lines[1].b.action')")"

# colour
check "--color=always colours removals" "1" "$("$CTL" diff --color=always a.db:1 b.db | grep -cF $'\e[31m-  ')"
check "--color=never (and auto on a pipe) has no escapes" "0|0" \
	"$("$CTL" diff --color=never a.db b.db | grep -c $'\e')|$("$CTL" diff a.db b.db | grep -c $'\e')"

# errors: exit 2 with a message saying what and why
check_rc "missing file" 2 "$CTL" diff "$T/nope.db" a.db
check "missing file message" "idsrctl: diff: $T/nope.db: No such file or directory" "$OUT"
check_rc "unknown boot id" 2 "$CTL" diff a.db:99 b.db
check "unknown boot message" "idsrctl: diff: a.db: no boot 99 in this trace (idsrctl boots lists them)" "$OUT"
echo "not a database" >junk.db
check_rc "not a trace" 2 "$CTL" diff junk.db a.db
check_match "not a trace message" '^idsrctl: diff: junk.db is not an idsrd trace database' "$OUT"
check_rc "one argument" 2 "$CTL" diff a.db
check "one argument message" "idsrctl: diff: expected two boot references A and B, got 1 (try idsrctl diff --help)" "$OUT"
check_rc "by-symbol without maps" 2 "$CTL" diff --by-symbol a.db b.db
check "by-symbol without maps message" "idsrctl: diff: --by-symbol: needs symbols of both boots: --symbols FILE, or --symbols-a FILE and --symbols-b FILE" "$OUT"
check_rc "by-symbol with one side's map" 2 "$CTL" diff --by-symbol --symbols-a a.map a.db b.db
check "one side's map message" "idsrctl: diff: --by-symbol: needs symbols of both boots: --symbols FILE, or --symbols-a FILE and --symbols-b FILE" "$OUT"
check_rc "both alignments" 2 "$CTL" diff --by-pc --by-symbol --symbols-a a.map --symbols-b b.map a.db b.db
check_rc "missing symbol map" 2 "$CTL" diff --by-symbol --symbols-a nope.map --symbols-b b.map a.db b.db
check "missing symbol map message" "idsrctl: diff: nope.map: No such file or directory" "$OUT"
printf '0000000000080000 T ok\nzz T bad\n' >bad.map
check_rc "malformed symbol map" 2 "$CTL" diff --by-symbol --symbols-a bad.map --symbols-b b.map a.db b.db
check "malformed symbol map message" "idsrctl: diff: bad.map:2: expected \`ADDRESS TYPE NAME' with a hexadecimal address" "$OUT"
check_rc "bad --context" 2 "$CTL" diff --context x a.db b.db
check "bad --context message" "idsrctl: diff: --context: \`x' is not a number (decimal, or hexadecimal after 0x)" "$OUT"
# strtoull skips the blank and wraps the minus: once taken as 2^64 - 1
check_rc "--context ' -1'" 2 "$CTL" diff --context ' -1' a.db b.db
check "--context ' -1' message" "idsrctl: diff: --context: \` -1' is not a number (decimal, or hexadecimal after 0x)" "$OUT"
check_rc "bad --color" 2 "$CTL" diff --color=sometimes a.db b.db
check_rc "unknown option" 2 "$CTL" diff --frobnicate a.db b.db
check_rc "--help" 0 "$CTL" diff --help
check_match "--help text" '^Usage: idsrctl diff A B' "$OUT"

done_testing
