# SPDX-License-Identifier: MIT
# A trace of schema 1 (before policy_changes.peer_gid) is upgraded by idsrd and still read by idsrctl.
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.."

# schema 1: today's schema without the column, at version 1
sed -e 's/PRAGMA user_version = 2;/PRAGMA user_version = 1;/' \
    -e 's/    new_hash  TEXT NOT NULL,/    new_hash  TEXT NOT NULL/' -e '/peer_gid  INTEGER  *-- schema 2/d' \
    schema.sql | sqlite3 "$T/old.db"
sqlite3 "$T/old.db" "INSERT INTO boots(id, start_ns, end_ns, vm_name, end_reason) VALUES (1, 1, 2, 'old', 'bye');
	INSERT INTO accesses VALUES (1, 0, 0, 1, 51072, 4096, 1, 0, 17, 'emulate', 2);"
check "the fixture is schema 1 without peer_gid" "1 0" \
	"$(sqlite3 "$T/old.db" "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('policy_changes') WHERE name = 'peer_gid'" | tr '\n' ' ' | sed 's/ $//')"
check_rc "idsrctl reads a schema 1 trace" 0 "$B/idsrctl" boots "$T/old.db"
check_match "its boot is listed" "old" "$OUT"
cp "$T/old.db" "$T/trace.db"
start_daemon && ok "idsrd opens a schema 1 trace" || not_ok "idsrd opens a schema 1 trace"
stop_daemon
check "upgraded to schema 2 with policy_changes.peer_gid" "2 1" \
	"$(sqlite3 "$T/trace.db" "PRAGMA user_version; SELECT count(*) FROM pragma_table_info('policy_changes') WHERE name = 'peer_gid'" | tr '\n' ' ' | sed 's/ $//')"
check "the old rows are untouched" "1|51072|17" "$(sqlite3 "$T/trace.db" "SELECT boot_id, key, value FROM accesses")"
check "idsrd's start is recorded with its gid" "1" \
	"$(sqlite3 "$T/trace.db" "SELECT count(*) FROM policy_changes WHERE how = 'start' AND peer_gid = $(id -g)")"
check "integrity" "ok" "$(sqlite3 "$T/trace.db" "PRAGMA integrity_check")"
done_testing
