/* SPDX-License-Identifier: MIT */
/* QEMU -M virt entry and exit for an AArch32 reference guest: virt_a64.S's, in ARM state.
 * QEMU starts vCPU 0 at qemu_virt_start in SVC mode; PSCI CPU_ON starts the others. Each
 * enters the guest's _start with r0 = its index and r1-r12, r14 = 0; `guest_end' branches to
 * qemu_virt_exit, which stores r0-r12 and r14 in the vCPU's slot (SP points at it); vCPU 0
 * prints every slot on the PL011 UART ("vcpu N rR 0x%08x", then "end") and powers off. */
	.arch	armv7-a
	.arch_extension virt
	.arm
	.equ	UART_DR, 0x09000000
	.equ	PSCI_CPU_ON, 0x84000003
	.equ	PSCI_CPU_OFF, 0x84000002
	.equ	PSCI_SYSTEM_OFF, 0x84000008
	.equ	MAX_VCPUS, 8
	.equ	SLOT, 64			/* r0-r14 (r13 unused), then the done flag at 60 */

	.text
	.globl qemu_virt_start
qemu_virt_start:
	mov	r4, #1
1:	cmp	r4, #MAX_VCPUS
	bhs	2f
	ldr	r0, =PSCI_CPU_ON
	mov	r1, r4				@ target MPIDR: Aff0 = index
	adr	r2, enter
	mov	r3, r4				@ context id: arrives in r0
	hvc	#0
	cmp	r0, #0
	bne	2f				@ no such vCPU: all are started
	add	r4, r4, #1
	b	1b
2:	ldr	r1, =vcpus
	str	r4, [r1]
	mov	r0, #0

@ r0 = this vCPU's index
enter:
	ldr	r1, =slots
	mov	r2, #SLOT
	mla	sp, r0, r2, r1
	.irp	r, 1,2,3,4,5,6,7,8,9,10,11,12,14
	mov	r\r, #0
	.endr
	b	_start

	.globl qemu_virt_exit
qemu_virt_exit:
	stm	sp, {r0-r12}
	str	r14, [sp, #56]
	mrc	p15, 0, r0, c0, c0, 5		@ MPIDR
	ands	r0, r0, #0xff
	beq	3f
	mov	r1, #1				@ a secondary: done, and off
	dmb	sy
	str	r1, [sp, #60]
	ldr	r0, =PSCI_CPU_OFF
	hvc	#0
	b	.

3:	ldr	r4, =vcpus			@ vCPU 0: wait for every other one
	ldr	r4, [r4]
	ldr	r5, =slots
	mov	r6, #1
4:	cmp	r6, r4
	bhs	6f
	mov	r2, #SLOT
	mla	r7, r6, r2, r5
5:	ldr	r1, [r7, #60]
	cmp	r1, #0
	beq	5b
	add	r6, r6, #1
	b	4b
6:	dmb	sy
	mov	r6, #0				@ r6 = vCPU, r7 = its slot, r8 = register
7:	mov	r2, #SLOT
	mla	r7, r6, r2, r5
	mov	r8, #0
8:	cmp	r8, #13				@ r13 is the slot pointer: not reported
	beq	9f
	adr	r0, s_vcpu
	bl	puts
	mov	r0, r6
	bl	putdec
	mov	r0, #' '
	bl	putc
	mov	r0, #'r'
	bl	putc
	mov	r0, r8
	bl	putdec
	adr	r0, s_hex
	bl	puts
	ldr	r0, [r7, r8, lsl #2]
	bl	puthex
	mov	r0, #'\n'
	bl	putc
9:	add	r8, r8, #1
	cmp	r8, #15
	blo	8b
	add	r6, r6, #1
	cmp	r6, r4
	blo	7b
	adr	r0, s_end
	bl	puts
	ldr	r0, =PSCI_SYSTEM_OFF
	hvc	#0
	b	.

@ putc(r0); clobbers r9
putc:
	ldr	r9, =UART_DR
	strb	r0, [r9]
	bx	lr

@ puts(r0: NUL-terminated); clobbers r0, r9-r11
puts:
	mov	r10, lr
	mov	r11, r0
1:	ldrb	r0, [r11], #1
	cmp	r0, #0
	beq	2f
	bl	putc
	b	1b
2:	bx	r10

@ putdec(r0 < 100); clobbers r0, r9-r12
putdec:
	mov	r10, lr
	mov	r11, r0
	mov	r12, #0
1:	cmp	r11, #10			@ r12 = tens, r11 = ones
	subhs	r11, r11, #10
	addhs	r12, r12, #1
	bhs	1b
	cmp	r12, #0
	addne	r0, r12, #'0'
	blne	putc
	add	r0, r11, #'0'
	bl	putc
	bx	r10

@ puthex(r0): 8 hex digits; clobbers r0, r9-r12
puthex:
	mov	r10, lr
	mov	r11, r0
	mov	r12, #28
1:	lsr	r0, r11, r12
	and	r0, r0, #0xf
	cmp	r0, #10
	addhs	r0, r0, #('a' - 10)
	addlo	r0, r0, #'0'
	bl	putc
	subs	r12, r12, #4
	bpl	1b
	bx	r10

	.ltorg
s_vcpu:	.asciz	"vcpu "
s_hex:	.asciz	" 0x"
s_end:	.asciz	"end\n"
	.balign	4
vcpus:	.word	1
	.balign	8
slots:	.skip	SLOT * MAX_VCPUS
