# SPDX-License-Identifier: MIT
# Sourced by the shell benchmarks that boot guests through one idsrd (fastpath.sh, qemu.sh):
# bench_idsrd_start TAG starts idsrd on `* raz-wi' in a temp dir $T (sockets $T/vmm.sock and
# $T/ctl.sock, trace $T/trace.db), stops it and removes $T at exit; best CMD... prints the
# best wall time in ns of $RUNS runs of CMD (0 when it fails). Needs $B (the build directory).

DAEMON=
bench_idsrd_cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	rm -rf "$T"
}

bench_idsrd_start() {
	T=$(mktemp -d "/tmp/idsr-bench-$1.XXXXXX")
	trap bench_idsrd_cleanup EXIT
	echo '* raz-wi' >"$T/policy.conf"
	"$B/idsrd" --socket "$T/vmm.sock" --control "$T/ctl.sock" --db "$T/trace.db" --foreground \
		--policy "$T/policy.conf" 2>"$T/idsrd.log" &
	DAEMON=$!
	for _ in $(seq 200); do [ -S "$T/vmm.sock" ] && break; sleep 0.05; done
	[ -S "$T/vmm.sock" ] || { echo "   idsrd did not start: $(cat "$T/idsrd.log")"; exit 0; }
}

best() {
	local i s e t min=
	for i in $(seq "$RUNS"); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; echo 0; return; }
		e=$(date +%s%N)
		t=$((e - s))
		[ -z "$min" ] || [ "$t" -lt "$min" ] && min=$t
	done
	echo "$min"
}
