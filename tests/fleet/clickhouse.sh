# SPDX-License-Identifier: MIT
# ClickHouse servers for the fleet tests, each from a config in $T (source after tests/lib.sh):
#   ch_start NAME [CLUSTER SHARD_TCP_PORT...]  starts server NAME on free ports; sets CH_URL_NAME
#                                              (http://127.0.0.1:PORT/idsr) and CH_TCP_NAME
#   ch_stop NAME                               stops it (every server is stopped at exit anyway)
#   ch NAME SQL                                runs SQL on it (POST), prints the TSV answer
#   push_field FIELD                           idsrd's status --json .push.FIELD ($T/ctl.sock)
#   wait_long CMD...                           wait_until, for up to 5 minutes
# The test is skipped (TAP SKIP, saying why) only when clickhouse-server is not installed.
CH_BIN=$(command -v clickhouse-server || ls /usr/sbin/clickhouse-server 2>/dev/null)
if [ -z "$CH_BIN" ]; then
	echo "1..0 # SKIP clickhouse-server is not installed (scripts/deps.sh installs it: apt-get install clickhouse-server)"
	exit 0
fi
CH_PIDS=""
trap 'for p in $CH_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; cleanup' EXIT

ch_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ch_start() { # NAME [CLUSTER TCP_PORT...]
	local name=$1 dir=$T/ch-$1 http tcp i shards=""
	shift
	http=$(eval echo "\${CH_HTTP_$name:-}"); tcp=$(eval echo "\${CH_TCP_$name:-}")
	[ -n "$http" ] || http=$(ch_free_port)
	[ -n "$tcp" ] || tcp=$(ch_free_port)
	if [ $# -gt 0 ]; then
		local cluster=$1 p; shift
		for p in "$@"; do
			shards="$shards<shard><replica><host>127.0.0.1</host><port>$p</port></replica></shard>"
		done
		shards="<remote_servers><$cluster>$shards</$cluster></remote_servers>"
	fi
	mkdir -p "$dir/data" "$dir/tmp"
	cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/error.log</errorlog><console>0</console></logger>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <users_config>/etc/clickhouse-server/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>67108864</mark_cache_size>
    $shards
</yandex>
XML
	"$CH_BIN" --config-file="$dir/config.xml" >"$dir/stdout.log" 2>&1 &
	eval "CH_PID_$name=$!"
	CH_PIDS="$CH_PIDS $!"
	eval "CH_HTTP_$name=$http CH_TCP_$name=$tcp CH_URL_$name=http://127.0.0.1:$http/idsr"
	for i in $(seq 1 1200); do
		[ "$(curl -s "http://127.0.0.1:$http/?query=SELECT%201" 2>/dev/null)" = 1 ] && {
			curl -sS --data-binary "CREATE DATABASE IF NOT EXISTS idsr" "http://127.0.0.1:$http/"; return 0; }
		kill -0 "$(eval echo "\$CH_PID_$name")" 2>/dev/null || break
		sleep 0.05
	done
	echo "# clickhouse-server $name did not start:"; tail -5 "$dir/error.log" "$dir/stdout.log" | sed 's/^/# /'
	return 1
}

ch_stop() { # NAME: stops it, waits for the end (kill -9 with KILL as the second argument)
	local pid
	pid=$(eval echo "\$CH_PID_$1")
	kill "-${2:-TERM}" "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	return 0
}

ch() { # NAME SQL
	curl -sS --data-binary "$2" "http://127.0.0.1:$(eval echo "\$CH_HTTP_$1")/?database=idsr"
}

push_field() { # FIELD: idsrd --push's PushStatus field, from idsrctl status --json
	"$B/idsrctl" status --control "$T/ctl.sock" --json 2>/dev/null | jq -r ".push.$1"
}

# As wait_until, for up to 5 minutes: after the server comes back, idsrd's next try may be
# a backoff of 32 s or more away, and the machine may be loaded.
wait_long() {
	local i
	for i in $(seq 6000); do "$@" && return 0; sleep 0.05; done
	return 1
}
