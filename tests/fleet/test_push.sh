#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrctl push against a real ClickHouse server (started from a config in $T): real boots of the
# reference guests arrive exactly once with every column; a second push sends nothing; --batch
# splits into one INSERT a batch; running and cut-off boots are refused unless --force; bad URLs,
# credentials and servers are refused with what failed, and nothing half-sent stays wrong.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
unset IDSRD_DB

start_daemon --policy examples/policy.conf || exit 1
"$B/idsr-vmm" --vcpus 2 --vm a "$B/guests/apple_boot.bin" >/dev/null 2>&1
"$B/idsr-vmm" --vm b "$B/guests/apple_boot.bin" >/dev/null 2>&1
boot_ended 1 && boot_ended 2
stop_daemon
ch_start a || exit 1
U=$CH_URL_a
uid1=$(sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots WHERE id = 1")
uid2=$(sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots WHERE id = 2")
n1=$(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 1")
n2=$(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 2")
# rows DB BOOT: a boot's rows as the server gives them back (u64 as unsigned)
local_rows() {
	sqlite3 -separator '	' "$T/trace.db" "SELECT b.boot_uid, b.host, vcpu, seq, ts_ns, key, pc & 0x7fffffffffffffff
		+ CASE WHEN pc < 0 THEN 9223372036854775808 ELSE 0 END, el, is_write, printf('%u', value), action, rule
		FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE boot_id = $1 ORDER BY vcpu, seq" |
		awk -F'\t' -v OFS='\t' '{ $7 = sprintf("%.0f", $7); print }'
}
server_rows() {
	ch a "SELECT boot_uid, host, vcpu, seq, ts_ns, key, pc, el, is_write, value, action, rule FROM accesses
		WHERE boot_uid = toUUID('$1') ORDER BY vcpu, seq FORMAT TSV"
}

check_rc "push trace.db:1" 0 "$C" push "$T/trace.db:1" --to "$U"
check "it says what it sent" "$T/trace.db:1 $uid1 -> $U: $n1 rows sent in 1 batch, $n1 on the server" "$OUT"
check "the server holds boot 1's rows, each once" "$n1	$n1" \
	"$(ch a "SELECT count(), uniqExact(vcpu, seq) FROM accesses WHERE boot_uid = toUUID('$uid1') FORMAT TSV")"
check "every column as in the trace (boot_uid, host, values as u64)" "$(sqlite3 "$T/trace.db" \
	"SELECT group_concat(boot_uid || ' ' || host || ' ' || vcpu || ' ' || seq || ' ' || key || ' ' || printf('%u', value) || ' ' || action || ' ' || rule, '|') FROM (SELECT * FROM accesses a JOIN boots b ON b.id = a.boot_id WHERE boot_id = 1 ORDER BY vcpu, seq)")" \
	"$(ch a "SELECT arrayStringConcat(groupArray(concat(toString(boot_uid), ' ', host, ' ', toString(vcpu), ' ', toString(seq), ' ', toString(key), ' ', toString(value), ' ', action, ' ', toString(rule))), '|') FROM (SELECT * FROM accesses WHERE boot_uid = toUUID('$uid1') ORDER BY vcpu, seq) FORMAT TSV")"
check "pc, ts_ns, el, is_write too" "$(sqlite3 "$T/trace.db" "SELECT sum(pc % 1000003), sum(ts_ns % 1000003), sum(el), sum(is_write) FROM accesses WHERE boot_id = 1" | tr '|' '\t')" \
	"$(ch a "SELECT sum(pc % 1000003), sum(ts_ns % 1000003), sum(el), sum(is_write) FROM accesses WHERE boot_uid = toUUID('$uid1') FORMAT TSV")"
check "its boots row: host, vm, vcpus, accesses, mode, end" \
	"$(hostname)	a	2	$(sqlite3 "$T/trace.db" "SELECT accesses FROM boots WHERE id = 1")	live	1" \
	"$(ch a "SELECT host, vm_name, vcpus, accesses, mode, end_ns > start_ns FROM boots WHERE boot_uid = toUUID('$uid1') FORMAT TSV")"
check "the accesses table is a MergeTree ordered by (boot_uid, vcpu, seq)" "MergeTree	boot_uid, vcpu, seq" \
	"$(ch a "SELECT engine, sorting_key FROM system.tables WHERE database = 'idsr' AND name = 'accesses' FORMAT TSV")"

check_rc "push it again" 0 "$C" push "$T/trace.db:1" --to "$U"
check "nothing sent again" "$T/trace.db:1 $uid1 -> $U: already there ($n1 rows)" "$OUT"
check "still each row once, one boots row" "$n1 1" "$(ch a "SELECT count() FROM accesses FORMAT TSV") $(ch a "SELECT count() FROM boots FORMAT TSV")"

# An interrupted push: the server holds a prefix of each vCPU (as a cut INSERT leaves) and no boots row.
check_rc "push boot 2 in batches of 7" 0 "$C" push "$T/trace.db:2" --to "$U" --batch 7
check "one INSERT a batch" "$T/trace.db:2 $uid2 -> $U: $n2 rows sent in $(( (n2 + 6) / 7 )) batches, $n2 on the server" "$OUT"
ch a "DROP TABLE boots" >/dev/null
ch a "CREATE TABLE acc2 AS accesses" >/dev/null
ch a "INSERT INTO acc2 SELECT * FROM accesses WHERE boot_uid != toUUID('$uid1') OR seq < 5" >/dev/null
ch a "DROP TABLE accesses" >/dev/null
ch a "RENAME TABLE acc2 TO accesses" >/dev/null
held=$(ch a "SELECT count() FROM accesses WHERE boot_uid = toUUID('$uid1') FORMAT TSV")
check "the server now holds seq 0-4 of boot 1's two vCPUs" "10" "$held"
check_rc "push the whole trace again" 0 "$C" push "$T/trace.db" --to "$U"
check "boot 1: only the missing rows sent; boot 2: rows there, its boots row added" \
	"$T/trace.db:1 $uid1 -> $U: $((n1 - 10)) rows sent in 1 batch, $n1 on the server
$T/trace.db:2 $uid2 -> $U: 0 rows sent in 0 batches, $n2 on the server" "$OUT"
check "boot 1 on the server is the trace's, row for row" "$(local_rows 1)" "$(server_rows "$uid1")"
check "boot 2 too" "$(local_rows 2)" "$(server_rows "$uid2")"
check "(those were $n1 and $n2 rows)" "$n1 $n2" "$(server_rows "$uid1" | wc -l) $(server_rows "$uid2" | wc -l)"
check "each boot once in boots" "2	2" "$(ch a "SELECT count(), uniqExact(boot_uid) FROM boots FORMAT TSV")"

# Running and cut-off boots.
sqlite3 "$T/trace.db" "INSERT INTO boots(id, start_ns, vcpus, host) VALUES (3, 1, 1, 'h');
	INSERT INTO accesses VALUES (3, 0, 0, 1, 51072, 4096, 1, 0, 17, 'emulate', 0);
	INSERT INTO boots(id, start_ns, end_ns, end_reason, vcpus) VALUES (4, 1, 2, 'cut off: idsrd stopped without ending it', 1)"
check_rc "a running boot named is refused" 2 "$C" push "$T/trace.db:3" --to "$U"
check "... saying so" "idsrctl: push: $T/trace.db:3: the boot is still running: only finished boots are pushed (--force sends what is logged so far)" "$OUT"
check_rc "a cut-off boot named is refused" 2 "$C" push "$T/trace.db:4" --to "$U"
check_match "... saying so" "the boot is cut off \(idsrd stopped without ending it\)" "$OUT"
check_rc "the whole trace: both skipped, the rest already there" 0 "$C" push "$T/trace.db" --to "$U"
check_match "... named as skipped" "trace.db:3 [0-9a-f-]*: skipped \(running\)" "$OUT"
check_match "... named as skipped" "trace.db:4 [0-9a-f-]*: skipped \(cut off\)" "$OUT"
check "nothing of them on the server" "2" "$(ch a "SELECT count() FROM boots FORMAT TSV")"
check_rc "--force sends the running boot" 0 "$C" push "$T/trace.db:3" --to "$U" --force
check "... its one row" "1" "$(ch a "SELECT count() FROM accesses WHERE host = 'h' FORMAT TSV")"

# Bad input: each refused with what failed, nothing sent.
check_rc "no --to" 2 "$C" push "$T/trace.db:1"
check "... says so" "idsrctl: push: no server: give --to http://HOST:PORT/DATABASE" "$OUT"
check_rc "credentials in the URL are refused" 2 "$C" push "$T/trace.db:1" --to "http://u:p@127.0.0.1:1/idsr"
check_match "... pointing at --credentials" "no credentials in it: use --credentials FILE" "$OUT"
check_rc "a URL without a database" 2 "$C" push "$T/trace.db:1" --to "http://127.0.0.1:$CH_HTTP_a/"
printf 'user default\npassword \n' > "$T/cred"; chmod 644 "$T/cred"
check_rc "a credentials file others can read is refused" 2 "$C" push "$T/trace.db:1" --to "$U" --credentials "$T/cred"
check "... saying what to do" "idsrctl: push: credentials $T/cred: readable by others (mode 644): chmod 600 it" "$OUT"
printf 'user nobody_here\npassword x\n' > "$T/cred"; chmod 600 "$T/cred"
check_rc "the credentials are sent: an unknown user is refused by the server" 2 "$C" push "$T/trace.db:1" --to "$U" --credentials "$T/cred"
check_match "... with the server's message" "nobody_here" "$OUT"
mkdir -p "$T/xdg/idsrd"; printf 'user default\n' > "$T/xdg/idsrd/clickhouse"; chmod 600 "$T/xdg/idsrd/clickhouse"
check_rc "the default credentials file is read" 0 env XDG_CONFIG_HOME="$T/xdg" "$C" push "$T/trace.db:1" --to "$U"
printf 'usr default\n' > "$T/xdg/idsrd/clickhouse"
check_rc "a bad line in it is refused" 2 env XDG_CONFIG_HOME="$T/xdg" "$C" push "$T/trace.db:1" --to "$U"
check "... by its line" "idsrctl: push: credentials $T/xdg/idsrd/clickhouse:1: expected \`user NAME' or \`password SECRET'" "$OUT"
check_rc "a server that is not there" 2 "$C" push "$T/trace.db:1" --to "http://127.0.0.1:$(ch_free_port)/idsr"
check_match "... named, with what to do" "push: creating the tables: http://127.0.0.1:[0-9]*/idsr: Couldn't connect to server" "$OUT"
sqlite3 "$T/old.db" < tests/integration/schema-3.sql
sqlite3 "$T/old.db" "INSERT INTO boots(id, start_ns, end_ns, end_reason) VALUES (1, 1, 2, 'bye')"
check_rc "a schema 3 trace is refused" 2 "$C" push "$T/old.db:1" --to "$U"
check_match "... saying how to upgrade it" "older than schema 4 .*idsrd upgrades it" "$OUT"
check_rc "--help" 0 "$C" push --help
check_match "... names --credentials" "--credentials FILE" "$OUT"
done_testing
