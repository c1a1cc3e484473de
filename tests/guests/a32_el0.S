/* SPDX-License-Identifier: MIT */
/* AArch32 user code touching cp15 IDSRs, which must be UNDEF. Entered in USR mode (--el0) it
 * runs only the user part; entered in SVC mode it first installs an UNDEF vector counting into
 * r10 and drops to USR itself, so the UNDEFs are delivered to its vector. */
	.arm
	.text
	.globl _start
_start:
	mov	r10, #0
	mrs	r2, cpsr
	and	r2, r2, #0x1f
	cmp	r2, #0x10
	beq	user
	adr	r1, vectors
	mcr	p15, 0, r1, c12, c0, 0		@ VBAR
	cps	#0x10				@ to USR mode
	.globl user
user:
	mov	r1, #0x5a
	mrc	p15, 0, r1, c15, c0, 0		@ UNDEF at PL0: r1 keeps 0x5a
	mov	r3, #0xa5
	mcrr	p15, 0, r3, r3, c15		@ UNDEF at PL0
	bkpt	#0

	.include "a32_vectors.inc"
