/* SPDX-License-Identifier: MIT */
/* AArch32 (ARM state) kernel code on a Cortex-A15 style core: cp15 MRC/MCR in the IMPDEF space
 * (c15, L2CTLR/L2ECTLR in c9, c11), 64-bit MRRC/MCRR with CRm=c15, a conditional access whose
 * condition fails (neither run nor forwarded), architected cp15 registers that run natively,
 * and an UNDEF vector counting into r10. r0 = vCPU index on entry. */
	.arm
	.include "end.inc"
	.text
	.globl _start
_start:
	mov	r4, r0
	adr	r1, vectors
	mcr	p15, 0, r1, c12, c0, 0		@ VBAR: architected
	mov	r10, #0
	mrc	p15, 0, r2, c0, c0, 0		@ MIDR: architected
	mrc	p15, 0, r1, c15, c0, 0		@ IMPDEF c15
	orr	r1, r1, #0x40
	mcr	p15, 0, r1, c15, c0, 0
	mrc	p15, 1, r3, c9, c0, 2		@ L2CTLR
	orr	r3, r3, #1
	mcr	p15, 1, r3, c9, c0, 3		@ L2ECTLR
	mrc	p15, 0, r5, c11, c0, 0		@ c11: DMA/TCM-style IMPDEF
	movs	r6, #1				@ Z = 0
	mrceq	p15, 0, r6, c15, c1, 0		@ condition fails
	mrrc	p15, 0, r8, r9, c15		@ 64-bit: r8 = low word, r9 = high word
	add	r8, r8, #1
	mcrr	p15, 1, r8, r9, c15
	.globl undefined_insn
undefined_insn:
	udf	#0
	guest_end bkpt

	.include "a32_vectors.inc"
