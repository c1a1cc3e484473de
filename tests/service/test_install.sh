# SPDX-License-Identifier: MIT
# Tests `make install` / `make uninstall`: the exact tree under DESTDIR, the
# rewritten paths, the .pc file, the libraries' soname and exported symbols,
# a kept /etc/idsrd/policy.conf, and what uninstall leaves.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/service.sh"

# tree DIR: every entry with its mode (and a link's target), sorted by path
tree() { (cd "$1" && find . -mindepth 1 -printf '%M %P -> %l\n' | sed 's/ -> $//' | LC_ALL=C sort -k2); }

D=$T/dest
check_rc "make install DESTDIR" 0 install_tree "$D"
check "the installed tree" "drwxr-xr-x etc
drwxr-xr-x etc/idsrd
-rw-r--r-- etc/idsrd/policy.conf
drwxr-xr-x etc/idsrd/registers.d
drwxr-xr-x usr
drwxr-xr-x usr/local
drwxr-xr-x usr/local/bin
-rwxr-xr-x usr/local/bin/idsrctl
drwxr-xr-x usr/local/include
-rw-r--r-- usr/local/include/idsr_client.h
drwxr-xr-x usr/local/lib
-rw-r--r-- usr/local/lib/libidsr-client.a
lrwxrwxrwx usr/local/lib/libidsr-client.so -> libidsr-client.so.1
-rwxr-xr-x usr/local/lib/libidsr-client.so.1
drwxr-xr-x usr/local/lib/pkgconfig
-rw-r--r-- usr/local/lib/pkgconfig/idsr-client.pc
drwxr-xr-x usr/local/lib/systemd
drwxr-xr-x usr/local/lib/systemd/system
-rw-r--r-- usr/local/lib/systemd/system/idsrd-control.socket
-rw-r--r-- usr/local/lib/systemd/system/idsrd.service
-rw-r--r-- usr/local/lib/systemd/system/idsrd.socket
drwxr-xr-x usr/local/lib/sysusers.d
-rw-r--r-- usr/local/lib/sysusers.d/idsrd.conf
drwxr-xr-x usr/local/lib/tmpfiles.d
-rw-r--r-- usr/local/lib/tmpfiles.d/idsrd.conf
drwxr-xr-x usr/local/sbin
-rwxr-xr-x usr/local/sbin/idsrd" "$(tree "$D" | grep -v ' usr/local/share')"

# Man pages are built by their own rule; once there, exactly these four.
if [ -d "$D/usr/local/share/man" ]; then
	check "the installed man pages" "usr/local/share/man/man1/idsrctl.1
usr/local/share/man/man5/idsrd-names.5
usr/local/share/man/man5/idsrd-policy.5
usr/local/share/man/man8/idsrd.8" "$(cd "$D" && find usr/local/share -type f | LC_ALL=C sort)"
else
	ok "the installed man pages # SKIP no man pages are built yet"
fi

check "the files are the built ones" "" \
	"$(cmp "$B/idsrd" "$D/usr/local/sbin/idsrd"; cmp "$B/idsrctl" "$D/usr/local/bin/idsrctl";
	   cmp "$SRC/examples/policy.conf" "$D/etc/idsrd/policy.conf";
	   cmp "$SRC/proto/idsr_client.h" "$D/usr/local/include/idsr_client.h";
	   cmp "$SRC/systemd/idsrd.socket" "$D/usr/local/lib/systemd/system/idsrd.socket")"
check "idsr-client.pc" "prefix=/usr/local
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: idsr-client
Description: Client library for VMMs that forward IDSR accesses to idsrd
Version: 0.1.0
Requires.private: libprotobuf-c
Libs: -L\${libdir} -lidsr-client
Cflags: -I\${includedir}" "$(cat "$D/usr/local/lib/pkgconfig/idsr-client.pc")"
check "pkg-config with a sysroot" "-I$D/usr/local/include -L$D/usr/local/lib -lidsr-client" \
	"$(pc "$D" --cflags --libs idsr-client | sed "s| -I$D/usr/include||; s/ *$//")"
check "pkg-config --define-prefix relocates the tree" "-L$D/usr/local/lib -lidsr-client" \
	"$(PKG_CONFIG_PATH="$D/usr/local/lib/pkgconfig" pkg-config --define-prefix --libs idsr-client | sed 's/ *$//')"

# the shared library: a proper soname, the API and nothing else
L=$D/usr/local/lib
check "soname" "libidsr-client.so.1" \
	"$(readelf -d "$L/libidsr-client.so.1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
# the API: every function idsr_client.h declares, but its static inline helpers
api=$(grep -E '^[a-z].*[ *]idsr_[a-z0-9_]+\(' "$SRC/proto/idsr_client.h" | grep -v '^static' |
	sed -E 's/.*[ *](idsr_[a-z0-9_]+)\(.*/\1/' | LC_ALL=C sort)
check "the API is there" "yes" "$(echo "$api" | grep -qx idsr_handle_kvm_exit && echo yes)"
check "the shared library exports the API only" "$api" \
	"$(nm -D --defined-only "$L/libidsr-client.so.1" | awk '{ print $3 }' | LC_ALL=C sort)"
check "the static library exports the API only" "$api" \
	"$(nm --defined-only -g "$L/libidsr-client.a" | awk 'NF == 3 { print $3 }' | LC_ALL=C sort)"

# the header stands alone: C99 and C++
printf '#include <idsr_client.h>\nint main(void) { return idsr_key_a64(3, 0, 15, 0, 0) != 0xc780; }\n' >"$T/h.c"
check_rc "the header compiles alone as C99 -pedantic" 0 \
	cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$D/usr/local/include" "$T/h.c"
check_rc "the header compiles as C++" 0 \
	c++ -x c++ -Wall -Wextra -Werror -fsyntax-only -I"$D/usr/local/include" "$T/h.c"

# the unit's paths follow SBINDIR and SYSCONFDIR; a multiarch LIBDIR stays under ${prefix}
D2=$T/dest-usr
check_rc "make install PREFIX=/usr with a multiarch LIBDIR" 0 install_tree "$D2" PREFIX=/usr \
	LIBDIR=/usr/lib/x86_64-linux-gnu SYSCONFDIR=/etc/xyz SYSTEMDUNITDIR=/usr/lib/systemd/system
check "ExecStart follows SBINDIR and SYSCONFDIR" "ExecStart=/usr/sbin/idsrd --policy /etc/xyz/idsrd/policy.conf --db /var/lib/idsrd/trace.db --socket /run/idsrd/vmm.sock --control /run/idsrd/control.sock" \
	"$(grep '^ExecStart=' "$D2/usr/lib/systemd/system/idsrd.service")"
check "only ExecStart changed in the unit" "1" \
	"$(diff "$SRC/systemd/idsrd.service" "$D2/usr/lib/systemd/system/idsrd.service" | grep -c '^>')"
check "the .pc under a multiarch LIBDIR" "prefix=/usr
libdir=\${prefix}/lib/x86_64-linux-gnu
includedir=\${prefix}/include" "$(head -3 "$D2/usr/lib/x86_64-linux-gnu/pkgconfig/idsr-client.pc")"
check "sysusers and tmpfiles under PREFIX/lib" "usr/lib/sysusers.d/idsrd.conf
usr/lib/tmpfiles.d/idsrd.conf" "$(cd "$D2" && find usr/lib/sysusers.d usr/lib/tmpfiles.d -type f | sort)"
check "the policy goes to SYSCONFDIR" "yes" "$([ -f "$D2/etc/xyz/idsrd/policy.conf" ] && echo yes)"

# an edited /etc/idsrd/policy.conf survives a second install
echo "* raz-wi" >"$D/etc/idsrd/policy.conf"
check_rc "install again" 0 install_tree "$D"
check "an existing policy.conf is not overwritten" "* raz-wi" "$(cat "$D/etc/idsrd/policy.conf")"

# uninstall takes back every file but the administrator's policy
check_rc "make uninstall DESTDIR" 0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -C "$SRC" --no-print-directory BUILD="${BUILD:-build}" DESTDIR="$D" uninstall
check "uninstall leaves only the policy" "etc/idsrd/policy.conf" \
	"$(cd "$D" && find . -mindepth 1 ! -type d -printf '%P\n')"

done_testing
