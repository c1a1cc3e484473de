/* SPDX-License-Identifier: MIT */
/* vCPU 0 reads s3_0_c15_c3_0 until it reads 1, about every million instructions; every other
 * vCPU reads it 8 times and halts at once. test_vmm_restart: a vCPU halts, its connection left
 * idle, while vCPU 0 waits for the idsrd started after a restart (its policy reads 1). */
	.include "end.inc"
	.text
	.globl _start
_start:
	cbnz	x0, 3f
1:	mrs	x1, s3_0_c15_c3_0
	cmp	x1, #1
	b.eq	5f
	ldr	x2, =1000000
2:	subs	x2, x2, #1
	b.ne	2b
	b	1b
3:	mov	x2, #8
4:	mrs	x1, s3_0_c15_c3_0
	subs	x2, x2, #1
	b.ne	4b
5:	guest_end brk
	.ltorg
