/* SPDX-License-Identifier: MIT */
/* The smallest VMM that uses libidsr-client: it hands idsrd a fixed list of
 * KVM_EXIT_ARM_IDSR exits, as a KVM_RUN loop would, and prints what each one
 * does to the guest. Build: cc minimal-vmm.c $(pkg-config --cflags --libs idsr-client) */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <idsr_client.h>

/*
 * One trapped access: what KVM reports in run->arm_idsr, plus the vCPU, and
 * the PC and exception level a real VMM reads with KVM_GET_ONE_REG
 * (PC and PSTATE) before it calls idsr_handle_kvm_exit.
 */
struct trapped_exit {
	uint32_t vcpu;
	uint64_t pc;
	uint8_t el;
	struct idsr_kvm_idsr idsr;
};

/* Op0, Op1, CRn, CRm, Op2 of a few Apple IMPLEMENTATION DEFINED registers. */
#define HID0		3, 0, 15, 0, 0	/* s3_0_c15_c0_0 */
#define HID4		3, 0, 15, 4, 0	/* s3_0_c15_c4_0 */
#define PMC0		3, 2, 15, 0, 0	/* s3_2_c15_c0_0 */
#define IDSR_C11	3, 0, 11, 0, 0	/* s3_0_c11_c0_0 */
#define READ(reg)	{ reg, .is_write = 0 }
#define WRITE(reg, v)	{ reg, .is_write = 1, .regval = (v) }

static const struct trapped_exit boot[] = {
	{ 0, 0xfffffe0007004000, 1, READ(HID0) },		/* mrs x0, s3_0_c15_c0_0 */
	{ 0, 0xfffffe0007004008, 1, WRITE(HID0, 0x10) },	/* msr s3_0_c15_c0_0, x0 */
	{ 0, 0xfffffe000700400c, 1, READ(HID0) },		/* reads back what was written */
	{ 1, 0xfffffe0007004000, 1, READ(HID0) },		/* vCPU 1 has an HID0 of its own */
	{ 0, 0xfffffe0007005000, 1, READ(HID4) },
	{ 0, 0xfffffe0007006000, 1, READ(PMC0) },		/* a counter: */
	{ 0, 0xfffffe0007006000, 1, READ(PMC0) },		/* each read is further on */
	{ 0, 0x0000000100003f00, 0, READ(HID0) },		/* from EL0: UNDEF */
	{ 1, 0xfffffe0007007000, 1, READ(IDSR_C11) },		/* nothing answers it: UNDEF */
};

/* What a KVM_RUN loop does on KVM_EXIT_ARM_IDSR: ask idsrd, then hand the
 * verdict back to KVM in run->arm_idsr (is_handled and, for a read, regval). */
static int handle_idsr_exit(struct idsr_conn *conn, const struct trapped_exit *t)
{
	struct idsr_kvm_idsr e = t->idsr;
	int err = idsr_handle_kvm_exit(conn, t->vcpu, t->pc, t->el, &e);

	if (err < 0)
		return err;
	printf("vcpu %" PRIu32 " pc 0x%016" PRIx64 " el%u s%u_%u_c%u_c%u_%u %-5s ", t->vcpu, t->pc,
	       t->el, e.Op0, e.Op1, e.CRn, e.CRm, e.Op2, e.is_write ? "write" : "read");
	if (!e.is_handled)
		printf("-> UNDEF\n");
	else if (e.is_write)
		printf("0x%" PRIx64 " -> done\n", e.regval);
	else
		printf("-> 0x%" PRIx64 "\n", e.regval);
	return 0;
}

int main(int argc, char **argv)
{
	/* NULL: $IDSRD_SOCKET, else idsrd's default socket. */
	const char *socket_path = argc > 1 ? argv[1] : NULL;
	struct idsr_hello hello = {
		.vmm = "minimal-vmm",
		.vm_name = "example",
		.vcpus = 2,
		.kernel = "example kernel",
		.impl = "apple",
	};
	struct idsr_conn *conn;
	int ret = 1;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "Usage: minimal-vmm [SOCKET]\n");
		return 2;
	}
	if (idsr_connect(socket_path, &hello, &conn) < 0) {
		fprintf(stderr, "minimal-vmm: %s\n", idsr_last_error());
		return 1;
	}
	printf("boot %" PRIu64 "%s\n", idsr_boot_id(conn),
	       idsr_replaying(conn) ? ", answered from a recorded boot" : "");
	for (size_t i = 0; i < sizeof(boot) / sizeof(boot[0]); i++) {
		/* A real VMM would rather inject UNDEF (the kernel's default)
		 * and keep the guest running; this one just stops. */
		if (handle_idsr_exit(conn, &boot[i]) < 0) {
			fprintf(stderr, "minimal-vmm: %s\n", idsr_last_error());
			goto out;
		}
	}
	ret = 0;
out:
	idsr_close(conn, ret ? "idsrd failed" : "guest halted");
	return ret;
}
