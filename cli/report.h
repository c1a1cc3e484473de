/* SPDX-License-Identifier: MIT */
/* idsrctl report: one boot aggregated in C (cli/report_agg.c) and written as one HTML page (cli/report.c). */
#ifndef IDSR_CLI_REPORT_H
#define IDSR_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "bootinfo.h"

/* Timeline buckets over the boot's time span: the page draws at most this
 * many columns per vCPU however long the boot (docs/report.md). */
#define REPORT_BUCKETS		1000
/* Changes of value kept per register and vCPU for the value history. */
#define REPORT_HISTORY		32
/* Exact accesses (for the hover) by default, shared among the vCPUs. */
#define REPORT_EXACT_DEFAULT	40000

/* An open-addressed set of 64-bit values, each with its insertion index. */
struct report_set {
	uint64_t *keys;
	uint32_t *index;		/* 0 = empty slot, else index + 1 */
	size_t n, cap;
};

struct report_change {
	uint32_t vcpu;
	uint64_t seq, value;
	int64_t t;			/* ns from the first access */
};

struct report_reg {
	uint32_t key;
	uint64_t count, reads, writes, undefs;
	int64_t first_t, last_t;
	uint64_t first_pc, last_pc;
	struct report_set values;	/* distinct values */
	struct report_change *hist;	/* per vCPU, its first REPORT_HISTORY changes */
	size_t nhist, caphist;
	uint64_t hist_more;		/* changes past the bound */
	bool has_cur;			/* the last value seen on the current vCPU */
	uint32_t cur_vcpu;
	uint64_t cur_value;
	size_t cur_changes;
};

/* One timeline cell: a vCPU's accesses to one register in one bucket. */
struct report_cell {
	uint32_t vcpu, bucket, key;
	uint32_t count, undefs;
	bool used;
};

struct report_exact {
	int64_t t;
	uint64_t seq, value;
	uint32_t vcpu, key, pc;		/* pc: index in report.pcs */
	uint32_t rule;			/* index in report.rules */
	uint8_t is_write, undef;
};

struct report_policy {
	char *hash, *source, *text;
	int64_t since_ns;
};

struct report_rule {
	int policy;			/* index in report.policies, -1: none known */
	int rule;			/* line, or POLICY_RULE_* */
	uint64_t hits, undefs;
};

struct report_vcpu {
	uint32_t vcpu;
	uint64_t count, undefs, exact;
	uint64_t first_seq, last_seq;
	bool more;			/* accesses past the exact bound */
};

struct report {
	struct cli_boot boot;
	bool has_pcs;			/* false: imported without PCs (every pc is 0) */
	int64_t t0, t1;			/* first and last access, ns */
	uint64_t total;
	struct report_reg *regs;	/* sorted by key */
	size_t nregs, capregs;
	struct report_cell *cells;	/* hash table */
	size_t ncells, capcells;
	struct report_exact *exact;
	size_t nexact, capexact;
	struct report_set pcs;		/* distinct PCs of the exact accesses */
	struct report_rule *rules;
	size_t nrules, caprules;
	struct report_policy *policies;	/* by since_ns */
	size_t npolicies;
	struct report_vcpu *vcpus;
	size_t nvcpus, capvcpus;
};

struct report_opts {
	uint64_t exact;			/* exact accesses in all, split evenly among vCPUs */
	uint64_t from_seq;		/* each vCPU's exact accesses start at this seq */
};

/* Reads boot_id of db in one pass. 0, or -errno with why printed (cmd). */
int report_build(sqlite3 *db, int64_t boot_id, const struct report_opts *o, struct report *r, const char *cmd);
void report_free(struct report *r);
/* Index of key in r->regs (it must be there). */
size_t report_reg_index(const struct report *r, uint32_t key);

#endif
