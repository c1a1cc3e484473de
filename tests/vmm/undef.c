/* SPDX-License-Identifier: MIT */
/* UNDEF: injected into the guest the way KVM's kvm_inject_undefined does, skipped, or fatal (--undef). */
#include "vmm.h"

/* AArch64 (ARM DDI 0487, D1.10.2 "Exception vectors"; KVM inject_fault.c):
 * ESR_ELx.EC = 0 (unknown reason), IL = 1 (a 32-bit instruction). */
#define A64_ESR_UNKNOWN_IL	(1ull << 25)
#define A64_VEC_CUR_SP0		0x000
#define A64_VEC_CUR_SPX		0x200
#define A64_VEC_LOWER_A64	0x400
#define A64_PSTATE_I		(1u << 7)
#define A64_HCR_IMO		(1ull << 4)	/* HCR_EL2: physical IRQs route to EL2, virtual IRQs on */
#define A64_HCR_VI		(1ull << 7)	/* HCR_EL2: a virtual IRQ is pending */
#define A64_PSTATE_EL1H_DAIF	0x3c5u	/* EL1h, D, A, I and F masked */

/* AArch32 (ARM DDI 0406C B1.8; KVM prepare_fault32): UND mode, LR = PC + 4
 * in ARM state, + 2 in Thumb, vector VBAR + 4 (or 0xffff0004 with SCTLR.V),
 * entered in ARM state (SCTLR.TE is taken as 0). */
#define A32_MODE_MASK	0x1fu
#define A32_MODE_UND	0x1bu
#define A32_CPSR_I	(1u << 7)
#define A32_CPSR_T	(1u << 5)
#define A32_CPSR_J	(1u << 24)
#define A32_CPSR_IT	0x0600fc00u
#define A32_SCTLR_V	(1u << 13)

/* What --undef says to do with an UNDEF verdict; a real undefined
 * instruction always goes to the guest's vector, as on hardware. */
static enum undef_mode undef_choice(const struct vcpu *v, bool verdict)
{
	return verdict ? v->opts->undef : UNDEF_VECTOR;
}

static bool undef_stop(struct vcpu *v, uint64_t pc)
{
	vcpu_stop_at(v, pc, "UNDEF for the IDSR access at PC 0x%llx (--undef stop)", (unsigned long long)pc);
	return false;
}

static void undef_a64_hcr_virq(uc_engine *uc, bool raise)
{
	uc_arm64_cp_reg hcr = { .op0 = 3, .op1 = 4, .crn = 1, .crm = 1, .op2 = 0 };

	uc_reg_read(uc, UC_ARM64_REG_CP_REG, &hcr);
	hcr.val = raise ? hcr.val | A64_HCR_VI | A64_HCR_IMO : hcr.val & ~(A64_HCR_VI | A64_HCR_IMO);
	uc_reg_write(uc, UC_ARM64_REG_CP_REG, &hcr);	/* QEMU's hcr_write raises or drops the VIRQ */
}

/*
 * From EL0 the VMM cannot enter EL1 by writing PSTATE: Unicorn 2.0.1 does
 * not rebuild QEMU's cached translation flags, so the guest's handler would
 * run with EL0 rights. QEMU's own exception entry does switch, and the one
 * exception a VMM can raise from outside is a virtual IRQ (HCR_EL2.VI). So:
 * VBAR_EL1 points at the VMM page, the VIRQ is raised and the instruction
 * left unexecuted; QEMU takes the IRQ to EL1, saving ELR_EL1 = PC and
 * SPSR_EL1 = the EL0 PSTATE (just what an UNDEF saves), and runs the brk in
 * the page's "IRQ from a lower EL" slot, where undef_a64_el0_arrived makes
 * it the UNDEF: ESR_EL1, the guest's VBAR_EL1 back, PC at its +0x400 entry.
 */
static bool undef_a64_from_el0(struct vcpu *v, uint64_t pc, uint64_t pstate)
{
	if (pstate & A64_PSTATE_I) {
		vcpu_stop_at(v, pc, "UNDEF at EL0, PC 0x%llx, with IRQs masked (PSTATE.I): the VMM enters "
			     "EL1 through a virtual IRQ and cannot; run with --undef skip", (unsigned long long)pc);
		return false;
	}
	uc_reg_read(v->uc, UC_ARM64_REG_VBAR_EL1, &v->el0_undef_vbar);
	uc_reg_write(v->uc, UC_ARM64_REG_VBAR_EL1, &v->vmm_page);
	undef_a64_hcr_virq(v->uc, true);
	v->el0_undef_pending = true;
	uc_reg_write(v->uc, UC_ARM64_REG_PC, &pc);	/* leave the block: the IRQ is taken here */
	return true;
}

void undef_a64_el0_arrived(struct vcpu *v)
{
	uint64_t esr = A64_ESR_UNKNOWN_IL, pc = v->el0_undef_vbar + A64_VEC_LOWER_A64;

	undef_a64_hcr_virq(v->uc, false);
	uc_reg_write(v->uc, UC_ARM64_REG_VBAR_EL1, &v->el0_undef_vbar);
	uc_reg_write(v->uc, UC_ARM64_REG_ESR_EL1, &esr);
	uc_reg_write(v->uc, UC_ARM64_REG_PC, &pc);
	v->el0_undef_pending = false;
	v->vector_pc = pc;
}

bool undef_a64(struct vcpu *v, uint64_t pc, bool verdict)
{
	uint64_t pstate = 0, vbar = 0, esr = A64_ESR_UNKNOWN_IL, new_pstate = A64_PSTATE_EL1H_DAIF;
	uc_arm64_cp_reg spsr = { .op0 = 3, .op1 = 0, .crn = 4, .crm = 0, .op2 = 0 };
	enum undef_mode mode = undef_choice(v, verdict);
	uint64_t next = pc + 4;

	if (mode == UNDEF_STOP)
		return undef_stop(v, pc);
	if (mode == UNDEF_SKIP) {
		uc_reg_write(v->uc, UC_ARM64_REG_PC, &next);
		return true;
	}
	uc_reg_read(v->uc, UC_ARM64_REG_PSTATE, &pstate);
	if (VMM_A64_EL(pstate) == 0)
		return undef_a64_from_el0(v, pc, pstate);
	uc_reg_read(v->uc, UC_ARM64_REG_VBAR_EL1, &vbar);
	spsr.val = pstate;
	uc_reg_write(v->uc, UC_ARM64_REG_ESR_EL1, &esr);
	uc_reg_write(v->uc, UC_ARM64_REG_ELR_EL1, &pc);
	uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &spsr);
	uc_reg_write(v->uc, UC_ARM64_REG_PSTATE, &new_pstate);
	pc = vbar + ((pstate & 1) ? A64_VEC_CUR_SPX : A64_VEC_CUR_SP0);
	uc_reg_write(v->uc, UC_ARM64_REG_PC, &pc);
	v->vector_pc = pc;
	return true;
}

static uint32_t undef_a32_cp15(uc_engine *uc, unsigned crn)
{
	/* VBAR is banked by security state; the guest runs Secure PL1
	 * (Unicorn's reset state), the bank sec = 0 reads (measured: the
	 * guest's own VBAR write reads back). */
	uc_arm_cp_reg r = { .cp = 15, .crn = crn };

	if (uc_reg_read(uc, UC_ARM_REG_CP_REG, &r))
		return 0;
	return (uint32_t)r.val;
}

bool undef_a32(struct vcpu *v, uint64_t pc, bool verdict)
{
	enum undef_mode mode = undef_choice(v, verdict);
	uint32_t cpsr = 0, new_cpsr, lr, vec, next;
	bool thumb;

	if (mode == UNDEF_STOP)
		return undef_stop(v, pc);
	uc_reg_read(v->uc, UC_ARM_REG_CPSR, &cpsr);
	thumb = cpsr & A32_CPSR_T;
	if (mode == UNDEF_SKIP) {
		next = ((uint32_t)pc + 4) | thumb;	/* IDSR accesses are 32-bit in Thumb too */
		uc_reg_write(v->uc, UC_ARM_REG_PC, &next);
		return true;
	}
	vec = (undef_a32_cp15(v->uc, 1) & A32_SCTLR_V) ? 0xffff0000u : undef_a32_cp15(v->uc, 12);
	vec += 4;
	lr = (uint32_t)pc + (thumb ? 2 : 4);	/* KVM's return_offsets[UND] */
	new_cpsr = (cpsr & ~(A32_MODE_MASK | A32_CPSR_T | A32_CPSR_J | A32_CPSR_IT)) | A32_MODE_UND | A32_CPSR_I;
	/* Writing CPSR switches the register bank: SPSR and LR below are UND's. */
	uc_reg_write(v->uc, UC_ARM_REG_CPSR, &new_cpsr);
	uc_reg_write(v->uc, UC_ARM_REG_SPSR, &cpsr);
	uc_reg_write(v->uc, UC_ARM_REG_LR, &lr);
	uc_reg_write(v->uc, UC_ARM_REG_PC, &vec);	/* resumes there */
	v->vector_pc = vec;
	return true;
}
