#!/bin/bash
# SPDX-License-Identifier: MIT
# Two ClickHouse servers as the two shards of cluster `fleet'; boots of two trace databases (two
# hosts) pushed with --to A --to B --cluster fleet land each on one shard's local tables, and
# queries through the Distributed tables (accesses_all, boots_all) on either server see every boot
# exactly once; a second push of both sends nothing; idsrctl reads either server's boots through the
# Distributed tables (boots URL lists all 20, show URL#UID of a boot on the other shard is the trace's).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/clickhouse.sh"
. "$(dirname "$0")/synth.sh"
cd "$(dirname "$0")/../.."
C="$B/idsrctl"
synth_boots "$T/a.db" host-a 12 1000 2
synth_boots "$T/b.db" host-b 8 3000 4
CH_TCP_a=$(ch_free_port) CH_TCP_b=$(ch_free_port)
ch_start a fleet "$CH_TCP_a" "$CH_TCP_b" || exit 1
ch_start b fleet "$CH_TCP_a" "$CH_TCP_b" || exit 1

check_rc "push both traces to the two shards" 0 "$C" push "$T/a.db" "$T/b.db" --to "$CH_URL_a" --to "$CH_URL_b" --cluster fleet
check "20 boots sent, each with all its rows" "20" "$(grep -c ' rows sent in 1 batch, \(1000\|3000\) on the server$' <<< "$OUT")"
on_a=$(grep -c " -> $CH_URL_a: " <<< "$OUT"); on_b=$(grep -c " -> $CH_URL_b: " <<< "$OUT")
check "boots spread over both shards (by boot_uid): $on_a and $on_b" "20 yes" "$((on_a + on_b)) $([ "$on_a" -gt 0 ] && [ "$on_b" -gt 0 ] && echo yes)"
check "each shard holds the boots said to go there" "$on_a $on_b" \
	"$(ch a "SELECT count() FROM boots FORMAT TSV") $(ch b "SELECT count() FROM boots FORMAT TSV")"
check "no boot on both shards" "" "$(comm -12 <(ch a "SELECT DISTINCT boot_uid FROM accesses FORMAT TSV" | sort) \
	<(ch b "SELECT DISTINCT boot_uid FROM accesses FORMAT TSV" | sort))"
for s in a b; do
	check "through accesses_all on $s: every row once" "36000	36000	20" \
		"$(ch $s "SELECT count(), uniqExact(boot_uid, vcpu, seq), uniqExact(boot_uid) FROM accesses_all FORMAT TSV")"
	check "through boots_all on $s: every boot once, per host" "host-a	12	12	12000
host-b	8	8	24000" "$(ch $s "SELECT host, count(), uniqExact(boot_uid), sum(accesses) FROM boots_all GROUP BY host ORDER BY host FORMAT TSV")"
done
check "boots per kernel through the cluster, as in the two traces" \
	"$(sqlite3 -separator '	' "$T/a.db" "ATTACH '$T/b.db' AS b; SELECT kernel, count(*) FROM (SELECT kernel FROM boots UNION ALL SELECT kernel FROM b.boots) GROUP BY kernel ORDER BY kernel")" \
	"$(ch a "SELECT kernel, count() FROM boots_all GROUP BY kernel ORDER BY kernel FORMAT TSV")"
check_rc "push both again" 0 "$C" push "$T/a.db" "$T/b.db" --to "$CH_URL_a" --to "$CH_URL_b" --cluster fleet
check "nothing sent: all 20 already there" "20" "$(grep -c ': already there (\(1000\|3000\) rows)$' <<< "$OUT")"
check "still every row once" "36000	36000" "$(ch b "SELECT count(), uniqExact(boot_uid, vcpu, seq) FROM accesses_all FORMAT TSV")"
check "boots URL of server a lists every boot of both shards (through boots_all)" \
	"$(sqlite3 "$T/a.db" "ATTACH '$T/b.db' AS b; SELECT boot_uid FROM boots UNION SELECT boot_uid FROM b.boots" | sort)" \
	"$("$C" boots "$CH_URL_a" | awk 'NR > 1 { print $1 }' | sort)"
uid_b=$(ch b "SELECT boot_uid FROM boots ORDER BY boot_uid LIMIT 1 FORMAT TSV")
trace_b=$(sqlite3 "$T/a.db" "SELECT id FROM boots WHERE boot_uid = '$uid_b'")
if [ -n "$trace_b" ]; then trace_b="$T/a.db:$trace_b"; else trace_b="$T/b.db:$(sqlite3 "$T/b.db" "SELECT id FROM boots WHERE boot_uid = '$uid_b'")"; fi
check "show A_URL#UID of a boot on shard b: the trace's show ($(sqlite3 "${trace_b%:*}" "SELECT count(*) FROM accesses WHERE boot_id = ${trace_b##*:}") rows, compared by md5)" \
	"$("$C" show "$trace_b" 2>&1 | md5sum)" "$("$C" show "$CH_URL_a#$uid_b" 2>&1 | md5sum)"
done_testing
