/* SPDX-License-Identifier: MIT */
/* Symbol maps (an ELF's symbol table, or an nm / System.map listing): which function an address is in. */
#ifndef IDSR_SYMBOLS_H
#define IDSR_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct symbols;

/*
 * Reads an ELF file's symbol table (.symtab, else .dynsym; through libelf)
 * or "ADDR TYPE NAME" lines (as `nm` and System.map print them), told apart
 * by the ELF magic. Only text symbols are kept (listing types t, T, w, W; ELF
 * functions and labels in executable sections): data and absolute symbols
 * (`--defsym`) never contain code. Lines without an address (undefined
 * symbols) are skipped. Returns 0, or a negative errno with "FILE:LINE: ..."
 * in why: -ENOENT and other open errors, -EINVAL (a malformed line or ELF
 * file, or no text symbol at all).
 */
int symbols_load(const char *path, struct symbols **out, char *why, size_t whylen);
void symbols_free(struct symbols *syms);
size_t symbols_count(const struct symbols *syms);

/* The function addr falls in (the nearest text symbol at or below it) and the
 * offset into it; NULL if addr lies below every symbol. */
const char *symbols_lookup(const struct symbols *syms, uint64_t addr, uint64_t *offset);

#endif
