#!/bin/bash
# SPDX-License-Identifier: MIT
# `make qemu`: builds qemu-system-aarch64 of the xnu-qemu-arm64 fork with the patch series in
# integrations/qemu/; $BUILD/qemu/qemu-system-aarch64 runs it with this tree's
# libidsr-client.so.1 (copied to $BUILD/qemu/lib/), so a change to the library does not rebuild
# QEMU: its ABI is what the soname promises.
#
# The build lives outside the clone, in $IDSRD_CACHE (default ~/.cache/idsrd) under
# qemu-HASH/, HASH covering the tarball, the patches, the configure options below, the
# client library's soname and its header (QEMU is compiled against idsr_client.h's structs,
# so a field added to struct idsr_options needs a new build): it is rebuilt only when one of
# them changes, and every clone on the machine shares it. A build unpacks the tarball,
# applies the series, stages libidsr-client with `make install-client DESTDIR=` (QEMU finds
# it through pkg-config), configures only aarch64-softmmu with nothing optional, and keeps
# the binary and the staged library (about 60 MB), not the 500 MB tree.
#
# The tarball is QEMU's source (GPL-2.0): this repository has only the patches. It is looked
# for at $QEMU_TARBALL, then $IDSRD_CACHE/NAME, then in shared/qemu/ beside the clone (where CI
# lays shared/), then /work/shared/qemu/NAME (NAME and checksum in integrations/qemu/SOURCE).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
CACHE=${IDSRD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/idsrd}
read -r SUM NAME <integrations/qemu/SOURCE
say() { echo "  QEMU    $*"; }
die() { echo "make qemu: $*" >&2; exit 1; }

tarball=
for t in "${QEMU_TARBALL:-}" "$CACHE/$NAME" "${PWD%/*}/shared/qemu/$NAME" "/work/shared/qemu/$NAME"; do
	[ -n "$t" ] && [ -f "$t" ] && { tarball=$t; break; }
done
[ -n "$tarball" ] || die "the QEMU source $NAME is not in \$QEMU_TARBALL, $CACHE/, ${PWD%/*}/shared/qemu/ or /work/shared/qemu/: put it in one of them"

# only aarch64-softmmu, with nothing optional: the build must fit in make check on a fresh machine
CONFIGURE=(--target-list=aarch64-softmmu --enable-idsr --disable-werror --disable-capstone --disable-slirp
	--disable-docs --disable-gtk --disable-sdl --disable-vnc --disable-tools --disable-guest-agent
	--python=/usr/bin/python3)
patches=(integrations/qemu/*.patch)
soname=$(grep -o -m1 'libidsr-client\.so\.[0-9]*' Makefile)
hash=$( { echo "$SUM"; echo "${CONFIGURE[*]}"; echo "$soname"; cat "${patches[@]}" proto/idsr_client.h; } | sha256sum | cut -c1-16)
dir=$CACHE/qemu-$hash
bin=$dir/bin/qemu-system-aarch64

# $B/qemu/qemu-system-aarch64: runs the cached binary with this tree's library, from its plain
# build (a sanitizer build's library cannot load into QEMU)
link() {
	make --no-print-directory -s BUILD=build SANITIZE=0 "build/$soname" ||
		die "building libidsr-client failed"
	mkdir -p "$B/qemu/lib"
	cmp -s "build/$soname" "$B/qemu/lib/$soname" || install -m 0755 "build/$soname" "$B/qemu/lib/$soname"
	rm -f "$B/qemu/qemu-system-aarch64"
	printf '#!/bin/sh\n# make qemu: %s with the libidsr-client of %s\nexport LD_LIBRARY_PATH='"'%s'"'\nexec '"'%s'"' "$@"\n' \
		"$bin" "$PWD" "$(cd "$B/qemu/lib" && pwd)" "$bin" >"$B/qemu/qemu-system-aarch64"
	chmod 0755 "$B/qemu/qemu-system-aarch64"
}
if [ -x "$bin" ]; then
	link
	exit 0
fi

mkdir -p "$CACHE"
exec 9>"$dir.lock"
if ! flock -n 9; then
	say "another build of $dir is running: waiting for it"
	flock 9
fi
if [ -x "$bin" ]; then
	link
	exit 0
fi

echo "$SUM  $tarball" | sha256sum --quiet -c - || die "$tarball does not match the checksum in integrations/qemu/SOURCE"
rm -rf "$dir"
mkdir -p "$dir"
log=$dir/build.log
say "building qemu-system-aarch64 in $dir (first use: several minutes; log: $log)"
start=$SECONDS

# libidsr-client, from this tree's plain (not sanitizer) build
make --no-print-directory -s install-client BUILD=build SANITIZE=0 DESTDIR="$dir/stage" PREFIX=/usr >>"$log" 2>&1 ||
	{ tail -20 "$log" >&2; die "staging libidsr-client failed (log: $log)"; }
# the .pc names its directories from ${prefix}: point it at the staging tree
sed -i "s|^prefix=.*|prefix=$dir/stage/usr|" "$dir/stage/usr/lib/pkgconfig/idsr-client.pc"

say "unpacking $NAME and applying ${#patches[@]} patches"
mkdir "$dir/src"
tar -xJf "$tarball" -C "$dir/src" --strip-components=1
for p in "${patches[@]}"; do
	patch -d "$dir/src" -p1 --quiet --forward <"$p" >>"$log" 2>&1 || { tail -20 "$log" >&2; die "$p does not apply"; }
done

say "configuring aarch64-softmmu"
mkdir "$dir/obj"
(cd "$dir/obj" && PKG_CONFIG_PATH="$dir/stage/usr/lib/pkgconfig" ../src/configure "${CONFIGURE[@]}" \
	--extra-ldflags="-Wl,-rpath,$dir/stage/usr/lib") >>"$log" 2>&1 ||
	{ tail -20 "$log" >&2; die "configure failed (log: $log)"; }
# the x86 option ROMs do not link with Debian 12's binutils ("unable to disambiguate: -nopie")
sed -i 's/^ROMS=.*/ROMS=/' "$dir/obj/config-host.mak"

# QEMU's make prints a line a file: show a count every 30 s instead
make -C "$dir/obj" -j"${QEMU_JOBS:-2}" >>"$log" 2>&1 &
mk=$!
while kill -0 $mk 2>/dev/null; do
	for _ in $(seq 60); do kill -0 $mk 2>/dev/null || break; sleep 0.5; done
	kill -0 $mk 2>/dev/null && say "$(grep -c '^  CC' "$log") of about 1200 files compiled ($(((SECONDS - start) / 60)) min)"
done
wait $mk || { tail -20 "$log" >&2; die "the build failed (log: $log)"; }

# The KVM path (patch 0005) is not built for an x86 host: type-check it, compiling idsr.c and
# kvm64.c as the build compiles idsr.c, with CONFIG_KVM and the arm64 KVM headers (the uapi
# types those need that are not in QEMU's tree: integrations/qemu/kvm-check/)
say "type-checking the KVM path against the arm64 KVM headers"
cc=$(make -C "$dir/obj/aarch64-softmmu" -n -B V=1 target/arm/idsr.o 2>/dev/null |
	sed -n 's| -MMD -MP -MT [^ ]* -MF [^ ]*||; s| -c -o target/arm/idsr\.o .*$||p' | head -1 || true)
[ -n "$cc" ] || die "cannot find how the build compiles target/arm/idsr.c (log: $log)"
mkdir -p "$dir/kvm-check/asm"
cp "$dir/src/linux-headers/asm-arm64/"* integrations/qemu/kvm-check/asm/* "$dir/kvm-check/asm/"
for f in target/arm/idsr.c target/arm/kvm64.c; do
	(cd "$dir/obj/aarch64-softmmu" && eval "${cc/#cc /cc -I$dir/kvm-check } -DCONFIG_KVM -fsyntax-only -Wall -Werror $dir/src/$f") \
		>>"$log" 2>&1 || { tail -20 "$log" >&2; die "the KVM path does not compile: $f (log: $log)"; }
done

mkdir -p "$dir/bin"
install -m 0755 "$dir/obj/aarch64-softmmu/qemu-system-aarch64" "$bin.tmp"
rm -rf "$dir/src" "$dir/obj" "$dir/kvm-check"
mv "$bin.tmp" "$bin"
say "built in $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s: $bin"
link
