#!/bin/bash
# SPDX-License-Identifier: MIT
# docs/fleet.md's fleet questions, each taken from the page as written, run on boots pushed to a
# real ClickHouse server, with their exact answers: four boots of two kernels on two hosts, one a
# replay that diverged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
sqlite3 "$T/t.db" < schema.sql
# HID4_EL1 is 51104, HID0_EL1 51072; boot 4 replays boot 3 and diverged twice.
sqlite3 "$T/t.db" "INSERT INTO boots(id, start_ns, end_ns, end_reason, vm_name, kernel, vcpus, host, mode, replay_of, divergences)
	VALUES (1, 1, 2, 'bye', 'a', '6.1', 1, 'h1', 'live', NULL, 0), (2, 3, 4, 'bye', 'b', '6.1', 1, 'h2', 'live', NULL, 0),
	       (3, 5, 6, 'bye', 'c', '6.2', 1, 'h1', 'live', NULL, 0), (4, 7, 8, 'bye', 'c', '6.2', 1, 'h2', 'replay', 3, 2);
	INSERT INTO accesses VALUES (1, 0, 0, 1, 51104, 4096, 1, 1, 32, 'emulate', 0), (1, 0, 1, 1, 51072, 4100, 1, 0, 5, 'emulate', 0),
	       (2, 0, 0, 3, 51104, 4096, 1, 1, 1, 'emulate', 0), (2, 0, 1, 3, 51072, 4100, 1, 0, 5, 'emulate', 0),
	       (3, 0, 0, 5, 51104, 4096, 1, 1, 33, 'emulate', 0), (3, 0, 1, 5, 51072, 4100, 1, 0, 5, 'emulate', 0),
	       (4, 0, 0, 7, 51104, 4096, 1, 1, 33, 'emulate', 0), (4, 0, 1, 7, 51072, 4100, 1, 0, 7, 'emulate', 0),
	       (4, 0, 2, 7, 51104, 4096, 1, 1, 2, 'emulate', 0)"
ch_start a || exit 1
check_rc "push the four boots" 0 "$C" push "$T/t.db" --to "$CH_URL_a"
# The page's ```sql blocks, in order, one query a line.
mapfile -t Q < <(awk '/^```sql$/ { on = 1; q = ""; next } on && /^```$/ { on = 0; print q; next } on { q = q " " $0 }' docs/fleet.md)
check "docs/fleet.md has four questions" 4 "${#Q[@]}"
check "which boots wrote HID4_EL1 with bit 5 set" "h1	a	6.1	1
h1	c	6.2	3
h2	c	6.2	4" "$(ch a "${Q[0]} FORMAT TSV")"
check "which registers' first values changed between 6.1 and 6.2" "51072	[5]	[5,7]
51104	[1,32]	[33]" "$(ch a "${Q[1]} FORMAT TSV")"
check "which boots diverged from their recording" "h2	c	6.2	4	2" "$(ch a "${Q[2]} FORMAT TSV")"
check "distinct first values of HID4_EL1 per kernel" "6.1	[1,32]
6.2	[33]" "$(ch a "${Q[3]} FORMAT TSV")"
done_testing
