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

# 120 idle connections: some must be refused for want of descriptors. The holder
# waits for the first refusal (a state, with a deadline: idsrd may be slow to get
# the CPU), prints how many it saw, and holds the rest until $T/release exists.
python3 - "$T/vmm.sock" "$T/release" >"$T/held" <<'PY' &
import os, socket, sys, time
held, refused = [], set()
for i in range(120):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.setblocking(False)
    held.append(s)
deadline = time.monotonic() + 60
while not refused and time.monotonic() < deadline:
    for s in held:
        try:
            if s.recv(1) == b"":
                refused.add(s)
        except BlockingIOError:
            pass
    time.sleep(0.05)
print(len(refused), flush=True)
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline + 60:
    time.sleep(0.05)
PY
HOLDER=$!
wait_until test -s "$T/held"
refused=$(cat "$T/held")
check_match "connections past the descriptors are closed at once" '^[1-9][0-9]*$' "$refused"
check_match "the refusal is logged once a second, not per connection" '^[1-3]$' \
	"$(grep -c 'idsrd is out of file descriptors' "$T/idsrd.log")"
touch "$T/release"
wait $HOLDER
# the descriptors are back: it serves again. Each end is noticed on its own
# (a parked connection gets a thread to read its EOF), so allow it a moment.
for _ in $(seq 600); do
	OUT=$(timeout 60 "$B/idsrctl" status --control "$T/ctl.sock" 2>&1)
	[[ "$OUT" =~ connections:\ +0\ VMM ]] && break
	sleep 0.1
done
check_match "idsrctl status answers once the connections are gone" "connections: +0 VMM" "$OUT"
stop_daemon
check "idsrd stops cleanly" 0 "$?"
done_testing
