/* SPDX-License-Identifier: MIT */
/* The register-name table as loaded from its sources (built-in data/, registers.d, --names files); regnames.c looks names up in it. */
#ifndef IDSR_REGTABLE_H
#define IDSR_REGTABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "regnames.h"

/* A MIDR row: implementer and part (-1: any) with a variant/revision range. */
struct regtable_midr {
	unsigned implementer;
	int part;
	unsigned rv_min, rv_max;	/* variant << 4 | revision, inclusive */
	const char *impl;
	const char *description;
	const char *source;
	const char *file;
	unsigned line;
	unsigned origin;		/* 0: built in; 1, 2, ...: the user files in reading order */
};

struct regtable {
	struct regname *rows;		/* sorted by key, then by source order, then by line */
	size_t count;
	const struct regname **by_name;	/* sorted by name, case-insensitive */
	const struct regname **by_base;	/* sorted by name without its _ELn suffix */
	size_t *base_len;		/* per row: length of the name without _ELn */
	size_t *name_len;		/* per row: length of the name */
	struct regtable_midr *midrs;	/* the last source's rows first, each source in line order */
	size_t nmidrs;
	const char **impls;		/* every implementation named, sorted (case aside) */
	size_t nimpls;
	char **texts;			/* the sources' text, which the strings point into */
	size_t ntexts;
};

/* The built-in tables, then every *.tsv in the registers.d directories dirs
 * names (REGNAMES_SYSTEM_DIR, then REGNAMES_USER_DIR), then files in order. NULL with why
 * ("FILE:LINE: what is wrong", "DIR: why") if a source cannot be read or has a
 * bad row; a later source's rows for an (encoding, implementation) replace an
 * earlier one's. */
struct regtable *regtable_load(const char *const *files, size_t nfiles, unsigned dirs, char *why, size_t whylen);
void regtable_free(struct regtable *t);

/* Length of name without a trailing "_EL<digits>" ("HID0_EL1" -> 4). */
size_t regtable_base_length(const char *name);

#endif
