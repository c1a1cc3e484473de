/* SPDX-License-Identifier: MIT */
/* Register names per implementation, from data/registers.tsv (embedded). */
#ifndef IDSR_REGNAMES_H
#define IDSR_REGNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGNAME_TEXT_MAX 64

struct regtable_midr;

struct regname {
	uint32_t key;
	const char *name;		/* "HID0_EL1" */
	const char *impl;		/* "apple", "arm-architectural", "arm-cortex-a76" */
	const char *description;
	const char *source;		/* the row's source column: where its facts come from ("" if none) */
	const char *file;		/* where the row was read: "data/registers.tsv" (built in) or a path */
	unsigned line;
	unsigned origin;		/* 0: built in; 1, 2, ...: the user files in the order they were read */
	const char *replaces_file;	/* the earlier row it overrides for (key, impl), or NULL */
	unsigned replaces_line;
};

/* Loads the names: the built-in data/registers.tsv and data/midr.tsv, then
 * every *.tsv in the registers.d directories dirs asks for (system, then
 * user), then files in order. A later source's
 * rows for an (encoding, implementation) replace the earlier ones; its MIDR
 * rows are tried first. 0, or -EINVAL with why ("FILE:LINE: what is wrong")
 * and the table unchanged. Call it at start-up, before other threads look
 * names up; without it, lookups use the built-in tables. */
#define REGNAMES_SYSTEM_DIR	1u	/* SYSCONFDIR/idsrd/registers.d */
#define REGNAMES_USER_DIR	2u	/* $XDG_CONFIG_HOME/idsrd/registers.d */
int regnames_init(const char *const *files, size_t nfiles, unsigned dirs, char *why, size_t whylen);

/* The table, parsed once (thread-safe); sorted by key. */
const struct regname *regnames_table(size_t *count);

/* The name of key on impl, falling back to the architectural name; NULL if none.
 * impl may be NULL or "": then the architectural name, else the name all
 * implementations agree on (NULL if they differ). */
const char *regnames_name(uint32_t key, const char *impl);

/* Looks a name up (case-insensitive, with or without its _ELn suffix) in impl
 * (then in arm-architectural, as regnames_name falls back), or across all
 * implementations when impl is NULL/"" (must be unambiguous). An exact name
 * wins over a suffix-less match ("ACTLR_EL1" is never ambiguous).
 * Returns 0, -ENOENT (unknown) or -ENOTUNIQ (names several encodings). */
int regnames_lookup(const char *name, const char *impl, uint32_t *key);
/* The rows regnames_lookup considers for name (to list the candidates of an
 * ambiguous name): stores up to max in out, returns how many there are. */
size_t regnames_matches(const char *name, const char *impl, const struct regname **out, size_t max);

/* Up to max known names closest to name (case-insensitive edit distance up to
 * a third of its length, nearest first), from impl and arm-architectural (all
 * implementations when impl is NULL/""): for "did you mean" in errors. */
size_t regnames_near(const char *name, const char *impl, const char **out, size_t max);

/* For an ambiguous name's message: each encoding it names with the first
 * implementation naming it there and how many more ("s3_0_c15_c1_0 on
 * arm-cortex-a55 and 6 more, s3_1_c15_c2_0 on arm-cortex-a53 and 2 more").
 * Returns buf. */
const char *regnames_candidates(const char *name, const char *impl, char *buf, size_t len);

/* The rows for key (every implementation's name): n of them from the one returned. */
const struct regname *regnames_by_key(uint32_t key, size_t *n);

/* The implementations named by name or MIDR rows, sorted: up to max in out; returns how many. */
size_t regnames_impls(const char **out, size_t max);

/* Name if known, else the generic encoding; returns buf. len >= REGNAME_TEXT_MAX. */
const char *regnames_format(uint32_t key, const char *impl, char *buf, size_t len);

/* The implementation the first matching MIDR row names ("apple" for Apple's
 * implementer code, "arm-cortex-a53", ...), NULL if none matches. */
const char *regnames_impl_from_midr(uint64_t midr);
/* That row (lib/regtable.h), to say where it came from; NULL if none. */
const struct regtable_midr *regnames_midr(uint64_t midr);

/* True if impl names an implementation present in the table. */
int regnames_impl_known(const char *impl);

#endif
