/* SPDX-License-Identifier: MIT */
/* What idsrctl import's format readers share: collecting rows, reporting bad lines, naming registers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "encoding.h"
#include "import.h"
#include "regnames.h"

bool import_push(struct import_set *s, const struct import_row *r)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct import_row *rows = realloc(s->rows, cap * sizeof(*rows));

		if (!rows)
			return false;
		s->rows = rows;
		s->cap = cap;
	}
	s->rows[s->n++] = *r;
	return true;
}

bool import_bad_line(struct import_set *s, const struct import_opts *o, size_t line, size_t column,
		     const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!o->lenient) {
		cli_error("import: %s:%zu:%zu: %s", o->file, line, column, msg);
		return false;
	}
	if (!s->bad_lines++)
		snprintf(s->first_bad, sizeof(s->first_bad), "%s:%zu:%zu: %s", o->file, line, column, msg);
	return true;
}

bool import_register(const char *text, const char *impl, uint32_t *key, char *why, size_t whylen)
{
	const char *near[4], *enc_why;
	size_t n;
	int rc;

	if (!enc_parse(text, key, &enc_why))
		return true;
	rc = regnames_lookup(text, impl, key);
	if (rc == 0)
		return true;
	if (rc == -ENOTUNIQ) {
		snprintf(why, whylen, "register `%.64s' names several encodings: give --impl", text);
		return false;
	}
	n = regnames_near(text, impl, near, 4);
	snprintf(why, whylen, "unknown register `%.64s'%s%s", text, impl ? " in " : "", impl ? impl : "");
	for (size_t i = 0; i < n; i++)
		snprintf(why + strlen(why), whylen - strlen(why), "%s%s", i ? ", " : " (near: ", near[i]);
	snprintf(why + strlen(why), whylen - strlen(why), "%s", n ? ")" : " (give its encoding, e.g. s3_0_c15_c0_0)");
	return false;
}
