/* SPDX-License-Identifier: MIT */
/* idsr-vmm, the reference VMM: what its files share (options, guest RAM, vCPUs). */
#ifndef IDSR_VMM_H
#define IDSR_VMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#include "idsr_client.h"

#define VMM_NAME	"idsr-vmm"
#define VMM_MAX_VCPUS	64
#define VMM_STACK_SIZE	0x10000		/* per vCPU, carved from the top of RAM */
#define VMM_A64_EL(pstate) (((pstate) >> 2) & 3)	/* PSTATE.EL */
#define VMM_PAGE_SIZE	0x1000		/* the VMM's own page of an AArch64 vCPU (a64.c) */
#define VMM_A64_IRQ_LOWER 0x480		/* vector offset: IRQ from a lower EL, AArch64 */
#define VMM_A64_EL0_BRK	(0xd4200000u | 0xe10u << 5)	/* brk #0xe10 there: see undef.c */

/* What the VMM does with an UNDEF verdict (--undef). */
enum undef_mode {
	UNDEF_VECTOR,	/* inject it as KVM's kvm_inject_undefined does */
	UNDEF_SKIP,	/* count it, step over the instruction */
	UNDEF_STOP,	/* stop the vCPU with a message */
};

struct vmm_opts {
	const char *socket;	/* NULL: libidsr-client's default */
	unsigned vcpus;
	uint64_t base;		/* load address and entry point */
	uint64_t mem_mib;
	bool aarch32;
	bool el0;
	const char *vm_name;
	const char *kernel;
	uint64_t slide;
	uint64_t midr;
	enum undef_mode undef;
	const char *regs_out;
	bool local_raz;		/* answer in-process, no daemon */
	bool no_reconnect;	/* a vCPU stops when idsrd goes away */
	const char *guest;	/* GUEST.bin */
};

/* Guest RAM: one buffer every vCPU's Unicorn instance maps (uc_mem_map_ptr). */
struct vmm_mem {
	uint8_t *ram;
	size_t size;
	uint64_t base;
};

enum vcpu_state {
	VCPU_RUNNING,
	VCPU_HALTED,	/* reached brk #0 / bkpt #0: the normal end */
	VCPU_STOPPED,	/* anything else; why says what */
};

struct vcpu {
	unsigned index;
	const struct vmm_opts *opts;
	const struct vmm_mem *mem;
	uc_engine *uc;
	struct idsr_conn *conn;		/* NULL with --local raz */
	pthread_t thread;
	enum vcpu_state state;
	char why[320];
	uint64_t accesses;		/* IDSR accesses forwarded */
	uint64_t fast;			/* of them, answered by the fast path */
	uint64_t undefs;		/* ... of which answered UNDEF */
	uint64_t vector_pc;		/* where the last injected UNDEF went */
	uint64_t vmm_page;		/* AArch64: the VMM's own page (a64.c) */
	bool el0_undef_pending;		/* AArch64: an UNDEF from EL0 on its way (undef.c) */
	uint64_t el0_undef_vbar;	/* ... and the guest's VBAR_EL1 meanwhile */
	/* Set by main's signal thread (SIGINT, SIGTERM), which stops the
	 * Unicorn instance published here while the vCPU runs. */
	atomic_int interrupt;
	_Atomic(uc_engine *) running_uc;
	bool has_stop_pc;
	uint64_t stop_pc;		/* see vcpu_stop_at */
};

/* options.c: parses the command line; exits 0 on --help, 2 on misuse. */
void opts_parse(int argc, char **argv, struct vmm_opts *o);

/* memory.c */
int mem_load(const struct vmm_opts *o, struct vmm_mem *m);
int mem_map(uc_engine *uc, const struct vmm_mem *m);
void mem_free(struct vmm_mem *m);
uint64_t mem_stack_top(const struct vmm_mem *m, unsigned vcpu);
/* Reads a little-endian 32-bit word of guest RAM; false outside RAM. */
bool mem_read32(const struct vmm_mem *m, uint64_t addr, uint32_t *out);

/* forward.c: one connection per vCPU, or in-process answers. */
int fwd_connect(struct vcpu *v, const uint8_t *instance, size_t instance_len);
/* Forwards one access; fills *verdict, or returns a negative errno: then
 * fwd_fail stops the vCPU saying why. */
int fwd_access(struct vcpu *v, uint32_t key, uint64_t pc, unsigned el, bool is_write,
	       uint64_t value, struct idsr_verdict *verdict);
void fwd_fail(struct vcpu *v, uint32_t key, uint64_t pc);
/* The vCPU stopped: idsrd gets all it answered (idsr_flush); what its
 * connection counted. The connection stays open until the VM ends. */
void fwd_done(struct vcpu *v);
void fwd_close(struct vcpu *v);

/* vcpu.c */
void *vcpu_thread(void *arg);
/* Ends the vCPU's run (state STOPPED) with a message; safe inside hooks,
 * but never after a PC write there: Unicorn then resumes and ignores the
 * stop. vcpu_stop_at makes the final PC pc (the instruction that stopped
 * it) once emulation has ended. */
void vcpu_stop(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vcpu_stop_at(struct vcpu *v, uint64_t pc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vcpu_halt(struct vcpu *v);
/* Hooks guest exceptions: UNDEF to the guest's vector, brk #0 / bkpt #0
 * halts, memory faults and anything else stop the vCPU with a message. */
int vcpu_hook_exceptions(struct vcpu *v);

/* a64.c: AArch64 set-up and the MRS/MSR/SYS/SYSL hook. */
int a64_setup(struct vcpu *v, uint64_t *entry);
uint64_t a64_pc(uc_engine *uc);

/* a32.c: AArch32 set-up and the cp15 decode. */
extern const uc_arm_reg a32_regs[16];	/* r0-r15 */
bool a32_thumb(uc_engine *uc);		/* CPSR.T */
int a32_setup(struct vcpu *v, uint64_t *entry);
uint64_t a32_pc(uc_engine *uc);
bool a32_cond_passed(uint32_t cpsr, unsigned cond);

/* undef.c: what an UNDEF verdict (or an undefined instruction) does to the guest.
 * Returns true if the vCPU goes on (PC moved), false if it stopped. */
bool undef_a64(struct vcpu *v, uint64_t pc, bool verdict);
/* An UNDEF from AArch64 EL0 has reached EL1 (brk VMM_A64_EL0_BRK on the VMM page). */
void undef_a64_el0_arrived(struct vcpu *v);
bool undef_a32(struct vcpu *v, uint64_t pc, bool verdict);

/* regs_out.c */
int regs_write_json(const char *path, struct vcpu *vcpus, unsigned n);

#endif
