/* SPDX-License-Identifier: MIT */
/* LOOPS (default 100000) HID0_EL1 reads in a tight loop: what one forwarded access costs. */
	.ifndef LOOPS
	.set LOOPS, 100000
	.endif
	.text
	.globl _start
_start:
	ldr	x2, =LOOPS
1:	mrs	x1, s3_0_c15_c0_0
	subs	x2, x2, #1
	b.ne	1b
	brk	#0
	.ltorg
