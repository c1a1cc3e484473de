# SPDX-License-Identifier: MIT
# Traces of every earlier schema (1, 2, 3, 4) are upgraded by idsrd one version a step to today's (5), and still read by idsrctl.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."

# Schemas 2, 3 and 4 are kept as they were (schema-N.sql); schema 1 is schema 2 without policy_changes.peer_gid.
make_fixture() { # VERSION FILE
	if [ "$1" -ge 2 ]; then sqlite3 "$2" < tests/integration/schema-$1.sql
	else sed -e 's/PRAGMA user_version = 2;/PRAGMA user_version = 1;/' \
		-e 's/    new_hash  TEXT NOT NULL,/    new_hash  TEXT NOT NULL/' -e '/peer_gid  INTEGER  *-- schema 2/d' \
		tests/integration/schema-2.sql | sqlite3 "$2"; fi
	sqlite3 "$2" "INSERT INTO registers VALUES (51072, 'HID0_EL1', 'apple', NULL);
	INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, impl, vcpus, mode, replay_of, replay_source, end_reason,
		accesses, peer_uid) VALUES (1, 1, 2, 'idsr-vmm', 'old', 'apple', 1, 'live', NULL, NULL, 'bye', 1, 1000),
		(2, 3, 4, 'idsr-vmm', 'again', 'apple', 1, 'replay', 1, '/x/trace.db', 'bye', 1, 1000);
	INSERT INTO accesses VALUES (1, 0, 0, 1, 51072, 4096, 1, 0, 17, 'emulate', 2), (2, 0, 0, 3, 51072, 4096, 1, 0, 17, 'emulate', -2);"
}
boots_cols="id, start_ns, end_ns, vmm, vm_name, impl, vcpus, mode, replay_of, replay_source, end_reason, accesses, peer_uid"
schema_facts() { # FILE: version, peer_gid?, has_pcs?, imported_from?, boot_uid?, host?, views, pushes?
	sqlite3 "$1" "PRAGMA user_version;
		SELECT count(*) FROM pragma_table_info('policy_changes') WHERE name = 'peer_gid';
		SELECT group_concat(name) FROM pragma_table_info('boots')
			WHERE name IN ('has_pcs', 'imported_from', 'boot_uid', 'host');
		SELECT group_concat(name) FROM sqlite_master WHERE type = 'view';
		SELECT count(*) FROM sqlite_master WHERE name = 'pushes'" | tr '\n' ' ' | sed 's/ $//'
}

uid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
for v in 1 2 3 4; do
	rm -f "$T/trace.db" "$T/trace.db-wal" "$T/trace.db-shm"
	make_fixture $v "$T/old$v.db"
	case $v in 1) facts="1 0  accesses_v 0";; 2) facts="2 1  accesses_v 0";; 3) facts="3 1 has_pcs,imported_from accesses_v 0";;
		4) facts="4 1 has_pcs,imported_from,boot_uid,host accesses_v 0";; esac
	check "schema $v fixture: its version, columns and view" "$facts" "$(schema_facts "$T/old$v.db")"
	before=$(sqlite3 "$T/old$v.db" "SELECT $boots_cols FROM boots; SELECT * FROM accesses_v")
	check_rc "idsrctl reads a schema $v trace" 0 "$B/idsrctl" boots "$T/old$v.db"
	check_match "its boots are listed" "old" "$OUT"
	check_rc "boots --json-lines reads a schema $v trace" 0 "$B/idsrctl" boots "$T/old$v.db" --json-lines
	case $v in 3) last='"has_pcs": 1, "imported_from": null}$';; 4) last='"host": null}$';; *) last='"peer_pid": null}$';; esac
	check_match "without the later schemas' columns" "$last" "$(echo "$OUT" | head -1)"
	printf 'impl apple\nHID0_EL1 read value 0x11\n' > "$T/hid0.conf"
	check_rc "idsrctl replay --against reads a schema $v trace" 0 \
		"$B/idsrctl" replay "$T/old$v.db:1" --against "$T/hid0.conf"
	check "schema $v is left as it is by readers" "$v" "$(sqlite3 "$T/old$v.db" "PRAGMA user_version")"
	cp "$T/old$v.db" "$T/trace.db"
	start_daemon && ok "idsrd opens a schema $v trace" || not_ok "idsrd opens a schema $v trace"
	stop_daemon
	check "schema $v upgraded to 5: peer_gid, has_pcs, imported_from, boot_uid, host, the view made again, pushes" \
		"5 1 has_pcs,imported_from,boot_uid,host accesses_v 1" "$(schema_facts "$T/trace.db")"
	check "schema $v: each old boot got its own random boot_uid (a UUID's text), and host NULL" "2 2 2 0" \
		"$(sqlite3 "$T/trace.db" "SELECT count(DISTINCT boot_uid), sum(boot_uid REGEXP '$uid_re'), sum(host IS NULL),
			count(*) - 2 FROM boots" | tr '|' ' ')"
	check_rc "boots --json-lines of the upgraded trace" 0 "$B/idsrctl" boots "$T/trace.db" --json-lines
	check_match "... has schema 4's columns (5 adds none to boots)" '"has_pcs": 1, "imported_from": null, "boot_uid": "[0-9a-f-]{36}", "host": null}$' \
		"$(echo "$OUT" | head -1)"
	check "schema $v: boot_uid is unique" "UNIQUE constraint failed: boots.boot_uid" \
		"$(sqlite3 "$T/trace.db" "INSERT INTO boots(id, start_ns, boot_uid) SELECT 102, 1, boot_uid FROM boots WHERE id = 1" 2>&1 |
			sed -e 's/^.*\(UNIQUE\)/\1/' -e 's/ (19)$//')"
	check "schema $v: boots and the view on them read as before" "$before" \
		"$(sqlite3 "$T/trace.db" "SELECT $boots_cols FROM boots WHERE id <= 2; SELECT * FROM accesses_v")"
	check "schema $v: old boots have PCs and were not imported" "1,1||0" \
		"$(sqlite3 "$T/trace.db" "SELECT group_concat(has_pcs), group_concat(imported_from) FROM boots WHERE id <= 2;
			SELECT count(*) FROM boots WHERE mode = 'imported'" | tr '\n' '|' | sed 's/|$//')"
	check "schema $v: mode takes 'imported' and no other new value" "1 CHECK constraint failed: mode IN ('live', 'replay', 'imported')" \
		"$(sqlite3 "$T/trace.db" "INSERT INTO boots(id, start_ns, mode, has_pcs) VALUES (100, 1, 'imported', 0);
			SELECT count(*) FROM boots WHERE mode = 'imported';" 2>&1 | tr '\n' ' ';
		   sqlite3 "$T/trace.db" "INSERT INTO boots(id, start_ns, mode) VALUES (101, 1, 'other')" 2>&1 | sed -e 's/^.*\(CHECK\)/\1/' -e 's/ (19)$//')"
	check "schema $v: the old rows are untouched" "1|51072|17
2|51072|17" "$(sqlite3 "$T/trace.db" "SELECT boot_id, key, value FROM accesses")"
	check "schema $v: idsrd's start is recorded with its gid" "1" \
		"$(sqlite3 "$T/trace.db" "SELECT count(*) FROM policy_changes WHERE how = 'start' AND peer_gid = $(id -g)")"
	check "schema $v: integrity and no leftover table" "ok|0" \
		"$(sqlite3 "$T/trace.db" "PRAGMA integrity_check; SELECT count(*) FROM sqlite_master WHERE name = 'new_boots'" | tr '\n' '|' | sed 's/|$//')"
	check "schema $v: the upgraded boots table is today's schema.sql's" \
		"$(sqlite3 :memory: < schema.sql && sqlite3 "$T/new.db" < schema.sql; sqlite3 "$T/new.db" "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('boots')")" \
		"$(sqlite3 "$T/trace.db" "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('boots')")"
	check "schema $v: table pushes as today's schema.sql has it, and empty (old boots were never queued)" \
		"$(sqlite3 "$T/new.db" "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('pushes')")
0" "$(sqlite3 "$T/trace.db" "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('pushes'); SELECT count(*) FROM pushes")"
	rm -f "$T/new.db"
done
done_testing
