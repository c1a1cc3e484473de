/* SPDX-License-Identifier: MIT */
/* idsrctl decode: translates packed keys, encodings and register names into each other. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "encoding.h"
#include "regnames.h"

static const char decode_usage[] =
	"Usage: idsrctl decode KEY|ENCODING|NAME... [--impl IMPL] [--json|--json-lines]\n\n"
	"Shows, for each argument, the packed key (hex and decimal), the generic\n"
	"encoding, its fields, whether HCR_EL2.TIDCP traps it (the IDSR space) and\n"
	"its names in every implementation the register table knows, each with the\n"
	"file and line it was read from and the source of its facts. Names come\n"
	"from the built-in tables, the registers.d directories and idsrctl --names\n"
	"FILE (see idsrctl(1)).\n\n"
	"  KEY        a packed key: 0xc780 or 51072\n"
	"  ENCODING   s3_0_c15_c0_0, p15:0:c9:c0:0, or p15:1:c15 (MCRR/MRRC)\n"
	"  NAME       HID0_EL1 or hid0 (case-insensitive, _ELn optional)\n"
	"  --impl I   look names up in implementation I (apple, arm-cortex-a53,\n"
	"             arm-neoverse-n1, ...: an unknown one lists them) and show its\n"
	"             name first\n"
	"  --json     one JSON document: the argument's object; for several, their array\n"
	"  --json-lines  one JSON object per argument and line\n";

/* The implementations in the table, for error messages. */
static void list_impls(char *buf, size_t len)
{
	const char *impls[64];
	size_t n = regnames_impls(impls, 64), used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && i < 64 && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", impls[i]);
}

static bool looks_like_encoding(const char *arg)
{
	char c = (char)tolower((unsigned char)arg[0]);

	return isdigit((unsigned char)arg[0]) || ((c == 's' || c == 'p') && isdigit((unsigned char)arg[1]));
}

static int ambiguous(const char *arg, const char *impl)
{
	char list[512];

	return cli_error("decode: `%s': names several encodings: %s; give --impl or an encoding",
			 arg, regnames_candidates(arg, impl, list, sizeof(list)));
}

/* An argument's key: a number or encoding first, then a register name. */
static int resolve(const char *arg, const char *impl, uint32_t *key)
{
	const char *why;
	int ret;

	if (!enc_parse(arg, key, &why))
		return 0;
	ret = regnames_lookup(arg, impl, key);
	if (!ret)
		return 0;
	if (ret == -ENOTUNIQ)
		return ambiguous(arg, impl);
	if (looks_like_encoding(arg))
		return cli_error("decode: `%s': not a register name or encoding (%s)", arg, why);
	if (impl)
		return cli_error("decode: `%s': not a register name or encoding (no register of that name "
				 "in %s or arm-architectural; encodings look like s3_0_c15_c0_0 or p15:0:c9:c0:0)",
				 arg, impl);
	return cli_error("decode: `%s': not a register name or encoding (no register of that name in "
			 "any implementation; encodings look like s3_0_c15_c0_0 or p15:0:c9:c0:0)", arg);
}

static void print_json(const char *arg, uint32_t key, const struct enc_fields *f, const char *impl)
{
	size_t n;
	const struct regname *r = regnames_by_key(key, &n), *end = r + n;
	char enc[ENC_TEXT_MAX], hex[16];
	char *names = NULL;
	size_t names_len = 0;
	FILE *mem = open_memstream(&names, &names_len);
	struct json j;

	if (mem) {
		fputc('[', mem);
		for (const struct regname *o = r; o < end; o++) {
			struct json row;

			if (o > r)
				fputs(", ", mem);
			json_begin(&row, mem);
			json_str(&row, "name", o->name);
			json_str(&row, "implementation", o->impl);
			json_str(&row, "description", o->description);
			json_str(&row, "source", o->source);
			json_str(&row, "file", o->file);
			json_uint(&row, "line", o->line);
			json_bool(&row, "built_in", o->origin == 0);
			if (o->replaces_file) {
				char at[4200];

				snprintf(at, sizeof(at), "%s:%u", o->replaces_file, o->replaces_line);
				json_str(&row, "replaces", at);
			}
			fputc('}', mem);
		}
		fputc(']', mem);
		fclose(mem);
	}
	enc_format(key, enc, sizeof(enc));
	snprintf(hex, sizeof(hex), "0x%x", key);
	json_begin(&j, stdout);
	json_str(&j, "input", arg);
	json_uint(&j, "key", key);
	json_str(&j, "hex", hex);
	json_str(&j, "encoding", enc);
	json_str(&j, "name", regnames_name(key, impl));
	json_raw(&j, "names", names ? names : "[]");
	json_bool(&j, "aarch32", f->aarch32);
	json_bool(&j, "wide", f->wide);
	if (f->aarch32) {
		json_uint(&j, "coproc", f->coproc);
		json_uint(&j, "opc1", f->op1);
		json_uint(&j, "crn", f->crn);
		json_uint(&j, "crm", f->crm);
		json_uint(&j, "opc2", f->op2);
	} else {
		json_uint(&j, "op0", f->op0);
		json_uint(&j, "op1", f->op1);
		json_uint(&j, "crn", f->crn);
		json_uint(&j, "crm", f->crm);
		json_uint(&j, "op2", f->op2);
	}
	json_bool(&j, "idsr", enc_is_idsr(key));
	json_end(&j);
	free(names);
}

/* Where a name came from: the file and line it was read from, what it replaced, its source. */
static void print_origin(const struct regname *o)
{
	printf("             from %s:%u%s", o->file, o->line, o->origin ? "" : " (built in)");
	if (o->replaces_file)
		printf(", replacing %s:%u", o->replaces_file, o->replaces_line);
	if (*o->source)
		printf("; source: %s", o->source);
	putchar('\n');
}

static void print_text(uint32_t key, const struct enc_fields *f, const char *impl)
{
	size_t n;
	const struct regname *r = regnames_by_key(key, &n), *end = r + n;
	const char *best = regnames_name(key, impl);
	char enc[ENC_TEXT_MAX];

	enc_format(key, enc, sizeof(enc));
	printf("%s%s%s\n", enc, best ? "  " : "", best ? best : "");
	printf("  key      0x%x (%u)\n", key, key);
	if (!f->aarch32)
		printf("  fields   AArch64 op0=%u op1=%u CRn=%u CRm=%u op2=%u\n",
		       f->op0, f->op1, f->crn, f->crm, f->op2);
	else if (f->wide)
		printf("  fields   AArch32 MCRR/MRRC (64-bit) coproc=%u opc1=%u CRm=%u\n",
		       f->coproc, f->op1, f->crm);
	else
		printf("  fields   AArch32 MCR/MRC coproc=%u opc1=%u CRn=%u CRm=%u opc2=%u\n",
		       f->coproc, f->op1, f->crn, f->crm, f->op2);
	printf("  idsr     %s\n", enc_is_idsr(key) ? "yes (IMPLEMENTATION DEFINED, trapped by HCR_EL2.TIDCP)"
						: "no (outside the IMPLEMENTATION DEFINED space)");
	if (r == end)
		printf("  names    none known\n");
	for (const struct regname *o = r; o < end; o++) {
		printf("  %s %-16s %-20s %s\n", o == r ? "names   " : "        ", o->name, o->impl, o->description);
		print_origin(o);
	}
}

int decode_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "impl", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "json-lines", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *impl = NULL;
	bool json = false, lines = false;
	int ret = CLI_OK, printed = 0, c;

	if (cli_wants_help(argc, argv, decode_usage))
		return CLI_OK;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			impl = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'J':
			json = lines = true;
			break;
		case ':':
			return cli_error("decode: `%s' needs a value (try idsrctl decode --help)", argv[optind - 1]);
		default:
			return cli_error("decode: `%s': unknown option (try idsrctl decode --help)", argv[optind - 1]);
		}
	}
	if (impl && !regnames_impl_known(impl)) {
		char known[1024];

		list_impls(known, sizeof(known));
		return cli_error("decode: --impl `%s': no such implementation in the register table (known: %s)",
				 impl, known);
	}
	if (optind == argc)
		return cli_error("decode: expected a key, encoding or register name (try idsrctl decode --help)");
	/* Several: one document, their array; one: its object. */
	if (json && !lines && argc - optind > 1)
		json_list_begin(stdout);
	for (int i = optind; i < argc; i++) {
		struct enc_fields f;
		uint32_t key;

		if (resolve(argv[i], impl, &key)) {
			ret = CLI_ERROR;
			continue;
		}
		enc_unpack(key, &f);
		if (json) {
			print_json(argv[i], key, &f, impl);
		} else {
			if (printed++)
				putchar('\n');
			print_text(key, &f, impl);
		}
	}
	json_list_end();
	return ret;
}
