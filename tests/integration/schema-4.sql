-- SPDX-License-Identifier: MIT
-- Schema 4 exactly as it was (git show f60eaf2:schema.sql): the fixture test_schema_upgrade.sh upgrades. Never edit.
-- The trace database: the one definition of its tables. Applied by idsrd on
-- first open (embedded at build time); PRAGMA user_version is its version.
-- Bump SCHEMA_VERSION in lib/db.h with any change here, and teach lib/db_upgrade.c the upgrade.
-- docs/design.md (section 4) says what every table and column holds; change it with this file.
-- u64 values (pc, value, image_base, slide) are stored as two's-complement integers.

PRAGMA user_version = 4;

-- One row per VM run (all vCPU connections that share a Hello instance).
CREATE TABLE IF NOT EXISTS boots (
    id            INTEGER PRIMARY KEY,
    start_ns      INTEGER NOT NULL,           -- CLOCK_REALTIME, ns
    end_ns        INTEGER,                    -- NULL while running (or cut off)
    vmm           TEXT,
    vm_name       TEXT,
    instance      BLOB,
    kernel        TEXT,
    build_id      BLOB,
    image_base    INTEGER NOT NULL DEFAULT 0,
    slide         INTEGER NOT NULL DEFAULT 0,
    midr          INTEGER NOT NULL DEFAULT 0,
    impl          TEXT,                       -- register-name implementation
    vcpus         INTEGER NOT NULL DEFAULT 0,
    mode          TEXT NOT NULL DEFAULT 'live' CHECK (mode IN ('live', 'replay', 'imported')),
    replay_of     INTEGER,                    -- source boot id when mode = 'replay'
    replay_source TEXT,                       -- source database path
    policy_hash   TEXT,                       -- policy in force at start
    end_reason    TEXT,                       -- Bye's reason, 'eof', 'error: ...', 'cut off: ...' (docs/design.md 4.2)
    accesses      INTEGER NOT NULL DEFAULT 0,
    undefs        INTEGER NOT NULL DEFAULT 0,
    rows_dropped  INTEGER NOT NULL DEFAULT 0, -- rows that could not be written
    divergences   INTEGER NOT NULL DEFAULT 0,
    peer_uid      INTEGER,
    peer_gid      INTEGER,
    peer_pid      INTEGER,
    has_pcs       INTEGER NOT NULL DEFAULT 1, -- schema 3: 0 when the recording had no PCs (pc is 0)
    imported_from TEXT,                       -- schema 3: 'FORMAT:FILE' when mode = 'imported'
    -- schema 4: the boot's identity across hosts (128 random bits as a UUID's text) and the host's name
    boot_uid      TEXT NOT NULL UNIQUE DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' ||
                  hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6)))),
    host          TEXT                        -- schema 4: gethostname() of idsrd's host; NULL if not recorded by idsrd
);

-- One row per trapped access, in per-vCPU order.
CREATE TABLE IF NOT EXISTS accesses (
    boot_id   INTEGER NOT NULL,
    vcpu      INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    ts_ns     INTEGER NOT NULL,
    key       INTEGER NOT NULL,               -- packed encoding (docs/design.md)
    pc        INTEGER NOT NULL,
    el        INTEGER NOT NULL,
    is_write  INTEGER NOT NULL,
    value     INTEGER NOT NULL,               -- written value, or what the read returned
    action    TEXT NOT NULL CHECK (action IN ('emulate', 'undef')),
    rule      INTEGER NOT NULL DEFAULT 0,     -- policy line that answered; 0 default, <0 built-in
    PRIMARY KEY (boot_id, vcpu, seq)
) WITHOUT ROWID;

-- Every policy text a boot ran under, by hash.
CREATE TABLE IF NOT EXISTS policies (
    hash     TEXT PRIMARY KEY,
    text     TEXT NOT NULL,
    source   TEXT,
    first_ns INTEGER NOT NULL
);

-- Every change of the live policy: when, by whom, from what to what.
CREATE TABLE IF NOT EXISTS policy_changes (
    id        INTEGER PRIMARY KEY,
    ts_ns     INTEGER NOT NULL,
    peer_uid  INTEGER,
    peer_pid  INTEGER,
    how       TEXT NOT NULL,                  -- 'start', 'sighup', 'reload', 'load', 'set', 'unset'
    old_hash  TEXT,
    new_hash  TEXT NOT NULL,
    peer_gid  INTEGER                         -- schema 2
);

-- The policies each boot ran under (one row per change during the boot).
CREATE TABLE IF NOT EXISTS boot_policies (
    boot_id     INTEGER NOT NULL,
    policy_hash TEXT NOT NULL,
    since_ns    INTEGER NOT NULL,
    PRIMARY KEY (boot_id, policy_hash, since_ns)
);

-- Where a replayed boot departed from its recording.
CREATE TABLE IF NOT EXISTS divergences (
    id                INTEGER PRIMARY KEY,
    boot_id           INTEGER NOT NULL,       -- the replaying boot
    replay_of         INTEGER,
    vcpu              INTEGER NOT NULL,
    seq               INTEGER NOT NULL,
    ts_ns             INTEGER NOT NULL,
    kind              TEXT NOT NULL,          -- key, direction, pc, value, extra, missing
    expected_key      INTEGER, expected_pc INTEGER, expected_is_write INTEGER, expected_value INTEGER,
    actual_key        INTEGER, actual_pc   INTEGER, actual_is_write   INTEGER, actual_value   INTEGER
);

-- Register names per implementation (filled from data/registers.tsv).
CREATE TABLE IF NOT EXISTS registers (
    key            INTEGER NOT NULL,
    name           TEXT NOT NULL,
    implementation TEXT NOT NULL,
    description    TEXT,
    PRIMARY KEY (key, implementation, name)
) WITHOUT ROWID;

-- Accesses as people read them: hex, names, directions.
CREATE VIEW IF NOT EXISTS accesses_v AS
SELECT a.boot_id, a.vcpu, a.seq, a.ts_ns,
       printf('0x%08x', a.key) AS key,
       coalesce((SELECT name FROM registers r WHERE r.key = a.key AND r.implementation = b.impl LIMIT 1),
                (SELECT name FROM registers r WHERE r.key = a.key AND r.implementation = 'arm-architectural' LIMIT 1),
                (SELECT min(name) FROM registers r WHERE r.key = a.key HAVING count(DISTINCT name) = 1),
                CASE WHEN a.key >= 2147483648 THEN
                     CASE WHEN (a.key >> 30) & 1 THEN printf('p%d:%d:c%d', (a.key >> 16) & 15, (a.key >> 11) & 15, (a.key >> 3) & 15)
                          ELSE printf('p%d:%d:c%d:c%d:%d', (a.key >> 16) & 15, (a.key >> 11) & 7, (a.key >> 7) & 15, (a.key >> 3) & 15, a.key & 7) END
                     ELSE printf('s%d_%d_c%d_c%d_%d', (a.key >> 14) & 3, (a.key >> 11) & 7, (a.key >> 7) & 15, (a.key >> 3) & 15, a.key & 7)
                END) AS name,
       printf('0x%016x', a.pc) AS pc,
       a.el,
       CASE a.is_write WHEN 1 THEN 'write' ELSE 'read' END AS direction,
       printf('0x%016x', a.value) AS value,
       a.action, a.rule
FROM accesses a LEFT JOIN boots b ON b.id = a.boot_id;
