#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages idsrd needs to build and test, if any are missing (the last line:
# what `make qemu` needs to build QEMU).
set -e
PKGS="build-essential pkg-config libuv1-dev libsqlite3-dev sqlite3 libprotobuf-c-dev protobuf-c-compiler
libcmocka-dev libsystemd-dev systemd libunicorn-dev binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf
scdoc clang libclang-rt-14-dev tmux valgrind diffutils libelf-dev chromium jq python3
libcurl4-openssl-dev clickhouse-server
libglib2.0-dev libpixman-1-dev libfdt-dev flex bison patch xz-utils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "idsrd: missing Debian packages:$missing" >&2
	echo "idsrd: install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "  DEPS    installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once if the install fails.
apt-get install -y -q --no-install-recommends $missing >/tmp/idsrd-deps.log 2>&1 ||
	{ apt-get update -q >>/tmp/idsrd-deps.log 2>&1 &&
	  apt-get install -y -q --no-install-recommends $missing >>/tmp/idsrd-deps.log 2>&1; } ||
	{ echo "idsrd: apt-get install failed, see /tmp/idsrd-deps.log" >&2; tail -5 /tmp/idsrd-deps.log >&2; exit 1; }
