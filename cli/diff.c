/* SPDX-License-Identifier: MIT */
/* idsrctl diff: align two boots vCPU by vCPU and show what was added, removed or changed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "cli.h"
#include "encoding.h"
#include "regnames.h"
#include "replay/bootdiff.h"
#include "replay/bootstream.h"
#include "replay/symbols.h"
#include "diff.h"

static const char usage_text[] =
	"Usage: idsrctl diff A B [--symbols FILE | --symbols-a FILE --symbols-b FILE]\n"
	"                        [--by-symbol | --by-pc] [--slide-a N] [--slide-b N] [--context N]\n"
	"                        [--color=auto|always|never] [--stat] [--json | --html [-o FILE]]\n"
	"                        [--vm NAME] [--kernel K] [--latest] [--credentials FILE]\n\n"
	"Aligns two boots (each FILE, FILE:BOOT, :BOOT or BOOT, a boot of the default\n"
	"database, a file's last boot when none is named; or URL[#BOOT_UID], a boot in\n"
	"ClickHouse, where --vm, --kernel and --latest select a URL's boot) vCPU by vCPU\n"
	"and shows the accesses only in A (-), only in B (+), and matched accesses\n"
	"whose value or action differs (~), in hunks with context, then a summary per\n"
	"register. Accesses are matched on (register, direction): PCs move between\n"
	"kernel versions, so a moved PC alone is not a change.\n\n"
	"  --symbols FILE    symbols of both A and B: an ELF with a symbol table, or an\n"
	"                    nm / System.map listing; PCs print as function+0xoffset\n"
	"  --symbols-a FILE  symbols of A only\n"
	"  --symbols-b FILE  symbols of B only\n"
	"  --by-symbol       match on (register, direction, function); needs symbols of both\n"
	"  --by-pc           match on (register, direction, PC - slide): same kernel\n"
	"  --slide-a N       KASLR slide of A (default: the boot's slide column)\n"
	"  --slide-b N       KASLR slide of B\n"
	"  --context N       lines of context around changes (default 3)\n"
	"  --color=WHEN      colour the output: auto (on a terminal), always, never\n"
	"  --stat            print only the per-register summary\n"
	"  --json            print one JSON document (hunks and summary)\n"
	"  --html            write one self-contained HTML page: the per-register summary,\n"
	"                    then each vCPU's hunks side by side, changes marked, with\n"
	"                    next/previous change (n, p); at most 50000 lines of hunks\n"
	"  -o, --output FILE write the page to FILE (whole or not at all), not stdout\n"
	CLI_FLEET_USAGE "\n"
	"Exit status: 0 the boots are the same, 1 they differ, 2 error.\n";

/* ---- options ------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct diff_opts *o)
{
	enum { OPT_SYMBOL = 256, OPT_PC, OPT_SYMS, OPT_SYMS_A, OPT_SYMS_B, OPT_SLIDE_A, OPT_SLIDE_B,
	       OPT_CONTEXT, OPT_COLOR, OPT_STAT, OPT_JSON, OPT_HTML };
	static const struct option longopts[] = {
		{ "by-symbol", no_argument, NULL, OPT_SYMBOL },
		{ "by-pc", no_argument, NULL, OPT_PC },
		{ "symbols", required_argument, NULL, OPT_SYMS },
		{ "symbols-a", required_argument, NULL, OPT_SYMS_A },
		{ "symbols-b", required_argument, NULL, OPT_SYMS_B },
		{ "slide-a", required_argument, NULL, OPT_SLIDE_A },
		{ "slide-b", required_argument, NULL, OPT_SLIDE_B },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ "color", optional_argument, NULL, OPT_COLOR },
		{ "colour", optional_argument, NULL, OPT_COLOR },
		{ "stat", no_argument, NULL, OPT_STAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "html", no_argument, NULL, OPT_HTML },
		{ "output", required_argument, NULL, 'o' },
		CLI_FLEET_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *color = "auto";
	bool by_symbol = false, by_pc = false;
	uint64_t v;
	int c;

	*o = (struct diff_opts){ .how = BOOTDIFF_BY_KEY, .context = 3 };
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SYMBOL: by_symbol = true; break;
		case OPT_PC: by_pc = true; break;
		case OPT_SYMS: o->symfile[0] = o->symfile[1] = optarg; break;
		case OPT_SYMS_A: o->symfile[0] = optarg; break;
		case OPT_SYMS_B: o->symfile[1] = optarg; break;
		case OPT_SLIDE_A:
		case OPT_SLIDE_B:
			if (!cli_parse_u64("diff", c == OPT_SLIDE_A ? "--slide-a" : "--slide-b", optarg, UINT64_MAX, &v))
				return -EINVAL;
			o->slide_set[c == OPT_SLIDE_B] = true;
			o->slide[c == OPT_SLIDE_B] = v;
			break;
		case OPT_CONTEXT:
			if (!cli_parse_u64("diff", "--context", optarg, UINT64_MAX, &v))
				return -EINVAL;
			o->context = v > 1000000 ? 1000000 : (size_t)v;
			break;
		case OPT_COLOR: color = optarg ? optarg : "always"; break;
		case OPT_STAT: o->stat = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_HTML: o->html = true; break;
		case 'o': o->output = optarg; break;
		default:
			if (cli_fleet_option(c, optarg, &o->fleet))
				break;
			cli_error("diff: `%s': unknown option (try idsrctl diff --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		cli_error("diff: expected two boot references A and B, got %d (try idsrctl diff --help)",
			  argc - optind);
		return -EINVAL;
	}
	o->ref[0] = argv[optind];
	o->ref[1] = argv[optind + 1];
	if ((o->fleet.vm || o->fleet.kernel || o->fleet.latest || o->fleet.credentials) &&
	    strncmp(o->ref[0], "http", 4) && strncmp(o->ref[1], "http", 4)) {
		cli_error("diff: --vm, --kernel, --latest and --credentials are for a boot in ClickHouse: "
			  "give its URL (http://HOST:PORT/DATABASE) as A or B");
		return -EINVAL;
	}
	if (by_symbol && by_pc) {
		cli_error("diff: --by-symbol and --by-pc: choose one alignment");
		return -EINVAL;
	}
	if (by_symbol && (!o->symfile[0] || !o->symfile[1])) {
		cli_error("diff: --by-symbol: needs symbols of both boots: --symbols FILE, or --symbols-a FILE "
			  "and --symbols-b FILE");
		return -EINVAL;
	}
	if (o->html && (o->json || o->stat)) {
		cli_error("diff: --html: not with %s (the page holds the hunks and the summary)", o->json ? "--json" : "--stat");
		return -EINVAL;
	}
	if (o->output && !o->html) {
		cli_error("diff: -o: only with --html (the text goes to standard output)");
		return -EINVAL;
	}
	o->how = by_symbol ? BOOTDIFF_BY_SYMBOL : by_pc ? BOOTDIFF_BY_PC : BOOTDIFF_BY_KEY;
	if (!strcmp(color, "always")) {
		o->color = true;
	} else if (!strcmp(color, "auto")) {
		o->color = !o->json && isatty(STDOUT_FILENO);
	} else if (strcmp(color, "never")) {
		cli_error("diff: --color=`%s': expected auto, always or never", color);
		return -EINVAL;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

static int side_open(struct diff_side *s, const struct diff_opts *o, int which)
{
	struct cli_trace_arg trace;
	const char *path;
	char why[512];

	s->ref = o->ref[which];
	/* the selectors pick the boot of a URL side; a file side has its own forms */
	if (cli_trace_arg("diff", s->ref, NULL, NULL, &trace) < 0 ||
	    (trace.source == CLI_TRACE_FROM_URL && cli_trace_fleet("diff", &trace, &o->fleet) < 0) ||
	    !(path = cli_trace_path("diff", &trace, CLI_TRACE_ONE_BOOT)) || !(s->path = strdup(trace.path)))
		return CLI_ERROR;
	if (bootstream_open(path, trace.boot_id, &s->bs, why, sizeof(why)))
		return cli_error("diff: %s", why);
	s->info = bootstream_info(s->bs);
	s->slide = o->slide_set[which] ? o->slide[which] : s->info->slide;
	if (!s->info->has_pcs && o->how != BOOTDIFF_BY_KEY)
		return cli_error("diff: boot %" PRId64 " of %s has no PCs (imported): %s cannot match its"
				 " accesses; leave it out to match on register and direction",
				 s->info->boot_id, s->path, o->how == BOOTDIFF_BY_PC ? "--by-pc" : "--by-symbol");
	if (o->symfile[which] && cli_symbols_load("diff", o->symfile[which], &s->syms))
		return CLI_ERROR;
	return 0;
}

static void *side_read(void *arg)
{
	struct diff_side *s = arg;

	s->err = bootstream_load(s->bs, &s->vcpus, &s->nvcpus, s->why, sizeof(s->why));
	for (size_t i = 0; i < s->nvcpus; i++)
		s->rows += s->vcpus[i].count;
	return NULL;
}

/*
 * Reads both boots at once, B on a second thread: decoding rows out of
 * SQLite is most of a large diff's time, and the two files are independent.
 */
static int sides_read(struct diff_side side[2])
{
	pthread_t t;
	bool threaded = pthread_create(&t, NULL, side_read, &side[1]) == 0;

	side_read(&side[0]);
	if (threaded)
		pthread_join(t, NULL);
	else
		side_read(&side[1]);
	for (int w = 0; w < 2; w++)
		if (side[w].err)
			return cli_error("diff: %s", side[w].why);
	return 0;
}

static void side_free(struct diff_side *s)
{
	bootstream_free_vcpus(s->vcpus, s->nvcpus);
	symbols_free(s->syms);
	free(s->path);
	bootstream_close(s->bs);
}

/* ---- one access as text -------------------------------------------------- */

const char *diff_where_text(const struct diff_side *s, const struct bootstream_access *r, char *buf,
			    size_t len)
{
	/* below every symbol: the PC itself */
	if (!s->syms || !strcmp(cli_symbol_text(s->syms, r->pc, s->slide, buf, len), "-"))
		snprintf(buf, len, "0x%016" PRIx64, r->pc);
	return buf;
}

static void value_text(const struct bootstream_access *r, char *buf, size_t len)
{
	snprintf(buf, len, "0x%016" PRIx64 "%s", r->value, r->undef ? " UNDEF" : "");
}

/* "-  12  0x…  HID0_EL1 (s3_0_c15_c0_0)  write  0x…", and for ~ "-> 0x…  (B: seq, where)". */
static void text_line(const struct diff_out *p, int op, const struct bootstream_access *ra,
		      const struct bootstream_access *rb)
{
	const struct bootstream_access *r = ra ? ra : rb;
	const struct diff_side *s = p->side[ra ? 0 : 1];
	char where[320], reg[REGNAME_TEXT_MAX + ENC_TEXT_MAX + 4], val[40];
	const char *color = op == '-' ? p->red : op == '+' ? p->green : op == '~' ? p->yellow : "";

	value_text(r, val, sizeof(val));
	fprintf(p->f, "%s%c %6" PRIu64 "  %-18s  %-34s  %-5s  %s", color, op, r->seq,
		diff_where_text(s, r, where, sizeof(where)), cli_register_text(r->key, s->info->impl, reg, sizeof(reg)),
		r->is_write ? "write" : "read", val);
	if (op == '~') {
		value_text(rb, val, sizeof(val));
		fprintf(p->f, " -> %s  (B: %" PRIu64 "  %s)", val, rb->seq,
			diff_where_text(p->side[1], rb, where, sizeof(where)));
	}
	fprintf(p->f, "%s\n", *color ? p->reset : "");
}

/* ---- one access as JSON -------------------------------------------------- */

static void json_row(const struct diff_out *p, const char *key, int which, uint32_t vcpu,
		     const struct bootstream_access *r)
{
	const struct diff_side *s = p->side[which];
	char enc[ENC_TEXT_MAX], where[320];
	const char *name = regnames_name(r->key, s->info->impl);
	struct json j;

	enc_format(r->key, enc, sizeof(enc));
	fprintf(p->f, ", \"%s\": ", key);
	j = (struct json){ .f = p->f, .first = true };
	fputc('{', p->f);
	json_uint(&j, "vcpu", vcpu);
	json_uint(&j, "seq", r->seq);
	json_uint(&j, "key", r->key);
	json_str(&j, "name", name);
	json_str(&j, "encoding", enc);
	json_uint(&j, "pc", r->pc);
	if (s->syms)
		json_str(&j, "symbol", diff_where_text(s, r, where, sizeof(where)));
	json_uint(&j, "el", r->el);
	json_int(&j, "is_write", r->is_write);
	json_uint(&j, "value", r->value);
	json_str(&j, "action", r->undef ? "undef" : "emulate");
	fputc('}', p->f);
}

static void json_line(const struct diff_out *p, bool first, int op, uint32_t vcpu,
		      const struct bootstream_access *ra, const struct bootstream_access *rb)
{
	char opstr[2] = { (char)op, 0 };

	fprintf(p->f, "%s{\"op\": ", first ? "" : ",\n      ");
	json_write_string(p->f, opstr);
	if (ra)
		json_row(p, "a", 0, vcpu, ra);
	if (rb)
		json_row(p, "b", 1, vcpu, rb);
	fputc('}', p->f);
}

/* ---- hunks --------------------------------------------------------------- */

/*
 * Finds the next hunk at or after line *from: changes closer than 2 * context
 * share one hunk. *ai and *bi track the A and B positions of line *from.
 */
bool diff_next_hunk(const struct bootdiff_vcpu *v, size_t context, size_t *from, size_t *ai, size_t *bi,
		    struct diff_hunk *h)
{
	const uint8_t *l = v->lines;
	size_t i = *from, end;

	while (i < v->nlines && l[i] == BOOTDIFF_SAME)
		i++;
	if (i == v->nlines)
		return false;
	h->start = i - *from > context ? i - context : *from;
	end = i + 1;
	for (size_t j = end; j < v->nlines && j - end <= 2 * context; j++)
		if (l[j] != BOOTDIFF_SAME)
			end = j + 1;
	h->end = end + context < v->nlines ? end + context : v->nlines;
	for (size_t j = *from; j < h->start; j++) {
		*ai += consumes_a(l[j]);
		*bi += consumes_b(l[j]);
	}
	h->a_start = *ai;
	h->b_start = *bi;
	h->a_count = h->b_count = 0;
	for (size_t j = h->start; j < h->end; j++) {
		h->a_count += consumes_a(l[j]);
		h->b_count += consumes_b(l[j]);
	}
	*ai += h->a_count;
	*bi += h->b_count;
	*from = h->end;
	return true;
}

static void print_hunk(const struct diff_out *p, const struct bootdiff_vcpu *v, const struct diff_hunk *h,
		       bool *first_hunk)
{
	size_t ai = h->a_start, bi = h->b_start;

	if (p->o->json) {
		fprintf(p->f, "%s\n    {\"vcpu\": %" PRIu32 ", \"a_start\": %zu, \"a_count\": %zu, "
			"\"b_start\": %zu, \"b_count\": %zu, \"lines\": [\n      ",
			*first_hunk ? "" : ",", v->vcpu, h->a_start, h->a_count, h->b_start, h->b_count);
	} else {
		fprintf(p->f, "%s@@ vcpu %" PRIu32 " -%zu,%zu +%zu,%zu @@%s\n", p->cyan, v->vcpu, h->a_start,
			h->a_count, h->b_start, h->b_count, *p->cyan ? p->reset : "");
	}
	*first_hunk = false;
	for (size_t j = h->start; j < h->end; j++) {
		int op = v->lines[j];
		const struct bootstream_access *ra = consumes_a(op) ? &v->a[ai++] : NULL;
		const struct bootstream_access *rb = consumes_b(op) ? &v->b[bi++] : NULL;

		if (p->o->json)
			json_line(p, j == h->start, op, v->vcpu, ra, rb);
		else
			/* context lines show A's side, as diff -u shows the old file's */
			text_line(p, op, ra, op == '~' || !ra ? rb : NULL);
	}
	if (p->o->json)
		fputs("]}", p->f);
}

static void print_hunks(const struct diff_out *p)
{
	bool first = true;

	for (size_t i = 0; i < p->d->nvcpus; i++) {
		const struct bootdiff_vcpu *v = &p->d->vcpus[i];
		size_t from = 0, ai = 0, bi = 0;
		struct diff_hunk h;

		while (diff_next_hunk(v, p->o->context, &from, &ai, &bi, &h))
			print_hunk(p, v, &h, &first);
	}
}

/* ---- summary ------------------------------------------------------------- */

const char *diff_register_impl(const struct diff_out *p)
{
	/* one name per register in the summary: A's implementation, else B's */
	return p->side[0]->info->impl ? p->side[0]->info->impl : p->side[1]->info->impl;
}

static void print_header(const struct diff_out *p)
{
	for (int w = 0; w < 2; w++) {
		const struct bootstream_info *in = p->side[w]->info;

		fprintf(p->f, "%s%s %s boot %" PRId64 "  kernel %s  impl %s  vcpus %" PRIu32 "  slide 0x%" PRIx64
			"%s%s\n", p->bold, w ? "+++" : "---", p->side[w]->path, in->boot_id, in->kernel ? in->kernel : "-",
			in->impl ? in->impl : "-", in->vcpus, p->side[w]->slide,
			in->has_pcs ? "" : "  no PCs (imported): matched on vCPU order, register, direction and value",
			*p->bold ? p->reset : "");
	}
}

static void print_summary_text(const struct diff_out *p)
{
	const struct bootdiff *d = p->d;
	char reg[REGNAME_TEXT_MAX + ENC_TEXT_MAX + 4];

	fprintf(p->f, "%-34s %9s %9s %7s %7s %7s  %s\n", "register", "A", "B", "added", "removed",
		"changed", "first change");
	for (size_t i = 0; i < d->nregs; i++) {
		const struct bootdiff_register *r = &d->regs[i];

		fprintf(p->f, "%-34s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 "  ",
			cli_register_text(r->key, diff_register_impl(p), reg, sizeof(reg)), r->count_a, r->count_b,
			r->added, r->removed, r->changed);
		if (r->changes)
			fprintf(p->f, "%c vcpu %" PRIu32 " seq %" PRIu64 "\n", r->first_line, r->first_vcpu,
				r->first_seq);
		else
			fputs("-\n", p->f);
	}
	fprintf(p->f, "%s: %" PRIu64 " added, %" PRIu64 " removed, %" PRIu64 " changed "
		"(A: %zu accesses, B: %zu accesses)\n", bootdiff_differs(d) ? "different" : "same",
		d->added, d->removed, d->changed, p->side[0]->rows, p->side[1]->rows);
}

static void json_side(const struct diff_out *p, int w)
{
	const struct diff_side *s = p->side[w];
	struct json j = { .f = p->f, .first = true };

	fprintf(p->f, "  \"%s\": {", w ? "b" : "a");
	json_str(&j, "ref", s->ref);
	json_str(&j, "path", s->path);
	json_int(&j, "boot_id", s->info->boot_id);
	json_str(&j, "kernel", s->info->kernel);
	json_str(&j, "impl", s->info->impl);
	json_uint(&j, "vcpus", s->info->vcpus);
	json_uint(&j, "slide", s->slide);
	json_bool(&j, "has_pcs", s->info->has_pcs);
	json_uint(&j, "accesses", s->rows);
	fputs("},\n", p->f);
}

static void print_json(const struct diff_out *p)
{
	static const char *const align[] = { "key", "symbol", "pc" };
	const struct bootdiff *d = p->d;
	char enc[ENC_TEXT_MAX];

	fputs("{\n", p->f);
	json_side(p, 0);
	json_side(p, 1);
	fprintf(p->f, "  \"align\": \"%s\",\n  \"identical\": %s,\n", align[p->o->how],
		bootdiff_differs(d) ? "false" : "true");
	if (!p->o->stat) {
		fputs("  \"hunks\": [", p->f);
		print_hunks(p);
		fputs(d->added || d->removed || d->changed ? "\n  ],\n" : "],\n", p->f);
	}
	fputs("  \"summary\": {\"registers\": [", p->f);
	for (size_t i = 0; i < d->nregs; i++) {
		const struct bootdiff_register *r = &d->regs[i];
		struct json j = { .f = p->f, .first = true };

		enc_format(r->key, enc, sizeof(enc));
		fprintf(p->f, "%s\n    {", i ? "," : "");
		json_uint(&j, "key", r->key);
		json_str(&j, "name", regnames_name(r->key, diff_register_impl(p)));
		json_str(&j, "encoding", enc);
		json_uint(&j, "count_a", r->count_a);
		json_uint(&j, "count_b", r->count_b);
		json_uint(&j, "added", r->added);
		json_uint(&j, "removed", r->removed);
		json_uint(&j, "changed", r->changed);
		if (r->changes) {
			char op[2] = { (char)r->first_line, 0 };
			fputs(", \"first_change\": {\"op\": ", p->f);
			json_write_string(p->f, op);
			fprintf(p->f, ", \"vcpu\": %" PRIu32 ", \"seq\": %" PRIu64 "}", r->first_vcpu,
				r->first_seq);
		} else {
			json_raw(&j, "first_change", "null");
		}
		fputc('}', p->f);
	}
	fprintf(p->f, "%s],\n    \"added\": %" PRIu64 ", \"removed\": %" PRIu64 ", \"changed\": %" PRIu64
		"},\n  \"heuristic\": %u\n}\n", d->nregs ? "\n  " : "", d->added, d->removed, d->changed,
		d->heuristic);
}

int diff_main(int argc, char **argv)
{
	struct diff_side side[2] = { 0 };
	struct bootdiff_side bside[2];
	struct bootdiff d = { 0 };
	struct diff_opts o;
	struct diff_out p = { .f = stdout, .o = &o, .side = { &side[0], &side[1] }, .d = &d };
	char why[512];
	int ret = CLI_ERROR;

	if (cli_wants_help(argc, argv, usage_text))
		return CLI_OK;
	if (parse_args(argc, argv, &o))
		return CLI_ERROR;
	/* each connection stays on one thread: SQLite's per-call mutexes were 10% of the time */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	for (int w = 0; w < 2; w++)
		if (side_open(&side[w], &o, w))
			goto out;
	if (sides_read(side))
		goto out;
	for (int w = 0; w < 2; w++)
		bside[w] = (struct bootdiff_side){ .vcpus = side[w].vcpus, .nvcpus = side[w].nvcpus,
						   .slide = side[w].slide, .syms = side[w].syms };
	if (bootdiff_run(&bside[0], &bside[1], o.how, &d, why, sizeof(why))) {
		cli_error("diff: %s", why);
		goto out;
	}
	if (d.heuristic)
		fprintf(stderr, "idsrctl: diff: note: %u alignment searches hit the cost bound; "
			"the script is correct but may not be the shortest\n", d.heuristic);
	if (o.color) {
		p.red = "\033[31m";
		p.green = "\033[32m";
		p.yellow = "\033[33m";
		p.cyan = "\033[36m";
		p.bold = "\033[1m";
		p.reset = "\033[0m";
	} else {
		p.red = p.green = p.yellow = p.cyan = p.bold = p.reset = "";
	}
	if (o.html) {
		if (diff_html(&p) < 0)
			goto out;
	} else if (o.json) {
		print_json(&p);
	} else {
		if (!o.stat) {
			print_header(&p);
			print_hunks(&p);
		}
		print_summary_text(&p);
	}
	if (fflush(stdout) || ferror(stdout)) {
		cli_error("diff: writing the output: %s", strerror(errno));
		goto out;
	}
	ret = bootdiff_differs(&d) ? CLI_DIFFERENT : CLI_OK;
out:
	bootdiff_free(&d);
	side_free(&side[1]);
	side_free(&side[0]);
	return ret;
}
