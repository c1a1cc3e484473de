/* SPDX-License-Identifier: MIT */
/* User code touching IDSRs: run with --el0, every access must be UNDEF (the EL0 rule), so x1
 * keeps its marker. tpidr_el0 is architected and EL0-accessible: it runs natively. */
	.text
	.globl _start
_start:
	mov	x1, #0x5a5a
	mrs	x1, s3_0_c15_c0_0		// HID0_EL1: UNDEF at EL0
	mov	x2, #0xa5
	msr	s3_0_c15_c0_0, x2		// UNDEF at EL0
	mov	x3, #0x1234
	msr	tpidr_el0, x3
	mrs	x4, tpidr_el0
	brk	#0
