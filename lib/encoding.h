/* SPDX-License-Identifier: MIT */
/* Packed IDSR encodings ("keys", docs/design.md section 2): pack, unpack, parse and format. */
#ifndef IDSR_ENCODING_H
#define IDSR_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * AArch64: the KVM sysreg index layout op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2.
 * AArch32: 1<<31 | wide<<30 | coproc<<16 | opc1<<11 | CRn<<7 | CRm<<3 | opc2,
 *          wide = MCRR/MRRC (then CRn = opc2 = 0 and the value is Rt2:Rt).
 */
#define ENC_AARCH32	(1u << 31)
#define ENC_WIDE	(1u << 30)
#define ENC_TEXT_MAX	32	/* longest formatted key, with NUL */

struct enc_fields {
	bool aarch32;
	bool wide;		/* AArch32 MCRR/MRRC */
	unsigned op0;		/* AArch64 only */
	unsigned coproc;	/* AArch32 only (15 for cp15) */
	unsigned op1;		/* op1 / opc1 */
	unsigned crn;
	unsigned crm;
	unsigned op2;		/* op2 / opc2 */
};

uint32_t enc_pack(const struct enc_fields *f);
/* Fills *f; returns false if key has bits set that no encoding uses. */
bool enc_unpack(uint32_t key, struct enc_fields *f);
static inline uint32_t enc_a64(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2)
{
	return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2;
}
static inline uint32_t enc_a32(unsigned coproc, unsigned opc1, unsigned crn, unsigned crm, unsigned opc2)
{
	return ENC_AARCH32 | coproc << 16 | opc1 << 11 | crn << 7 | crm << 3 | opc2;
}
static inline uint32_t enc_a32_wide(unsigned coproc, unsigned opc1, unsigned crm)
{
	return ENC_AARCH32 | ENC_WIDE | coproc << 16 | opc1 << 11 | crm << 3;
}

/*
 * Parses "s3_0_c15_c0_0", "p15:0:c9:c0:0" or "p15:1:c15" (case-insensitive,
 * surrounding blanks not allowed) or a number ("0xc780", "51072").
 * Returns 0, or -EINVAL with a reason in *why (static string) if why != NULL.
 */
int enc_parse(const char *text, uint32_t *key, const char **why);
/* Writes the generic text form; returns its length. buf needs ENC_TEXT_MAX. */
size_t enc_format(uint32_t key, char *buf, size_t len);
/* True if key lies in the IMPLEMENTATION DEFINED space HCR_EL2.TIDCP traps
 * (AArch64 op0=3 CRn=11/15; AArch32 cp15 as docs/design.md section 2.3 lists: c9-c11 with some CRm, c15, and
 * MCRR/MRRC with CRm=c15). */
bool enc_is_idsr(uint32_t key);
/* Calls fn for every key in the IDSR space (4432 keys), in ascending order. */
void enc_for_each_idsr(void (*fn)(uint32_t key, void *arg), void *arg);

#endif
