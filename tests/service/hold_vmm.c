/* SPDX-License-Identifier: MIT */
/* A VMM that stays connected: N accesses, "ready", then waits for stdin to
 * close and tries one more, to see what a stopping idsrd did to it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <idsr_client.h>

int main(int argc, char **argv)
{
	struct idsr_hello hello = { .vmm = "hold-vmm", .vm_name = "held", .vcpus = 1 };
	struct idsr_access a = { .key = idsr_key_a64(3, 0, 15, 0, 0), .el = 1, .is_write = true };
	struct idsr_verdict v;
	struct idsr_conn *conn;
	long n;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "Usage: hold_vmm SOCKET ACCESSES\n");
		return 2;
	}
	if (idsr_connect(argv[1], &hello, &conn) < 0) {
		fprintf(stderr, "hold_vmm: %s\n", idsr_last_error());
		return 1;
	}
	for (long i = 0; i < n; i++) {
		a.pc = 0x1000 + 4 * (uint64_t)i;
		a.value = (uint64_t)i;
		if (idsr_access(conn, &a, &v) < 0) {
			fprintf(stderr, "hold_vmm: access %ld: %s\n", i, idsr_last_error());
			return 1;
		}
	}
	printf("ready boot %" PRIu64 "\n", idsr_boot_id(conn));
	fflush(stdout);
	while (getchar() != EOF)
		;
	if (idsr_access(conn, &a, &v) < 0)
		printf("after stop: %s\n", idsr_last_error());
	else
		printf("after stop: answered\n");
	idsr_close(conn, NULL);
	return 0;
}
