/* SPDX-License-Identifier: MIT */
/* Access filters for tail and subscriptions: which boot, vCPU, register, direction, PC range, action. */
#ifndef IDSR_FILTER_H
#define IDSR_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The values of the wire's Filter.direction and Filter.action (docs/design.md):
 * not the Action enum of verdicts and events, whose EMULATE is 0 and UNDEF 1. */
enum filter_direction { FILTER_ANY_DIRECTION = 0, FILTER_READS = 1, FILTER_WRITES = 2 };
enum filter_action { FILTER_ANY_ACTION = 0, FILTER_EMULATED = 1, FILTER_UNDEF = 2 };

/* What a filter asks for; zero/NULL/-1 fields match anything. */
struct filter_spec {
	int64_t boot_id;		/* 0: any boot */
	const char *vm_name;		/* NULL or "": any VM */
	int64_t vcpu;			/* -1: any vCPU */
	const char *regs;		/* comma-separated register names, encodings or patterns
					 * (the policy language's selectors); NULL or "": any */
	enum filter_direction direction;
	bool has_pc;
	uint64_t pc_lo, pc_hi;		/* inclusive */
	enum filter_action action;
};

/* One access as the filter sees it. */
struct filter_access {
	int64_t boot_id;
	const char *vm_name;
	uint32_t vcpu;
	uint32_t key;
	uint64_t pc;
	bool is_write;
	bool undef;
};

struct filter;			/* compiled, immutable: share it between threads */

/* Compiles spec. Register selectors go through the policy language's parser,
 * so names, encodings, `*' and ranges mean what they mean in a policy.
 * 0, or -EINVAL/-ENOMEM with a sentence in why ("--reg `FOO': unknown …"). */
int filter_new(const struct filter_spec *spec, struct filter **out, char *why, size_t whylen);
void filter_free(struct filter *f);
/* Lock-free, no allocation: callable on the VMM path. */
bool filter_match(const struct filter *f, const struct filter_access *a);

#endif
