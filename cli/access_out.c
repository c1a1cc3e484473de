/* SPDX-License-Identifier: MIT */
/* Printing one access for people (names, hex, arrows) or scripts (JSON): one home for show, tail, replay. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "encoding.h"
#include "policy.h"
#include "regnames.h"
#include "replay/access_rows.h"
#include "replay/symbols.h"

/* The rule as people name it: FILE:LINE of the version that answered; for an
 * edited version (no file has its lines) the rule's text; HASH:LINE when only
 * the version is known (idsrctl policy show --hash HASH shows it). */
const char *cli_rule_text(const struct cli_access *a, char *buf, size_t len)
{
	const char *source = a->rule_source;

	switch (a->rule) {
	case POLICY_RULE_DEFAULT: return "default";
	case POLICY_RULE_EL0: return "el0-rule";
	case POLICY_RULE_REPLAY: return "replay";
	case POLICY_RULE_STRICT: return "replay-strict";
	case POLICY_RULE_IMPORTED: return "imported";
	case POLICY_RULE_RESENT: return "resent";
	}
	if (source && !strcmp(source, POLICY_SOURCE_EDITED) && a->rule_line) {
		snprintf(buf, len, "'%s'", a->rule_line);
	} else if (source && strcmp(source, POLICY_SOURCE_EDITED)) {
		const char *slash = strrchr(source, '/');

		snprintf(buf, len, "%s:%d", slash ? slash + 1 : source, a->rule);
	} else if (a->rule_hash[0]) {
		snprintf(buf, len, "%s:%d", a->rule_hash, a->rule);
	} else {
		snprintf(buf, len, "line %d", a->rule);
	}
	return buf;
}

void cli_print_access_header_cols(FILE *f, bool with_time, bool with_symbol)
{
	if (with_time)
		fprintf(f, "%-12s ", "time");
	fprintf(f, "%5s %4s %7s  %-18s ", "boot", "vcpu", "seq", "pc");
	if (with_symbol)
		fprintf(f, "%-28s ", "symbol");
	fprintf(f, "%-*s  %-34s  %-18s  %-7s %s\n", with_time ? 8 : 5, "dir", "register", "value", "action", "rule");
}

void cli_print_access_header(FILE *f)
{
	cli_print_access_header_cols(f, false, false);
}

int cli_symbols_load(const char *cmd, const char *path, struct symbols **out)
{
	char why[512];
	int ret = symbols_load(path, out, why, sizeof(why));

	if (ret)
		cli_error("%s: %s", cmd, why);
	return ret;
}

const char *cli_symbol_text(const struct symbols *syms, uint64_t pc, uint64_t slide, char *buf, size_t len)
{
	uint64_t off;
	const char *fn = symbols_lookup(syms, pc - slide, &off);

	if (fn)
		snprintf(buf, len, "%s+0x%" PRIx64, fn, off);
	else
		snprintf(buf, len, "-");
	return buf;
}

const char *cli_register_text(uint32_t key, const char *impl, char *buf, size_t len)
{
	char enc[ENC_TEXT_MAX];
	const char *name = regnames_name(key, impl);

	enc_format(key, enc, sizeof(enc));
	if (name)
		snprintf(buf, len, "%s (%s)", name, enc);
	else
		snprintf(buf, len, "%s", enc);
	return buf;
}

void cli_print_access(FILE *f, const struct cli_access *a, bool json)
{
	char enc[ENC_TEXT_MAX], reg[REGNAME_TEXT_MAX + ENC_TEXT_MAX + 4], rule[300];
	const char *name = regnames_name(a->key, a->impl);

	enc_format(a->key, enc, sizeof(enc));
	if (json) {
		struct json j;

		json_begin(&j, f);
		json_int(&j, "boot_id", a->boot_id);
		json_uint(&j, "vcpu", a->vcpu);
		json_uint(&j, "seq", a->seq);
		json_int(&j, "ts_ns", a->ts_ns);
		json_uint(&j, "key", a->key);
		json_uint(&j, "pc", a->pc);
		json_uint(&j, "el", a->el);
		json_int(&j, "is_write", a->is_write);
		json_uint(&j, "value", a->value);
		json_str(&j, "action", a->undef ? "undef" : "emulate");
		json_int(&j, "rule", a->rule);
		if (a->rule_source)
			json_str(&j, "rule_source", a->rule_source);
		if (a->rule_hash[0])
			json_str(&j, "policy_hash", a->rule_hash);
		if (a->rule_line)
			json_str(&j, "rule_text", a->rule_line);
		if (a->symbol)
			json_str(&j, "symbol", a->symbol);
		json_str(&j, "name", name);
		json_str(&j, "encoding", enc);
		snprintf(rule, sizeof(rule), "0x%016" PRIx64, a->pc);
		json_str(&j, "pc_hex", rule);
		snprintf(rule, sizeof(rule), "0x%016" PRIx64, a->value);
		json_str(&j, "value_hex", rule);
		if (a->boot_uid)
			json_str(&j, "boot_uid", a->boot_uid);
		if (a->boot_uid)
			json_str(&j, "host", a->host);
		json_end(&j);
		return;
	}
	cli_register_text(a->key, a->impl, reg, sizeof(reg));
	if (a->with_time) {
		time_t t = (time_t)(a->ts_ns / 1000000000);
		struct tm tm;
		char when[16];

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(f, "%s.%03d ", when, (int)(a->ts_ns / 1000000 % 1000));
	}
	/* tail's lines add an arrow, the value's way: into the guest on a read,
	 * out of it on a write. */
	fprintf(f, "%5" PRId64 " %4u %7" PRIu64 "  0x%016" PRIx64 " ", a->boot_id, a->vcpu, a->seq, a->pc);
	if (a->symbol)
		fprintf(f, "%-28s ", a->symbol);
	fprintf(f, "%-*s  %-34s  0x%016" PRIx64 "  %-7s %s\n", a->with_time ? 8 : 5,
		a->with_time ? (a->is_write ? "-> write" : "<- read") : (a->is_write ? "write" : "read"), reg, a->value,
		a->undef ? "UNDEF" : "emulate", cli_rule_text(a, rule, sizeof(rule)));
}

void cli_access_from(struct cli_access *a, const struct access_row *r)
{
	*a = (struct cli_access){
		.boot_id = r->boot_id, .vcpu = r->vcpu, .seq = r->seq, .ts_ns = r->ts_ns, .key = r->key,
		.pc = r->pc, .el = r->el, .is_write = r->is_write, .value = r->value, .undef = r->undef,
		.rule = r->rule,
	};
}

const char *cli_db_path(sqlite3 *db)
{
	const char *path = sqlite3_db_filename(db, "main");

	return path && *path ? cli_trace_copy_name(path) : "the trace";
}
