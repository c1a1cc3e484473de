/* SPDX-License-Identifier: MIT */
/* idsrctl replay --against POLICY: would this policy give a recorded boot the answers it got? */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "policy.h"
#include "replay.h"
#include "replay/trace.h"

struct against_vcpu {
	struct replay_stream *s;
	struct replay_record next;
	bool has;
};

static void against_print(const struct replay_record *r, uint32_t vcpu, const struct policy_verdict *pv,
			  const struct replay_trace_info *in, bool json)
{
	struct cli_access a = {
		.boot_id = in->boot_id, .vcpu = vcpu, .seq = r->seq, .ts_ns = r->ts_ns, .key = r->key,
		.pc = r->pc, .el = r->el, .is_write = r->is_write, .value = r->value, .undef = r->undef,
		.rule = r->rule, .impl = in->impl,
	};

	if (json) {
		struct json j;
		char *rec = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&rec, &len);

		if (f) {
			cli_print_access(f, &a, true);
			fclose(f);
		}
		if (rec && len && rec[len - 1] == '\n')
			rec[len - 1] = '\0';
		json_begin(&j, stdout);
		json_raw(&j, "recorded", rec ? rec : "null");
		json_str(&j, "policy_action", pv->undef ? "undef" : "emulate");
		json_uint(&j, "policy_value", pv->value);
		json_int(&j, "policy_rule", pv->rule);
		json_end(&j);
		free(rec);
		return;
	}
	fputs("recorded ", stdout);
	cli_print_access(stdout, &a, false);
	printf("  policy %s", pv->undef ? "UNDEF" : "emulate");
	if (!pv->undef && !r->is_write)
		printf(" 0x%016" PRIx64, pv->value);
	if (pv->rule > 0)
		printf(" (line %d)\n", pv->rule);
	else
		printf(" (%s)\n", pv->rule == POLICY_RULE_EL0 ? "EL0 rule" : "no rule: default UNDEF");
}

/* The recorded accesses in the order they happened (by timestamp across
 * vCPUs), so that scope=vm storage and counters see what the boot saw. */
static int against_run(struct replay_trace *t, const struct policy *p, bool json, uint64_t *differ,
		       uint64_t *total, char *why, size_t whylen)
{
	const struct replay_trace_info *in = replay_trace_info(t);
	struct against_vcpu *v = calloc(in->nvcpus ? in->nvcpus : 1, sizeof(*v));
	struct policy_state *st = policy_state_new(0);
	int ret = -ENOMEM;

	snprintf(why, whylen, "out of memory");
	if (!v || !st)
		goto out;
	for (uint32_t i = 0; i < in->nvcpus; i++) {
		if ((ret = replay_stream_open(t, i, &v[i].s)) < 0) {
			snprintf(why, whylen, "reading vCPU %u: %s", i, strerror(-ret));
			goto out;
		}
		if ((ret = replay_stream_peek(v[i].s, 0, &v[i].next)) < 0) {
			snprintf(why, whylen, "%s", replay_stream_error(v[i].s));
			goto out;
		}
		v[i].has = ret == 1;
	}
	for (;;) {
		struct policy_verdict pv;
		int64_t best = -1;

		for (uint32_t i = 0; i < in->nvcpus; i++)
			if (v[i].has && (best < 0 || v[i].next.ts_ns < v[best].next.ts_ns))
				best = i;
		if (best < 0)
			break;
		const struct replay_record *r = &v[best].next;
		struct policy_access pa = {
			.key = r->key, .vcpu = (uint32_t)best, .pc = r->pc, .el = r->el,
			.is_write = r->is_write, .value = r->value,
		};

		policy_decide(p, st, &pa, &pv);
		(*total)++;
		if (pv.undef != r->undef || (!r->undef && !r->is_write && pv.value != r->value)) {
			(*differ)++;
			against_print(r, (uint32_t)best, &pv, in, json);
		}
		replay_stream_advance(v[best].s, 1);
		ret = replay_stream_peek(v[best].s, 0, &v[best].next);
		if (ret < 0) {
			snprintf(why, whylen, "%s", replay_stream_error(v[best].s));
			goto out;
		}
		v[best].has = ret == 1;
	}
	ret = 0;
out:
	for (uint32_t i = 0; v && i < in->nvcpus; i++)
		replay_stream_close(v[i].s);
	free(v);
	policy_state_free(st);
	return ret;
}

int replay_against(const struct cli_trace_arg *trace, const char *policy_path, bool json)
{
	const char *path = trace->path, *from;
	char why[768];
	struct policy_error perr;
	struct replay_trace *t = NULL;
	struct policy *p = NULL;
	uint64_t differ = 0, total = 0;
	int ret = CLI_ERROR, rc;

	if (policy_load_file(policy_path, &p, &perr) < 0)
		return cli_error("replay: --against: %s", policy_error_format(&perr, why, sizeof(why)));
	/* path names the file in messages; from is where it is read (maybe a copy) */
	if (!(from = cli_trace_path("replay", trace, CLI_TRACE_ONE_BOOT)))
		goto out;
	rc = replay_trace_open(from, trace->boot_id, &t, why, sizeof(why));
	if (rc < 0) {
		cli_error("replay: %s", why);
		goto out;
	}
	rc = against_run(t, p, json, &differ, &total, why, sizeof(why));
	if (rc < 0) {
		cli_error("replay: %s", why);
		goto out;
	}
	if (!json && !replay_trace_info(t)->has_pcs)
		replay_no_pcs_note(stdout, replay_trace_info(t)->boot_id, path);
	if (!json)
		printf("%s: %" PRIu64 " of %" PRIu64 " recorded answers of boot %" PRId64 " differ under %s\n",
		       differ ? "differs" : "agrees", differ, total, replay_trace_info(t)->boot_id, policy_path);
	ret = differ ? CLI_DIFFERENT : CLI_OK;
out:
	replay_trace_close(t);
	policy_free(p);
	return ret;
}
