# SPDX-License-Identifier: MIT
# idsrd out of file descriptors: connections past the limit are refused (not left to spin
# on the backlog), the refusal is logged once, and the daemon stays responsive.
. "$(dirname "$0")/../lib.sh"
command -v prlimit >/dev/null && command -v python3 >/dev/null ||
	{ echo "1..0 # SKIP needs prlimit and python3"; exit 0; }

IDSRD_WRAPPER="prlimit --nofile=64" start_daemon || { not_ok "idsrd starts with 64 descriptors"; done_testing; exit; }
ok "idsrd starts with 64 descriptors"
check_match "it says the limit is too low for --max-connections" \
	"needs [0-9]+ file descriptors, the limit is 64" "$(cat "$T/idsrd.log")"

# 120 idle connections: some must be refused for want of descriptors
python3 - "$T/vmm.sock" >"$T/held" <<'PY' &
import socket, sys, time
held, refused = [], 0
for i in range(120):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(1.0)
for s in held:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            refused += 1
    except BlockingIOError:
        pass
print(refused, flush=True)
time.sleep(2)
PY
HOLDER=$!
for _ in $(seq 400); do	# until the holder has counted (up to 20 s on a loaded machine)
	[ -s "$T/held" ] && break
	sleep 0.05
done
refused=$(cat "$T/held")
check_match "connections past the descriptors are closed at once" '^[1-9][0-9]*$' "$refused"
check_match "the refusal is logged once a second, not per connection" '^[1-3]$' \
	"$(grep -c 'idsrd is out of file descriptors' "$T/idsrd.log")"
wait $HOLDER
# the descriptors are back: it serves again. Each end is noticed on its own
# (a parked connection gets a thread to read its EOF), so allow it a moment.
for _ in $(seq 50); do
	OUT=$(timeout 5 "$B/idsrctl" status --control "$T/ctl.sock" 2>&1)
	[[ "$OUT" =~ connections:\ +0\ VMM ]] && break
	sleep 0.1
done
check_match "idsrctl status answers once the connections are gone" "connections: +0 VMM" "$OUT"
stop_daemon
check "idsrd stops cleanly" 0 "$?"
done_testing
