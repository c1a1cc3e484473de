/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the policy parser (lib/policy.c) and answering accesses under what it accepts. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct policy_access probes[] = {
		{ .key = 0xc780, .vcpu = 0, .pc = 0x1000, .el = 1 },
		{ .key = 0xc780, .vcpu = 1, .pc = 0x1000, .el = 1, .is_write = true, .value = 0x55 },
		{ .key = 0xc788, .vcpu = 3, .pc = 0xffff000010000000ull, .el = 2 },
		{ .key = 0x800f0480u, .vcpu = 0, .pc = 0x8000, .el = 1 },
		{ .key = 0xc0000000u | (15u << 16) | (15u << 3), .vcpu = 2, .el = 0 },
	};
	struct policy_error err;
	struct policy *p = NULL;
	char msg[600];

	if (policy_parse((const char *)data, size, "fuzz.conf", &p, &err) < 0) {
		/* A refusal always says where and what. */
		policy_error_format(&err, msg, sizeof(msg));
		assert(strlen(err.message) > 0);
		assert(p == NULL);
		return 0;
	}
	struct policy_state *st = policy_state_new(42);

	assert(strlen(policy_hash(p)) == 16);
	for (size_t i = 0; i < policy_rule_count(p); i++) {
		const struct policy_rule *r = policy_rule_at(p, i);

		assert(r->line >= 1);
		(void)policy_action_name(r->action);
	}
	for (int round = 0; round < 2 && st; round++) {
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			struct policy_verdict v;

			policy_decide(p, st, &probes[i], &v);
			if (probes[i].el == 0 && !policy_allows_el0(p))
				assert(v.undef);
		}
	}
	policy_state_free(st);
	policy_free(p);
	return 0;
}
