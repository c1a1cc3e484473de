/* SPDX-License-Identifier: MIT */
/* Symbol maps in nm / System.map format, sorted for address -> function+offset lookups. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
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
	size_t n;
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

int symbols_load(const char *path, struct symbols **out, char *why, size_t whylen)
{
	struct symbols *syms;
	FILE *f;
	char *line = NULL;
	size_t linecap = 0, cap = 0, lineno = 0;
	int ret = 0;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	syms = calloc(1, sizeof(*syms));
	if (!syms)
		goto nomem;
	while (getline(&line, &linecap, f) >= 0) {
		struct symbol sym;
		const char *err = NULL;
		int r;

		lineno++;
		r = parse_line(line, &sym, &err);
		if (r < 0) {
			snprintf(why, whylen, "%s:%zu: %s", path, lineno, err);
			ret = r;
			goto out;
		}
		if (!r)
			continue;
		if (syms->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct symbol *v = realloc(syms->v, ncap * sizeof(*v));
			if (!v)
				goto nomem;
			syms->v = v;
			cap = ncap;
		}
		sym.name = strdup(sym.name);
		if (!sym.name)
			goto nomem;
		syms->v[syms->n++] = sym;
	}
	if (ferror(f)) {
		ret = -EIO;
		snprintf(why, whylen, "%s: read error", path);
		goto out;
	}
	if (!syms->n) {
		ret = -EINVAL;
		snprintf(why, whylen, "%s: no text symbols (expected `nm' or System.map output)", path);
		goto out;
	}
	qsort(syms->v, syms->n, sizeof(*syms->v), symbol_cmp);
	goto out;
nomem:
	ret = -ENOMEM;
	snprintf(why, whylen, "%s: out of memory", path);
out:
	free(line);
	fclose(f);
	if (ret)
		symbols_free(syms);
	else
		*out = syms;
	return ret;
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
