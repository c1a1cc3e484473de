/* SPDX-License-Identifier: MIT */
/* A Cortex-A57/A72 style reset sequence as Trusted Firmware-A does it: erratum workarounds in
 * CPUACTLR_EL1, SMPEN in CPUECTLR_EL1, L2 RAM latencies in L2CTLR_EL1, L2ECTLR_EL1 retention.
 * Encodings: TF-A include/lib/cpus/aarch64/cortex_a57.h. x0 = vCPU index on entry. */
	.text
	.globl _start
_start:
	mov	x19, x0
	bl	errata_workarounds
	bl	enable_smp
	bl	l2_setup
	brk	#0

	.globl errata_workarounds
errata_workarounds:
	mrs	x1, s3_1_c15_c2_0		// CPUACTLR_EL1
	orr	x1, x1, #(1 << 59)		// disable load pass DMB
	orr	x1, x1, #(1 << 49)		// no dual issue of ld/st
	msr	s3_1_c15_c2_0, x1
	isb
	ret

	.globl enable_smp
enable_smp:
	mrs	x2, s3_1_c15_c2_1		// CPUECTLR_EL1
	orr	x2, x2, #(1 << 6)		// SMPEN
	msr	s3_1_c15_c2_1, x2
	isb
	ret

	.globl l2_setup
l2_setup:
	cbnz	x19, 1f				// the L2 is shared: core 0 sets it up
	mrs	x3, s3_1_c11_c0_2		// L2CTLR_EL1
	ubfx	x4, x3, #24, #2			// number of cores - 1
	orr	x3, x3, #(2 << 0)		// data RAM latency: 3 cycles
	orr	x3, x3, #(2 << 6)		// tag RAM latency: 3 cycles
	msr	s3_1_c11_c0_2, x3
	mrs	x5, s3_1_c11_c0_3		// L2ECTLR_EL1
	orr	x5, x5, #1			// retention delay: 8 ticks
	msr	s3_1_c11_c0_3, x5
	isb
1:	ret
