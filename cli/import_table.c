/* SPDX-License-Identifier: MIT */
/* idsrctl import --format csv|jsonl: accesses as rows of named contract columns (docs/importing.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encoding.h"
#include "import.h"
#include "number.h"
#include "policy.h"

/* The columns read; any other is ignored (show --json-lines adds name, encoding, pc_hex ...). */
enum column { COL_VCPU, COL_SEQ, COL_TS, COL_KEY, COL_REG, COL_PC, COL_EL, COL_IS_WRITE, COL_DIR,
	      COL_VALUE, COL_ACTION, COL_RULE, COL_N, COL_OTHER = COL_N };

static const char *const column_names[COL_N] = {
	[COL_VCPU] = "vcpu", [COL_SEQ] = "seq", [COL_TS] = "ts_ns", [COL_KEY] = "key", [COL_REG] = "reg",
	[COL_PC] = "pc", [COL_EL] = "el", [COL_IS_WRITE] = "is_write", [COL_DIR] = "dir",
	[COL_VALUE] = "value", [COL_ACTION] = "action", [COL_RULE] = "rule",
};

static enum column column_of(const char *name)
{
	for (int c = 0; c < COL_N; c++)
		if (!strcmp(name, column_names[c]))
			return (enum column)c;
	return COL_OTHER;
}

/* One line's fields by column: the text (NULL if absent) and where it starts. */
struct fields {
	const char *text[COL_N];
	size_t column[COL_N];
};

/* A number: decimal or 0x hex, with a leading digit; negative only if min_neg
 * (then two's complement, as sqlite3 prints a u64 stored as int64). */
static bool table_number(const char *t, bool min_neg, uint64_t max, uint64_t *out)
{
	bool neg = min_neg && *t == '-';

	t += neg;
	/* not strtoull's base 0: a leading 0 is decimal here, not octal */
	if (num_parse_u64(t, strlen(t), out) < 0 || *out > max || (neg && *out > (uint64_t)INT64_MAX + 1))
		return false;
	if (neg)
		*out = -*out;
	return true;
}

#define BAD(c, ...) (import_bad_line(s, o, line, fl->column[c], __VA_ARGS__) ? 0 : -1)

/* Makes a row of one line's fields: 1, 0 (a bad line, --lenient) or -1. */
static int table_row(const struct fields *fl, size_t line, const struct import_opts *o, struct import_set *s)
{
	struct import_row r = { .el = 1, .rule = POLICY_RULE_IMPORTED, .line = line };
	enum column reg = fl->text[COL_KEY] ? COL_KEY : COL_REG, dir = fl->text[COL_IS_WRITE] ? COL_IS_WRITE : COL_DIR;
	const char *t;
	char why[256];
	uint64_t v;

	for (enum column c = COL_VCPU; c < COL_N; c++)
		if ((c == COL_VCPU || c == reg || c == dir || c == COL_VALUE) && !fl->text[c])
			return import_bad_line(s, o, line, 1, "no %s%s", column_names[c],
					       c == reg ? " (or reg)" : c == dir ? " (or dir)" : "") ? 0 : -1;
	if (!table_number(fl->text[COL_VCPU], false, 4095, &v))
		return BAD(COL_VCPU, "vcpu `%.20s' is not a number from 0 to 4095", fl->text[COL_VCPU]);
	r.vcpu = (uint32_t)v;
	if ((t = fl->text[COL_SEQ]) && !table_number(t, false, INT64_MAX, &r.seq))
		return BAD(COL_SEQ, "seq `%.24s' is not a number from 0", t);
	if ((t = fl->text[COL_TS]) && !table_number(t, true, INT64_MAX, &v))
		return BAD(COL_TS, "ts_ns `%.24s' is not a number of ns", t);
	r.ts_ns = (int64_t)v;
	if (!import_register(fl->text[reg], o->impl, &r.key, why, sizeof(why)))
		return BAD(reg, "%s", why);
	if ((t = fl->text[COL_PC]) && !table_number(t, true, UINT64_MAX, &r.pc))
		return BAD(COL_PC, "pc `%.24s' is not a 64-bit number", t);
	if ((t = fl->text[COL_EL])) {
		if (!table_number(t, false, 3, &v))
			return BAD(COL_EL, "el `%.20s' is not 0, 1, 2 or 3", t);
		r.el = (uint8_t)v;
	}
	t = fl->text[dir];
	if (!strcmp(t, "1") || !strcasecmp(t, "true") || !strcasecmp(t, "write"))
		r.is_write = true;
	else if (strcmp(t, "0") && strcasecmp(t, "false") && strcasecmp(t, "read"))
		return BAD(dir, "%s `%.20s' is not %s", column_names[dir], t,
			   dir == COL_DIR ? "read or write" : "0 or 1 (or false or true)");
	if (!table_number(fl->text[COL_VALUE], true, UINT64_MAX, &r.value))
		return BAD(COL_VALUE, "value `%.24s' is not a 64-bit number", fl->text[COL_VALUE]);
	if ((t = fl->text[COL_ACTION])) {
		r.undef = !strcasecmp(t, "undef");
		if (!r.undef && strcasecmp(t, "emulate"))
			return BAD(COL_ACTION, "action `%.20s' is not emulate or undef", t);
	}
	if ((t = fl->text[COL_RULE])) {
		bool neg = *t == '-';

		if (!table_number(t + neg, false, INT32_MAX, &v))
			return BAD(COL_RULE, "rule `%.20s' is not a number", t);
		r.rule = neg ? -(int32_t)v : (int32_t)v;
	}
	if (!import_push(s, &r)) {
		fprintf(stderr, "idsrctl: import: out of memory at line %zu of %s\n", line, o->file);
		return -1;
	}
	return 1;
}

/* What the first data line said about the optional columns holds for the file. */
static void table_columns_seen(struct import_set *s, const struct fields *fl)
{
	s->has_pcs = fl->text[COL_PC] != NULL;
	s->has_seq = fl->text[COL_SEQ] != NULL;
	s->has_ts = fl->text[COL_TS] != NULL;
}

/* ---- CSV (RFC 4180: commas, "quoted" fields with "" inside, a header line) ---- */

/* Splits line in place into up to max fields; *n fields, starts[] their columns. -1: unterminated quote at *bad. */
static int csv_split(char *line, char **out, size_t *starts, size_t max, size_t *n, size_t *bad)
{
	char *p = line, *w;

	*n = 0;
	for (;;) {
		size_t col = (size_t)(p - line) + 1;

		w = p;
		if (*n < max) {
			out[*n] = w;
			starts[*n] = col;
		}
		if (*p == '"') {
			for (p++;; p++) {
				if (!*p) {
					*bad = col;
					return -1;
				}
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
					break;
				*w++ = *p;
			}
			p++;
		}
		while (*p && *p != ',')
			*w++ = *p++;
		(*n)++;
		if (!*p) {
			*w = '\0';
			return 0;
		}
		*w = '\0';
		p++;
	}
}

int import_read_csv(FILE *f, const struct import_opts *o, struct import_set *s)
{
	enum column map[64];
	char *line = NULL, *field[64];
	size_t cap = 0, line_no = 0, starts[64], n, nhead = 0, bad;
	ssize_t len;
	int ret = 0;

	while (ret >= 0 && (len = getline(&line, &cap, f)) >= 0) {
		struct fields fl = { 0 };

		line_no++;
		s->lines++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len) {
			s->other_lines++;
			continue;
		}
		if (csv_split(line, field, starts, 64, &n, &bad) < 0) {
			ret = import_bad_line(s, o, line_no, bad, "a quoted field is not closed") ? 0 : -1;
			if (!nhead)
				break;
			continue;
		}
		if (!nhead) {
			if (n > 64) {
				fprintf(stderr, "idsrctl: import: %s:1: more than 64 columns\n", o->file);
				ret = -1;
				break;
			}
			for (size_t i = 0; i < n; i++)
				map[i] = column_of(field[i]);
			nhead = n;
			continue;
		}
		if (n != nhead) {
			ret = import_bad_line(s, o, line_no, 1, "%zu fields where the header names %zu", n, nhead)
				? 0 : -1;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (map[i] != COL_OTHER && *field[i]) {
				fl.text[map[i]] = field[i];
				fl.column[map[i]] = starts[i];
			}
		if (!s->n && !s->bad_lines)
			table_columns_seen(s, &fl);
		ret = table_row(&fl, line_no, o, s);
	}
	free(line);
	return ret < 0 ? -1 : 0;
}

/* ---- JSON lines: one flat object a line ---------------------------------------- */

static const char *json_ws(const char *p)
{
	return p + strspn(p, " \t\r");
}

/* A string literal at p (after its opening quote) decoded in place into out; the end after the closing quote, or NULL. */
static char *json_string(char *p, char **out)
{
	char *w = p;

	*out = w;
	for (; *p != '"'; p++) {
		if (!*p || (unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			switch (*p) {
			case '"': case '\\': case '/': *w++ = *p; continue;
			case 'n': *w++ = '\n'; continue;
			case 't': *w++ = '\t'; continue;
			case 'r': *w++ = '\r'; continue;
			case 'b': *w++ = '\b'; continue;
			case 'f': *w++ = '\f'; continue;
			case 'u':
				/* Not in the columns read: kept as a '?' placeholder. */
				if (strspn(p + 1, "0123456789abcdefABCDEF") < 4)
					return NULL;
				p += 4;
				*w++ = '?';
				continue;
			default:
				return NULL;
			}
		}
		*w++ = *p;
	}
	*w = '\0';
	return p + 1;
}

static int jsonl_bad(struct import_set *s, const struct import_opts *o, size_t line_no, const char *line,
		     const char *at, const char *msg)
{
	return import_bad_line(s, o, line_no, (size_t)(at - line) + 1, "%s", msg) ? 0 : -1;
}

/* Parses {"name": value, ...} in place into fl; 1, 0 (bad line, --lenient) or -1. */
static int jsonl_object(char *line, size_t line_no, const struct import_opts *o, struct import_set *s,
			struct fields *fl)
{
	char *p = (char *)json_ws(line), *name, *value, *end, sep;
	enum column c;
	bool quoted;
	size_t col;

	if (*p == '[')
		return jsonl_bad(s, o, line_no, line, p, "a JSON array: give one object a line"
				 " (idsrctl show --json-lines, not --json)");
	if (*p != '{')
		return jsonl_bad(s, o, line_no, line, p, "expected `{': one JSON object a line");
	p = (char *)json_ws(p + 1);
	sep = *p == '}' ? *p++ : ',';
	while (sep == ',') {
		if (*p != '"' || !(end = json_string(p + 1, &name)))
			return jsonl_bad(s, o, line_no, line, p, "expected a member name in double quotes");
		p = (char *)json_ws(end);
		if (*p != ':')
			return jsonl_bad(s, o, line_no, line, p, "expected `:' after the member name");
		p = (char *)json_ws(p + 1);
		c = column_of(name);
		col = (size_t)(p - line) + 1;
		quoted = *p == '"';
		if (quoted && !(end = json_string(p + 1, &value)))
			return jsonl_bad(s, o, line_no, line, p, "a string is not closed, or has a bad escape");
		if (!quoted) {
			value = p;
			end = p + strcspn(p, ",} \t\r");
			if (end == p || *p == '{' || *p == '[')
				return jsonl_bad(s, o, line_no, line, p,
						 "expected a string, number, true, false or null");
		}
		p = (char *)json_ws(end);
		sep = *p;
		if (sep != ',' && sep != '}')
			return jsonl_bad(s, o, line_no, line, p, "expected `,' or `}' after a member");
		*end = '\0';		/* ends an unquoted value; sep keeps what was there */
		if (c != COL_OTHER && (quoted || strcmp(value, "null"))) {
			fl->text[c] = value;
			fl->column[c] = col;
		}
		p = (char *)json_ws(p + 1);
	}
	if (*p)
		return jsonl_bad(s, o, line_no, line, p, "unexpected text after the object");
	return 1;
}

int import_read_jsonl(FILE *f, const struct import_opts *o, struct import_set *s)
{
	char *line = NULL;
	size_t cap = 0, line_no = 0;
	ssize_t len;
	int ret = 0;

	while (ret >= 0 && (len = getline(&line, &cap, f)) >= 0) {
		struct fields fl = { 0 };

		line_no++;
		s->lines++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!*json_ws(line)) {
			s->other_lines++;
			continue;
		}
		ret = jsonl_object(line, line_no, o, s, &fl);
		if (ret <= 0)
			continue;
		if (!s->n && !s->bad_lines)
			table_columns_seen(s, &fl);
		ret = table_row(&fl, line_no, o, s);
	}
	free(line);
	return ret < 0 ? -1 : 0;
}
