/* SPDX-License-Identifier: MIT */
/* idsrctl report: one boot as one self-contained HTML page (summary, per-vCPU timeline, registers, rules). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "encoding.h"
#include "page.h"
#include "regnames.h"
#include "replay/symbols.h"
#include "report.h"

static const char report_usage[] =
	"Usage: idsrctl report [TRACE] [--db FILE] [-o FILE.html] [--symbols FILE] [--exact N] [--from SEQ]\n"
	"                      [--vm NAME] [--kernel K] [--latest] [--credentials FILE]\n"
	"\n"
	"Writes one boot (default: the database's last boot) as one HTML page that opens\n"
	"from disk with nothing else: the boot's summary and policy, a timeline per vCPU\n"
	"(accesses over time coloured by register, UNDEFs marked; wheel zooms, drag pans,\n"
	"hover shows an access), a sortable register table with each register's value\n"
	"history, and the policy's rules with their hit counts.\n"
	"\n"
	CLI_TRACE_USAGE
	CLI_FLEET_USAGE
	"\n"
	"The timeline's counts cover the whole boot (1000 buckets per vCPU); the hover\n"
	"shows exact accesses for a bounded part of it, so a boot of millions stays a\n"
	"page of a few MB:\n"
	"  --exact N          exact accesses in all (default 40000), split evenly among\n"
	"                     the vCPUs: each vCPU's first N/vCPUs from --from\n"
	"  --from SEQ         each vCPU's exact accesses start at seq SEQ (default 0)\n"
	"  --symbols FILE     PCs as function+0xoffset (the boot's slide taken off): an ELF\n"
	"                     with a symbol table, or an nm / System.map listing\n"
	"  -o, --output FILE  write FILE (whole or not at all); default standard output\n";

static void hex_str(FILE *f, uint64_t v)
{
	fprintf(f, "\"0x%016" PRIx64 "\"", v);
}

static void str_or_null(FILE *f, const char *s)
{
	if (s)
		json_write_string_html(f, s);
	else
		fputs("null", f);
}

static void write_symbol(FILE *f, const struct symbols *syms, uint64_t pc, uint64_t slide)
{
	char buf[CLI_SYMBOL_MAX];

	str_or_null(f, syms ? cli_symbol_text(syms, pc, slide, buf, sizeof(buf)) : NULL);
}

static void write_boot(FILE *f, const struct report *r, const char *ref)
{
	const struct cli_boot *b = &r->boot;

	fputs("\"boot\": {\"trace\": ", f);
	json_write_string_html(f, ref);
	fprintf(f, ", \"id\": %" PRId64 ", \"vm_name\": ", b->id);
	str_or_null(f, b->vm_name);
	fputs(", \"vmm\": ", f);
	str_or_null(f, b->vmm);
	fputs(", \"kernel\": ", f);
	str_or_null(f, b->kernel);
	fputs(", \"impl\": ", f);
	str_or_null(f, b->impl);
	fputs(", \"mode\": ", f);
	str_or_null(f, b->mode);
	fputs(", \"end_reason\": ", f);
	str_or_null(f, b->end_reason);
	fputs(", \"policy_hash\": ", f);
	str_or_null(f, b->policy_hash);
	fprintf(f, ", \"start_ns\": \"%" PRId64 "\", \"duration_ns\": %" PRId64 ", \"vcpus\": %u, \"accesses\": %" PRId64
		", \"rows\": %" PRIu64 ", \"undefs\": %" PRId64 ", \"divergences\": %" PRId64 ", \"rows_dropped\": %" PRId64
		", \"slide\": ", b->start_ns, b->end_ns ? b->end_ns - b->start_ns : -1, b->vcpus, b->accesses, r->total,
		b->undefs, b->divergences, b->rows_dropped);
	hex_str(f, b->slide);
	fprintf(f, ", \"midr\": \"0x%08" PRIx64 "\", \"has_pcs\": %s},\n", b->midr, r->has_pcs ? "true" : "false");
}

static void write_regs(FILE *f, const struct report *r, const struct symbols *syms)
{
	char enc[ENC_TEXT_MAX];

	fputs("\"regs\": [", f);
	for (size_t i = 0; i < r->nregs; i++) {
		const struct report_reg *g = &r->regs[i];

		enc_format(g->key, enc, sizeof(enc));
		fprintf(f, "%s\n{\"key\": \"0x%08" PRIx32 "\", \"name\": ", i ? "," : "", g->key);
		str_or_null(f, regnames_name(g->key, r->boot.impl));
		fprintf(f, ", \"enc\": \"%s\", \"count\": %" PRIu64 ", \"reads\": %" PRIu64 ", \"writes\": %" PRIu64
			", \"undefs\": %" PRIu64 ", \"distinct\": %zu, \"first_t\": %" PRId64 ", \"last_t\": %" PRId64
			", \"first_pc\": ", enc, g->count, g->reads, g->writes, g->undefs, g->values.n, g->first_t,
			g->last_t);
		hex_str(f, g->first_pc);
		fputs(", \"first_sym\": ", f);
		write_symbol(f, syms, g->first_pc, r->boot.slide);
		fputs(", \"last_pc\": ", f);
		hex_str(f, g->last_pc);
		fputs(", \"last_sym\": ", f);
		write_symbol(f, syms, g->last_pc, r->boot.slide);
		fputs(", \"hist\": [", f);
		for (size_t h = 0; h < g->nhist; h++)
			fprintf(f, "%s[%u,%" PRIu64 ",%" PRId64 ",\"%" PRIx64 "\"]", h ? "," : "", g->hist[h].vcpu,
				g->hist[h].seq, g->hist[h].t, g->hist[h].value);
		fprintf(f, "], \"hist_more\": %" PRIu64 "}", g->hist_more);
	}
	fputs("],\n", f);
}

static int cell_cmp(const void *x, const void *y)
{
	const struct report_cell *a = x, *b = y;

	if (a->vcpu != b->vcpu)
		return a->vcpu < b->vcpu ? -1 : 1;
	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

/* Per vCPU its totals and its timeline cells, flat: bucket, register, count, UNDEFs. */
static int write_vcpus(FILE *f, struct report *r)
{
	size_t n = 0, c = 0;
	struct report_cell *cells = malloc((r->ncells + 1) * sizeof(*cells));

	if (!cells)
		return -ENOMEM;
	for (size_t i = 0; i < r->capcells; i++)
		if (r->cells[i].used)
			cells[n++] = r->cells[i];
	qsort(cells, n, sizeof(*cells), cell_cmp);
	fprintf(f, "\"buckets\": %d,\n\"vcpus\": [", REPORT_BUCKETS);
	for (size_t i = 0; i < r->nvcpus; i++) {
		const struct report_vcpu *v = &r->vcpus[i];

		fprintf(f, "%s\n{\"vcpu\": %u, \"count\": %" PRIu64 ", \"undefs\": %" PRIu64 ", \"exact\": %" PRIu64
			", \"more\": %s, \"first_seq\": %" PRIu64 ", \"last_seq\": %" PRIu64 ", \"cells\": [",
			i ? "," : "", v->vcpu, v->count, v->undefs, v->exact, v->more ? "true" : "false", v->first_seq,
			v->last_seq);
		for (bool first = true; c < n && cells[c].vcpu == v->vcpu; c++, first = false)
			fprintf(f, "%s%u,%zu,%u,%u", first ? "" : ",", cells[c].bucket, report_reg_index(r, cells[c].key),
				cells[c].count, cells[c].undefs);
		fputs("]}", f);
	}
	fputs("],\n", f);
	free(cells);
	return 0;
}

/* Exact accesses: vcpu, t, seq, register, PC index, flags (1 write, 2 UNDEF), value, rule. */
static void write_exact(FILE *f, const struct report *r, const struct report_opts *o, const struct symbols *syms)
{
	fprintf(f, "\"exact\": {\"bound\": %" PRIu64 ", \"from_seq\": %" PRIu64 ", \"pcs\": [", o->exact, o->from_seq);
	{
		/* in index order */
		uint64_t *pcs = calloc(r->pcs.n + 1, sizeof(*pcs));

		for (size_t i = 0; pcs && i < r->pcs.cap; i++)
			if (r->pcs.index[i])
				pcs[r->pcs.index[i] - 1] = r->pcs.keys[i];
		for (size_t i = 0; pcs && i < r->pcs.n; i++) {
			fputs(i ? "," : "", f);
			hex_str(f, pcs[i]);
		}
		fputs("], \"syms\": ", f);
		if (syms && pcs) {
			fputc('[', f);
			for (size_t i = 0; i < r->pcs.n; i++) {
				fputs(i ? "," : "", f);
				write_symbol(f, syms, pcs[i], r->boot.slide);
			}
			fputc(']', f);
		} else {
			fputs("null", f);
		}
		free(pcs);
	}
	fputs(", \"rows\": [", f);
	for (size_t i = 0; i < r->nexact; i++) {
		const struct report_exact *e = &r->exact[i];

		fprintf(f, "%s[%u,%" PRId64 ",%" PRIu64 ",%zu,%u,%d,\"%" PRIx64 "\",%u]", i ? (i % 8 ? "," : ",\n") : "",
			e->vcpu, e->t, e->seq, report_reg_index(r, e->key), e->pc, e->is_write | e->undef << 1, e->value,
			e->rule);
	}
	fputs("]},\n", f);
}

/* Line `line' (1-based) of text, into buf. */
static const char *text_line(const char *text, int line, char *buf, size_t len)
{
	const char *p = text, *nl;

	for (int i = 1; p && i < line; i++)
		p = (nl = strchr(p, '\n')) ? nl + 1 : NULL;
	if (!p || line < 1)
		return NULL;
	nl = strchr(p, '\n');
	snprintf(buf, len, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
	return buf;
}

static void write_rules(FILE *f, const struct report *r)
{
	char label[300], line[1024];

	fputs("\"rules\": [", f);
	for (size_t i = 0; i < r->nrules; i++) {
		const struct report_rule *u = &r->rules[i];
		const struct report_policy *p = u->policy >= 0 ? &r->policies[u->policy] : NULL;
		const char *text = p && u->rule > 0 ? text_line(p->text, u->rule, line, sizeof(line)) : NULL;
		struct cli_access a = { .rule = u->rule, .rule_source = p && *p->source ? p->source : NULL,
					.rule_line = text };

		if (p)
			snprintf(a.rule_hash, sizeof(a.rule_hash), "%s", p->hash);
		fprintf(f, "%s\n{\"label\": ", i ? "," : "");
		json_write_string_html(f, cli_rule_text(&a, label, sizeof(label)));
		fprintf(f, ", \"rule\": %d, \"policy\": %d, \"text\": ", u->rule, u->policy);
		str_or_null(f, text);
		fprintf(f, ", \"hits\": %" PRIu64 ", \"undefs\": %" PRIu64 "}", u->hits, u->undefs);
	}
	fputs("],\n\"policies\": [", f);
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct report_policy *p = &r->policies[i];

		fputs(i ? ",\n{\"hash\": " : "\n{\"hash\": ", f);
		json_write_string_html(f, p->hash);
		fputs(", \"source\": ", f);
		json_write_string_html(f, p->source);
		fprintf(f, ", \"since_ns\": \"%" PRId64 "\", \"text\": ", p->since_ns);
		json_write_string_html(f, p->text);
		fputc('}', f);
	}
	fputs("]", f);
}

static int report_write(FILE *f, struct report *r, const struct report_opts *o, const struct symbols *syms,
			const char *ref)
{
	char title[512];
	const struct cli_boot *b = &r->boot;

	snprintf(title, sizeof(title), "idsrd report: boot %" PRId64 "%s%s%s%s%s", b->id, b->vm_name ? " " : "",
		 b->vm_name ? b->vm_name : "", b->kernel ? " (" : "", b->kernel ? b->kernel : "", b->kernel ? ")" : "");
	page_begin(f, title);
	fputs("{\"kind\": \"report\",\n", f);
	write_boot(f, r, ref);
	write_regs(f, r, syms);
	if (write_vcpus(f, r) < 0)
		return -ENOMEM;
	write_exact(f, r, o, syms);
	write_rules(f, r);
	fputs("}\n", f);
	page_end(f, PAGE_REPORT);
	return 0;
}

int report_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "symbols", required_argument, NULL, 'S' },
		{ "exact", required_argument, NULL, 'x' }, { "from", required_argument, NULL, 'f' },
		{ "db", required_argument, NULL, 'd' }, { "control", required_argument, NULL, 'c' },
		CLI_FLEET_OPTIONS, { "help", no_argument, NULL, 'h' }, { 0 } };
	struct report_opts o = { .exact = REPORT_EXACT_DEFAULT };
	struct cli_fleet fleet = { 0 };
	const char *outpath = NULL, *symfile = NULL, *ref, *db_opt = NULL, *control = NULL;
	struct cli_trace_arg trace;
	struct symbols *syms = NULL;
	struct cli_output out;
	struct report r;
	int64_t boot_id;
	sqlite3 *db;
	int c, ret;

	if (cli_wants_help(argc, argv, report_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outpath = optarg; break;
		case 'S': symfile = optarg; break;
		case 'd': db_opt = optarg; break;
		case 'c': control = optarg; break;
		case 'x': if (!cli_parse_u64("report", "--exact", optarg, UINT32_MAX, &o.exact)) return CLI_ERROR; break;
		case 'f': if (!cli_parse_u64("report", "--from", optarg, INT64_MAX, &o.from_seq)) return CLI_ERROR; break;
		default:
			if (cli_fleet_option(c, optarg, &fleet))
				break;
			fprintf(stderr, "Try `idsrctl report --help'.\n");
			return CLI_ERROR;
		}
	}
	if (argc - optind > 1)
		return cli_error("report: one trace at most, got `%s' too", argv[optind + 1]);
	if (!outpath && isatty(STDOUT_FILENO))
		return cli_error("report: the report is an HTML page: write it with -o FILE.html (or redirect it)");
	if (symfile && cli_symbols_load("report", symfile, &syms))
		return CLI_ERROR;
	if (cli_trace_arg("report", optind < argc ? argv[optind] : NULL, db_opt, control, &trace) < 0 ||
	    cli_trace_fleet("report", &trace, &fleet) < 0 || cli_trace_open("report", &trace, &db, &boot_id) < 0) {
		symbols_free(syms);
		return CLI_ERROR;
	}
	ref = optind < argc ? argv[optind] : trace.path;
	ret = report_build(db, boot_id, &o, &r, "report");
	db_close(db);
	if (!ret && !(ret = cli_output_open("report", outpath, &out))) {
		ret = report_write(out.f, &r, &o, syms, ref);
		if (ret)
			cli_error("report: out of memory");
		ret = cli_output_close("report", &out, ret == 0);
	}
	report_free(&r);
	symbols_free(syms);
	return ret ? CLI_ERROR : CLI_OK;
}
