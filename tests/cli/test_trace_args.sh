#!/bin/bash
# SPDX-License-Identifier: MIT
# Every reading command takes the same trace argument, parsed in one place (cli/trace_arg.c):
# nothing (the running daemon's database, else the default file), FILE, FILE:BOOT, :BOOT or a
# bare number (a boot of the default database; ./3 is a file named 3), and --db FILE.
. "$(dirname "$0")/../lib.sh"
unset IDSRD_DB
C="$B/idsrctl"
G=$B/guests

start_daemon --policy examples/policy.conf || exit 1
"$B/idsr-vmm" --vcpus 2 --vm two "$G/apple_boot.bin" >/dev/null || echo "# boot 1 failed"
"$B/idsr-vmm" --vm one "$G/apple_boot.bin" >/dev/null || echo "# boot 2 failed"
boot_ended 1 && boot_ended 2	# the VMMs' exits do not wait for idsrd's last commit

rows() { "$@" --json 2>&1 | grep -c '"seq"'; }
# show: 30 rows in boot 1 (2 vCPUs), 15 in boot 2
check "show alone: the daemon's database, its last boot" "15" "$(cd / && rows "$C" show)"
check "show 1: boot 1 of the daemon's database" "30" "$(rows "$C" show 1)"
check "show :1" "30" "$(rows "$C" show :1)"
check "show FILE:1" "30" "$(rows "$C" show "$T/trace.db:1")"
check "show FILE" "15" "$(rows "$C" show "$T/trace.db")"
check "show --db FILE 1" "30" "$(rows "$C" show --db "$T/trace.db" 1)"
check "show --db FILE :1" "30" "$(rows "$C" show --db "$T/trace.db" :1)"
sqlite3 "$T/trace.db" "VACUUM INTO '$T/3'"
check "show ./3: a file named 3" "15" "$(cd "$T" && rows "$C" show ./3)"
check_rc "show --db FILE FILE: the database named twice" 2 "$C" show --db "$T/trace.db" "$T/3"
check "says so" "idsrctl: show: the database is named twice, \`$T/3' and --db $T/trace.db: give one" "$OUT"
check_rc "show 0" 2 "$C" show 0
check "a boot id is from 1" "idsrctl: show: boot: \`0' is not a boot id (1 or more)" "$OUT"
check_rc "show :x" 2 "$C" show :x
check "not a number" "idsrctl: show: boot: \`x' is not a number (decimal, or hexadecimal after 0x)" "$OUT"
check_rc "export :1" 0 "$C" export :1 --format csv
check "export :1: boot 1's 30 rows and a header" "31" "$(printf '%s\n' "$OUT" | wc -l)"
check_rc "show 9: no such boot" 2 "$C" show 9
check "names the file" "idsrctl: show: $T/trace.db: no boot 9 in this trace (idsrctl boots lists them)" "$OUT"
check_rc "show FILE:ID past 63 bits" 2 "$C" show "$T/trace.db:99999999999999999999"
check "refused (strtoll once made it boot 2^63 - 1)" \
	"idsrctl: show: \`$T/trace.db:99999999999999999999' is not a trace (FILE, FILE:BOOT, :BOOT or BOOT)" "$OUT"
check_rc "show --vcpu 2 of a 2-vCPU boot" 2 "$C" show 1 --vcpu 2
check "says which vCPUs there are" "idsrctl: show: boot 1 has 2 vCPUs (0-1): no vCPU 2" "$OUT"
check "show --vcpu 1: its 15" "15" "$(rows "$C" show 1 --vcpu 1)"

check_match "stats alone: the last boot" "^boot 2: vm \`one'" "$("$C" stats)"
check_match "stats 1" "^boot 1: vm \`two'" "$("$C" stats 1)"
check_match "stats FILE:1" "^boot 1: vm \`two'" "$("$C" stats "$T/trace.db:1")"
check_match "stats ./3: the file" "^boot 2: vm \`one'" "$(cd "$T" && "$C" stats ./3)"
check "boots alone: both" "2" "$("$C" boots --json | grep -c boot_id)"
check_match "boots: the kernel column (--help promises it)" "^ *2  .* one +idsr-vmm [0-9.]+ +apple_boot +1  live " "$("$C" boots | tail -1)"
check "boots 1: that boot alone" "1" "$("$C" boots --json 1 | grep -c '"boot_id": 1,')"
check "boots --db FILE" "2" "$("$C" boots --json --db "$T/3" | grep -c boot_id)"
check_match "diff 1 2: boots of the default database" "^different: 0 added, 15 removed, 0 changed \(A: 30 accesses, B: 15 accesses\)" "$("$C" diff 1 2)"
check_rc "diff :2 FILE:2: the same boot" 0 "$C" diff :2 "$T/trace.db:2"
check_rc "tail -n 3 :1" 0 "$C" tail -n 3 :1 --json
check "tail: boot 1's last three" "1 1 1" "$(echo "$OUT" | grep -o '"boot_id": [0-9]*' | cut -d' ' -f2 | paste -sd' ')"
check_rc "tail 1 --boot 2: refused" 2 "$C" tail 1 --boot 2
check_rc "replay :1 --against" 0 "$C" replay :1 --against examples/policy.conf
check_match "replay: boot 1" "of boot 1 differ" "$OUT"
stop_daemon

# No daemon: the default database (idsrd's), named when it is missing.
export IDSRD_CONTROL=$T/none.sock XDG_STATE_HOME=$T/state
def=$T/state/idsrd/trace.db
[ "$(id -u)" -eq 0 ] && def=/var/lib/idsrd/trace.db	# root's default (idsrd(8) DEFAULT PATHS)
if [ -e "$def" ]; then ok "# skip $def exists here"; ok "# skip"; else
	check_rc "no daemon, no default file" 2 "$C" show
	check "says where it looked and what to give" "idsrctl: show: $def: no database there, and no idsrd answers to name its own: give FILE or --db FILE" "$OUT"
fi
export IDSRD_DB=$T/trace.db
check "\$IDSRD_DB: boot 1" "30" "$(rows "$C" show 1)"

done_testing
