/* SPDX-License-Identifier: MIT */
/* Access filters for tail and subscriptions: the register, direction, vCPU and PC tests are a compiled policy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "policy.h"

struct filter {
	int64_t boot_id;
	char *vm_name;			/* NULL: any */
	enum filter_action action;
	/* One `SELECTOR [read|write] [vcpu=N] [pc=A-B] raz-wi' line per --reg:
	 * the policy language already knows names, encodings and patterns.
	 * NULL when nothing but boot, VM or action is asked for. */
	struct policy *match;
};

void filter_free(struct filter *f)
{
	if (!f)
		return;
	policy_free(f->match);
	free(f->vm_name);
	free(f);
}

/* The qualifiers every line of the match policy carries. */
static void filter_qualifiers(const struct filter_spec *spec, char *buf, size_t len)
{
	int n = 0;

	buf[0] = 0;
	if (spec->direction == FILTER_READS || spec->direction == FILTER_WRITES)
		n += snprintf(buf + n, len - (size_t)n, " %s", spec->direction == FILTER_READS ? "read" : "write");
	if (spec->vcpu >= 0)
		n += snprintf(buf + n, len - (size_t)n, " vcpu=%" PRId64, spec->vcpu);
	if (spec->has_pc)
		snprintf(buf + n, len - (size_t)n, " pc=0x%" PRIx64 "-0x%" PRIx64, spec->pc_lo, spec->pc_hi);
}

/* Appends one rule line per comma-separated selector; names the bad one in why. */
static int filter_rules(const char *regs, const char *quals, char **text, size_t *len,
			char *why, size_t whylen)
{
	const char *p = regs && *regs ? regs : "*";
	FILE *f = open_memstream(text, len);

	if (!f) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n != strcspn(p, ", \t\n#")) {
			fclose(f);
			free(*text);
			*text = NULL;
			snprintf(why, whylen, "--reg `%s': expected comma-separated register names, "
				 "encodings or patterns (no blanks, no empty items)", regs);
			return -EINVAL;
		}
		fprintf(f, "%.*s%s raz-wi\n", (int)n, p, quals);
		p += n + (p[n] == ',');
	}
	fclose(f);
	return 0;
}

static const char *filter_reg_item(const char *regs, int index, char *buf, size_t len)
{
	const char *p = regs && *regs ? regs : "*";

	for (int i = 1; i < index && strchr(p, ','); i++)
		p = strchr(p, ',') + 1;
	snprintf(buf, len, "%.*s", (int)strcspn(p, ","), p);
	return buf;
}

int filter_new(const struct filter_spec *spec, struct filter **out, char *why, size_t whylen)
{
	struct filter *f = calloc(1, sizeof(*f));
	struct policy_error err;
	char quals[96], item[128], *text = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (!f) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	f->boot_id = spec->boot_id;
	f->action = spec->action;
	if (spec->vm_name && *spec->vm_name && !(f->vm_name = strdup(spec->vm_name))) {
		ret = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	if (spec->has_pc && spec->pc_lo > spec->pc_hi) {
		snprintf(why, whylen, "--pc: the low end 0x%" PRIx64 " is above the high end 0x%" PRIx64,
			 spec->pc_lo, spec->pc_hi);
		ret = -EINVAL;
		goto fail;
	}
	filter_qualifiers(spec, quals, sizeof(quals));
	if ((!spec->regs || !*spec->regs) && !*quals) {
		*out = f;
		return 0;
	}
	ret = filter_rules(spec->regs, quals, &text, &len, why, whylen);
	if (ret < 0)
		goto fail;
	ret = policy_parse(text, len, "filter", &f->match, &err);
	free(text);
	if (ret < 0) {
		snprintf(why, whylen, "--reg `%s': %s",
			 filter_reg_item(spec->regs, err.line, item, sizeof(item)), err.message);
		goto fail;
	}
	*out = f;
	return 0;
fail:
	filter_free(f);
	return ret;
}

bool filter_match(const struct filter *f, const struct filter_access *a)
{
	struct policy_access pa;

	if (f->boot_id && f->boot_id != a->boot_id)
		return false;
	if (f->vm_name && (!a->vm_name || strcmp(f->vm_name, a->vm_name)))
		return false;
	if (f->action != FILTER_ANY_ACTION && (f->action == FILTER_UNDEF) != a->undef)
		return false;
	if (!f->match)
		return true;
	pa = (struct policy_access){ .key = a->key, .vcpu = a->vcpu, .pc = a->pc, .el = 1,
				     .is_write = a->is_write };
	return policy_match(f->match, &pa) != NULL;
}
