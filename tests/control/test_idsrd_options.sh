#!/bin/bash
# SPDX-License-Identifier: MIT
# idsrd's numeric options: read as idsrctl reads numbers (decimal or 0x hex, a digit first,
# no blank or sign), modes as octal digits; a bad one is quoted and idsrd exits 2.
. "$(dirname "$0")/../lib.sh"
D="$B/idsrd"

bad() {	# NAME MESSAGE ARGS...
	local name=$1 msg=$2; shift 2
	check_rc "$name: exit 2" 2 "$D" "$@"
	check "$name: message" "$msg" "$OUT"
}
bad "--queue ' 5'" "idsrd: --queue: \` 5' is not a number from 0 to 268435456" --queue ' 5'
bad "--max-errors +5" "idsrd: --max-errors: \`+5' is not a number from 0 to 1000000" --max-errors +5
bad "--max-boots -1" "idsrd: --max-boots: \`-1' is not a number from 0 to 1000000" --max-boots -1
bad "--max-connections past the limit" "idsrd: --max-connections: \`1000001' is not a number from 0 to 1000000" \
	--max-connections 1000001
bad "--socket-mode 0899" "idsrd: --socket-mode: \`0899' is not a mode (octal digits, at most 0777)" --socket-mode 0899
bad "--control-mode 01777" "idsrd: --control-mode: \`01777' is not a mode (octal digits, at most 0777)" \
	--control-mode 01777
bad "--control-mode ''" "idsrd: --control-mode: \`' is not a mode (octal digits, at most 0777)" --control-mode ''
# taken: options are read in order, so --help after them shows they parsed
check_rc "--max-boots 0x10 --queue 010 --socket-mode 0660 are taken" 0 \
	"$D" --max-boots 0x10 --queue 010 --socket-mode 0660 --help

done_testing
