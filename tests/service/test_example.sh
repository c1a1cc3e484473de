# SPDX-License-Identifier: MIT
# Tests examples/minimal-vmm.c as docs/integrating-a-vmm.md builds it: against
# the installed header and idsr-client.pc, linked shared and static, run
# against idsrd with the example policy; what it prints (as the document shows)
# and what idsrd logged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/service.sh"

D=$T/dest
check_rc "make install DESTDIR" 0 install_tree "$D"
check_rc "builds shared with pkg-config --cflags --libs idsr-client" 0 \
	build_installed "$D" shared "$T/vmm-shared" "$SRC/examples/minimal-vmm.c"
check_rc "builds static with libidsr-client.a" 0 \
	build_installed "$D" static "$T/vmm-static" "$SRC/examples/minimal-vmm.c"
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -E 'idsr|protobuf' | tr '\n' ' '; }
check "the shared build needs libidsr-client.so.1" "libidsr-client.so.1 " "$(needed "$T/vmm-shared")"
check "the static build needs only protobuf-c" "libprotobuf-c.so.1 " "$(needed "$T/vmm-static")"

expected="boot %d
vcpu 0 pc 0xfffffe0007004000 el1 s3_0_c15_c0_0 read  -> 0x0
vcpu 0 pc 0xfffffe0007004008 el1 s3_0_c15_c0_0 write 0x10 -> done
vcpu 0 pc 0xfffffe000700400c el1 s3_0_c15_c0_0 read  -> 0x10
vcpu 1 pc 0xfffffe0007004000 el1 s3_0_c15_c0_0 read  -> 0x0
vcpu 0 pc 0xfffffe0007005000 el1 s3_0_c15_c4_0 read  -> 0x100000000000
vcpu 0 pc 0xfffffe0007006000 el1 s3_2_c15_c0_0 read  -> 0x0
vcpu 0 pc 0xfffffe0007006000 el1 s3_2_c15_c0_0 read  -> 0x3e8
vcpu 0 pc 0x0000000100003f00 el0 s3_0_c15_c0_0 read  -> UNDEF
vcpu 1 pc 0xfffffe0007007000 el1 s3_0_c11_c0_0 read  -> UNDEF"

start_daemon --policy "$D/etc/idsrd/policy.conf" || exit 1
check_rc "the shared build runs" 0 env LD_LIBRARY_PATH="$D/usr/local/lib" "$T/vmm-shared" "$T/vmm.sock"
check "what the guest sees (shared)" "$(printf "$expected" 1)" "$OUT"
check "docs/integrating-a-vmm.md shows this output" "$OUT" \
	"$(sed -n '/^    \$ \.\/minimal-vmm$/,/^    \$ idsrctl/p' "$SRC/docs/integrating-a-vmm.md" | sed '1d;$d; s/^    //')"
# no socket argument: $IDSRD_SOCKET (lib.sh exports it)
check_rc "the static build runs" 0 "$T/vmm-static"
check "what the guest sees (static)" "$(printf "$expected" 2)" "$OUT"
check_rc "usage" 2 "$T/vmm-static" -h
check "usage message" "Usage: minimal-vmm [SOCKET]" "$OUT"
stop_daemon
check "idsrd logged both boots" "example|minimal-vmm|2|9|guest halted
example|minimal-vmm|2|9|guest halted" \
	"$(sqlite3 "$T/trace.db" 'select vm_name, vmm, vcpus, accesses, end_reason from boots order by id')"
check "the rows of the first boot" "0|0|0xc780|read|emulate|0x0000000000000000
0|1|0xc780|write|emulate|0x0000000000000010
0|2|0xc780|read|emulate|0x0000000000000010
0|3|0xc7a0|read|emulate|0x0000100000000000
0|4|0xd780|read|emulate|0x0000000000000000
0|5|0xd780|read|emulate|0x00000000000003e8
0|6|0xc780|read|undef|0x0000000000000000
1|0|0xc780|read|emulate|0x0000000000000000
1|1|0xc580|read|undef|0x0000000000000000" \
	"$(sqlite3 "$T/trace.db" "select vcpu, seq, printf('0x%x', key), case is_write when 1 then 'write' else 'read' end,
		action, printf('0x%016x', value)
		from accesses where boot_id = 1 order by vcpu, seq")"

# idsrd is not there: a clear message, exit 1
check_rc "no daemon" 1 "$T/vmm-static" "$T/nothing.sock"
check "no daemon message" "minimal-vmm: cannot connect to idsrd at $T/nothing.sock: No such file or directory (is idsrd running?)" "$OUT"

done_testing
