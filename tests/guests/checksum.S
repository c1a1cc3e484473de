/* SPDX-License-Identifier: MIT */
/* Folds every IDSR value it reads into x19 (x19 = ror(x19, 7) ^ value, + 1), three rounds over
 * eight registers: a replayed boot must end with the same x19. Also touches the edges: xzr as
 * source and target, and architected registers (midr_el1, mpidr_el1) that must not be forwarded. */
	.macro fold reg
	mrs	x1, \reg
	eor	x19, x1, x19, ror #7
	add	x19, x19, #1
	.endm

	.include "end.inc"
	.text
	.globl _start
_start:
	mov	x19, #0
	mov	x20, #3
	.globl round
round:
	fold	s3_0_c15_c0_0			// HID0_EL1
	fold	s3_0_c15_c1_0			// HID1_EL1
	fold	s3_0_c15_c4_0			// HID4_EL1
	fold	s3_0_c15_c5_0			// HID5_EL1
	fold	s3_5_c15_c4_0			// ACC_CFG_EL1
	fold	s3_4_c15_c10_5			// ACNTPCT_EL0
	fold	s3_1_c11_c0_2			// CRn=11 space
	fold	s3_7_c15_c15_7			// the last IDSR encoding
	subs	x20, x20, #1
	b.ne	round
	msr	s3_0_c15_c0_0, xzr		// writes 0
	mrs	xzr, s3_0_c15_c1_0		// read, value dropped
	mrs	x2, midr_el1
	mrs	x3, mpidr_el1
	guest_end brk
