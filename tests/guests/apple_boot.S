/* SPDX-License-Identifier: MIT */
/* Early boot of an Apple-silicon style kernel, per core: read-modify-write of HID registers,
 * cluster configuration, and polling a counter-like IMPDEF register. Encodings and names:
 * data/registers.tsv (Asahi m1n1 apple_regs.json). x0 = vCPU index on entry. Its exception
 * vector steps over an UNDEF and counts it in x20, where a real kernel would panic.
 *
 * Variants (tests/guests/guests.mk, --defsym): ADD_ACCESS=1 reads HID7 too, REMOVE_ACCESS=1
 * drops the HID11 read-modify-write, VALUE_CHANGED=1 writes a different HID4 value, MOVED=1
 * pads before acc_init so every later PC shifts by 0x40. REPEAT=N runs the whole sequence N times
 * (a long boot for the report's measurements, docs/report.md). */
	.ifndef ADD_ACCESS
	.set ADD_ACCESS, 0
	.endif
	.ifndef REMOVE_ACCESS
	.set REMOVE_ACCESS, 0
	.endif
	.ifndef VALUE_CHANGED
	.set VALUE_CHANGED, 0
	.endif
	.ifndef MOVED
	.set MOVED, 0
	.endif
	.ifndef REPEAT
	.set REPEAT, 0
	.endif

	.include "end.inc"
	.text
	.globl _start
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x20, #0				// UNDEFs taken
	mov	x19, x0				// keep the core number
	.if REPEAT
	ldr	x23, =REPEAT
	.endif
.Lagain:
	bl	hid_init
	bl	acc_init
	bl	wait_counter
	.if REPEAT
	subs	x23, x23, #1
	b.ne	.Lagain
	.endif
	guest_end brk

	.globl hid_init
hid_init:
	mrs	x1, s3_0_c15_c0_0		// HID0_EL1
	orr	x1, x1, #(1 << 20)		// a chicken bit
	msr	s3_0_c15_c0_0, x1
	mrs	x2, s3_0_c15_c4_0		// HID4_EL1
	.if VALUE_CHANGED
	orr	x2, x2, #(1 << 9)
	.else
	orr	x2, x2, #(1 << 11)
	.endif
	msr	s3_0_c15_c4_0, x2
	mrs	x3, s3_0_c15_c5_0		// HID5_EL1: per core, the core number in bits 7:4
	orr	x3, x3, x19, lsl #4
	msr	s3_0_c15_c5_0, x3
	.if ADD_ACCESS
	mrs	x4, s3_0_c15_c7_0		// HID7_EL1
	.endif
	.if !REMOVE_ACCESS
	mrs	x5, s3_0_c15_c11_0		// HID11_EL1
	bic	x5, x5, #(1 << 3)
	msr	s3_0_c15_c11_0, x5
	.endif
	ret

	.if MOVED
	.rept 16
	nop
	.endr
	.endif

	.globl acc_init
acc_init:
	mrs	x6, s3_5_c15_c4_0		// ACC_CFG_EL1
	mov	x7, #0x0d
	msr	s3_5_c15_c5_0, x7		// CYC_OVRD_EL1
	ret

/* Waits until ACNTPCT_EL0 has advanced by 0x20 since the first read, at most 4 more reads. */
	.globl wait_counter
wait_counter:
	mrs	x8, s3_4_c15_c10_5		// ACNTPCT_EL0
	mov	x9, #4
1:	mrs	x10, s3_4_c15_c10_5
	sub	x11, x10, x8
	cmp	x11, #0x20
	b.hs	2f
	subs	x9, x9, #1
	b.ne	1b
2:	ret

	.balign 0x800
vectors:
	.skip	0x200
	/* current EL with SP_ELx, synchronous: an UNDEF; count it and step over */
	.globl undef_handler
undef_handler:
	add	x20, x20, #1
	mrs	x21, elr_el1
	add	x21, x21, #4
	msr	elr_el1, x21
	eret
