/* SPDX-License-Identifier: MIT */
/* A Thumb-2 kernel (as most 32-bit Linux kernels are built): the same cp15 IMPDEF accesses as
 * a32_cp15.S in 32-bit Thumb encodings, an IT block that skips one, and a 16-bit udf taken by
 * its UNDEF vector (r10 counts; LR is PC + 2 in Thumb). r0 = vCPU index on entry (ARM state). */
	.syntax unified
	.arm
	.text
	.globl _start
_start:
	adr	r1, vectors
	mcr	p15, 0, r1, c12, c0, 0		@ VBAR
	mov	r10, #0
	adr	r1, thumb_start + 1
	bx	r1

	.thumb
	.globl thumb_start
	.thumb_func
thumb_start:
	mrc	p15, 0, r1, c15, c0, 0		@ IMPDEF c15
	orr	r1, r1, #0x40
	mcr	p15, 0, r1, c15, c0, 0
	mrc	p15, 1, r3, c9, c0, 2		@ L2CTLR
	mrrc	p15, 0, r8, r9, c15		@ 64-bit
	adds	r8, r8, #1
	mcrr	p15, 1, r8, r9, c15
	movs	r6, #1				@ Z = 0
	it	eq
	moveq	r6, #2				@ skipped: r6 stays 1
	.globl thumb_udf
thumb_udf:
	udf	#0				@ 16-bit
	bkpt	#0

	.include "a32_vectors.inc"
