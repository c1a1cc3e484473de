/* SPDX-License-Identifier: MIT */
/* Packed IDSR encodings: the one place keys are packed, unpacked, parsed and printed. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "number.h"

/* Field positions shared by both layouts (docs/design.md, section 2.1). */
#define SH_OP0		14
#define SH_OPC1		11
#define SH_CRN		7
#define SH_CRM		3
#define SH_COPROC	16
/* AArch32 bits no encoding uses: 29..20 always; opc1 is 3 bits (13..11)
 * for MCR/MRC and 4 bits (14..11) for MCRR/MRRC, which also have no CRn/opc2. */
#define A32_UNUSED	0x3ff00000u
#define A32_UNUSED_NARROW	(A32_UNUSED | 0xc000u)
#define A32_UNUSED_WIDE	(A32_UNUSED | 0x8000u | 0xf << SH_CRN | 0x7u)

uint32_t enc_pack(const struct enc_fields *f)
{
	if (!f->aarch32)
		return enc_a64(f->op0 & 3, f->op1 & 7, f->crn & 15, f->crm & 15, f->op2 & 7);
	if (f->wide)
		return enc_a32_wide(f->coproc & 15, f->op1 & 15, f->crm & 15);
	return enc_a32(f->coproc & 15, f->op1 & 7, f->crn & 15, f->crm & 15, f->op2 & 7);
}

bool enc_unpack(uint32_t key, struct enc_fields *f)
{
	memset(f, 0, sizeof(*f));
	if (!(key & ENC_AARCH32)) {
		if (key >> 16)
			return false;
		f->op0 = key >> SH_OP0 & 3;
		f->op1 = key >> SH_OPC1 & 7;
		f->crn = key >> SH_CRN & 15;
		f->crm = key >> SH_CRM & 15;
		f->op2 = key & 7;
		return true;
	}
	f->aarch32 = true;
	f->wide = key & ENC_WIDE;
	if (key & (f->wide ? A32_UNUSED_WIDE : A32_UNUSED_NARROW))
		return false;
	f->coproc = key >> SH_COPROC & 15;
	f->op1 = key >> SH_OPC1 & (f->wide ? 15 : 7);
	f->crn = key >> SH_CRN & 15;
	f->crm = key >> SH_CRM & 15;
	f->op2 = key & 7;
	return true;
}

/* A cursor over the text being parsed; the first error wins. */
struct cursor {
	const char *p;
	const char *why;
};

static bool expect(struct cursor *c, char ch, const char *why)
{
	if (c->why)
		return false;
	if (tolower((unsigned char)*c->p) == ch) {
		c->p++;
		return true;
	}
	c->why = why;
	return false;
}

/* A decimal field no larger than max; saturates so "c99999999999" is out of range, not wrapped. */
static unsigned field(struct cursor *c, unsigned max, const char *missing, const char *range)
{
	unsigned long v = 0;

	if (c->why)
		return 0;
	if (!isdigit((unsigned char)*c->p)) {
		c->why = missing;
		return 0;
	}
	for (; isdigit((unsigned char)*c->p); c->p++)
		if (v <= max)
			v = v * 10 + (unsigned)(*c->p - '0');
	if (v > max)
		c->why = range;
	return (unsigned)v;
}

static int parse_a64(struct cursor *c, struct enc_fields *f)
{
	expect(c, 's', "expected `s' to start an AArch64 encoding");
	f->op0 = field(c, 3, "expected op0 after `s' (as in s3_0_c15_c0_0)", "op0 out of range (0-3)");
	expect(c, '_', "expected `_' after op0");
	f->op1 = field(c, 7, "expected op1 after `s<op0>_'", "op1 out of range (0-7)");
	expect(c, '_', "expected `_' after op1");
	expect(c, 'c', "expected `c<CRn>' after op1 (as in s3_0_c15_c0_0)");
	f->crn = field(c, 15, "expected a number after `c' (CRn)", "CRn out of range (0-15)");
	expect(c, '_', "expected `_' after CRn");
	expect(c, 'c', "expected `c<CRm>' after CRn (as in s3_0_c15_c0_0)");
	f->crm = field(c, 15, "expected a number after `c' (CRm)", "CRm out of range (0-15)");
	expect(c, '_', "expected `_' after CRm");
	f->op2 = field(c, 7, "expected op2 after CRm", "op2 out of range (0-7)");
	if (!c->why && *c->p)
		c->why = "unexpected text after op2";
	return c->why ? -EINVAL : 0;
}

/* "p15:0:c9:c0:0" (MCR/MRC) or "p15:1:c15" (MCRR/MRRC, coproc:opc1:CRm). */
static int parse_a32(struct cursor *c, struct enc_fields *f)
{
	unsigned crx;

	f->aarch32 = true;
	expect(c, 'p', "expected `p' to start an AArch32 encoding");
	f->coproc = field(c, 15, "expected a coprocessor number after `p' (as in p15:0:c9:c0:0)",
			  "coproc out of range (0-15)");
	expect(c, ':', "expected `:' after the coprocessor number");
	/* opc1 is 4 bits for MCRR/MRRC: range-check once the form is known */
	f->op1 = field(c, 15, "expected opc1 after `p<coproc>:'", "opc1 out of range (0-7; 0-15 for MCRR/MRRC)");
	expect(c, ':', "expected `:' after opc1");
	expect(c, 'c', "expected `c<CRn>' or `c<CRm>' after opc1 (as in p15:0:c9:c0:0 or p15:1:c15)");
	crx = field(c, 15, "expected a number after `c'", "CRn/CRm out of range (0-15)");
	if (!c->why && !*c->p) {
		f->wide = true;
		f->crm = crx;
		return 0;
	}
	f->crn = crx;
	if (!c->why && f->op1 > 7)
		c->why = "opc1 out of range (0-7)";
	expect(c, ':', "expected `:' after CRn");
	expect(c, 'c', "expected `c<CRm>' after CRn (as in p15:0:c9:c0:0)");
	f->crm = field(c, 15, "expected a number after `c' (CRm)", "CRm out of range (0-15)");
	expect(c, ':', "expected `:' after CRm");
	f->op2 = field(c, 7, "expected opc2 after CRm", "opc2 out of range (0-7)");
	if (!c->why && *c->p)
		c->why = "unexpected text after opc2";
	return c->why ? -EINVAL : 0;
}

static int parse_number(const char *text, uint32_t *key, const char **why)
{
	struct enc_fields f;
	uint64_t v;
	int rc = num_parse_u64(text, strlen(text), &v);

	if (rc == -EINVAL) {
		*why = "not a number (expected 0x<hex digits> or decimal digits)";
		return -EINVAL;
	}
	if (rc == -ERANGE || v > UINT32_MAX) {
		*why = "number too large for a 32-bit key";
		return -EINVAL;
	}
	if (!enc_unpack((uint32_t)v, &f)) {
		*why = "number has bits set that no encoding uses";
		return -EINVAL;
	}
	*key = (uint32_t)v;
	return 0;
}

int enc_parse(const char *text, uint32_t *key, const char **why)
{
	struct cursor c = { .p = text, .why = NULL };
	struct enc_fields f = { 0 };
	const char *dummy;
	int ret;

	if (!why)
		why = &dummy;
	switch (tolower((unsigned char)text[0])) {
	case '\0':
		*why = "empty encoding";
		return -EINVAL;
	case 's':
		ret = parse_a64(&c, &f);
		break;
	case 'p':
		ret = parse_a32(&c, &f);
		break;
	default:
		if (isdigit((unsigned char)text[0]))
			return parse_number(text, key, why);
		*why = "not an encoding (expected s<op0>_<op1>_c<CRn>_c<CRm>_<op2>, "
		       "p<coproc>:<opc1>:c<CRn>:c<CRm>:<opc2>, p<coproc>:<opc1>:c<CRm> or a number)";
		return -EINVAL;
	}
	if (ret) {
		*why = c.why;
		return ret;
	}
	*key = enc_pack(&f);
	return 0;
}

size_t enc_format(uint32_t key, char *buf, size_t len)
{
	struct enc_fields f;
	int n;

	if (!enc_unpack(key, &f))
		n = snprintf(buf, len, "0x%08x", key);
	else if (!f.aarch32)
		n = snprintf(buf, len, "s%u_%u_c%u_c%u_%u", f.op0, f.op1, f.crn, f.crm, f.op2);
	else if (f.wide)
		n = snprintf(buf, len, "p%u:%u:c%u", f.coproc, f.op1, f.crm);
	else
		n = snprintf(buf, len, "p%u:%u:c%u:c%u:%u", f.coproc, f.op1, f.crn, f.crm, f.op2);
	return n < 0 ? 0 : (size_t)n;
}

/* ARM DDI 0487 (HCR_EL2.TIDCP; the AArch32 list is in docs/design.md, section 2.3). */
static bool a32_crm_is_impdef(unsigned crn, unsigned crm)
{
	switch (crn) {
	case 9:
		return crm <= 2 || (crm >= 5 && crm <= 8);
	case 10:
		return crm == 0 || crm == 1 || crm == 4 || crm == 8;
	case 11:
		return crm <= 8 || crm == 15;
	case 15:
		return true;
	default:
		return false;
	}
}

bool enc_is_idsr(uint32_t key)
{
	struct enc_fields f;

	if (!enc_unpack(key, &f))
		return false;
	if (!f.aarch32)
		return f.op0 == 3 && (f.crn == 11 || f.crn == 15);
	if (f.coproc != 15)
		return false;
	if (f.wide)
		return f.crm == 15;
	return a32_crm_is_impdef(f.crn, f.crm);
}

/* Walks every candidate with the fixed parts set, in ascending key order. */
void enc_for_each_idsr(void (*fn)(uint32_t key, void *arg), void *arg)
{
	const uint32_t a64_base = enc_a64(3, 0, 0, 0, 0);
	const uint32_t a32_base = enc_a32(15, 0, 0, 0, 0);

	for (uint32_t low = 0; low < 1u << SH_OP0; low++)
		if (enc_is_idsr(a64_base | low))
			fn(a64_base | low, arg);
	for (uint32_t low = 0; low < 1u << 14; low++)
		if (enc_is_idsr(a32_base | low))
			fn(a32_base | low, arg);
	for (unsigned opc1 = 0; opc1 < 16; opc1++)
		fn(enc_a32_wide(15, opc1, 15), arg);
}
