/* SPDX-License-Identifier: MIT */
/* For type-checking QEMU's KVM path on a non-arm64 host (scripts/qemu.sh): the two arm64 uapi
 * types QEMU's linux-headers/asm-arm64/kvm.h uses, laid out as Linux's
 * arch/arm64/include/uapi/asm/ptrace.h defines them. Never used to build a binary. */
#ifndef IDSR_KVM_CHECK_ASM_PTRACE_H
#define IDSR_KVM_CHECK_ASM_PTRACE_H
#include <linux/types.h>

struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};

struct user_fpsimd_state {
	__uint128_t vregs[32];
	__u32 fpsr;
	__u32 fpcr;
	__u32 __reserved[2];
};

#endif
