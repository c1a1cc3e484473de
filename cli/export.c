/* SPDX-License-Identifier: MIT */
/* idsrctl export: one boot's accesses as CSV, JSON lines, or a Chrome JSON trace for Perfetto. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "bootinfo.h"
#include "cli.h"
#include "db.h"
#include "encoding.h"
#include "regnames.h"
#include "replay/access_rows.h"
#include "replay/symbols.h"

static const char export_usage[] =
	"Usage: idsrctl export [TRACE] [--db FILE] --format perfetto|csv|jsonl [--symbols FILE] [-o FILE]\n"
	"\n"
	"Writes one boot's accesses (default: the database's last boot), in per-vCPU order.\n"
	"\n"
	CLI_TRACE_USAGE
	"  --format csv       a header line, then one line per access: the contract columns\n"
	"                     boot_id,vcpu,seq,ts_ns,key,pc,el,is_write,value,action,rule\n"
	"                     (key, pc and value as 0x hex), then name, encoding, and the\n"
	"                     boot's boot_uid and host (a boot's identity across hosts)\n"
	"  --format jsonl     one JSON object per access, as `idsrctl show --json-lines' prints\n"
	"                     it, with the boot's boot_uid and host (null if not recorded)\n"
	"  --format perfetto  the Chrome JSON trace-event format (Perfetto UI, chrome://tracing):\n"
	"                     a process for the boot, a thread per vCPU, an instant event per\n"
	"                     access (its fields as args; 64-bit values exact, as hex strings),\n"
	"                     and a counter per register and vCPU of its values over time\n"
	"                     (JSON numbers: viewers read them as doubles, exact below 2^53)\n"
	"  --symbols FILE     add each PC's function+0xoffset (the boot's slide taken off):\n"
	"                     perfetto's args.symbol, jsonl's symbol; an ELF with a symbol\n"
	"                     table, or an nm / System.map listing (not csv: its columns are fixed)\n"
	"  -o, --output FILE  write FILE (whole or not at all) instead of standard output\n";

enum export_format { EXPORT_NONE, EXPORT_CSV, EXPORT_JSONL, EXPORT_PERFETTO };

/* Perfetto counters: the last value of each register on the current vCPU
 * (rows come in (vcpu, seq) order, so one vCPU at a time), sorted by key. */
struct export_last {
	uint32_t key;
	uint64_t value;
};

struct export_ctx {
	FILE *f;
	const struct cli_boot *boot;
	const struct symbols *syms;	/* --symbols, or NULL */
	uint32_t vcpu;
	struct export_last *last;
	size_t nlast, caplast;
	bool first_vcpu_seen;
};

/* A text field of RFC 4180: quoted when it holds a comma, quote or line end. */
static void csv_field(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_row(FILE *f, const struct cli_access *a, const struct cli_boot *b)
{
	char enc[ENC_TEXT_MAX];
	const char *name = regnames_name(a->key, a->impl);

	enc_format(a->key, enc, sizeof(enc));
	/* names, encodings and uids hold no comma, quote or newline: no CSV quoting needed */
	fprintf(f, "%" PRId64 ",%u,%" PRIu64 ",%" PRId64 ",0x%08" PRIx32 ",0x%016" PRIx64 ",%u,%d,0x%016" PRIx64
		",%s,%d,%s,%s,%s,", a->boot_id, a->vcpu, a->seq, a->ts_ns, a->key, a->pc, a->el, a->is_write,
		a->value, a->undef ? "undef" : "emulate", a->rule, name ? name : "", enc,
		b->boot_uid ? b->boot_uid : "");
	csv_field(f, b->host);
	fputc('\n', f);
}

/* "12.345" µs from the boot's start, exact to the ns. */
static void perfetto_ts(FILE *f, int64_t ns)
{
	if (ns < 0)
		fprintf(f, "-%" PRId64 ".%03" PRId64, -ns / 1000, -ns % 1000);
	else
		fprintf(f, "%" PRId64 ".%03" PRId64, ns / 1000, ns % 1000);
}

static void perfetto_head(struct export_ctx *x, const char *path)
{
	const struct cli_boot *b = x->boot;
	char title[512];

	fputs("{\"displayTimeUnit\": \"ns\", \"otherData\": {", x->f);
	fputs("\"trace\": ", x->f);
	json_write_string(x->f, path);
	fprintf(x->f, ", \"boot_id\": %" PRId64 ", \"start_ns\": \"%" PRId64 "\", \"vm_name\": ", b->id, b->start_ns);
	json_write_string(x->f, b->vm_name ? b->vm_name : "");
	fputs(", \"kernel\": ", x->f);
	json_write_string(x->f, b->kernel ? b->kernel : "");
	fputs(", \"impl\": ", x->f);
	json_write_string(x->f, b->impl ? b->impl : "");
	fputs(", \"boot_uid\": ", x->f);
	json_write_string(x->f, b->boot_uid ? b->boot_uid : "");
	fputs(", \"host\": ", x->f);
	json_write_string(x->f, b->host ? b->host : "");
	fputs(", \"note\": \"ts is microseconds from start_ns; args hold 64-bit values exactly as hex; "
	      "counter values are JSON numbers, which viewers read as doubles: exact up to 2^53\"},\n"
	      "\"traceEvents\": [\n", x->f);
	snprintf(title, sizeof(title), "boot %" PRId64 "%s%s%s%s%s", b->id, b->vm_name ? " " : "",
		 b->vm_name ? b->vm_name : "", b->kernel ? " (" : "", b->kernel ? b->kernel : "", b->kernel ? ")" : "");
	fprintf(x->f, "{\"ph\": \"M\", \"pid\": %" PRId64 ", \"name\": \"process_name\", \"args\": {\"name\": ", b->id);
	json_write_string(x->f, title);
	fputs("}}", x->f);
}

/* True if the (vCPU, register) counter must be emitted: a new value. */
static int perfetto_counter_changes(struct export_ctx *x, const struct cli_access *a)
{
	size_t lo = 0, hi;

	if (!x->first_vcpu_seen || a->vcpu != x->vcpu) {
		x->vcpu = a->vcpu;
		x->nlast = 0;
		x->first_vcpu_seen = true;
	}
	hi = x->nlast;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->last[mid].key < a->key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->nlast && x->last[lo].key == a->key) {
		if (x->last[lo].value == a->value)
			return 0;
		x->last[lo].value = a->value;
		return 1;
	}
	if (x->nlast == x->caplast) {
		size_t cap = x->caplast ? x->caplast * 2 : 64;
		struct export_last *p = realloc(x->last, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		x->last = p;
		x->caplast = cap;
	}
	memmove(&x->last[lo + 1], &x->last[lo], (x->nlast - lo) * sizeof(*x->last));
	x->last[lo] = (struct export_last){ a->key, a->value };
	x->nlast++;
	return 1;
}

static int perfetto_row(struct export_ctx *x, const struct cli_access *a)
{
	char enc[ENC_TEXT_MAX], label[REGNAME_TEXT_MAX + ENC_TEXT_MAX];
	const char *name = regnames_name(a->key, a->impl);
	int64_t pid = x->boot->id;
	bool new_vcpu = !x->first_vcpu_seen || a->vcpu != x->vcpu;
	int change = perfetto_counter_changes(x, a);

	if (change < 0)
		return change;
	enc_format(a->key, enc, sizeof(enc));
	snprintf(label, sizeof(label), "%s", name ? name : enc);
	if (new_vcpu)
		fprintf(x->f, ",\n{\"ph\": \"M\", \"pid\": %" PRId64 ", \"tid\": %u, \"name\": \"thread_name\", "
			"\"args\": {\"name\": \"vCPU %u\"}}", pid, a->vcpu, a->vcpu);
	fprintf(x->f, ",\n{\"ph\": \"i\", \"s\": \"t\", \"pid\": %" PRId64 ", \"tid\": %u, \"ts\": ", pid, a->vcpu);
	perfetto_ts(x->f, a->ts_ns - x->boot->start_ns);
	fputs(", \"name\": ", x->f);
	json_write_string(x->f, label);
	fprintf(x->f, ", \"cat\": \"%s\", \"args\": {\"seq\": %" PRIu64 ", \"pc\": \"0x%016" PRIx64 "\", "
		"\"key\": \"0x%08" PRIx32 "\", \"encoding\": \"%s\", \"direction\": \"%s\", "
		"\"value\": \"0x%016" PRIx64 "\", \"el\": %u, \"action\": \"%s\", \"rule\": %d",
		a->undef ? "undef" : a->is_write ? "write" : "read", a->seq, a->pc, a->key, enc,
		a->is_write ? "write" : "read", a->value, a->el, a->undef ? "undef" : "emulate", a->rule);
	if (a->symbol) {
		fputs(", \"symbol\": ", x->f);
		json_write_string(x->f, a->symbol);
	}
	fputs("}}", x->f);
	if (!change)
		return 0;
	/* exact decimal: a reader that parses numbers as doubles rounds above 2^53 */
	fprintf(x->f, ",\n{\"ph\": \"C\", \"pid\": %" PRId64 ", \"ts\": ", pid);
	perfetto_ts(x->f, a->ts_ns - x->boot->start_ns);
	fprintf(x->f, ", \"name\": \"%s vCPU %u\", \"args\": {\"value\": %" PRIu64 "}}", label, a->vcpu, a->value);
	return 0;
}

static bool export_parse_format(const char *s, enum export_format *fmt)
{
	if (!strcmp(s, "csv"))
		*fmt = EXPORT_CSV;
	else if (!strcmp(s, "jsonl"))
		*fmt = EXPORT_JSONL;
	else if (!strcmp(s, "perfetto"))
		*fmt = EXPORT_PERFETTO;
	else
		return cli_error("export: --format `%s': expected perfetto, csv or jsonl", s), false;
	return true;
}

/* Writes every row of the boot; 0, or -errno with why printed. */
static int export_rows(sqlite3 *db, struct export_ctx *x, enum export_format fmt)
{
	struct cli_rules *rules = fmt == EXPORT_JSONL ? cli_rules_new(db) : NULL;
	struct access_range range = { .boot_id = x->boot->id, .vcpu = -1, .limit = -1 };
	struct access_cursor *rows;
	struct access_row row;
	struct cli_access a;
	char why[512];
	int rc, ret = 0;

	if ((rc = access_cursor_open(db, cli_db_path(db), &range, &rows, why, sizeof(why))) < 0) {
		cli_error("export: %s", why);
		cli_rules_free(rules);
		return rc;
	}
	if (fmt == EXPORT_CSV)
		fputs("boot_id,vcpu,seq,ts_ns,key,pc,el,is_write,value,action,rule,name,encoding,boot_uid,host\n", x->f);
	while (!ret && (rc = access_cursor_next(rows, &row, why, sizeof(why))) > 0) {
		char symbol[CLI_SYMBOL_MAX];

		cli_access_from(&a, &row);
		a.impl = x->boot->impl;
		a.boot_uid = x->boot->boot_uid;
		a.host = x->boot->host;
		if (x->syms)
			a.symbol = cli_symbol_text(x->syms, a.pc, x->boot->slide, symbol, sizeof(symbol));
		if (fmt == EXPORT_CSV)
			csv_row(x->f, &a, x->boot);
		else if (fmt == EXPORT_JSONL) {
			cli_rules_resolve(rules, &a);
			cli_print_access(x->f, &a, true);
		}
		else if ((ret = perfetto_row(x, &a)) < 0)
			cli_error("export: out of memory");
	}
	if (!ret && rc < 0) {
		cli_error("export: %s", why);
		ret = rc;
	}
	access_cursor_close(rows);
	cli_rules_free(rules);
	return ret;
}

int export_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' }, { "output", required_argument, NULL, 'o' },
		{ "db", required_argument, NULL, 'd' }, { "control", required_argument, NULL, 'c' },
		{ "symbols", required_argument, NULL, 'S' }, { "help", no_argument, NULL, 'h' }, { 0 } };
	const char *db_opt = NULL, *control = NULL, *symfile = NULL;
	struct symbols *syms = NULL;
	struct cli_trace_arg trace;
	enum export_format fmt = EXPORT_NONE;
	struct export_ctx x = { 0 };
	struct cli_output out;
	const char *outpath = NULL, *ref;
	struct cli_boot boot;
	int64_t boot_id;
	sqlite3 *db;
	int c, ret;

	if (cli_wants_help(argc, argv, export_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'F': if (!export_parse_format(optarg, &fmt)) return CLI_ERROR; break;
		case 'o': outpath = optarg; break;
		case 'd': db_opt = optarg; break;
		case 'c': control = optarg; break;
		case 'S': symfile = optarg; break;
		default:
			fprintf(stderr, "Try `idsrctl export --help'.\n");
			return CLI_ERROR;
		}
	}
	if (fmt == EXPORT_NONE)
		return cli_error("export: which format? --format perfetto, csv or jsonl");
	if (argc - optind > 1)
		return cli_error("export: one trace at most, got `%s' too", argv[optind + 1]);
	if (symfile && fmt == EXPORT_CSV)
		return cli_error("export: --symbols: not with --format csv (its columns are the contract's; "
				 "use jsonl or perfetto)");
	if (symfile && cli_symbols_load("export", symfile, &syms))
		return CLI_ERROR;
	if (cli_trace_arg("export", optind < argc ? argv[optind] : NULL, db_opt, control, &trace) < 0 ||
	    cli_trace_open("export", &trace, &db, &boot_id) < 0) {
		symbols_free(syms);
		return CLI_ERROR;
	}
	ref = optind < argc ? argv[optind] : trace.path;
	if (cli_boot_read("export", db, boot_id, &boot) < 0) {
		symbols_free(syms);
		db_close(db);
		return CLI_ERROR;
	}
	ret = cli_output_open("export", outpath, &out);
	if (!ret) {
		x.f = out.f;
		x.boot = &boot;
		x.syms = syms;
		if (fmt == EXPORT_PERFETTO)
			perfetto_head(&x, ref);
		ret = export_rows(db, &x, fmt);
		if (!ret && fmt == EXPORT_PERFETTO)
			fputs("\n]}\n", x.f);
		ret = cli_output_close("export", &out, ret == 0);
	}
	free(x.last);
	symbols_free(syms);
	cli_boot_free(&boot);
	db_close(db);
	return ret ? CLI_ERROR : CLI_OK;
}
