/* SPDX-License-Identifier: MIT */
/* idsrctl diff --html: the same alignment as the text diff, as one self-contained page (cli/page/diff.js draws it). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "diff.h"
#include "encoding.h"
#include "page.h"
#include "regnames.h"

/* Lines of hunks a page holds: the page stays light to open; past the bound
 * it says how many lines it left out and the text diff has them all. */
#define DIFF_HTML_MAX_LINES	50000

static void str_or_null(FILE *f, const char *s)
{
	if (s)
		json_write_string_html(f, s);
	else
		fputs("null", f);
}

static void side_json(FILE *f, const struct diff_side *s, const char *key)
{
	fprintf(f, "\"%s\": {\"ref\": ", key);
	json_write_string_html(f, s->ref);
	fprintf(f, ", \"boot_id\": %" PRId64 ", \"kernel\": ", s->info->boot_id);
	str_or_null(f, s->info->kernel);
	fputs(", \"impl\": ", f);
	str_or_null(f, s->info->impl);
	fprintf(f, ", \"vcpus\": %" PRIu32 ", \"slide\": \"0x%" PRIx64 "\", \"accesses\": %zu, \"symbols\": %s},\n",
		s->info->vcpus, s->slide, s->rows, s->syms ? "true" : "false");
}

/* [seq, where, register, encoding, is_write, value, undef] */
static void row_json(FILE *f, const struct diff_side *s, const struct bootstream_access *r)
{
	char where[CLI_SYMBOL_MAX + 24], enc[ENC_TEXT_MAX];

	if (!r) {
		fputs("null", f);
		return;
	}
	enc_format(r->key, enc, sizeof(enc));
	fprintf(f, "[%" PRIu64 ",", r->seq);
	json_write_string_html(f, diff_where_text(s, r, where, sizeof(where)));
	fputc(',', f);
	str_or_null(f, regnames_name(r->key, s->info->impl));
	fprintf(f, ",\"%s\",%d,\"0x%016" PRIx64 "\",%d]", enc, r->is_write, r->value, r->undef);
}

/* Every vCPU's hunks: {vcpu, a_start, b_start, lines: [[op, A row, B row]]}; returns the lines left out. */
static size_t hunks_json(FILE *f, const struct diff_out *p)
{
	size_t written = 0, left_out = 0;
	bool first = true;

	fputs("\"hunks\": [", f);
	for (size_t i = 0; i < p->d->nvcpus; i++) {
		const struct bootdiff_vcpu *v = &p->d->vcpus[i];
		size_t from = 0, ai = 0, bi = 0;
		struct diff_hunk h;

		while (diff_next_hunk(v, p->o->context, &from, &ai, &bi, &h)) {
			size_t a = h.a_start, b = h.b_start;

			if (written + (h.end - h.start) > DIFF_HTML_MAX_LINES) {
				left_out += h.end - h.start;
				continue;
			}
			written += h.end - h.start;
			fprintf(f, "%s\n{\"vcpu\": %" PRIu32 ", \"a_start\": %zu, \"a_count\": %zu, \"b_start\": %zu, "
				"\"b_count\": %zu, \"lines\": [", first ? "" : ",", v->vcpu, h.a_start, h.a_count,
				h.b_start, h.b_count);
			first = false;
			for (size_t j = h.start; j < h.end; j++) {
				int op = v->lines[j];

				fprintf(f, "%s[\"%c\",", j == h.start ? "" : ",\n", op);
				row_json(f, p->side[0], consumes_a(op) ? &v->a[a++] : NULL);
				fputc(',', f);
				row_json(f, p->side[1], consumes_b(op) ? &v->b[b++] : NULL);
				fputc(']', f);
			}
			fputs("]}", f);
		}
	}
	fputs("],\n", f);
	return left_out;
}

static void summary_json(FILE *f, const struct diff_out *p)
{
	const struct bootdiff *d = p->d;
	char enc[ENC_TEXT_MAX];

	fputs("\"regs\": [", f);
	for (size_t i = 0; i < d->nregs; i++) {
		const struct bootdiff_register *r = &d->regs[i];

		enc_format(r->key, enc, sizeof(enc));
		fprintf(f, "%s\n{\"name\": ", i ? "," : "");
		str_or_null(f, regnames_name(r->key, diff_register_impl(p)));
		fprintf(f, ", \"enc\": \"%s\", \"count_a\": %" PRIu64 ", \"count_b\": %" PRIu64 ", \"added\": %" PRIu64
			", \"removed\": %" PRIu64 ", \"changed\": %" PRIu64 ", \"first\": ", enc, r->count_a, r->count_b,
			r->added, r->removed, r->changed);
		if (r->changes)
			fprintf(f, "{\"op\": \"%c\", \"vcpu\": %" PRIu32 ", \"seq\": %" PRIu64 "}", r->first_line,
				r->first_vcpu, r->first_seq);
		else
			fputs("null", f);
		fputc('}', f);
	}
	fprintf(f, "],\n\"added\": %" PRIu64 ", \"removed\": %" PRIu64 ", \"changed\": %" PRIu64 ", ", d->added,
		d->removed, d->changed);
}

int diff_html(const struct diff_out *p)
{
	static const char *const align[] = { "key", "symbol", "pc" };
	struct cli_output out;
	char title[512];
	size_t left_out;
	FILE *f;
	int ret;

	ret = cli_output_open("diff", p->o->output, &out);
	if (ret)
		return ret;
	f = out.f;
	snprintf(title, sizeof(title), "idsrd diff: %s vs %s", p->side[0]->ref, p->side[1]->ref);
	page_begin(f, title);
	fputs("{\"kind\": \"diff\",\n", f);
	side_json(f, p->side[0], "a");
	side_json(f, p->side[1], "b");
	fprintf(f, "\"align\": \"%s\", \"context\": %zu,\n", align[p->o->how], p->o->context);
	summary_json(f, p);
	left_out = hunks_json(f, p);
	fprintf(f, "\"left_out\": %zu, \"max_lines\": %d}\n", left_out, DIFF_HTML_MAX_LINES);
	page_end(f, PAGE_DIFF);
	return cli_output_close("diff", &out, true);
}
