/* SPDX-License-Identifier: MIT */
/* An Arm core's reset sequence as Trusted Firmware-A does it, picked by MIDR_EL1's part number as
 * TF-A picks its cpu_ops: erratum workarounds in the auxiliary control registers, SMPEN or the
 * extended control register, the L2 set-up on core 0, and (for the DynamIQ-era cores) the power
 * control register's core power-down enable. Encodings: TF-A include/lib/cpus/aarch64/cortex_a53.h,
 * cortex_a57.h, cortex_a72.h, cortex_a55.h, cortex_a76.h, cortex_a78.h, cortex_x1.h, neoverse_n1.h,
 * neoverse_n2.h, neoverse_v1.h; part numbers: Linux arch/arm64/include/asm/cputype.h.
 * x0 = vCPU index on entry. */
	.include "end.inc"
	.text
	.globl _start
_start:
	mov	x19, x0
	mrs	x20, midr_el1
	ubfx	x21, x20, #4, #12		// PartNum
	mov	x22, #0xd03			// Cortex-A53
	cmp	x21, x22
	b.eq	1f
	mov	x22, #0xd07			// Cortex-A57
	cmp	x21, x22
	b.eq	2f
	mov	x22, #0xd08			// Cortex-A72: the A57's registers
	cmp	x21, x22
	b.eq	2f
	bl	dynamiq_reset			// A55, A76, A78, X1, Neoverse N1, N2, V1
	guest_end brk
1:	bl	a53_reset
	guest_end brk
2:	bl	errata_workarounds
	bl	enable_smp
	bl	l2_setup
	guest_end brk

/* ---- Cortex-A57 and A72 ---------------------------------------------------- */
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
	mrs	x2, s3_1_c15_c2_1		// ECTLR_EL1
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
	mrs	x5, s3_1_c11_c0_3		// L2ECTLR_EL1 (TF-A names it for the A57 only)
	orr	x5, x5, #1			// retention delay: 8 ticks
	msr	s3_1_c11_c0_3, x5
	isb
1:	ret

/* ---- Cortex-A53 ------------------------------------------------------------ */
	.globl a53_reset
a53_reset:
	mrs	x1, s3_1_c15_c2_0		// CPUACTLR_EL1
	orr	x1, x1, #(1 << 44)		// ENDCCASCI
	msr	s3_1_c15_c2_0, x1
	mrs	x2, s3_1_c15_c2_1		// ECTLR_EL1
	orr	x2, x2, #(1 << 6)		// SMPEN
	msr	s3_1_c15_c2_1, x2
	cbnz	x19, 1f
	mrs	x3, s3_1_c15_c0_0		// L2ACTLR_EL1
	orr	x3, x3, #(1 << 14)		// enable UniqueClean evictions
	msr	s3_1_c15_c0_0, x3
	mrs	x5, s3_1_c11_c0_3		// L2ECTLR_EL1
	orr	x5, x5, #1			// retention delay: 8 ticks
	msr	s3_1_c11_c0_3, x5
1:	isb
	ret

/* ---- the DynamIQ-era cores: one layout at s3_0_c15 --------------------------- */
	.globl dynamiq_reset
dynamiq_reset:
	mrs	x1, s3_0_c15_c1_0		// CPUACTLR_EL1
	orr	x1, x1, #(1 << 13)		// an erratum workaround's chicken bit
	msr	s3_0_c15_c1_0, x1
	mrs	x2, s3_0_c15_c1_4		// CPUECTLR_EL1
	mov	x22, #0xd05			// Cortex-A55: L1 write streaming threshold
	cmp	x21, x22
	b.ne	1f
	orr	x2, x2, #(3 << 25)
1:	msr	s3_0_c15_c1_4, x2
	mov	x22, #0xd49			// Neoverse N2: CPUECTLR2_EL1
	cmp	x21, x22
	b.ne	2f
	mrs	x3, s3_0_c15_c1_5
	msr	s3_0_c15_c1_5, xzr		// TXREQ static full
2:	mov	x22, #0xd40			// Neoverse V1: CPUACTLR4_EL1
	cmp	x21, x22
	b.ne	3f
	mrs	x3, s3_0_c15_c1_3
3:	mov	x22, #0xd41			// Cortex-A78, X1, Neoverse V1: ACTLR5_EL1
	cmp	x21, x22
	mov	x22, #0xd44
	ccmp	x21, x22, #4, ne
	mov	x22, #0xd40
	ccmp	x21, x22, #4, ne
	b.ne	4f
	mrs	x4, s3_0_c15_c9_0
	orr	x4, x4, #(1 << 13)
	msr	s3_0_c15_c9_0, x4
4:	mrs	x5, s3_0_c15_c2_7		// CPUPWRCTLR_EL1
	orr	x5, x5, #1			// CORE_PWRDN_EN: power down at the next wfi
	msr	s3_0_c15_c2_7, x5
	isb
	ret
