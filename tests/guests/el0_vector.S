/* SPDX-License-Identifier: MIT */
/* A kernel that runs user code: EL1 installs its vector and erets to EL0, where two IDSR
 * accesses and an undefined instruction must each land in the kernel's "synchronous, lower
 * EL" vector, at EL1: x20 counts them, x21 = the last ESR_EL1, x22 = the last ELR_EL1,
 * x23 = CurrentEL in the handler. User code keeps its marker in x1. */
	.text
	.globl _start
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x20, #0
	mov	x23, #0
	adr	x1, user
	msr	elr_el1, x1
	msr	spsr_el1, xzr			// EL0t, interrupts unmasked
	eret

	.globl user
user:
	mov	x1, #0x5a5a
	mrs	x1, s3_0_c15_c0_0		// HID0_EL1: UNDEF at EL0
	msr	s3_0_c15_c0_0, x1		// UNDEF at EL0
	.globl user_udf
user_udf:
	udf	#0
	brk	#0

	.balign 0x800
vectors:
	.skip	0x400
	/* lower EL using AArch64, synchronous */
	.globl el0_sync
el0_sync:
	add	x20, x20, #1
	mrs	x21, esr_el1
	mrs	x22, elr_el1
	mrs	x23, CurrentEL
	add	x24, x22, #4
	msr	elr_el1, x24
	eret
