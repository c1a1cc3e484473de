# SPDX-License-Identifier: MIT
# idsrctl report and diff --html, opened in headless Chromium from a file: the DOM as
# rendered (register names, counts, rules, marked changes, the hover of one access),
# no console message at all, nothing fetched from elsewhere, and a screenshot of each.
. "$(dirname "$0")/../lib.sh"
CTL=$B/idsrctl
VMM=$B/idsr-vmm
G=$B/guests
ROWS="python3 $(cd "$(dirname "$0")" && pwd)/dom_rows.py"
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ] || ! command -v python3 >/dev/null || [ ! -x "$VMM" ] || [ ! -f "$G/apple_boot_v2.elf" ]; then
	ok "# SKIP needs chromium and python3 (make deps), the reference VMM and its guests"
	done_testing
	exit 0
fi
cd "$T" || exit 1

# browse FILE[#FRAGMENT]: the DOM after the page's scripts ran into FILE.dom, its console into FILE.log
# (headless as root needs --no-sandbox; the D-Bus complaints of a container without a bus are not the page's)
browse() {
	local file=${1%%#*}
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
		--virtual-time-budget=5000 --dump-dom "file://$T/$1" >"$file.dom" 2>"$file.log"
}
screenshot() {
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1000 \
		--screenshot="$T/$2" "file://$T/$1" >/dev/null 2>&1
}
check_page() {	# NAME FILE: rendered, quiet, self-contained, screenshot taken
	check "$1: no console message (errors, warnings or logs)" "" "$(grep 'INFO:CONSOLE' "$2.log")"
	check_match "$1: first render timed in the page" 'data-render-ms="[0-9]+\.[0-9]"' "$(cat "$2.dom")"
	check "$1: nothing to fetch (no src=, href=, http:)" 0 "$(grep -ciE 'src=|href=|https?:' "$2")"
	screenshot "$2" "$2.png"
	check "$1: a screenshot" "89504e470d0a1a0a" "$(head -c 8 "$2.png" | od -An -tx1 | tr -d ' \n')"
	check_rc "$1: the screenshot shows something" 0 test "$(stat -c %s "$2.png")" -gt 20000
}

printf 'impl apple\nCYC_OVRD write undef\n* storage init=0x0\n' >policy.conf
start_daemon --policy "$T/policy.conf" || exit 1
check_rc "record apple_boot on 2 vCPUs" 0 "$VMM" --socket "$T/vmm.sock" --midr 611f0220 --vcpus 2 --kernel v1 \
	"$G/apple_boot.bin"
check_rc "record apple_boot_v2 on 2 vCPUs" 0 "$VMM" --socket "$T/vmm.sock" --midr 611f0220 --vcpus 2 --kernel v2 \
	"$G/apple_boot_v2.bin"
stop_daemon

# ---- report --------------------------------------------------------------------------
check_rc "report" 0 "$CTL" report trace.db:1 --symbols "$G/apple_boot.elf" -o report.html
check "report: -o writes only the file" "" "$OUT"
browse "report.html#access=1:5"
check_page "report" report.html
check "report: title" "Boot 1 · apple_boot · v1" "$(grep -o '<h1>[^<]*</h1>' report.html.dom | sed 's/<[^>]*>//g')"
check "report: registers as rendered, most accessed first" \
"ACNTPCT_EL0|s3_4_c15_c10_5|10|10|0|1|wait_counter+0x0|wait_counter+0x8|0
HID0_EL1|s3_0_c15_c0_0|4|2|2|2|hid_init+0x0|hid_init+0x8|0
HID4_EL1|s3_0_c15_c4_0|4|2|2|2|hid_init+0xc|hid_init+0x14|0
HID5_EL1|s3_0_c15_c5_0|4|2|2|2|hid_init+0x18|hid_init+0x20|0
HID11_EL1|s3_0_c15_c11_0|4|2|2|1|hid_init+0x24|hid_init+0x2c|0
ACC_CFG_EL1|s3_5_c15_c4_0|2|2|0|1|acc_init+0x0|acc_init+0x0|0
CYC_OVRD_EL1|s3_5_c15_c5_0|2|0|2|1|acc_init+0x8|acc_init+0x8|2" "$($ROWS report.html.dom table registers)"
check "report: the rules that answered, with hits and UNDEFs" \
"policy.conf:3|* storage init=0x0|28|0
policy.conf:2|CYC_OVRD write undef|2|2" "$($ROWS report.html.dom table rules)"
check_match "report: summary facts" 'VCPUS2ACCESSES30UNDEFS2DIVERGENCES0ROWS DROPPED0' \
	"$($ROWS report.html.dom text summary | tr -d '\n' | tr '[:lower:]' '[:upper:]')"
# vCPU 1 writes its core number into HID5 bits 7:4
check "report: the hover of vCPU 1's access 5 (linked as #access=1:5)" \
"PC 0x0000000040000040  hid_init+0x20
HID5_EL1 (s3_0_c15_c5_0)
write 0x0000000000000010
answer emulate  rule policy.conf:3: * storage init=0x0" "$($ROWS report.html.dom text tip | tail -n +2)"
check_match "report: the hover's first line" '^vCPU 1  seq 5  t [0-9.]+ (ns|µs|ms|s)$' \
	"$($ROWS report.html.dom text tip | head -1)"
check "report: a legend entry per register and UNDEF" "HID0_EL1HID4_EL1HID5_EL1HID11_EL1ACNTPCT_EL0ACC_CFG_EL1CYC_OVRD_EL1UNDEF" \
	"$($ROWS report.html.dom text legend)"

# the bound on exact accesses: --exact 4 on 2 vCPUs keeps each vCPU's 2 from seq 3; counts stay whole
check_rc "report --exact 4 --from 3" 0 "$CTL" report trace.db:1 --exact 4 --from 3 --symbols "$G/apple_boot.map" -o bound.html
browse "bound.html#access=0:4"
check "bound: no console message" "" "$(grep 'INFO:CONSOLE' bound.html.log)"
check_match "bound: the page says what it kept" "exact accesses \(4 kept: each vCPU's first 2 from seq 3\)" \
	"$($ROWS bound.html.dom text timeline-section)"
check_match "bound: an access inside the window has its hover" '^vCPU 0  seq 4 ' "$($ROWS bound.html.dom text tip)"
check "bound: the register table still counts every access" "$($ROWS report.html.dom table registers)" \
	"$($ROWS bound.html.dom table registers)"
browse "bound.html#access=0:5"
check "bound: an access past the window has no hover" "" "$($ROWS bound.html.dom text tip)"

# a boot imported from an m1n1 log has no PCs: the page says so instead of showing zeros
check_rc "import an m1n1 log" 0 "$CTL" import --format m1n1 --db imported.db "$OLDPWD/tests/import/apple_boot.m1n1.log"
check_rc "report of the imported boot" 0 "$CTL" report imported.db -o imported.html
browse "imported.html#access=0:0"
check "imported: no console message" "" "$(grep 'INFO:CONSOLE' imported.html.log)"
check_match "imported: PCs not recorded" 'PCsnot recorded \(imported\)' "$($ROWS imported.html.dom text summary | tr -d '\n')"
check "imported: no first or last PC" "-|-" "$($ROWS imported.html.dom table registers | head -1 | cut -d'|' -f7,8)"
check_match "imported: the hover says the PC was not recorded" '^PC not recorded$' \
	"$($ROWS imported.html.dom text tip | sed -n 2p)"

# ---- diff --html ------------------------------------------------------------------------
check_rc "diff --html" 1 "$CTL" diff trace.db:1 trace.db:2 --html -o diff.html --symbols-a "$G/apple_boot.elf" \
	--symbols-b "$G/apple_boot_v2.elf"
browse diff.html
check_page "diff" diff.html
check "diff: the verdict" "Different: 2 added, 4 removed, 2 changed" "$(grep -o '<h1>[^<]*</h1>' diff.html.dom | sed 's/<[^>]*>//g')"
check "diff: per-register summary on top" \
"HID0_EL1|s3_0_c15_c0_0|4|4|0|0|0|-
HID4_EL1|s3_0_c15_c4_0|4|4|0|0|2|~ vCPU 0 seq 3
HID5_EL1|s3_0_c15_c5_0|4|4|0|0|0|-
HID7_EL1|s3_0_c15_c7_0|0|2|2|0|0|+ vCPU 0 seq 6
HID11_EL1|s3_0_c15_c11_0|4|0|0|4|0|- vCPU 0 seq 6
ACNTPCT_EL0|s3_4_c15_c10_5|10|10|0|0|0|-
ACC_CFG_EL1|s3_5_c15_c4_0|2|2|0|0|0|-
CYC_OVRD_EL1|s3_5_c15_c5_0|2|2|0|0|0|-" "$($ROWS diff.html.dom table summary)"
check "diff: marked lines: 2 added, 4 removed, 2 changed" "2 4 2" \
	"$($ROWS diff.html.dom count add) $($ROWS diff.html.dom count del) $($ROWS diff.html.dom count chg)"
check "diff: the navigation counts them" "8 changes marked" "$($ROWS diff.html.dom text where)"
browse "diff.html#change=3"
check "diff: next change, 3 times (#change=3)" "change 3 of 8" "$($ROWS diff.html.dom text where)"
check "diff: the third change is the current line" 1 "$($ROWS diff.html.dom count current)"
browse "diff.html#change=9"
check "diff: past the last change, the first again" "change 1 of 8" "$($ROWS diff.html.dom text where)"
browse diff.html
check "diff: a changed line, side by side, by function" \
"3|hid_init+0x14|HID4_EL1|write|0x0000000000000800|~|3|hid_init+0x14|HID4_EL1|write|0x0000000000000200" \
	"$($ROWS diff.html.dom table hunks | grep '|~|' | head -1)"
check "diff: an added line (B only)" "|||||+|6|hid_init+0x24|HID7_EL1|read|0x0000000000000000" \
	"$($ROWS diff.html.dom table hunks | grep '|+|' | head -1)"

check_rc "diff --html of a boot with itself" 0 "$CTL" diff trace.db:1 trace.db:1 --html -o same.html
browse same.html
check "same: no console message" "" "$(grep 'INFO:CONSOLE' same.html.log)"
check "same: the verdict" "Same accesses" "$(grep -o '<h1>[^<]*</h1>' same.html.dom | sed 's/<[^>]*>//g')"
check "same: nothing marked" "0 changes marked" "$($ROWS same.html.dom text where)"

# errors
check_rc "diff: -o without --html" 2 "$CTL" diff trace.db:1 trace.db:2 -o x.html
check "-o without --html message" "idsrctl: diff: -o: only with --html (the text goes to standard output)" "$OUT"
check_rc "diff: --html with --json" 2 "$CTL" diff trace.db:1 trace.db:2 --html --json
check "--html --json message" "idsrctl: diff: --html: not with --json (the page holds the hunks and the summary)" "$OUT"
check_rc "report: no such boot" 2 "$CTL" report trace.db:9 -o r9.html
check "report: no such boot message" "idsrctl: report: trace.db: no boot 9 in this trace (idsrctl boots lists them)" "$OUT"
check_rc "report: bad --exact" 2 "$CTL" report trace.db --exact -3 -o r.html
check_rc "report: unwritable -o" 2 "$CTL" report trace.db -o "$T/no/dir/r.html"
check "report: no file left behind" "" "$(ls "$T" | grep -E '^r9?\.html')"
check_rc "report --help" 0 "$CTL" report --help
check_match "report --help text" '^Usage: idsrctl report \[TRACE\] \[--db FILE\] \[-o FILE.html\]' "$OUT"

done_testing
