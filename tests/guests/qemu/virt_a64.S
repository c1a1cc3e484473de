/* SPDX-License-Identifier: MIT */
/* QEMU -M virt entry and exit for an AArch64 reference guest (linked after it, so the guest's
 * PCs are the ones idsr-vmm sees). QEMU starts vCPU 0 at qemu_virt_start, at EL1; it starts
 * the others by PSCI CPU_ON until one does not exist. Each vCPU enters the guest's _start as
 * idsr-vmm starts it: x0 = its index, every other register 0. The guest's `guest_end' branches
 * to qemu_virt_exit, which stores x0-x30 in the vCPU's slot; vCPU 0 waits for the others, prints
 * every slot on the PL011 UART ("vcpu N xR 0x%016x", then "end") and powers off with PSCI
 * SYSTEM_OFF. The SP of a vCPU points at its slot: the guests use no stack. */
	.equ	UART_DR, 0x09000000
	.equ	PSCI_CPU_ON, 0xc4000003
	.equ	PSCI_CPU_OFF, 0x84000002
	.equ	PSCI_SYSTEM_OFF, 0x84000008
	.equ	MAX_VCPUS, 8
	.equ	SLOT, 256			/* x0-x30, then the done flag at 248 */

	.text
	.globl qemu_virt_start
qemu_virt_start:
	mov	x19, #1
1:	cmp	x19, #MAX_VCPUS
	b.hs	2f
	ldr	x0, =PSCI_CPU_ON
	mov	x1, x19				/* target MPIDR: Aff0 = index */
	adr	x2, enter
	mov	x3, x19				/* context id: arrives in x0 */
	hvc	#0
	cbnz	x0, 2f				/* no such vCPU: all are started */
	add	x19, x19, #1
	b	1b
2:	adr	x1, vcpus
	str	x19, [x1]
	mov	x0, #0

/* x0 = this vCPU's index */
enter:
	adr	x1, slots
	mov	x2, #SLOT
	madd	x1, x0, x2, x1
	mov	sp, x1
	.irp	r, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
	mov	x\r, #0
	.endr
	b	_start

	.globl qemu_virt_exit
qemu_virt_exit:
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	str	x30, [sp, #240]
	mrs	x0, mpidr_el1
	and	x0, x0, #0xff
	cbz	x0, 3f
	mov	x1, #1				/* a secondary: done, and off */
	dmb	sy
	str	x1, [sp, #248]
	ldr	x0, =PSCI_CPU_OFF
	hvc	#0
	b	.

3:	adr	x19, vcpus			/* vCPU 0: wait for every other one */
	ldr	x19, [x19]
	adr	x20, slots
	mov	x21, #1
4:	cmp	x21, x19
	b.hs	6f
	mov	x2, #SLOT
	madd	x22, x21, x2, x20
5:	ldr	x1, [x22, #248]
	cbz	x1, 5b
	add	x21, x21, #1
	b	4b
6:	dmb	sy
	mov	x21, #0				/* x21 = vCPU, x22 = its slot, x23 = register */
7:	mov	x2, #SLOT
	madd	x22, x21, x2, x20
	mov	x23, #0
8:	adr	x0, s_vcpu
	bl	puts
	mov	x0, x21
	bl	putdec
	mov	x0, #' '
	bl	putc
	mov	x0, #'x'
	bl	putc
	mov	x0, x23
	bl	putdec
	adr	x0, s_hex
	bl	puts
	ldr	x0, [x22, x23, lsl #3]
	bl	puthex
	mov	x0, #'\n'
	bl	putc
	add	x23, x23, #1
	cmp	x23, #31
	b.lo	8b
	add	x21, x21, #1
	cmp	x21, x19
	b.lo	7b
	adr	x0, s_end
	bl	puts
	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0
	b	.

/* putc(x0); clobbers x9 */
putc:
	ldr	x9, =UART_DR
	strb	w0, [x9]
	ret

/* puts(x0: NUL-terminated); clobbers x0, x9-x11 */
puts:
	mov	x10, x30
	mov	x11, x0
1:	ldrb	w0, [x11], #1
	cbz	w0, 2f
	bl	putc
	b	1b
2:	ret	x10

/* putdec(x0 < 100); clobbers x0, x9-x12 */
putdec:
	mov	x10, x30
	mov	x11, #10
	udiv	x12, x0, x11
	msub	x11, x12, x11, x0		/* x11 = ones */
	cbz	x12, 1f
	add	x0, x12, #'0'
	bl	putc
1:	add	x0, x11, #'0'
	bl	putc
	ret	x10

/* puthex(x0): 16 hex digits; clobbers x0, x9-x13 */
puthex:
	mov	x10, x30
	mov	x11, x0
	mov	x12, #60
1:	lsr	x13, x11, x12
	and	x13, x13, #0xf
	cmp	x13, #10
	add	x0, x13, #'0'
	add	x13, x13, #('a' - 10)
	csel	x0, x13, x0, hs
	bl	putc
	subs	x12, x12, #4
	b.pl	1b
	ret	x10

	.ltorg
s_vcpu:	.asciz	"vcpu "
s_hex:	.asciz	" 0x"
s_end:	.asciz	"end\n"
	.balign	8
vcpus:	.quad	1
	.balign	16
slots:	.skip	SLOT * MAX_VCPUS
