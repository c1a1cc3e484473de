/* SPDX-License-Identifier: MIT */
/* The fast path's record checker (docs/design.md 3.6), alone so that a fuzzer can drive it. */
#include <errno.h>
#include <stdio.h>

#include "encoding.h"
#include "fastpath.h"
#include "fp_layout.h"
#include "policy.h"

/* Checks one record (a copy) as the table of its epoch answered it. */
int fastpath_check(const struct fp_record *rec, const struct policy *p, char *why, size_t whylen)
{
	struct policy_verdict v;
	struct enc_fields f;

	if (rec->el < 1 || rec->el > 3)
		return snprintf(why, whylen, "a fast-path record of vCPU %u seq %llu has EL %u (the table answers EL1-3)",
				rec->vcpu, (unsigned long long)rec->seq, rec->el), -EPROTO;
	if (!enc_unpack(rec->key, &f) || rec->is_write > 1 || rec->undef > 1)
		return snprintf(why, whylen, "a fast-path record of vCPU %u seq %llu is malformed (key 0x%08x)",
				rec->vcpu, (unsigned long long)rec->seq, rec->key), -EPROTO;
	if (!policy_stateless(p, rec->key, rec->is_write, &v) || v.undef != rec->undef ||
	    v.rule != rec->rule || (!rec->is_write && v.value != rec->value))
		return snprintf(why, whylen, "a fast-path record of vCPU %u seq %llu does not hold the verdict "
				"the table of epoch %llu gives (key 0x%08x)", rec->vcpu,
				(unsigned long long)rec->seq, (unsigned long long)rec->epoch, rec->key), -EPROTO;
	return 0;
}
