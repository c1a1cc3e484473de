# SPDX-License-Identifier: MIT
# Helpers for the service tests: `make install` into a directory, and programs
# built against that installed tree with pkg-config. Source after tests/lib.sh.
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# install_tree DEST [VAR=VALUE...]: make install DESTDIR=DEST (DEST may be
# empty for a PREFIX install); the output goes to $T/install.log.
install_tree() {
	local dest=$1; shift
	# a make of our own, not a part of the make that runs the tests
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SRC" --no-print-directory \
		BUILD="${BUILD:-build}" DESTDIR="$dest" "$@" install >"$T/install.log" 2>&1 ||
		{ echo "# make install failed:"; tail -20 "$T/install.log" | sed 's/^/# /'; return 1; }
}

# pc DEST ARGS...: pkg-config for the tree installed in DEST with PREFIX=/usr/local
pc() {
	local dest=$1; shift
	PKG_CONFIG_PATH="$dest/usr/local/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config "$@"
}

# build_installed DEST shared|static OUT SOURCE: compiles SOURCE against the
# installed idsr_client.h and links the installed library, as docs/integrating-a-vmm.md says.
build_installed() {
	local dest=$1 how=$2 out=$3 src=$4 flags
	flags="-std=c11 -Wall -Wextra -Werror -O2"
	# a `make SANITIZE=1` tree: its library needs the sanitizers' runtimes
	nm "$dest/usr/local/lib/libidsr-client.a" 2>/dev/null | grep -q __asan_ &&
		flags="$flags -fsanitize=address,undefined"
	if [ "$how" = shared ]; then
		cc $flags -o "$out" "$src" $(pc "$dest" --cflags --libs idsr-client)
	else
		cc $flags -o "$out" "$src" $(pc "$dest" --cflags --libs-only-L idsr-client) \
			-l:libidsr-client.a $(pc "$dest" --libs libprotobuf-c)
	fi
}

# wait_sockets PID PATH...: until every PATH is ready: a stream socket listening,
# or a datagram socket bound; at most 60 s, and not after PID has died. 0, or 1
# with a message. (The file is not enough: systemd-socket-activate binds, which
# makes it, and only then listens; a VMM connecting between the two is refused
# with ECONNREFUSED. Nor may we probe by connecting: that would start idsrd.)
wait_sockets() {
	local pid=$1 i p missing; shift
	for i in $(seq 1 1200); do	# 60 s at most
		missing=
		for p; do socket_ready "$p" || missing=$p; done
		[ -z "$missing" ] && return 0
		kill -0 "$pid" 2>/dev/null || { echo "# the launcher (pid $pid) died"; return 1; }
		sleep 0.05
	done
	echo "# $missing is not listening"
	return 1
}

# socket_ready PATH: /proc/net/unix has PATH listening (flags __SO_ACCEPTCON,
# 00010000) or as a datagram socket (type 0002)
socket_ready() {
	awk -v p="$1" '$8 == p && ($4 == "00010000" || $5 == "0002") { found = 1 } END { exit !found }' /proc/net/unix
}
