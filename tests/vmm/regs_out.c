/* SPDX-License-Identifier: MIT */
/* --regs-out: every vCPU's final registers as JSON, so tests can compare boots. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "vmm.h"

static void regs_a64(FILE *f, uc_engine *uc)
{
	uint64_t val;
	unsigned i;

	for (i = 0; i <= 30; i++) {
		/* X29 and X30 are not contiguous with X0-X28 in Unicorn's enum */
		int reg = i == 29 ? UC_ARM64_REG_X29 : i == 30 ? UC_ARM64_REG_X30 : (int)(UC_ARM64_REG_X0 + i);

		val = 0;
		uc_reg_read(uc, reg, &val);
		fprintf(f, ", \"x%u\": \"0x%016" PRIx64 "\"", i, val);
	}
	val = 0;
	uc_reg_read(uc, UC_ARM64_REG_SP, &val);
	fprintf(f, ", \"sp\": \"0x%016" PRIx64 "\"", val);
	val = 0;
	uc_reg_read(uc, UC_ARM64_REG_PC, &val);
	fprintf(f, ", \"pc\": \"0x%016" PRIx64 "\"", val);
	val = 0;
	uc_reg_read(uc, UC_ARM64_REG_PSTATE, &val);
	fprintf(f, ", \"pstate\": \"0x%08" PRIx64 "\"", val);
}

static void regs_a32(FILE *f, uc_engine *uc)
{
	uint32_t val;
	unsigned i;

	for (i = 0; i < 16; i++) {
		val = 0;
		uc_reg_read(uc, a32_regs[i], &val);
		fprintf(f, ", \"r%u\": \"0x%08" PRIx32 "\"", i, val);
	}
	val = 0;
	uc_reg_read(uc, UC_ARM_REG_CPSR, &val);
	fprintf(f, ", \"cpsr\": \"0x%08" PRIx32 "\"", val);
}

int regs_write_json(const char *path, struct vcpu *vcpus, unsigned n)
{
	FILE *f = fopen(path, "w");
	unsigned i;
	int ret;

	if (!f) {
		ret = -errno;
		log_err("cannot write registers to `%s': %s", path, strerror(errno));
		return ret;
	}
	fprintf(f, "{\"vcpus\": [");
	for (i = 0; i < n; i++) {
		struct vcpu *v = &vcpus[i];

		fprintf(f, "%s\n  {\"vcpu\": %u", i ? "," : "", v->index);
		if (v->uc && v->opts->aarch32)
			regs_a32(f, v->uc);
		else if (v->uc)
			regs_a64(f, v->uc);
		fprintf(f, ", \"accesses\": %llu, \"undefs\": %llu, \"halted\": %s}",
			(unsigned long long)v->accesses, (unsigned long long)v->undefs,
			v->state == VCPU_HALTED ? "true" : "false");
	}
	fprintf(f, "\n]}\n");
	if (fclose(f) != 0) {
		ret = -errno;
		log_err("cannot write registers to `%s': %s", path, strerror(errno));
		return ret;
	}
	return 0;
}
