/* SPDX-License-Identifier: MIT */
/* AArch64 vCPUs: set-up, and the MRS/MSR hook that forwards the IDSR space as KVM_EXIT_ARM_IDSR would. */
#include <errno.h>

#include "encoding.h"
#include "vmm.h"

#define A64_ERET		0xd69f03e0u
#define A64_SCR_NS		(1ull << 0)	/* SCR_EL3.NS: EL1/EL0 non-secure, so EL2's virtual IRQ works */
#define A64_SCR_RW		(1ull << 10)	/* SCR_EL3.RW: EL2 is AArch64 */
#define A64_HCR_RW		(1ull << 31)	/* HCR_EL2.RW: EL1 is AArch64 */

uint64_t a64_pc(uc_engine *uc)
{
	uint64_t pc = 0;

	uc_reg_read(uc, UC_ARM64_REG_PC, &pc);
	return pc;
}

/*
 * Unicorn calls this for every op0=2/3 MRS/MSR (and every SYS/SYSL), also
 * architected ones and also at EL0, before QEMU's own permission check:
 * only the IDSR space is ours, everything else runs as normal (return 0).
 * Returning 1 skips the instruction, but only if PC moved: Unicorn re-runs
 * the block otherwise. A value written through cp->val is ignored, so reads
 * go to Rt with uc_reg_write.
 */
static uint32_t a64_sysreg(struct vcpu *v, uc_arm64_reg rt, const uc_arm64_cp_reg *cp, bool is_write)
{
	uint32_t key = enc_a64(cp->op0, cp->op1, cp->crn, cp->crm, cp->op2);
	uint64_t pc, pstate = 0, value = 0;
	struct idsr_verdict verdict;

	if (!enc_is_idsr(key))
		return 0;
	pc = a64_pc(v->uc);
	uc_reg_read(v->uc, UC_ARM64_REG_PSTATE, &pstate);
	if (is_write)
		uc_reg_read(v->uc, rt, &value);	/* xzr reads as 0 */
	if (fwd_access(v, key, pc, VMM_A64_EL(pstate), is_write, value, &verdict) < 0) {
		fwd_fail(v, key, pc);
		return 1;
	}
	if (verdict.undef) {
		undef_a64(v, pc, true);
		return 1;
	}
	if (!is_write && rt != UC_ARM64_REG_XZR)
		uc_reg_write(v->uc, rt, &verdict.value);
	pc += 4;
	uc_reg_write(v->uc, UC_ARM64_REG_PC, &pc);
	return 1;
}

static uint32_t a64_mrs(uc_engine *uc, uc_arm64_reg rt, const uc_arm64_cp_reg *cp, void *data)
{
	return a64_sysreg(data, rt, cp, false);
}

static uint32_t a64_msr(uc_engine *uc, uc_arm64_reg rt, const uc_arm64_cp_reg *cp, void *data)
{
	return a64_sysreg(data, rt, cp, true);
}

/* SYS/SYSL have op0=1, never in the IDSR space; hooked so that the filter
 * decides, not the instruction class. */
static uint32_t a64_sys(uc_engine *uc, uc_arm64_reg rt, const uc_arm64_cp_reg *cp, void *data)
{
	return a64_sysreg(data, rt, cp, true);
}

static uint32_t a64_sysl(uc_engine *uc, uc_arm64_reg rt, const uc_arm64_cp_reg *cp, void *data)
{
	return a64_sysreg(data, rt, cp, false);
}

/* Lets a guest eret stay in AArch64: without these RW bits QEMU takes
 * EL1 (and EL0) for AArch32 and an eret sets PSTATE.IL. Non-secure, as a
 * KVM guest is, which also makes HCR_EL2's virtual IRQ usable (undef.c). */
static int a64_set_el3_el2(uc_engine *uc)
{
	uc_arm64_cp_reg scr = { .op0 = 3, .op1 = 6, .crn = 1, .crm = 1, .op2 = 0 };
	uc_arm64_cp_reg hcr = { .op0 = 3, .op1 = 4, .crn = 1, .crm = 1, .op2 = 0 };

	if (uc_reg_read(uc, UC_ARM64_REG_CP_REG, &scr) || uc_reg_read(uc, UC_ARM64_REG_CP_REG, &hcr))
		return -EIO;
	scr.val |= A64_SCR_RW | A64_SCR_NS;
	hcr.val |= A64_HCR_RW;
	if (uc_reg_write(uc, UC_ARM64_REG_CP_REG, &scr) || uc_reg_write(uc, UC_ARM64_REG_CP_REG, &hcr))
		return -EIO;
	return 0;
}

/* What the guest reads in MIDR_EL1 and MPIDR_EL1: with EL2 in use, EL1
 * reads VPIDR_EL2 and VMPIDR_EL2, which KVM sets per vCPU just so. */
static int a64_set_ids(struct vcpu *v)
{
	uc_arm64_cp_reg vpidr = { .op0 = 3, .op1 = 4, .crn = 0, .crm = 0, .op2 = 0, .val = v->opts->midr };
	uc_arm64_cp_reg vmpidr = { .op0 = 3, .op1 = 4, .crn = 0, .crm = 0, .op2 = 5 };

	/* MPIDR: bit 31 RES1, Aff1:Aff0 = the vCPU index */
	vmpidr.val = 1ull << 31 | (v->index >> 8 & 0xff) << 8 | (v->index & 0xff);
	if (uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &vmpidr))
		return -EIO;
	if (v->opts->midr && uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &vpidr))
		return -EIO;
	return 0;
}

/*
 * The VMM's own page of each vCPU, just below guest RAM (or just above it
 * when RAM starts at 0): an eret at +0 for --el0, and a brk at the "IRQ
 * from a lower EL" slot of a vector table based there, where an UNDEF from
 * EL0 lands on its way to EL1 (undef.c).
 */
static int a64_map_vmm_page(struct vcpu *v)
{
	const struct vmm_mem *m = v->mem;
	uint32_t eret = A64_ERET, brk = VMM_A64_EL0_BRK;

	v->vmm_page = m->base >= VMM_PAGE_SIZE ? m->base - VMM_PAGE_SIZE : m->base + m->size;
	if (uc_mem_map(v->uc, v->vmm_page, VMM_PAGE_SIZE, UC_PROT_READ | UC_PROT_EXEC) ||
	    uc_mem_write(v->uc, v->vmm_page, &eret, sizeof(eret)) ||
	    uc_mem_write(v->uc, v->vmm_page + VMM_A64_IRQ_LOWER, &brk, sizeof(brk)))
		return -ENOMEM;
	return 0;
}

/* --el0: Unicorn starts at EL1h, and writing PSTATE does not really change
 * the EL, but an eret does: enter through the eret on the VMM page. */
static int a64_enter_el0(struct vcpu *v, uint64_t *entry)
{
	uc_arm64_cp_reg spsr = { .op0 = 3, .op1 = 0, .crn = 4, .crm = 0, .op2 = 0, .val = 0 /* EL0t */ };

	if (uc_reg_write(v->uc, UC_ARM64_REG_ELR_EL1, &v->mem->base) ||
	    uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &spsr))
		return -EIO;
	*entry = v->vmm_page;
	return 0;
}

int a64_setup(struct vcpu *v, uint64_t *entry)
{
	/* EL1's stack at the top of the vCPU's 64 KiB, EL0's in its middle */
	uint64_t x0 = v->index, sp = mem_stack_top(v->mem, v->index), sp_el0 = sp - VMM_STACK_SIZE / 2;
	uc_hook hook;
	uc_err err;

	err = uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &v->uc);
	if (err) {
		v->uc = NULL;
		vcpu_stop(v, "cannot create an AArch64 Unicorn instance: %s", uc_strerror(err));
		return -ENOMEM;
	}
	if (mem_map(v->uc, v->mem) < 0 || a64_set_el3_el2(v->uc) < 0 || a64_set_ids(v) < 0 ||
	    a64_map_vmm_page(v) < 0 ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_INSN, a64_mrs, v, 1, 0, UC_ARM64_INS_MRS) ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_INSN, a64_msr, v, 1, 0, UC_ARM64_INS_MSR) ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_INSN, a64_sys, v, 1, 0, UC_ARM64_INS_SYS) ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_INSN, a64_sysl, v, 1, 0, UC_ARM64_INS_SYSL) ||
	    vcpu_hook_exceptions(v) < 0 ||
	    uc_reg_write(v->uc, UC_ARM64_REG_X0, &x0) || uc_reg_write(v->uc, UC_ARM64_REG_SP, &sp) ||
	    uc_reg_write(v->uc, UC_ARM64_REG_SP_EL0, &sp_el0)) {
		vcpu_stop(v, "cannot set up the AArch64 vCPU");
		return -EIO;
	}
	*entry = v->mem->base;
	if (v->opts->el0 && a64_enter_el0(v, entry) < 0) {
		vcpu_stop(v, "cannot set up the EL0 entry trampoline");
		return -EIO;
	}
	return 0;
}
