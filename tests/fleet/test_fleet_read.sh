#!/bin/bash
# SPDX-License-Identifier: MIT
# Asking the fleet: boots recorded by the reference VMM, pushed to a real ClickHouse server (started
# from a config in $T), read back by URL#BOOT_UID or --vm/--kernel selectors through the same reader
# as a local trace: boots lists them, show/diff/report/export print what they print of the trace,
# several matches are listed and refused unless --latest, pull writes the boot exactly (a push of it
# is a no-op), replay of a fleet boot reproduces it; an unknown boot, a server that is down, a bad URL
# and bad credentials are refused with what failed and what to do.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
G="$B/guests"
unset IDSRD_DB
export XDG_CACHE_HOME=$T/cache

start_daemon --policy examples/policy.conf || exit 1
export IDSRD_CONTROL=$T/ctl.sock
"$B/idsr-vmm" --socket "$T/vmm.sock" --vcpus 2 --vm a --kernel 6.1 "$G/apple_boot.bin" >/dev/null 2>&1
"$B/idsr-vmm" --socket "$T/vmm.sock" --vm b --kernel 6.2 "$G/apple_boot.bin" >/dev/null 2>&1
"$B/idsr-vmm" --socket "$T/vmm.sock" --vcpus 2 --vm a --kernel 6.2 "$G/apple_boot.bin" >/dev/null 2>&1
boot_ended 1 && boot_ended 2 && boot_ended 3
ch_start a || exit 1
U=$CH_URL_a
uid() { sqlite3 "$T/trace.db" "SELECT boot_uid FROM boots WHERE id = $1"; }
uid1=$(uid 1) uid2=$(uid 2) uid3=$(uid 3)
check_rc "push the three boots" 0 "$C" push "$T/trace.db" --to "$U"

# ---- show, diff, report, export: as of the trace ------------------------------------------------
check "the boots have rules of a policy file (so names of rules are compared too)" yes \
	"$([ "$(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 1 AND rule > 0")" -gt 0 ] && echo yes)"
for n in 1 2 3; do
	check "show URL#UID of boot $n is byte for byte show trace.db:$n" \
		"$("$C" show "$T/trace.db:$n" 2>&1; echo "rc $?")" "$("$C" show "$U#$(uid $n)" 2>&1; echo "rc $?")"
done
check "show --json too" "$("$C" show "$T/trace.db:1" --json)" "$("$C" show "$U#$uid1" --json)"
check "a uid's first 8 characters name it" "$("$C" show "$T/trace.db:2")" "$("$C" show "$U#${uid2:0:8}")"
check_rc "diff of two local boots" 1 "$C" diff "$T/trace.db:1" "$T/trace.db:2" --json
local_diff=$OUT
check_rc "diff URL#UID1 trace.db:2: they differ" 1 "$C" diff "$U#$uid1" "$T/trace.db:2" --json
a_named() { sed -E 's/"a": \{"ref": "[^"]*", "path": "[^"]*"/"a": {A/'; }
check "... the same hunks and summary as the local diff (A named as given)" \
	"$(printf '%s' "$local_diff" | a_named)" "$(printf '%s' "$OUT" | a_named)"
check "... A's ref and path are the URL#UID" '  "a": {"ref": "'"$U#$uid1"'", "path": "'"$U#$uid1"'", "boot_id": 1,' \
	"$(printf '%s\n' "$OUT" | sed -n 2p | cut -d, -f1-3),"
check_rc "diff of a fleet boot with its own trace copy: the same" 0 "$C" diff "$U#$uid3" "$T/trace.db:3" --stat
"$C" report "$T/trace.db:3" -o "$T/local.html"
check_rc "report URL#UID" 0 "$C" report "$U#$uid3" -o "$T/fleet.html"
check "... the page of the local report (but its name)" "$(sed "s|$T/trace.db:3|REF|g" "$T/local.html" | md5sum)" \
	"$(sed "s|$U#$uid3|REF|g" "$T/fleet.html" | md5sum)"
check "export --format csv URL#UID is the trace's" "$("$C" export "$T/trace.db:2" --format csv)" \
	"$("$C" export "$U#$uid2" --format csv)"
printf 'impl apple\nHID0 read value 0x5\n' > "$T/other.conf"
check_match "(replay --against of the trace: an answer that says something)" '"vcpu"' \
	"$("$C" replay "$T/trace.db:1" --against "$T/other.conf" --json)"
check "replay --against POLICY of URL#UID: the trace's answer" \
	"$("$C" replay "$T/trace.db:1" --against "$T/other.conf" --json; echo "rc $?")" \
	"$("$C" replay "$U#$uid1" --against "$T/other.conf" --json; echo "rc $?")"
learnt=$("$C" policy learn "$T/trace.db:1" 2>&1 | grep -v '^#')
check "policy learn URL#UID learns what it learns of the trace" "$learnt" \
	"$("$C" policy learn "$U#$uid1" 2>&1 | grep -v '^#')"
check_match "... rules of the boot's registers" "HID4_EL1 +value 0x100000000000" "$learnt"
check "stats URL#UID too" "$("$C" stats "$T/trace.db:1")" "$("$C" stats "$U#$uid1")"

# ---- boots and the selectors ------------------------------------------------------------------
check_rc "boots URL" 0 "$C" boots "$U"
check "... lists the three, oldest first, with boot_uid, host and their ids" \
	"$uid1 $(hostname) 1 a 6.1
$uid2 $(hostname) 2 b 6.2
$uid3 $(hostname) 3 a 6.2" "$(printf '%s\n' "$OUT" | awk 'NR > 1 { print $1, $2, $3, $7, $10 }')"
check "... its header" "boot_uid host boot started took vm vmm kernel vcpus mode accesses undefs dropped diverg ended" \
	"$(printf '%s\n' "$OUT" | head -1 | tr -s ' ')"
check "boots URL --json: the trace's boots --json, row for row" "$("$C" boots "$T/trace.db" --json)" \
	"$("$C" boots "$U" --json)"
check "boots URL --vm a: two" "$uid1 $uid3" "$("$C" boots "$U" --vm a --json-lines | sed 's/.*"boot_uid": "\([^"]*\)".*/\1/' | tr '\n' ' ' | sed 's/ $//')"
check "boots URL --vm a --kernel 6.2: one" "3" "$("$C" boots "$U" --vm a --kernel 6.2 --json-lines | sed 's/.*"boot_id": \([0-9]*\),.*/\1/')"
check "boots URL --vm a --latest: the newest" "$uid3" "$("$C" boots "$U" --vm a --latest | awk 'NR > 1 { print $1 }')"
check "boots URL --vm c: none, an empty listing" "[]" "$("$C" boots "$U" --vm c --json)"
check "boots URL#UID: that one" "$uid2" "$("$C" boots "$U#$uid2" | awk 'NR > 1 { print $1 }')"
check_rc "show URL --vm a: two boots match" 2 "$C" show "$U" --vm a
check "... the message names the selection and what to do" \
	"idsrctl: show: 2 boots in $U match --vm a: name one as URL#BOOT_UID, or add --latest for the newest:" \
	"$(printf '%s\n' "$OUT" | head -1)"
check "... and lists both, newest first" "$uid3 $uid1" "$(printf '%s\n' "$OUT" | awk 'NR > 1 { printf "%s ", $1 }' | sed 's/ $//')"
check_match "... with host, boot, vm and kernel" "host $(hostname)  boot 3  vm a  kernel 6.2  [0-9]+ accesses" "$OUT"
check "show URL --vm a --latest: boot 3" "$("$C" show "$T/trace.db:3")" "$("$C" show "$U" --vm a --latest)"
check "show URL --kernel 6.1: the one boot" "$("$C" show "$T/trace.db:1")" "$("$C" show "$U" --kernel 6.1)"
check_rc "diff URL --vm a --latest trace.db:3: the same boot" 0 "$C" diff "$U" "$T/trace.db:3" --vm a --latest --stat
check_rc "show URL alone: three match" 2 "$C" show "$U"
check_match "... none named" "3 boots in .* match \(every boot: none named\)" "$OUT"

# ---- pull, and push back ----------------------------------------------------------------------
check_rc "pull URL#UID -o FILE" 0 "$C" pull "$U#$uid2" -o "$T/pulled.db"
check "... says what it wrote" "$U#$uid2 -> $T/pulled.db:2: $(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 2") rows (boot 2 of host $(hostname))
$T/pulled.db:2" "$OUT"
check "... every column of its boots row as in the trace" \
	"$(sqlite3 "$T/trace.db" "SELECT * FROM boots WHERE id = 2")" "$(sqlite3 "$T/pulled.db" "SELECT * FROM boots")"
check "... every access as in the trace" "$(sqlite3 "$T/trace.db" "SELECT * FROM accesses WHERE boot_id = 2")" \
	"$(sqlite3 "$T/pulled.db" "SELECT * FROM accesses")"
check "... its policy versions and their texts" \
	"$(sqlite3 "$T/trace.db" "SELECT p.* FROM policies p JOIN boot_policies b ON b.policy_hash = p.hash WHERE boot_id = 2; SELECT * FROM boot_policies WHERE boot_id = 2")" \
	"$(sqlite3 "$T/pulled.db" "SELECT p.* FROM policies p JOIN boot_policies b ON b.policy_hash = p.hash; SELECT * FROM boot_policies")"
check "... a trace of the current schema" "$(sqlite3 "$T/trace.db" "PRAGMA user_version")" "$(sqlite3 "$T/pulled.db" "PRAGMA user_version")"
check_rc "pushing it back" 0 "$C" push "$T/pulled.db" --to "$U"
check "... is a no-op" "$T/pulled.db:2 $uid2 -> $U: already there ($(sqlite3 "$T/trace.db" "SELECT count(*) FROM accesses WHERE boot_id = 2") rows)" "$OUT"
check_rc "pull it again" 0 "$C" pull "$U#$uid2" -o "$T/pulled.db"
check "... writes nothing" "$T/pulled.db already holds boot $uid2 as boot 2: nothing written
$T/pulled.db:2" "$OUT"
check_rc "pull selects as the readers do (--kernel 6.1: boot 1)" 0 "$C" pull "$U" --kernel 6.1 -o "$T/pulled.db"
check "pull boot 3 too: it keeps its id" "$T/pulled.db:3" "$("$C" pull "$U#$uid3" -o "$T/pulled.db" 2>/dev/null)"
"$C" pull "$U#$uid3" -o "$T/two.db" >/dev/null 2>&1
sqlite3 "$T/two.db" "UPDATE boots SET id = 2 WHERE id = 3; UPDATE accesses SET boot_id = 2"
check "pull boot 2 into a file whose boot 2 is another: it takes the next id" "$T/two.db:3" \
	"$("$C" pull "$U#$uid2" -o "$T/two.db" 2>/dev/null)"
check "... the file holds both" "2 $uid3|3 $uid2" "$(sqlite3 "$T/two.db" "SELECT group_concat(id || ' ' || boot_uid, '|') FROM (SELECT * FROM boots ORDER BY id)")"
check_rc "a running idsrd's database is refused" 2 "$C" pull "$U#$uid1" -o "$T/trace.db"
check_match "... naming the holder" "in use by idsrd pid [0-9]+" "$OUT"
check_rc "pull without -o" 2 "$C" pull "$U#$uid1"
check "... says so" "idsrctl: pull: no -o FILE: name the trace database to write the boot into" "$OUT"

# Exactness at the edges: NULL beside '', text with tabs, newlines and backslashes, blobs, u64
# values and PCs with the top bit set, the extreme ts_ns and rules, an AArch32 key.
sqlite3 "$T/edge.db" < schema.sql
sqlite3 "$T/edge.db" "INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, instance, kernel, build_id, image_base,
	slide, midr, impl, vcpus, mode, replay_of, replay_source, policy_hash, end_reason, accesses, undefs,
	rows_dropped, divergences, peer_uid, peer_gid, peer_pid, has_pcs, imported_from, host)
	VALUES (7, 5, 6, NULL, '', x'00ff10', 'k' || char(9) || 'a\b' || char(10) || 'c', x'', -1,
	-9223372036854775808, 0, NULL, 2, 'replay', 3, '/x y/t.db', NULL, 'bye', 3, 1, 0, 2, 0, NULL, 123, 0,
	NULL, NULL);
	INSERT INTO accesses VALUES (7, 0, 0, -9223372036854775808, 2148468744, -1, 0, 1, -9223372036854775808, 'undef', -5),
	(7, 0, 1, 9223372036854775807, 51072, -9223372036854775808, 3, 0, -1, 'emulate', 2147483647),
	(7, 1, 0, 0, 51104, 0, 1, 1, 9223372036854775807, 'emulate', -2147483648)"
check_rc "push a boot of edge values" 0 "$C" push "$T/edge.db:7" --to "$U"
euid=$(sqlite3 "$T/edge.db" "SELECT boot_uid FROM boots")
check "show URL#UID of it is the trace's" "$("$C" show "$T/edge.db:7" --json)" "$("$C" show "$U#$euid" --json)"
check_rc "pull it" 0 "$C" pull "$U#$euid" -o "$T/edge2.db"
check "its boots row: every column, NULL and '' apart, text and blobs byte for byte" \
	"$(sqlite3 -cmd '.mode quote' "$T/edge.db" "SELECT * FROM boots")" "$(sqlite3 -cmd '.mode quote' "$T/edge2.db" "SELECT * FROM boots")"
check "its accesses: every value" "$(sqlite3 -cmd '.mode quote' "$T/edge.db" "SELECT * FROM accesses")" \
	"$(sqlite3 -cmd '.mode quote' "$T/edge2.db" "SELECT * FROM accesses")"

# A boot pushed from a damaged trace is read through the same checks, named by its URL.
sqlite3 "$T/edge.db" "INSERT INTO boots(id, start_ns, end_ns, end_reason, vcpus) VALUES (8, 1, 2, 'bye', 1);
	INSERT INTO accesses VALUES (8, 0, 0, 1, 1073741824, 0, 1, 0, 0, 'emulate', 0)"
check_rc "push it" 0 "$C" push "$T/edge.db:8" --to "$U"
duid=$(sqlite3 "$T/edge.db" "SELECT boot_uid FROM boots WHERE id = 8")
check_rc "show URL#UID of it: refused as the trace is" 2 "$C" show "$U#$duid"
check "... by the one reader's check, naming the boot by its URL" \
	"$("$C" show "$T/edge.db:8" 2>&1 | sed "s|$T/edge.db|WHERE|")" "$(printf '%s\n' "$OUT" | sed "s|$U#$duid|WHERE|")"

# ---- replay of a fleet boot ----------------------------------------------------------------
"$C" replay "$U#$uid2" --vm b --timeout 60 >"$T/replay.out" 2>"$T/replay.err" &
REPLAY=$!
wait_until sh -c "'$C' status 2>/dev/null | grep -q 'replay armed'" || cat "$T/replay.err"
check "the boot was pulled into the cache" "$uid2" "$(sqlite3 "$T/cache/idsrd/fleet/$uid2.db" "SELECT boot_uid FROM boots")"
"$B/idsr-vmm" --socket "$T/vmm.sock" --vm b --kernel 6.2 "$G/apple_boot.bin" >/dev/null 2>&1
wait "$REPLAY"
check "replay URL#UID reproduces it" "0 reproduced" "$? $(cut -d: -f1 "$T/replay.out")"
check "... replaying boot 2 of the cached file" "2|$T/cache/idsrd/fleet/$uid2.db" \
	"$(sqlite3 "$T/trace.db" "SELECT replay_of, replay_source FROM boots WHERE mode = 'replay'")"

# ---- what goes wrong --------------------------------------------------------------------------
check_rc "an unknown boot" 2 "$C" show "$U#00000000-0000-0000-0000-000000000000"
check "... named, with where to look" "idsrctl: show: $U: no boot there matches #00000000-0000-0000-0000-000000000000 (idsrctl boots $U lists them)" "$OUT"
check_rc "a #BOOT_UID that is not one" 2 "$C" show "$U#xyz"
check_match "... says what it takes" "#BOOT_UID takes a boot's boot_uid" "$OUT"
check_rc "a URL without a database" 2 "$C" show "http://127.0.0.1:$CH_HTTP_a/#$uid1"
check_match "... says the form" "expected http://HOST:PORT/DATABASE" "$OUT"
check_rc "a database nothing was pushed to" 2 "$C" boots "http://127.0.0.1:$CH_HTTP_a/default"
check "... says so" "idsrctl: boots: http://127.0.0.1:$CH_HTTP_a/default: no boots there (its database has no table \`boots'): push boots to it first (idsrctl push TRACE --to URL)" "$OUT"
printf 'user nobody_here\npassword x\n' > "$T/cred"; chmod 600 "$T/cred"
check_rc "bad credentials" 2 "$C" show "$U#$uid1" --credentials "$T/cred"
check_match "... the server's word, and what to check" "nobody_here.*\(check the credentials: --credentials FILE" "$OUT"
check_rc "tail refuses a URL" 2 "$C" tail "$U#$uid1" -n 3
check_match "... saying what to use" "tail watches a trace idsrd writes; show prints a pushed boot" "$OUT"
check_rc "--vm with a file" 2 "$C" show "$T/trace.db" --vm a
check "... refused" "idsrctl: show: --vm is for a boot in ClickHouse: give its URL (http://HOST:PORT/DATABASE)" "$OUT"
ch_stop a
check_rc "a server that is down" 2 "$C" show "$U#$uid1"
check_match "... named, with what to check" "show: $U: Couldn't connect to server \(is ClickHouse running there\? check the URL\)" "$OUT"
check_rc "replay of a cached boot needs no server" 0 sh -c "'$C' replay '$U#$uid2' --vm b --timeout 60 >'$T/replay.out' 2>&1 &
	wait_armed() { for i in \$(seq 1200); do '$C' status 2>/dev/null | grep -q 'replay armed' && return 0; sleep 0.05; done; return 1; }
	wait_armed && '$B/idsr-vmm' --socket '$T/vmm.sock' --vm b --kernel 6.2 '$G/apple_boot.bin' >/dev/null 2>&1 && wait"
check_match "... and reproduces it" "^reproduced" "$(cat "$T/replay.out")"
check_rc "--help names the URL form" 0 "$C" pull --help
check_match "... and the selectors" "--latest" "$OUT"
done_testing
