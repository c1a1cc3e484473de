/* SPDX-License-Identifier: MIT */
/* AArch32 vCPUs (ARM and Thumb-2): set-up, and the cp15 MRC/MCR/MRRC/MCRR decode that forwards the IDSR space. */
#include <errno.h>

#include "encoding.h"
#include "vmm.h"

#define A32_CPSR_T		(1u << 5)
#define A32_MODE_MASK		0x1fu
#define A32_MODE_USR		0x10u
#define A32_NZCV_MASK		0xf0000000u

/* ARM DDI 0406C A8.8.98-A8.8.99, A8.8.107-A8.8.108: MCR/MRC are
 * cond 1110 opc1:3 L CRn Rt coproc opc2:3 1 CRm; MCRR/MRRC are
 * cond 1100 010 L Rt2 Rt coproc opc1:4 CRm. */
#define A32_IS_MCR_MRC(i)	(((i) & 0x0f000010u) == 0x0e000010u)
#define A32_IS_MCRR_MRRC(i)	(((i) & 0x0fe00000u) == 0x0c400000u)
#define A32_FIELD(i, lo, bits)	(((i) >> (lo)) & ((1u << (bits)) - 1))

const uc_arm_reg a32_regs[16] = {
	UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3, UC_ARM_REG_R4, UC_ARM_REG_R5,
	UC_ARM_REG_R6, UC_ARM_REG_R7, UC_ARM_REG_R8, UC_ARM_REG_R9, UC_ARM_REG_R10, UC_ARM_REG_R11,
	UC_ARM_REG_R12, UC_ARM_REG_SP, UC_ARM_REG_LR, UC_ARM_REG_PC,
};

uint64_t a32_pc(uc_engine *uc)
{
	uint32_t pc = 0;

	uc_reg_read(uc, UC_ARM_REG_PC, &pc);
	return pc;
}

/* ARM DDI 0406C A8.3 "Conditional execution". */
bool a32_cond_passed(uint32_t cpsr, unsigned cond)
{
	bool n = cpsr >> 31 & 1, z = cpsr >> 30 & 1, c = cpsr >> 29 & 1, v = cpsr >> 28 & 1;
	bool r;

	switch (cond >> 1) {
	case 0: r = z; break;			/* EQ / NE */
	case 1: r = c; break;			/* CS / CC */
	case 2: r = n; break;			/* MI / PL */
	case 3: r = v; break;			/* VS / VC */
	case 4: r = c && !z; break;		/* HI / LS */
	case 5: r = n == v; break;		/* GE / LT */
	case 6: r = !z && n == v; break;	/* GT / LE */
	default: return true;			/* AL (and the unconditional space) */
	}
	return (cond & 1) ? !r : r;
}

static uint32_t a32_get(uc_engine *uc, unsigned reg)
{
	uint32_t val = 0;

	uc_reg_read(uc, a32_regs[reg], &val);
	return val;
}

static void a32_set(uc_engine *uc, unsigned reg, uint32_t val)
{
	uc_reg_write(uc, a32_regs[reg], &val);
}

/* Applies a read's value: MRC to Rt (Rt = 15 is APSR_nzcv: the flags take
 * bits 31:28), MRRC to Rt (low word) and Rt2 (high word). */
static void a32_apply_read(uc_engine *uc, uint32_t insn, bool wide, uint64_t value)
{
	unsigned rt = A32_FIELD(insn, 12, 4);
	uint32_t cpsr = 0;

	if (wide) {
		a32_set(uc, rt, (uint32_t)value);
		a32_set(uc, A32_FIELD(insn, 16, 4), (uint32_t)(value >> 32));
	} else if (rt == 15) {
		uc_reg_read(uc, UC_ARM_REG_CPSR, &cpsr);
		cpsr = (cpsr & ~A32_NZCV_MASK) | ((uint32_t)value & A32_NZCV_MASK);
		uc_reg_write(uc, UC_ARM_REG_CPSR, &cpsr);
	} else {
		a32_set(uc, rt, (uint32_t)value);
	}
}

bool a32_thumb(uc_engine *uc)
{
	uint32_t cpsr = 0;

	uc_reg_read(uc, UC_ARM_REG_CPSR, &cpsr);
	return cpsr & A32_CPSR_T;
}

/* A coprocessor 15 register transfer, not the unconditional MCR2/MRC2 space. */
static bool a32_is_cp15(uint32_t insn)
{
	return (A32_IS_MCR_MRC(insn) || A32_IS_MCRR_MRRC(insn)) && A32_FIELD(insn, 8, 4) == 15 &&
	       insn >> 28 != 0xf;
}

/* ARM DDI 0406C A2.5.2: ITSTATE is CPSR[15:10]:CPSR[26:25]; non-zero low
 * bits mean the instruction is inside an IT block. */
static bool a32_in_it_block(uint32_t cpsr)
{
	return (((cpsr >> 8) & 0xfc) | ((cpsr >> 25) & 3)) & 0xf;
}

/*
 * Unicorn has no MRC/MCR instruction hook, and QEMU answers part of the
 * cp15 IDSR space itself at PL1 without trapping, so every instruction is
 * looked at before it runs (UC_HOOK_CODE) and the IDSR ones are emulated
 * here: writing PC from the hook skips the instruction. Thumb-2's 32-bit
 * MCR/MRC/MCRR/MRRC have the ARM layout once their halfwords are swapped
 * (the first one, in the high bits, has 1110 where ARM has the condition).
 */
static void a32_code(uc_engine *uc, uint64_t address, uint32_t size, void *data)
{
	struct vcpu *v = data;
	struct idsr_verdict verdict;
	uint32_t raw, insn, cpsr = 0, key, next;
	bool wide, is_write, thumb;
	uint64_t value = 0;

	if (size != 4 || !mem_read32(v->mem, address, &raw))
		return;
	if (!a32_is_cp15(raw) && !a32_is_cp15(raw << 16 | raw >> 16))
		return;		/* the fast path: no register read */
	uc_reg_read(uc, UC_ARM_REG_CPSR, &cpsr);
	thumb = cpsr & A32_CPSR_T;
	insn = thumb ? raw << 16 | raw >> 16 : raw;
	if (!a32_is_cp15(insn))
		return;
	wide = A32_IS_MCRR_MRRC(insn);
	key = wide ? enc_a32_wide(15, A32_FIELD(insn, 4, 4), A32_FIELD(insn, 0, 4))
		   : enc_a32(15, A32_FIELD(insn, 21, 3), A32_FIELD(insn, 16, 4), A32_FIELD(insn, 0, 4),
			     A32_FIELD(insn, 5, 3));
	if (!enc_is_idsr(key))
		return;
	if (thumb && a32_in_it_block(cpsr)) {
		/* skipping it by a PC write would not advance ITSTATE */
		vcpu_stop_at(v, address, "IDSR access inside a Thumb IT block at PC 0x%llx: not supported "
			     "by the reference VMM", (unsigned long long)address);
		return;
	}
	if (!thumb && !a32_cond_passed(cpsr, insn >> 28))
		return;		/* a failed condition is a NOP */
	is_write = !(insn & (1u << 20));
	if (is_write)
		value = wide ? (uint64_t)a32_get(uc, A32_FIELD(insn, 16, 4)) << 32 | a32_get(uc, A32_FIELD(insn, 12, 4))
			     : a32_get(uc, A32_FIELD(insn, 12, 4));
	if (fwd_access(v, key, address, (cpsr & A32_MODE_MASK) == A32_MODE_USR ? 0 : 1, is_write, value,
		       &verdict) < 0) {
		fwd_fail(v, key, address);
		return;
	}
	if (verdict.undef) {
		undef_a32(v, address, true);
		return;
	}
	if (!is_write)
		a32_apply_read(uc, insn, wide, verdict.value);
	next = ((uint32_t)address + 4) | thumb;	/* PC bit 0 keeps the Thumb state */
	uc_reg_write(uc, UC_ARM_REG_PC, &next);
}

int a32_setup(struct vcpu *v, uint64_t *entry)
{
	const struct vmm_mem *m = v->mem;
	uint32_t r0 = v->index, sp = (uint32_t)mem_stack_top(m, v->index), cpsr = 0;
	uc_hook hook;
	uc_err err;

	err = uc_open(UC_ARCH_ARM, UC_MODE_ARM, &v->uc);
	if (err) {
		v->uc = NULL;
		vcpu_stop(v, "cannot create an AArch32 Unicorn instance: %s", uc_strerror(err));
		return -ENOMEM;
	}
	if (uc_ctl_set_cpu_model(v->uc, UC_CPU_ARM_CORTEX_A15) || mem_map(v->uc, m) < 0 ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_CODE, a32_code, v, m->base, m->base + m->size - 1) ||
	    vcpu_hook_exceptions(v) < 0) {
		vcpu_stop(v, "cannot set up the AArch32 vCPU");
		return -EIO;
	}
	if (v->opts->el0) {
		/* In AArch32, writing CPSR does switch mode (and banks SP). */
		uc_reg_read(v->uc, UC_ARM_REG_CPSR, &cpsr);
		cpsr = (cpsr & ~A32_MODE_MASK) | A32_MODE_USR;
		uc_reg_write(v->uc, UC_ARM_REG_CPSR, &cpsr);
	}
	if (uc_reg_write(v->uc, UC_ARM_REG_R0, &r0) || uc_reg_write(v->uc, UC_ARM_REG_SP, &sp)) {
		vcpu_stop(v, "cannot set up the AArch32 vCPU's registers");
		return -EIO;
	}
	*entry = m->base;
	return 0;
}
