/* SPDX-License-Identifier: MIT */
/* idsrctl policy learn: writes a policy that answers a guest as recorded boots were answered. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "encoding.h"
#include "policy.h"
#include "regnames.h"
#include "replay/access_rows.h"

static const char learn_usage[] =
	"Usage: idsrctl policy learn TRACE... [-o FILE] [--db FILE] [--control PATH]\n"
	"\n"
	"Writes a policy (idsrd-policy(5)) that answers the guest as the recorded boots\n"
	"were answered: one rule per register, after a comment saying what was seen.\n"
	"Reads that always returned one value get `value'; reads that return what the\n"
	"vCPU last wrote (with a first value before any write) `storage init='; reads\n"
	"that step by a constant `counter'; UNDEFs `undef'; writes never read `write\n"
	"ignore'; values that differ per vCPU one rule per vCPU (and the first's for the\n"
	"vCPUs the recording did not have). Anything else gets the\n"
	"most common value with a `# varies:' comment, and is named on stderr. Registers\n"
	"the recordings never saw are UNDEF (a final `*  undef'), as stock KVM answers.\n"
	"Check the result with idsrctl replay TRACE:BOOT --against FILE.\n"
	"\n"
	"  -o, --output FILE  write the policy to FILE (default: stdout)\n"
	CLI_TRACE_USAGE;

/* One recorded access, as learning needs it. */
struct learn_access {
	uint64_t value, pc, seq;
	uint32_t key, vcpu;
	uint32_t boot;			/* index into learn.boots */
	uint8_t el;
	bool is_write, undef;
};

struct learn_boot {
	const char *ref;
	char *path, *impl;
	int64_t id;
	bool has_pcs;
};

struct learn {
	struct learn_access *a;
	size_t n, cap;
	struct learn_boot *boots;
	size_t nboots;
	const char *impl;		/* the boots' common implementation, or NULL */
	FILE *out;
	size_t rules, registers, varies;
	bool failed;			/* out of memory while writing */
	char varied[512];		/* names of the registers that vary, for stderr */
};

/* A rule found for a set of accesses. */
struct learned {
	enum policy_action action;
	uint64_t value, step;
};

/* ---- reading the boots -------------------------------------------------------- */

static int learn_read_boot(struct learn *l, uint32_t index, const char *db_opt, const char *control)
{
	struct learn_boot *b = &l->boots[index];
	struct access_range range = { .vcpu = -1, .limit = -1 };
	struct access_cursor *rows = NULL;
	struct cli_trace_arg t;
	struct access_row row;
	sqlite3_stmt *st = NULL;
	char full[PATH_MAX];
	char why[512];
	sqlite3 *db;
	int rc;

	if (cli_trace_arg("policy learn", b->ref, db_opt, control, &t) < 0 ||
	    cli_trace_open("policy learn", &t, &db, &b->id) < 0)
		return -1;
	/* The file's full name as SQLite gives it, of the file named: what was
	 * opened may be a private copy of it (cli_trace_path). */
	b->path = strdup(realpath(t.path, full) ? full : t.path);
	b->has_pcs = db_boot_has_pcs(db, b->id);
	if (sqlite3_prepare_v2(db, "SELECT impl FROM boots WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, b->id);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			b->impl = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	range.boot_id = b->id;
	rc = access_cursor_open(db, b->path, &range, &rows, why, sizeof(why));
	while (rc >= 0 && (rc = access_cursor_next(rows, &row, why, sizeof(why))) > 0) {
		struct learn_access *a;

		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 4096;

			if (!(a = realloc(l->a, cap * sizeof(*a)))) {
				snprintf(why, sizeof(why), "reading boot %" PRId64 " of %s: out of memory", b->id,
					 b->path);
				rc = -ENOMEM;
				break;
			}
			l->a = a;
			l->cap = cap;
		}
		l->a[l->n++] = (struct learn_access){
			.vcpu = row.vcpu, .seq = row.seq, .key = row.key, .pc = row.pc, .el = row.el,
			.is_write = row.is_write, .value = row.value, .undef = row.undef, .boot = index,
		};
	}
	if (rc < 0)
		cli_error("policy learn: %s", why);
	access_cursor_close(rows);
	db_close(db);
	return rc < 0 ? -1 : 0;
}

/* By register, then boot, vCPU and seq: each register's accesses in the order each vCPU made them. */
static int learn_cmp(const void *x, const void *y)
{
	const struct learn_access *a = x, *b = y;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->boot != b->boot)
		return a->boot < b->boot ? -1 : 1;
	if (a->vcpu != b->vcpu)
		return a->vcpu < b->vcpu ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- what explains a register's accesses ----------------------------------------- */

/* The accesses a rule answers: those of vcpu (-1: all), reads only if reads_only. */
static bool learn_in(const struct learn_access *a, int64_t vcpu, bool reads_only)
{
	return (vcpu < 0 || a->vcpu == (uint32_t)vcpu) && !(reads_only && a->is_write) && !a->undef;
}

static bool learn_new_stream(const struct learn_access *a, size_t i)
{
	return !i || a[i].boot != a[i - 1].boot || a[i].vcpu != a[i - 1].vcpu;
}

/* Reads that always returned one value. */
static bool learn_value(const struct learn_access *a, size_t n, int64_t vcpu, bool reads_only, struct learned *r)
{
	bool seen = false;

	for (size_t i = 0; i < n; i++) {
		if (!learn_in(&a[i], vcpu, reads_only) || a[i].is_write)
			continue;
		if (seen && a[i].value != r->value)
			return false;
		r->value = a[i].value;
		seen = true;
	}
	r->action = POLICY_VALUE;
	return seen;
}

/* Reads that return what the vCPU last wrote, and one value before any write. */
static bool learn_storage(const struct learn_access *a, size_t n, int64_t vcpu, struct learned *r)
{
	bool init_seen = false, known = false, writes = false;
	uint64_t state = 0;

	r->value = 0;
	for (size_t i = 0; i < n; i++) {
		if (learn_new_stream(a, i))
			known = false;
		if (!learn_in(&a[i], vcpu, false))
			continue;
		if (a[i].is_write) {
			state = a[i].value;
			known = writes = true;
		} else if (known && a[i].value != state) {
			return false;
		} else if (!known) {
			if (init_seen && a[i].value != r->value)
				return false;
			r->value = state = a[i].value;
			init_seen = known = true;
		}
	}
	r->action = POLICY_STORAGE;
	return writes;
}

/* Reads that start at one value on every vCPU and step by one constant. */
static bool learn_counter(const struct learn_access *a, size_t n, int64_t vcpu, struct learned *r)
{
	bool start_seen = false, step_seen = false, in_stream = false;
	uint64_t last = 0;

	for (size_t i = 0; i < n; i++) {
		if (learn_new_stream(a, i))
			in_stream = false;
		if (!learn_in(&a[i], vcpu, true))
			continue;
		if (!in_stream) {
			if (start_seen && a[i].value != r->value)
				return false;
			r->value = a[i].value;
			start_seen = in_stream = true;
		} else {
			if (step_seen && a[i].value - last != r->step)
				return false;
			r->step = a[i].value - last;
			step_seen = true;
		}
		last = a[i].value;
	}
	r->action = POLICY_COUNTER;
	return step_seen;
}

static bool learn_explain(const struct learn_access *a, size_t n, int64_t vcpu, bool reads_only, struct learned *r)
{
	return learn_value(a, n, vcpu, reads_only, r) || (!reads_only && learn_storage(a, n, vcpu, r)) ||
	       learn_counter(a, n, vcpu, r);
}

/* ---- writing the policy -------------------------------------------------------- */

/* The register as rules name it: its name if that names it back, else the encoding. */
static const char *learn_selector(const struct learn *l, uint32_t key, char *buf, size_t len)
{
	const char *name = regnames_name(key, l->impl);
	uint32_t back;

	if (name && regnames_lookup(name, l->impl, &back) == 0 && back == key)
		snprintf(buf, len, "%s", name);
	else
		enc_format(key, buf, len);
	return buf;
}

/* The action and its arguments: "counter start=0x1000 step=0x20". */
static const char *learned_text(const struct learned *r, char *buf, size_t len)
{
	switch (r->action) {
	case POLICY_VALUE: snprintf(buf, len, "value 0x%" PRIx64, r->value); break;
	case POLICY_STORAGE: snprintf(buf, len, "storage init=0x%" PRIx64, r->value); break;
	case POLICY_COUNTER: snprintf(buf, len, "counter start=0x%" PRIx64 " step=0x%" PRIx64, r->value, r->step); break;
	default: snprintf(buf, len, "%s", policy_action_name(r->action)); break;
	}
	return buf;
}

static void learn_rule(struct learn *l, const char *sel, int64_t vcpu, const char *dir, const struct learned *r)
{
	char quals[64] = "", action[96];

	if (vcpu >= 0)
		snprintf(quals, sizeof(quals), "vcpu=%" PRId64 " ", vcpu);
	fprintf(l->out, "%-16s %s%s%s%s\n", sel, dir ? dir : "", dir ? " " : "", quals,
		learned_text(r, action, sizeof(action)));
	l->rules++;
}

static int learn_cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static int learn_cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* "# HID0_EL1: 2 reads, 2 writes, 1 value read, vCPUs 0-1, first PC 0x..." and the
 * most common value read (*common) with the others listed if asked. */
static void learn_comment(struct learn *l, const char *sel, const struct learn_access *a, size_t n,
			  bool varies, uint64_t *common)
{
	uint64_t *v = malloc((n ? n : 1) * sizeof(*v)), reads = 0, writes = 0, undefs = 0, distinct = 0;
	uint32_t vmin = UINT32_MAX, vmax = 0;
	size_t best = 0, run = 0, ndistinct = 0;

	for (size_t i = 0; i < n; i++) {
		reads += !a[i].is_write;
		writes += a[i].is_write;
		undefs += a[i].undef;
		vmin = a[i].vcpu < vmin ? a[i].vcpu : vmin;
		vmax = a[i].vcpu > vmax ? a[i].vcpu : vmax;
		if (v && !a[i].is_write && !a[i].undef)
			v[distinct++] = a[i].value;
	}
	fprintf(l->out, "\n# %s: %" PRIu64 " read%s, %" PRIu64 " write%s", sel, reads, reads == 1 ? "" : "s",
		writes, writes == 1 ? "" : "s");
	if (undefs)
		fprintf(l->out, " (%" PRIu64 " UNDEF)", undefs);
	if (v && distinct)
		qsort(v, distinct, sizeof(*v), learn_cmp_u64);
	*common = v && distinct ? v[0] : 0;
	for (size_t i = 0; v && i < distinct; i++) {
		run = i && v[i] == v[i - 1] ? run + 1 : 1;
		if (run > best) {
			best = run;
			*common = v[i];
		}
	}
	for (size_t i = 0; v && i < distinct; i++)	/* the distinct values, in place */
		if (!i || v[i] != v[ndistinct - 1])
			v[ndistinct++] = v[i];
	if (ndistinct)
		fprintf(l->out, ", %zu value%s read", ndistinct, ndistinct == 1 ? "" : "s");
	fprintf(l->out, vmin == vmax ? ", vCPU %" PRIu32 : ", vCPUs %" PRIu32 "-%" PRIu32, vmin, vmax);
	if (l->boots[a[0].boot].has_pcs)
		fprintf(l->out, ", first PC 0x%" PRIx64, a[0].pc);
	fputc('\n', l->out);
	if (varies && ndistinct) {
		fprintf(l->out, "# varies: answered with the most common, 0x%" PRIx64 "; also read", *common);
		for (size_t i = 0, shown = 0; i < ndistinct && shown < 8; i++)
			if (v[i] != *common)
				fprintf(l->out, "%s 0x%" PRIx64, shown++ ? "," : "", v[i]);
		fprintf(l->out, "%s\n", ndistinct > 9 ? ", ..." : "");
	}
	free(v);
}

/* One register: its comment, then its rules. */
static void learn_register(struct learn *l, const struct learn_access *a, size_t n)
{
	uint64_t reads = 0, writes = 0, undef_reads = 0, undef_writes = 0, common;
	struct learned r = { 0 }, first = { 0 };
	char sel[REGNAME_TEXT_MAX];
	bool reads_only = false, ok;

	learn_selector(l, a[0].key, sel, sizeof(sel));
	for (size_t i = 0; i < n; i++) {
		reads += !a[i].is_write;
		writes += a[i].is_write;
		undef_reads += !a[i].is_write && a[i].undef;
		undef_writes += a[i].is_write && a[i].undef;
	}
	l->registers++;
	if (undef_reads + undef_writes == n) {
		learn_comment(l, sel, a, n, false, &common);
		learn_rule(l, sel, -1, NULL, &(struct learned){ .action = POLICY_UNDEF });
		return;
	}
	if (reads && undef_reads == reads) {		/* UNDEF reads, writes taken */
		learn_comment(l, sel, a, n, false, &common);
		learn_rule(l, sel, -1, "read", &(struct learned){ .action = POLICY_UNDEF });
		learn_rule(l, sel, -1, "write", &(struct learned){ .action = POLICY_IGNORE });
		return;
	}
	if (writes && undef_writes == writes) {	/* UNDEF writes: the reads alone */
		reads_only = true;
		undef_writes = 0;
	}
	if (!reads) {
		learn_comment(l, sel, a, n, false, &common);
		learn_rule(l, sel, -1, "write", &(struct learned){ .action = POLICY_IGNORE });
		return;
	}
	ok = !undef_reads && !undef_writes && learn_explain(a, n, -1, reads_only, &r);
	if (!ok && !undef_reads && !undef_writes) {
		/* Per vCPU: every vCPU explained on its own. */
		bool all = true;

		for (size_t i = 0; i < n && all; i++) {
			struct learned v;

			if (i && a[i].vcpu == a[i - 1].vcpu)
				continue;
			all = learn_explain(a, n, a[i].vcpu, reads_only, &v);
		}
		if (all) {
			uint32_t *vcpus = malloc(n * sizeof(*vcpus));
			size_t nv = 0;

			learn_comment(l, sel, a, n, false, &common);
			if (reads_only)
				learn_rule(l, sel, -1, "write", &(struct learned){ .action = POLICY_UNDEF });
			for (size_t i = 0; vcpus && i < n; i++)
				vcpus[i] = a[i].vcpu;
			if (vcpus)
				qsort(vcpus, n, sizeof(*vcpus), learn_cmp_u32);
			for (size_t i = 0; vcpus && i < n; i++) {
				if (i && vcpus[i] == vcpus[i - 1])
					continue;
				learn_explain(a, n, vcpus[i], reads_only, &r);
				learn_rule(l, sel, vcpus[i], NULL, &r);
				if (!nv++)
					first = r;
			}
			/* A VM with more vCPUs than the recording: the others as the first. */
			if (nv) {
				fprintf(l->out, "# vCPUs the recording did not have: as vCPU %" PRIu32 "\n", vcpus[0]);
				learn_rule(l, sel, -1, NULL, &first);
			}
			l->failed |= !vcpus;
			free(vcpus);
			return;
		}
	}
	learn_comment(l, sel, a, n, !ok, &common);
	if (reads_only)
		learn_rule(l, sel, -1, "write", &(struct learned){ .action = POLICY_UNDEF });
	if (!ok) {
		r = (struct learned){ .action = POLICY_VALUE, .value = common };
		l->varies++;
		snprintf(l->varied + strlen(l->varied), sizeof(l->varied) - strlen(l->varied), "%s%s",
			 l->varies > 1 ? ", " : "", sel);
	}
	learn_rule(l, sel, -1, NULL, &r);
}

/* Registers that each boot alone would answer differently: named on stderr,
 * with what each boot alone would learn. */
static void learn_report_boots(const struct learn *l, const struct learn_access *a, size_t n, const char *sel)
{
	char text[1024] = "", action[96];
	struct learned first = { 0 }, r;
	bool first_ok = false, differ = false;

	for (size_t lo = 0, hi; lo < n; lo = hi) {
		bool ok;

		for (hi = lo + 1; hi < n && a[hi].boot == a[lo].boot; hi++)
			;
		memset(&r, 0, sizeof(r));
		ok = learn_explain(a + lo, hi - lo, -1, false, &r);
		if (!lo) {
			first = r;
			first_ok = ok;
		} else if (ok != first_ok || (ok && (r.action != first.action || r.value != first.value ||
						      r.step != first.step))) {
			differ = true;
		}
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%sboot %" PRId64 " of %s: %s",
			 lo ? "; " : "", l->boots[a[lo].boot].id, l->boots[a[lo].boot].path,
			 ok ? learned_text(&r, action, sizeof(action)) : "no one rule");
	}
	if (differ)
		fprintf(stderr, "idsrctl: policy learn: %s differs between boots: %s\n", sel, text);
}

static void learn_write(struct learn *l)
{
	bool el0 = false;

	for (size_t i = 0; i < l->n; i++)
		el0 |= l->a[i].el == 0 && !l->a[i].undef;
	fprintf(l->out, "# Learned by idsrctl policy learn from");
	for (size_t i = 0; i < l->nboots; i++)
		fprintf(l->out, "%s boot %" PRId64 " of %s", i ? "," : "", l->boots[i].id, l->boots[i].path);
	fprintf(l->out, " (%zu accesses).\n# Each rule answers its register as the recording saw it.\n", l->n);
	if (l->impl)
		fprintf(l->out, "impl %s\n", l->impl);
	if (el0)
		fprintf(l->out, "allow-el0\n");
	for (size_t lo = 0, hi; lo < l->n; lo = hi) {
		char sel[REGNAME_TEXT_MAX];

		for (hi = lo + 1; hi < l->n && l->a[hi].key == l->a[lo].key; hi++)
			;
		learn_register(l, l->a + lo, hi - lo);
		if (l->nboots > 1)
			learn_report_boots(l, l->a + lo, hi - lo, learn_selector(l, l->a[lo].key, sel, sizeof(sel)));
	}
	fprintf(l->out, "\n# Registers the recording never saw: UNDEF, as stock KVM answers.\n%-16s undef\n", "*");
}

/* Checks the text parses (a policy learn cannot write is a bug here, not the
 * user's), writes it, and sums up on stderr. */
static int learn_output(const struct learn *l, const char *output, const char *text, size_t len)
{
	struct policy_error err;
	struct policy *p;
	char why[600];
	FILE *f = stdout;

	if (policy_parse(text, len, output ? output : "(learned)", &p, &err) < 0)
		return cli_error("policy learn: the learned policy does not parse (a bug: please report it): %s",
				 policy_error_format(&err, why, sizeof(why)));
	policy_free(p);
	if (output && !(f = fopen(output, "w")))
		return cli_error("policy learn: -o: cannot create %s: %s", output, strerror(errno));
	fwrite(text, 1, len, f);
	if (output && fclose(f) != 0)
		return cli_error("policy learn: writing %s: %s", output, strerror(errno));
	fprintf(stderr, "idsrctl: policy learn: %zu rules for %zu registers from %zu accesses", l->rules + 1,
		l->registers, l->n);
	if (l->varies)
		fprintf(stderr, "; %zu vary, answered with their most common value: %s", l->varies, l->varied);
	fputc('\n', stderr);
	return CLI_OK;
}

int policy_learn_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "db", required_argument, NULL, 'd' },
		{ "control", required_argument, NULL, 'c' }, { 0 } };
	struct learn l = { 0 };
	const char *output = NULL, *db_opt = NULL, *control = NULL;
	char *text = NULL;
	size_t len = 0;
	int ret = CLI_ERROR, c;

	if (cli_wants_help(argc, argv, learn_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o' || c == 'd' || c == 'c') {
			*(c == 'o' ? &output : c == 'd' ? &db_opt : &control) = optarg;
			continue;
		}
		fputs("Try `idsrctl policy learn --help'.\n", stderr);
		return CLI_ERROR;
	}
	if (optind == argc)
		return cli_error("policy learn: which boots? give TRACE (FILE, FILE:BOOT or :BOOT; try idsrctl policy learn --help)");
	l.nboots = (size_t)(argc - optind);
	if (!(l.boots = calloc(l.nboots, sizeof(*l.boots))))
		return cli_error("policy learn: out of memory");
	for (size_t i = 0; i < l.nboots; i++) {
		l.boots[i].ref = argv[optind + (int)i];
		if (learn_read_boot(&l, (uint32_t)i, db_opt, control) < 0)
			goto out;
	}
	if (!l.n) {
		cli_error("policy learn: the boot%s %s no accesses", l.nboots > 1 ? "s" : "", l.nboots > 1 ? "have" : "has");
		goto out;
	}
	l.impl = l.boots[0].impl;
	for (size_t i = 1; i < l.nboots; i++)
		if (!l.impl || !l.boots[i].impl || strcmp(l.impl, l.boots[i].impl))
			l.impl = NULL;
	qsort(l.a, l.n, sizeof(*l.a), learn_cmp);
	if (!(l.out = open_memstream(&text, &len))) {
		cli_error("policy learn: out of memory");
		goto out;
	}
	learn_write(&l);
	fclose(l.out);
	if (l.failed) {
		cli_error("policy learn: out of memory");
		goto out;
	}
	ret = learn_output(&l, output, text, len);
out:
	for (size_t i = 0; i < l.nboots; i++) {
		free(l.boots[i].path);
		free(l.boots[i].impl);
	}
	free(l.boots);
	free(l.a);
	free(text);
	return ret;
}
