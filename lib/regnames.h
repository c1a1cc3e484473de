/* SPDX-License-Identifier: MIT */
/* Register names per implementation, from data/registers.tsv (embedded). */
#ifndef IDSR_REGNAMES_H
#define IDSR_REGNAMES_H

#include <stddef.h>
#include <stdint.h>

#define REGNAME_TEXT_MAX 64

struct regname {
	uint32_t key;
	const char *name;		/* "HID0_EL1" */
	const char *impl;		/* "apple", "arm-architectural", "arm-cortex-a76" */
	const char *description;
};

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

/* The rows for key (every implementation's name): n of them from the one returned. */
const struct regname *regnames_by_key(uint32_t key, size_t *n);

/* The implementations in the table, in table order: up to max in out; returns how many. */
size_t regnames_impls(const char **out, size_t max);

/* Name if known, else the generic encoding; returns buf. len >= REGNAME_TEXT_MAX. */
const char *regnames_format(uint32_t key, const char *impl, char *buf, size_t len);

/* "apple" for Apple's implementer code, "arm-cortex-…" for known Cortex
 * parts, NULL if the MIDR names nothing in the table. */
const char *regnames_impl_from_midr(uint64_t midr);

/* True if impl names an implementation present in the table. */
int regnames_impl_known(const char *impl);

#endif
