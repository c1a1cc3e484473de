# SPDX-License-Identifier: MIT
# synth_boots DB HOST BOOTS ROWS VCPUS: a trace (today's schema.sql) with BOOTS finished boots of
# ROWS accesses each over VCPUS vCPUs, made by SQLite (big boots in a second; the fleet tests and
# bench/fleet.sh). Values and keys vary with the row; host is HOST.
synth_boots() {
	[ -f "$1" ] || sqlite3 "$1" < "$(dirname "${BASH_SOURCE[0]}")/../../schema.sql"
	sqlite3 "$1" "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN;
	WITH RECURSIVE b(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM b WHERE n < $3)
	INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, kernel, impl, vcpus, end_reason, accesses, host)
		SELECT coalesce((SELECT max(id) FROM boots), 0) + n, n * 1000000000, n * 1000000000 + 500000000,
		       'synth', 'vm' || n, 'kernel-' || (n % 3), 'apple', $5, 'bye', $4, '$2' FROM b;
	WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < $4 - 1)
	INSERT INTO accesses SELECT bo.id, i % $5, i / $5, bo.start_ns + i, 50048 + (i % 16) * 8, 4096 + i * 4,
		1, i % 2, (i * 2654435761) % 4294967296 - (i % 7 = 0) * 9223372036854775807, 'emulate', 1
		FROM r, boots bo WHERE bo.accesses = $4 AND NOT EXISTS (SELECT 1 FROM accesses x WHERE x.boot_id = bo.id);
	COMMIT" >/dev/null
}
