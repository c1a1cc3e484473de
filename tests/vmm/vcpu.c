/* SPDX-License-Identifier: MIT */
/* One vCPU thread: its own Unicorn instance, run until brk #0 / bkpt #0 or a stop. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "vmm.h"

static void vcpu_vstop(struct vcpu *v, const char *fmt, va_list ap)
{
	if (v->state != VCPU_RUNNING)
		return;		/* the first reason is the one worth reporting */
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	v->state = VCPU_STOPPED;
	if (v->uc)
		uc_emu_stop(v->uc);
}

void vcpu_stop(struct vcpu *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcpu_vstop(v, fmt, ap);
	va_end(ap);
}

void vcpu_stop_at(struct vcpu *v, uint64_t pc, const char *fmt, ...)
{
	va_list ap;

	if (v->state == VCPU_RUNNING) {
		v->has_stop_pc = true;
		v->stop_pc = pc;
	}
	va_start(ap, fmt);
	vcpu_vstop(v, fmt, ap);
	va_end(ap);
}

void vcpu_halt(struct vcpu *v)
{
	v->state = VCPU_HALTED;
	uc_emu_stop(v->uc);
}

static uint64_t vcpu_pc(const struct vcpu *v)
{
	return v->opts->aarch32 ? a32_pc(v->uc) : a64_pc(v->uc);
}

/* Names the address of a guest memory fault; Unicorn's error code alone does not. */
static bool vcpu_mem_fault(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value,
			   void *data)
{
	struct vcpu *v = data;
	const char *what = type == UC_MEM_FETCH_UNMAPPED || type == UC_MEM_FETCH_PROT ? "instruction fetch from"
			 : type == UC_MEM_WRITE_UNMAPPED || type == UC_MEM_WRITE_PROT ? "write to" : "read from";

	bool into_vector = v->vector_pc && address == v->vector_pc;

	vcpu_stop(v, "guest fault at PC 0x%llx: %s unmapped address 0x%llx (guest RAM is 0x%llx-0x%llx)%s",
		  (unsigned long long)vcpu_pc(v), what, (unsigned long long)address,
		  (unsigned long long)v->mem->base, (unsigned long long)(v->mem->base + v->mem->size - 1),
		  into_vector ? ": the UNDEF vector just injected; the guest has set no vector base "
				"(give it one, or run with --undef skip)" : "");
	return false;
}

/* QEMU's exception numbers (target/arm/cpu.h), as Unicorn's UC_HOOK_INTR reports them. */
enum { VCPU_EXCP_UDEF = 1, VCPU_EXCP_SWI = 2, VCPU_EXCP_BKPT = 7, VCPU_EXCP_HVC = 11, VCPU_EXCP_SMC = 13 };
#define VCPU_A64_BRK0	0xd4200000u	/* brk #0 */
#define VCPU_A32_BKPT0	0xe1200070u	/* bkpt #0 */
#define VCPU_T32_BKPT0	0xbe00u		/* bkpt #0, Thumb */

/* Guest exceptions: Unicorn reports them here and never delivers them. */
static void vcpu_intr(uc_engine *uc, uint32_t intno, void *data)
{
	struct vcpu *v = data;
	bool a32 = v->opts->aarch32;
	uint64_t pc = vcpu_pc(v);
	uint32_t insn = 0;

	switch (intno) {
	case VCPU_EXCP_UDEF:
		/* An undefined instruction that is not an IDSR access: the
		 * hardware would take it straight to the guest's vector. */
		if (a32)
			undef_a32(v, pc, false);
		else
			undef_a64(v, pc, false);
		break;
	case VCPU_EXCP_BKPT:
		if (!a32 && v->el0_undef_pending && pc == v->vmm_page + VMM_A64_IRQ_LOWER) {
			undef_a64_el0_arrived(v);
			break;
		}
		mem_read32(v->mem, pc, &insn);
		if (a32 && a32_thumb(uc))
			insn = (insn & 0xffff) == VCPU_T32_BKPT0 ? VCPU_A32_BKPT0 : insn;
		if (insn == (a32 ? VCPU_A32_BKPT0 : VCPU_A64_BRK0))
			vcpu_halt(v);
		else if (a32)
			vcpu_stop(v, "bkpt at PC 0x%llx (only bkpt #0 ends a vCPU)", (unsigned long long)pc);
		else
			vcpu_stop(v, "brk #%u at PC 0x%llx (only brk #0 ends a vCPU)", (insn >> 5) & 0xffff,
				  (unsigned long long)pc);
		break;
	case VCPU_EXCP_SWI:
	case VCPU_EXCP_HVC:
	case VCPU_EXCP_SMC:
		/* QEMU has already stepped past these calls */
		vcpu_stop(v, "%s at PC 0x%llx: the reference VMM handles no guest calls",
			  intno == VCPU_EXCP_SWI ? "svc" : intno == VCPU_EXCP_HVC ? "hvc" : "smc",
			  (unsigned long long)pc - 4);
		break;
	default:
		vcpu_stop(v, "CPU exception %u at PC 0x%llx: the reference VMM handles no guest "
			  "exceptions but UNDEF", intno, (unsigned long long)pc);
	}
}

static bool vcpu_invalid(uc_engine *uc, void *data)
{
	vcpu_intr(uc, VCPU_EXCP_UDEF, data);
	return true;
}

int vcpu_hook_exceptions(struct vcpu *v)
{
	uc_hook hook;

	if (uc_hook_add(v->uc, &hook, UC_HOOK_INTR, vcpu_intr, v, 1, 0) ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_INSN_INVALID, vcpu_invalid, v, 1, 0) ||
	    uc_hook_add(v->uc, &hook, UC_HOOK_MEM_INVALID, vcpu_mem_fault, v, 1, 0))
		return -1;
	return 0;
}

static bool vcpu_interrupted(struct vcpu *v, uint64_t pc)
{
	int sig = atomic_load(&v->interrupt);

	if (sig)
		vcpu_stop(v, "interrupted by %s at PC 0x%llx", sig == SIGINT ? "SIGINT" : "SIGTERM",
			  (unsigned long long)pc);
	return sig != 0;
}

/* Runs the guest; Unicorn returns when a hook stopped it, on a fault, or
 * after an undefined instruction (which the hooks have turned into a jump
 * to the guest's vector): then it resumes at the new PC. */
static void vcpu_run(struct vcpu *v, uint64_t pc)
{
	const uint64_t nowhere = v->opts->aarch32 ? 0xffffffffu : UINT64_MAX;
	uint64_t last = UINT64_MAX;
	uint32_t pc32 = (uint32_t)pc;
	uc_err err;

	/* So that a vCPU interrupted before it ran a single instruction still
	 * reports its entry PC in --regs-out. */
	if (v->opts->aarch32)
		uc_reg_write(v->uc, UC_ARM_REG_PC, &pc32);
	else
		uc_reg_write(v->uc, UC_ARM64_REG_PC, &pc);
	while (v->state == VCPU_RUNNING) {
		if (vcpu_interrupted(v, pc))
			break;
		err = uc_emu_start(v->uc, pc, nowhere, 0, 0);
		if (v->state != VCPU_RUNNING)
			break;
		pc = vcpu_pc(v);
		if (vcpu_interrupted(v, pc))
			break;
		if (err != UC_ERR_OK) {
			vcpu_stop(v, "guest fault at PC 0x%llx: %s", (unsigned long long)pc, uc_strerror(err));
			break;
		}
		if (pc == last) {
			vcpu_stop(v, "emulation ends at PC 0x%llx again and again without a reason",
				  (unsigned long long)pc);
			break;
		}
		last = pc;
	}
	/* A hook cannot set PC and stop (Unicorn would resume): set it now. */
	if (v->has_stop_pc) {
		pc32 = (uint32_t)v->stop_pc;
		if (v->opts->aarch32)
			uc_reg_write(v->uc, UC_ARM_REG_PC, &pc32);
		else
			uc_reg_write(v->uc, UC_ARM64_REG_PC, &v->stop_pc);
	}
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	uint64_t entry;
	int ret;

	ret = v->opts->aarch32 ? a32_setup(v, &entry) : a64_setup(v, &entry);
	if (ret == 0) {
		atomic_store(&v->running_uc, v->uc);
		vcpu_run(v, entry);
		atomic_store(&v->running_uc, NULL);
	}
	/* The connection stays open until the VM ends (main closes them all):
	 * the boot is the VM's, and a vCPU that halted first must not end it
	 * while another is still reconnecting after an idsrd restart. */
	fwd_done(v);
	return NULL;
}
