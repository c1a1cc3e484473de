/* SPDX-License-Identifier: MIT */
/* idsrctl import --format m1n1: the system-register trap lines of m1n1's hypervisor log. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "import.h"
#include "policy.h"
#include "regnames.h"

/*
 * The lines, as m1n1's proxyclient/m1n1/hv/__init__.py (handle_msr, log)
 * prints them: an optional "# " (the copy it writes to a log file), an
 * optional "[0x<CNTPCT_EL0 in hex>]" (with show_timestamps), "[cpu<N>] ",
 * then one of
 *   Pass: mrs x<Rt>, <REG> = <hex> (<REG2>)
 *   Pass: msr <REG>, x<Rt> = <hex> (OK) (<REG2>)
 *   Shadow: mrs x<Rt>, <REG> = <hex>        Shadow: msr <REG>, x<Rt> = <hex>
 *   Skip: mrs x<Rt>, <REG> = 0              Skip: msr <REG>, x<Rt> = <hex>
 * Values are hex without 0x. REG is the register the guest accessed, by the
 * name in m1n1's tables or as s3_0_c15_c0_0; REG2 where m1n1 redirected it.
 * System instructions it traps print as "DC CIVAC" (two words).
 */

struct m1n1_line {
	const char *start, *p;		/* the line, and where parsing is */
	size_t number;
};

static size_t m1n1_column(const struct m1n1_line *l)
{
	return (size_t)(l->p - l->start) + 1;
}

static bool m1n1_skip(struct m1n1_line *l, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(l->p, lit, n))
		return false;
	l->p += n;
	return true;
}

/* Hex digits (1 to 16) into *v. */
static bool m1n1_hex(struct m1n1_line *l, uint64_t *v)
{
	const char *p = l->p;

	*v = 0;
	while (isxdigit((unsigned char)*p) && p - l->p < 17) {
		*v = *v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (*p | 0x20) - 'a' + 10);
		p++;
	}
	if (p == l->p || p - l->p > 16)
		return false;
	l->p = p;
	return true;
}

static bool m1n1_decimal(struct m1n1_line *l, unsigned max, unsigned *v)
{
	unsigned long n;
	char *end;

	if (!isdigit((unsigned char)*l->p))
		return false;
	errno = 0;
	n = strtoul(l->p, &end, 10);
	if (errno || n > max)
		return false;
	*v = (unsigned)n;
	l->p = end;
	return true;
}

/* The register name or encoding up to stop; its text into buf. */
static bool m1n1_register(struct m1n1_line *l, const char *stop, char *buf, size_t len)
{
	const char *end = strstr(l->p, stop);

	if (!end || end == l->p || (size_t)(end - l->p) >= len)
		return false;
	memcpy(buf, l->p, (size_t)(end - l->p));
	buf[end - l->p] = '\0';
	l->p = end;
	return true;
}

/* Whether the line is one of the trap lines at all: the others are counted, not parsed. */
static bool m1n1_is_trap_line(const char *line)
{
	return strstr(line, "Pass: m") || strstr(line, "Shadow: m") || strstr(line, "Skip: m");
}

#define BAD(...) (import_bad_line(s, o, l.number, m1n1_column(&l), __VA_ARGS__) ? 0 : -1)

/* Reads one trap line into *r. 1 a row, 0 a line not kept (counted), -1 error (printed). */
static int m1n1_parse(const char *text, size_t number, const struct import_opts *o, struct import_set *s,
		      struct import_row *r, bool *has_ts, uint64_t *ticks)
{
	struct m1n1_line l = { .start = text, .p = text, .number = number };
	char reg[REGNAME_TEXT_MAX], why[256];
	const char *name, *space;
	unsigned rt;

	m1n1_skip(&l, "# ");
	*has_ts = false;
	if (m1n1_skip(&l, "[0x")) {
		if (!m1n1_hex(&l, ticks) || !m1n1_skip(&l, "]"))
			return BAD("expected the timestamp's hex digits and `]'");
		*has_ts = true;
	}
	r->vcpu = 0;
	if (m1n1_skip(&l, "[cpu") && (!m1n1_decimal(&l, 4095, &r->vcpu) || !m1n1_skip(&l, "] ")))
		return BAD("expected a vCPU number (0 to 4095) and `] '");
	if (!m1n1_skip(&l, "Pass: ") && !m1n1_skip(&l, "Shadow: ") && !m1n1_skip(&l, "Skip: "))
		return BAD("expected `Pass: ', `Shadow: ' or `Skip: ' after the timestamp and vCPU, got `%.20s'", l.p);
	if (m1n1_skip(&l, "mrs x")) {
		r->is_write = false;
		if (!m1n1_decimal(&l, 31, &rt) || !m1n1_skip(&l, ", "))
			return BAD("expected a register x0 to x31 and `, '");
		if (!m1n1_register(&l, " = ", reg, sizeof(reg)))
			return BAD("expected a system register name and ` = '");
	} else if (m1n1_skip(&l, "msr ")) {
		r->is_write = true;
		if (!m1n1_register(&l, ", x", reg, sizeof(reg)))
			return BAD("expected a system register name and `, x'");
		l.p += 3;
		if (!m1n1_decimal(&l, 31, &rt))
			return BAD("expected a register x0 to x31");
	} else {
		return BAD("expected `mrs' or `msr', got `%.20s'", l.p);
	}
	if (!m1n1_skip(&l, " = ") || !m1n1_hex(&l, &r->value))
		return BAD("expected ` = ' and the value in hex (1 to 16 digits, no 0x)");
	/* Pass lines name where m1n1 sent the access: " (OK) (REG2)" or " (REG2)". */
	if (r->is_write)
		m1n1_skip(&l, " (OK)");
	if (m1n1_skip(&l, " (")) {
		const char *close = strchr(l.p, ')');

		if (!close)
			return BAD("expected `)' after the register m1n1 redirected the access to");
		l.p = close + 1;
	}
	l.p += strspn(l.p, " \t\r");
	if (*l.p)
		return BAD("unexpected `%.20s' after the access", l.p);
	/* A system instruction ("DC CIVAC") is never in the IDSR space; the
	 * table names it by its last word. */
	space = strrchr(reg, ' ');
	name = space ? space + 1 : reg;
	l.p = strstr(text, reg);
	if (!import_register(name, o->impl, &r->key, why, sizeof(why)))
		return BAD("%s", why);
	if (!o->all && (space || !enc_is_idsr(r->key))) {
		s->outside_idsr++;
		return 0;
	}
	r->el = 1;			/* m1n1 runs its guest at EL1 */
	r->rule = POLICY_RULE_IMPORTED;
	return 1;
}

int import_read_m1n1(FILE *f, const struct import_opts *o, struct import_set *s)
{
	char *line = NULL;
	size_t cap = 0, number = 0;
	uint64_t ticks, first_ticks = 0;
	bool first = true, has_ts;
	int64_t last_ts = 0;
	ssize_t len;
	int ret = 0;

	s->recorder = "m1n1";
	s->has_pcs = false;
	s->has_seq = false;
	s->ts_relative = true;
	while (ret == 0 && (len = getline(&line, &cap, f)) >= 0) {
		struct import_row r = { 0 };
		int rc;

		number++;
		s->lines++;
		if (len && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (!m1n1_is_trap_line(line)) {
			s->other_lines++;
			continue;
		}
		rc = m1n1_parse(line, number, o, s, &r, &has_ts, &ticks);
		if (rc <= 0) {
			ret = rc;
			continue;
		}
		/* Times from m1n1's counter, relative to the first line that has one. */
		if (has_ts) {
			if (first)
				first_ticks = ticks;
			first = false;
			s->has_ts = true;
			last_ts = (int64_t)((long double)(int64_t)(ticks - first_ticks) * 1e9L / o->timebase_hz);
		}
		r.ts_ns = last_ts;
		r.line = number;
		if (!import_push(s, &r)) {
			fprintf(stderr, "idsrctl: import: out of memory at line %zu of %s\n", number, o->file);
			ret = -1;
		}
	}
	free(line);
	return ret;
}
