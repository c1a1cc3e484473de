/* SPDX-License-Identifier: MIT */
/* An AArch32 kernel's reset sequence on a Cortex-A57, as Trusted Firmware-A's AArch32 port does it
 * (include/lib/cpus/aarch32/cortex_a57.h): a workaround bit in the 64-bit CPUACTLR (MRRC/MCRR
 * p15, 0, c15), SMPEN in ECTLR (p15, 1, c15), and on core 0 the L2 RAM latencies in L2CTLR
 * (p15, 1, c9, c0, 2) and the retention delay in L2ECTLR (p15, 1, c9, c0, 3). r0 = vCPU index. */
	.arm
	.text
	.globl _start
_start:
	mov	r4, r0
	mrrc	p15, 0, r0, r1, c15		@ CPUACTLR: r0 = bits 31:0, r1 = bits 63:32
	orr	r1, r1, #(1 << 27)		@ bit 59: disable load pass DMB
	mcrr	p15, 0, r0, r1, c15
	mrrc	p15, 1, r0, r1, c15		@ ECTLR
	orr	r0, r0, #(1 << 6)		@ SMPEN
	mcrr	p15, 1, r0, r1, c15
	isb
	cmp	r4, #0				@ the L2 is shared: core 0 sets it up
	bne	1f
	mrc	p15, 1, r2, c9, c0, 2		@ L2CTLR
	orr	r2, r2, #0x82			@ data and tag RAM latency: 3 cycles
	mcr	p15, 1, r2, c9, c0, 2
	mrc	p15, 1, r3, c9, c0, 3		@ L2ECTLR
	orr	r3, r3, #1			@ retention delay: 8 ticks
	mcr	p15, 1, r3, c9, c0, 3
	isb
1:	bkpt	#0
