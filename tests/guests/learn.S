/* SPDX-License-Identifier: MIT */
/* One access pattern for each rule kind idsrctl policy learn finds (tests/import/test_learn.sh):
 * HID0 read back after writes (storage), HID1 read twice (value), ACNTPCT polled (counter), HID5
 * per core (a per-vCPU value), CYC_OVRD only written (ignore), HID7 UNDEF (run with --undef skip),
 * HID4 read three times (whatever the policy answers). x0 = vCPU index on entry. Encodings:
 * data/registers.tsv (m1n1 apple_regs.json). */
	.text
	.globl _start
_start:
	mov	x19, x0
	mrs	x1, s3_0_c15_c0_0		// HID0_EL1: its first value
	orr	x1, x1, #(1 << 20)
	msr	s3_0_c15_c0_0, x1
	mrs	x2, s3_0_c15_c0_0		// reads back what was written
	add	x2, x2, x19			// a value per core
	msr	s3_0_c15_c0_0, x2
	mrs	x3, s3_0_c15_c0_0
	mrs	x4, s3_0_c15_c1_0		// HID1_EL1
	mrs	x4, s3_0_c15_c1_0
	mrs	x5, s3_4_c15_c10_5		// ACNTPCT_EL0, three times
	mrs	x5, s3_4_c15_c10_5
	mrs	x5, s3_4_c15_c10_5
	mrs	x6, s3_0_c15_c5_0		// HID5_EL1
	msr	s3_5_c15_c5_0, x6		// CYC_OVRD_EL1
	mrs	x7, s3_0_c15_c7_0		// HID7_EL1
	mrs	x8, s3_0_c15_c4_0		// HID4_EL1, three times
	mrs	x8, s3_0_c15_c4_0
	mrs	x8, s3_0_c15_c4_0
	brk	#0
