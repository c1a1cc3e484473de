/* SPDX-License-Identifier: MIT */
/* LOOPS (default 100000) HID0_EL1 reads in a tight loop: what one forwarded access costs. With
 * --defsym A57=1 it reads CPUACTLR_EL1 instead, which QEMU's cortex-a57 model answers itself
 * (bench/qemu.sh: the same register from QEMU's cpreg and through idsrd). */
	.ifndef LOOPS
	.set LOOPS, 100000
	.endif
	.include "end.inc"
	.text
	.globl _start
_start:
	ldr	x2, =LOOPS
	.ifdef A57
1:	mrs	x1, s3_1_c15_c2_0
	.else
1:	mrs	x1, s3_0_c15_c0_0
	.endif
	subs	x2, x2, #1
	b.ne	1b
	guest_end brk
	.ltorg
