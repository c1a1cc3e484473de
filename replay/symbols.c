/* SPDX-License-Identifier: MIT */
/* Symbol maps (nm / System.map listings, or an ELF's symbol table), sorted for address -> function+offset lookups. */
#include <ctype.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols.h"

struct symbol {
	uint64_t addr;
	char *name;
	int global;		/* T/W before t/w when several names share an address */
};

struct symbols {
	struct symbol *v;
	size_t n, cap;
};

static int symbol_cmp(const void *pa, const void *pb)
{
	const struct symbol *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->global != b->global)
		return b->global - a->global;
	return strcmp(a->name, b->name);
}

/* Parses one line; returns 1 for a text symbol, 0 for a line to skip, -EINVAL. */
static int parse_line(char *line, struct symbol *sym, const char **err)
{
	char *p = line, *end, *name;
	char type;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p || *p == '#')
		return 0;
	/* "U name": an undefined symbol has no address */
	if (p[1] && isspace((unsigned char)p[1]) && !isxdigit((unsigned char)p[0]))
		return 0;
	errno = 0;
	sym->addr = strtoull(p, &end, 16);
	if (end == p || errno || !isspace((unsigned char)*end)) {
		*err = "expected `ADDRESS TYPE NAME' with a hexadecimal address";
		return -EINVAL;
	}
	p = end;
	while (isspace((unsigned char)*p))
		p++;
	type = *p;
	if (!type || !isspace((unsigned char)p[1])) {
		*err = "expected a one-letter symbol type after the address";
		return -EINVAL;
	}
	p += 2;
	while (isspace((unsigned char)*p))
		p++;
	name = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	*p = '\0';
	if (!*name) {
		*err = "expected a symbol name after the type";
		return -EINVAL;
	}
	if (!strchr("tTwW", type) || name[0] == '$')
		return 0;	/* data, absolute, or an ELF mapping symbol */
	sym->global = type == 'T' || type == 'W';
	sym->name = name;
	return 1;
}

/* Appends a copy of sym; 0 or -ENOMEM. */
static int symbols_push(struct symbols *syms, const struct symbol *sym)
{
	if (syms->n == syms->cap) {
		size_t ncap = syms->cap ? syms->cap * 2 : 256;
		struct symbol *v = realloc(syms->v, ncap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		syms->v = v;
		syms->cap = ncap;
	}
	syms->v[syms->n] = *sym;
	syms->v[syms->n].name = strdup(sym->name);
	if (!syms->v[syms->n].name)
		return -ENOMEM;
	syms->n++;
	return 0;
}

static int load_listing(FILE *f, const char *path, struct symbols *syms, char *why, size_t whylen)
{
	char *line = NULL;
	size_t linecap = 0, lineno = 0;
	int ret = 0;

	while (getline(&line, &linecap, f) >= 0) {
		struct symbol sym;
		const char *err = NULL;

		lineno++;
		ret = parse_line(line, &sym, &err);
		if (ret < 0) {
			snprintf(why, whylen, "%s:%zu: %s", path, lineno, err);
			goto out;
		}
		if (ret && (ret = symbols_push(syms, &sym)) < 0)
			goto out;
		ret = 0;
	}
	if (ferror(f)) {
		ret = -EIO;
		snprintf(why, whylen, "%s: read error", path);
	}
out:
	free(line);
	return ret;
}

/* The symbols of an ELF section that holds code: functions, and the untyped
 * labels assembly defines (nm's t/T), as a listing would keep them. */
static bool elf_text_symbol(Elf *elf, const GElf_Sym *sym)
{
	Elf_Scn *scn;
	GElf_Shdr sh;
	int type = GELF_ST_TYPE(sym->st_info);

	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx >= SHN_LORESERVE ||
	    (type != STT_FUNC && type != STT_NOTYPE))
		return false;
	scn = elf_getscn(elf, sym->st_shndx);
	return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_EXECINSTR);
}

/* Reads .symtab (or .dynsym of a stripped file) with libelf. */
static int load_elf(int fd, const char *path, struct symbols *syms, char *why, size_t whylen)
{
	Elf_Scn *scn = NULL, *best = NULL;
	GElf_Shdr sh;
	Elf *elf;
	int ret = 0;

	if (elf_version(EV_CURRENT) == EV_NONE)
		elf = NULL;
	else
		elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &(GElf_Ehdr){ 0 })) {
		snprintf(why, whylen, "%s: a damaged or truncated ELF file", path);
		elf_end(elf);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_SYMTAB || (sh.sh_type == SHT_DYNSYM && !best)))
			best = scn;
	if (best && gelf_getshdr(best, &sh) && sh.sh_entsize) {
		Elf_Data *data = elf_getdata(best, NULL);
		size_t n = data ? sh.sh_size / sh.sh_entsize : 0;

		for (size_t i = 0; i < n && !ret; i++) {
			GElf_Sym gs;
			struct symbol sym;

			if (!gelf_getsym(data, (int)i, &gs) || !elf_text_symbol(elf, &gs))
				continue;
			sym.name = elf_strptr(elf, sh.sh_link, gs.st_name);
			if (!sym.name || !*sym.name || sym.name[0] == '$')
				continue;	/* unnamed, or an ELF mapping symbol ($x, $d) */
			sym.addr = gs.st_value;
			sym.global = GELF_ST_BIND(gs.st_info) != STB_LOCAL;
			ret = symbols_push(syms, &sym);
		}
	}
	elf_end(elf);
	return ret;
}

int symbols_load(const char *path, struct symbols **out, char *why, size_t whylen)
{
	struct symbols *syms;
	char magic[SELFMAG];
	FILE *f;
	int ret;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	syms = calloc(1, sizeof(*syms));
	if (!syms) {
		ret = -ENOMEM;
		goto out;
	}
	if (fread(magic, 1, SELFMAG, f) == SELFMAG && !memcmp(magic, ELFMAG, SELFMAG)) {
		ret = load_elf(fileno(f), path, syms, why, whylen);
	} else {
		rewind(f);
		ret = load_listing(f, path, syms, why, whylen);
	}
	if (!ret && !syms->n) {
		ret = -EINVAL;
		snprintf(why, whylen, "%s: no text symbols (expected an ELF with a symbol table, "
			 "or `nm' or System.map output)", path);
	}
out:
	if (ret == -ENOMEM)
		snprintf(why, whylen, "%s: out of memory", path);
	fclose(f);
	if (ret) {
		symbols_free(syms);
		return ret;
	}
	qsort(syms->v, syms->n, sizeof(*syms->v), symbol_cmp);
	*out = syms;
	return 0;
}

void symbols_free(struct symbols *syms)
{
	if (!syms)
		return;
	for (size_t i = 0; i < syms->n; i++)
		free(syms->v[i].name);
	free(syms->v);
	free(syms);
}

size_t symbols_count(const struct symbols *syms)
{
	return syms->n;
}

const char *symbols_lookup(const struct symbols *syms, uint64_t addr, uint64_t *offset)
{
	size_t lo = 0, hi = syms->n;

	/* the first symbol above addr; the one before it contains addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (syms->v[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* aliases sort first-preferred; step back to the first of them */
	while (lo > 1 && syms->v[lo - 2].addr == syms->v[lo - 1].addr)
		lo--;
	*offset = addr - syms->v[lo - 1].addr;
	return syms->v[lo - 1].name;
}
