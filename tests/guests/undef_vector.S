/* SPDX-License-Identifier: MIT */
/* A kernel with its own exception vector that counts UNDEFs: x20 = UNDEFs seen, x21 = the last
 * ESR_EL1, x22 = the last ELR_EL1. Under a policy that UNDEFs HID9_EL1 the two HID9 accesses
 * land in the vector; the udf at the end always does, as it would on hardware. */
	.include "end.inc"
	.text
	.globl _start
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	isb
	mov	x20, #0
	mov	x21, #0
	mov	x22, #0
	mrs	x1, s3_0_c15_c0_0		// HID0_EL1
	mov	x2, #0x77
	mrs	x2, s3_0_c15_c9_0		// HID9_EL1: x2 keeps 0x77 if UNDEF
	msr	s3_0_c15_c9_0, x1
	.globl undefined_insn
undefined_insn:
	udf	#0
	guest_end brk

	.balign 0x800
vectors:
	.skip	0x200
	/* current EL with SP_ELx, synchronous: count, step over the instruction */
	.globl sync_handler
sync_handler:
	add	x20, x20, #1
	mrs	x21, esr_el1
	mrs	x22, elr_el1
	add	x23, x22, #4
	msr	elr_el1, x23
	eret
