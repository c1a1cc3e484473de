# SPDX-License-Identifier: MIT
# A damaged trace gets the same clear error from every reader (show, stats, diff,
# export, tail -n, replay, replay --against, policy learn, report): the damage named by boot, vCPU and
# seq, exit 2. A key outside the IDSR space is not damage. (replay/access_rows.c)
. "$(dirname "$0")/../lib.sh"
export IDSRD_CONTROL=$T/none.sock	# no daemon: each reader works from the file

# A sound boot: vCPU 0 seqs 0..2, vCPU 1 seq 0; ended, no rows lost.
base=$T/base.db
sqlite3 "$base" < schema.sql
sqlite3 "$base" "
INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, impl, vcpus, mode, end_reason, accesses)
  VALUES (1, 1700000000000000000, 1700000001000000000, 'idsr-vmm', 'vm', 'apple', 2, 'live', 'bye', 4);
INSERT INTO accesses VALUES (1, 0, 0, 1700000000000000001, 51072, 4096, 1, 0, 16, 'emulate', 2);
INSERT INTO accesses VALUES (1, 0, 1, 1700000000000000002, 51072, 4100, 1, 1, 7, 'emulate', 2);
INSERT INTO accesses VALUES (1, 0, 2, 1700000000000000003, 51080, 4104, 1, 0, 0, 'undef', 0);
INSERT INTO accesses VALUES (1, 1, 0, 1700000000000000004, 51072, 4108, 1, 0, 16, 'emulate', 2);
"
printf 'impl apple\nHID0_EL1 read value 0x10\nHID0_EL1 write ignore\n* undef\n' >"$T/policy.conf"

check_rc "the sound boot: show" 0 "$B/idsrctl" show "$base"
check_rc "the sound boot: replay --against" 0 "$B/idsrctl" replay "$base" --against "$T/policy.conf"

# damaged NAME SQL: a copy of the sound boot with SQL applied
damaged() {
	cp "$base" "$T/$1.db"
	sqlite3 "$T/$1.db" "PRAGMA ignore_check_constraints = 1; $2"
}

# every_reader NAME DAMAGE: each reader exits 2 saying "CMD: FILE: DAMAGE: the file is damaged"
every_reader() {
	local db=$T/$1.db want="$T/$1.db: $2: the file is damaged"
	check_rc "$1: show exits 2" 2 "$B/idsrctl" show "$db"
	check "$1: show names it" "idsrctl: show: $want" "$(printf '%s\n' "$OUT" | grep -F 'idsrctl: ')"
	check_rc "$1: stats exits 2" 2 "$B/idsrctl" stats --db "$db" 1
	check "$1: stats names it" "idsrctl: stats: $want" "$OUT"
	check_rc "$1: diff exits 2" 2 "$B/idsrctl" diff "$base:1" "$db:1"
	check "$1: diff names it" "idsrctl: diff: $want" "$OUT"
	check_rc "$1: export exits 2" 2 "$B/idsrctl" export "$db" --format csv -o "$T/out.csv"
	check "$1: export names it" "idsrctl: export: $want" "$OUT"
	check_rc "$1: tail -n exits 2" 2 "$B/idsrctl" tail -n 10 --db "$db"
	check "$1: tail -n names it" "idsrctl: tail: $want" "$OUT"
	check_rc "$1: replay --against exits 2" 2 "$B/idsrctl" replay "$db" --against "$T/policy.conf"
	check "$1: replay --against names it" "idsrctl: replay: $want" "$OUT"
	check_rc "$1: replay exits 2" 2 "$B/idsrctl" replay "$db"
	check "$1: replay names it" "idsrctl: replay: $want" "$OUT"
	check_rc "$1: policy learn exits 2" 2 "$B/idsrctl" policy learn "$db"
	check "$1: policy learn names it" "idsrctl: policy learn: $want" "$OUT"
	check_rc "$1: report exits 2" 2 "$B/idsrctl" report "$db" -o "$T/report.html"
	check "$1: report names it" "idsrctl: report: $want" "$OUT"
}

damaged vcpu "UPDATE accesses SET vcpu = 4000000000 WHERE vcpu = 1"
every_reader vcpu "boot 1, vCPU 4000000000, seq 0: vCPU outside 0..4095"
damaged seq "UPDATE accesses SET seq = -5 WHERE vcpu = 1"
every_reader seq "boot 1, vCPU 1, seq -5: a negative seq"
damaged key "UPDATE accesses SET key = 65536 WHERE vcpu = 0 AND seq = 1"
every_reader key "boot 1, vCPU 0, seq 1: key 65536 (0x10000) has bits outside a packed encoding's fields"
damaged is_write "UPDATE accesses SET is_write = 2 WHERE vcpu = 0 AND seq = 1"
every_reader is_write "boot 1, vCPU 0, seq 1: is_write 2, not 0 or 1"
damaged action "UPDATE accesses SET action = 'maybe' WHERE vcpu = 0 AND seq = 2"
every_reader action "boot 1, vCPU 0, seq 2: action 'maybe', not 'emulate' or 'undef'"
damaged el "UPDATE accesses SET el = 7 WHERE vcpu = 0 AND seq = 0"
every_reader el "boot 1, vCPU 0, seq 0: el 7, outside 0..3"
damaged pc "UPDATE accesses SET pc = 'abc' WHERE vcpu = 0 AND seq = 1"
every_reader pc "boot 1, vCPU 0, seq 1: pc is text ('abc'), not an integer"
damaged real_vcpu "UPDATE accesses SET vcpu = 1.5 WHERE vcpu = 1"
every_reader real_vcpu "boot 1, vCPU 1.5, seq 0: vcpu is a real number (1.5), not an integer"
damaged rule "UPDATE accesses SET rule = 5000000000 WHERE vcpu = 1"
every_reader rule "boot 1, vCPU 1, seq 0: rule 5000000000, outside 32 bits"
# A table written by another tool, without the constraints: NULLs and repeats.
loose="ALTER TABLE accesses RENAME TO strict_accesses;
CREATE TABLE accesses (boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule);
INSERT INTO accesses SELECT * FROM strict_accesses; DROP TABLE strict_accesses;"
damaged null_value "$loose UPDATE accesses SET value = NULL WHERE vcpu = 0 AND seq = 2"
every_reader null_value "boot 1, vCPU 0, seq 2: value is NULL"
damaged repeat "$loose INSERT INTO accesses VALUES (1, 0, 1, 1700000000000000005, 51072, 4100, 1, 1, 7, 'emulate', 2)"
every_reader repeat "boot 1, vCPU 0, seq 1: a repeated seq, or rows out of order"
damaged null_vcpu "$loose UPDATE accesses SET vcpu = NULL WHERE vcpu = 1"
check_rc "null_vcpu: stats exits 2" 2 "$B/idsrctl" stats --db "$T/null_vcpu.db" 1
check "null_vcpu: stats names it" \
	"idsrctl: stats: $T/null_vcpu.db: boot 1, vCPU NULL, seq 0: vcpu is NULL: the file is damaged" "$OUT"
check_rc "null_vcpu: show exits 2" 2 "$B/idsrctl" show "$T/null_vcpu.db"
check "null_vcpu: show names it" \
	"idsrctl: show: $T/null_vcpu.db: boot 1, vCPU NULL, seq 0: vcpu is NULL: the file is damaged" \
	"$(printf '%s\n' "$OUT" | grep -F 'idsrctl: ')"

# A hole: only replay needs every seq (show and the others print what is there).
damaged hole "DELETE FROM accesses WHERE vcpu = 0 AND seq = 1"
check_rc "hole: show exits 0" 0 "$B/idsrctl" show "$T/hole.db"
check_rc "hole: replay exits 2" 2 "$B/idsrctl" replay "$T/hole.db"
check "hole: replay names it" "idsrctl: replay: $T/hole.db: boot 1, vCPU 0, seq 2: seq 1 is missing before it (the boot lost no rows, so every seq must be there): the file is damaged" "$OUT"

# Not damage: an encoding outside the IDSR space (MIDR_EL1, s3_0_c0_c0_0), as imported traces hold.
damaged foreign "UPDATE accesses SET key = 49152 WHERE vcpu = 1"
check_rc "a key outside the IDSR space: show exits 0" 0 "$B/idsrctl" show "$T/foreign.db"
check_match "and prints it" '    1    1       0  0x000000000000100c read   MIDR_EL1 \(s3_0_c0_c0_0\) ' "$OUT"
check_rc "a key outside the IDSR space: stats exits 0" 0 "$B/idsrctl" stats --db "$T/foreign.db" 1
check_rc "a key outside the IDSR space: replay --against exits 1 (the policy answers UNDEF)" 1 \
	"$B/idsrctl" replay "$T/foreign.db" --against "$T/policy.conf"

# Not a trace this idsrctl can read: a missing table, a schema from the future.
damaged no_table "DROP VIEW accesses_v; DROP TABLE accesses"
check_rc "no accesses table: show exits 2" 2 "$B/idsrctl" show "$T/no_table.db"
check "no accesses table: show says so" \
	"idsrctl: show: $T/no_table.db is not an idsrd trace database (no idsrd schema in it)" "$OUT"
check_rc "no accesses table: replay exits 2" 2 "$B/idsrctl" replay "$T/no_table.db"
check_rc "no accesses table: diff exits 2" 2 "$B/idsrctl" diff "$base" "$T/no_table.db"
damaged future "PRAGMA user_version = 99"
check_rc "a schema from the future: show exits 2" 2 "$B/idsrctl" show "$T/future.db"
check_match "a schema from the future: show says so" "schema version 99" "$OUT"
check_rc "a schema from the future: stats exits 2" 2 "$B/idsrctl" stats --db "$T/future.db" 1
done_testing
