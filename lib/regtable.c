/* SPDX-License-Identifier: MIT */
/* Loading the register-name table: the embedded data/registers.tsv and data/midr.tsv, the registers.d directories
 * and --names files, each row checked (a bad one refuses its file with FILE:LINE), later sources replacing earlier rows. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "embed.h"
#include "encoding.h"
#include "log.h"
#include "regtable.h"

#define COLS_MAX 8
#define FILE_MAX (16u << 20)	/* a names file larger than this is a mistake, not a table */
#define IMPL_TEXT_MAX 64

struct builder {
	struct regtable *t;
	struct regname *rows;
	size_t n, cap;
	size_t midr_cap;
	unsigned origin;		/* of the source being read */
	char *why;
	size_t whylen;
};

static int fail(struct builder *b, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct builder *b, const char *file, unsigned line, const char *fmt, ...)
{
	int used = snprintf(b->why, b->whylen, "%s:%u: ", file, line);
	va_list ap;

	va_start(ap, fmt);
	if (used >= 0 && (size_t)used < b->whylen)
		vsnprintf(b->why + used, b->whylen - (size_t)used, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int nomem(struct builder *b)
{
	snprintf(b->why, b->whylen, "out of memory");
	return -ENOMEM;
}

size_t regtable_base_length(const char *name)
{
	size_t len = strlen(name), i = len;

	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i == len || i < 4 || strncasecmp(name + i - 3, "_EL", 3))
		return len;
	return i - 3;
}

/* NULL if s is a usable register name (a letter, then letters, digits, _ and
 * .), else what is wrong with it. An encoding is not a name: lookups would
 * never reach it. */
static const char *bad_name(const char *s)
{
	uint32_t key;

	if (!*s)
		return "empty register name";
	if (strlen(s) >= REGNAME_TEXT_MAX)
		return "register name too long (at most 63 characters)";
	if (!isalpha((unsigned char)*s))
		return "a register name starts with a letter";
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			return "a register name holds only letters, digits, `_' and `.'";
	if (!enc_parse(s, &key, NULL))
		return "an encoding, not a register name";
	return NULL;
}

static const char *bad_impl(const char *s)
{
	if (!*s)
		return "empty implementation name";
	if (strlen(s) >= IMPL_TEXT_MAX)
		return "implementation name too long (at most 63 characters)";
	if (!isalnum((unsigned char)*s))
		return "an implementation name starts with a letter or digit";
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return "an implementation name holds only letters, digits, `-', `_' and `.'";
	return NULL;
}

static bool parse_hex(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!strncasecmp(s, "0x", 2))
		s += 2;
	if (!isxdigit((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtoul(s, &end, 16);
	return !errno && !*end && *out <= max;
}

/* "r1p2" -> variant 1, revision 2 as 0x12. */
static bool parse_rv(const char *s, const char *end, unsigned *rv)
{
	unsigned v = 0, r = 0;
	int n = 0;
	char text[16];

	if (end - s >= (long)sizeof(text))
		return false;
	memcpy(text, s, (size_t)(end - s));
	text[end - s] = '\0';
	if (sscanf(text, "r%2up%2u%n", &v, &r, &n) != 2 || (size_t)n != strlen(text) || v > 15 || r > 15 ||
	    !isdigit((unsigned char)text[1]))
		return false;
	*rv = v << 4 | r;
	return true;
}

static bool parse_range(const char *s, unsigned *min, unsigned *max)
{
	const char *dash = strchr(s, '-');

	if (!strcmp(s, "*")) {
		*min = 0;
		*max = 0xff;
		return true;
	}
	if (!dash)
		return parse_rv(s, s + strlen(s), min) && (*max = *min, true);
	return parse_rv(s, dash, min) && parse_rv(dash + 1, dash + 1 + strlen(dash + 1), max) && *min <= *max;
}

/* Makes *array (n used of *cap elements of size) hold one more; false without memory. */
static bool room_for_one(void **array, size_t n, size_t *cap, size_t size)
{
	size_t more = *cap ? 2 * *cap : 64;
	void *p;

	if (n < *cap)
		return true;
	if (!(p = realloc(*array, more * size)))
		return false;
	*array = p;
	*cap = more;
	return true;
}

/* midr IMPLEMENTER PART REVISIONS IMPLEMENTATION [DESCRIPTION [SOURCE]] */
static int add_midr(struct builder *b, char **col, size_t n, const char *file, unsigned line)
{
	struct regtable *t = b->t;
	struct regtable_midr *m;
	unsigned long v;
	const char *bad;

	if (n < 5 || n > 7)
		return fail(b, file, line, "a MIDR row has 5 to 7 tab-separated columns (midr, implementer, part, "
			    "revisions, implementation, description, source), not %zu", n);
	if (!room_for_one((void **)&t->midrs, t->nmidrs, &b->midr_cap, sizeof(*m)))
		return nomem(b);
	m = &t->midrs[t->nmidrs];
	*m = (struct regtable_midr){ .file = file, .line = line, .origin = b->origin,
				     .description = n > 5 ? col[5] : "", .source = n > 6 ? col[6] : "" };
	if (!parse_hex(col[1], 0xff, &v))
		return fail(b, file, line, "implementer `%.40s': expected a hex number from 0x00 to 0xff "
			    "(0x41 is Arm, 0x61 Apple)", col[1]);
	m->implementer = (unsigned)v;
	if (!strcmp(col[2], "*"))
		m->part = -1;
	else if (parse_hex(col[2], 0xfff, &v))
		m->part = (int)v;
	else
		return fail(b, file, line, "part `%.40s': expected a hex part number from 0x000 to 0xfff, "
			    "or * for any", col[2]);
	if (!parse_range(col[3], &m->rv_min, &m->rv_max))
		return fail(b, file, line, "revisions `%.40s': expected rNpM (variant N, revision M, 0-15), "
			    "a range rNpM-rNpM from low to high, or * for any", col[3]);
	if ((bad = bad_impl(col[4])))
		return fail(b, file, line, "implementation `%.40s': %s", col[4], bad);
	m->impl = col[4];
	t->nmidrs++;
	return 0;
}

/* ENCODING NAME IMPLEMENTATION [DESCRIPTION [SOURCE]] */
static int add_name(struct builder *b, char **col, size_t n, const char *file, unsigned line)
{
	struct regname *r;
	const char *why, *bad;

	if (n < 3 || n > 5)
		return fail(b, file, line, "a name row has 3 to 5 tab-separated columns (encoding, name, "
			    "implementation, description, source), not %zu", n);
	if (!room_for_one((void **)&b->rows, b->n, &b->cap, sizeof(*r)))
		return nomem(b);
	r = &b->rows[b->n];
	*r = (struct regname){ .name = col[1], .impl = col[2], .description = n > 3 ? col[3] : "",
			       .source = n > 4 ? col[4] : "", .file = file, .line = line, .origin = b->origin };
	if (enc_parse(col[0], &r->key, &why))
		return fail(b, file, line, "encoding `%.40s': %s", col[0], why);
	if ((bad = bad_name(col[1])))
		return fail(b, file, line, "name `%.40s': %s", col[1], bad);
	if ((bad = bad_impl(col[2])))
		return fail(b, file, line, "implementation `%.40s': %s", col[2], bad);
	b->n++;
	return 0;
}

/* Splits text (NUL-terminated, owned by the table) into rows, in place. */
static int add_text(struct builder *b, char *text, const char *file)
{
	unsigned lineno = 0;
	int ret;

	for (char *p = text; p && *p; ) {
		char *line = p, *nl = strchr(p, '\n'), *col[COLS_MAX], *c = line;
		size_t n = 0;

		p = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (nl && nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		lineno++;
		if (!*line || *line == '#')
			continue;
		while (c) {
			if (n == COLS_MAX)
				return fail(b, file, lineno, "more than %d tab-separated columns", COLS_MAX);
			col[n++] = c;
			if ((c = strchr(c, '\t')))
				*c++ = '\0';
		}
		if (!strcmp(col[0], "midr"))
			ret = add_midr(b, col, n, file, lineno);
		else
			ret = add_name(b, col, n, file, lineno);
		if (ret)
			return ret;
	}
	return 0;
}

/* The table frees p with itself. */
static bool keep(struct builder *b, char *p)
{
	char **more = realloc(b->t->texts, (b->t->ntexts + 1) * sizeof(*more));

	if (!more)
		return false;
	b->t->texts = more;
	b->t->texts[b->t->ntexts++] = p;
	return true;
}

/* A NUL-terminated copy of len bytes that the table owns. */
static char *own_copy(struct builder *b, const char *data, size_t len)
{
	char *text = malloc(len + 1);

	if (!text || !keep(b, text)) {
		free(text);
		return NULL;
	}
	memcpy(text, data, len);
	text[len] = '\0';
	return text;
}

static int add_builtin(struct builder *b, const char *start, const char *end, const char *file)
{
	char *text = own_copy(b, start, (size_t)(end - start));

	return text ? add_text(b, text, file) : nomem(b);
}

static int add_file(struct builder *b, const char *path)
{
	const char *label;
	char *text = NULL;
	struct stat st;
	size_t got = 0;
	int fd, err;

	b->origin++;
	if (!(label = own_copy(b, path, strlen(path))))
		return nomem(b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = errno;
		snprintf(b->why, b->whylen, "%s: %s", path, strerror(err));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		snprintf(b->why, b->whylen, "%s: %s", path, S_ISREG(st.st_mode) ?
			 "larger than 16 MiB: not a table of names" : "not a regular file");
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text || !keep(b, text)) {
		free(text);
		close(fd);
		return nomem(b);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);

		if (r <= 0) {
			err = r < 0 ? errno : EIO;
			snprintf(b->why, b->whylen, "%s: %s", path, r < 0 ? strerror(err) : "shrank while being read");
			goto out;
		}
		got += (size_t)r;
	}
	text[got] = '\0';
	err = 0;
	if (memchr(text, '\0', got)) {
		err = EINVAL;
		snprintf(b->why, b->whylen, "%s: holds a NUL byte: not a text table", path);
	}
out:
	if (fd >= 0)
		close(fd);
	return err ? -err : add_text(b, text, label);
}

static int tsv_filter(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 4 && !strcmp(d->d_name + len - 4, ".tsv");
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* SYSCONFDIR/idsrd/registers.d, or the user's $XDG_CONFIG_HOME/idsrd/registers.d
 * (else ~/.config/…); NULL for a user with no home to look in. */
static const char *registers_dir(bool system, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (system)
		snprintf(buf, len, "%s/idsrd/registers.d", IDSR_SYSCONFDIR);
	else if (xdg && *xdg)
		snprintf(buf, len, "%s/idsrd/registers.d", xdg);
	else if (home && *home)
		snprintf(buf, len, "%s/.config/idsrd/registers.d", home);
	else
		return NULL;
	return buf;
}

/* Every *.tsv file in dir, in name order. A directory that does not exist is
 * no error, nor one this user may not read (idsrd run as another user with
 * the caller's $HOME): its names are left out, with a warning. */
static int add_dir(struct builder *b, const char *dir)
{
	struct dirent **list;
	int n = scandir(dir, &list, tsv_filter, cmp_dirent), ret = 0;

	if (n < 0) {
		int err = errno;

		if (err == ENOENT)
			return 0;
		if (err == EACCES) {
			log_warn("register names: cannot read %s (%s): its names are not used", dir, strerror(err));
			return 0;
		}
		snprintf(b->why, b->whylen, "%s: %s", dir, strerror(err));
		return -err;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];

		if (!ret && snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) >= (int)sizeof(path)) {
			snprintf(b->why, b->whylen, "%s/%s: path too long", dir, list[i]->d_name);
			ret = -ENAMETOOLONG;
		}
		if (!ret)
			ret = add_file(b, path);
		free(list[i]);
	}
	free(list);
	return ret;
}

/* For overriding: one (key, implementation) together, the latest source first. */
static int cmp_override(const void *a, const void *b)
{
	const struct regname *x = a, *y = b;
	int c;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if ((c = strcasecmp(x->impl, y->impl)))
		return c;
	if (x->origin != y->origin)
		return x->origin > y->origin ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* The table's order: by key, then source order, then line. */
static int cmp_table(const void *a, const void *b)
{
	const struct regname *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->origin != y->origin)
		return x->origin < y->origin ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* The latest source's MIDR rows first, each source's in line order. */
static int cmp_midr(const void *a, const void *b)
{
	const struct regtable_midr *x = a, *y = b;

	if (x->origin != y->origin)
		return x->origin > y->origin ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int cmp_text(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = strncasecmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* qsort has no argument for the comparison: the table being indexed. */
static const struct regtable *sorting;

/* Equal names stay in table order (by key): lists of candidates are stable. */
static int cmp_by_name(const void *a, const void *b)
{
	const struct regname *x = *(const struct regname *const *)a, *y = *(const struct regname *const *)b;
	int c = cmp_text(x->name, sorting->name_len[x - sorting->rows], y->name, sorting->name_len[y - sorting->rows]);

	return c ? c : (x > y) - (x < y);
}

static int cmp_by_base(const void *a, const void *b)
{
	const struct regname *x = *(const struct regname *const *)a, *y = *(const struct regname *const *)b;
	int c = cmp_text(x->name, sorting->base_len[x - sorting->rows], y->name, sorting->base_len[y - sorting->rows]);

	return c ? c : (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* Drops the rows a later source replaces; b->rows ends sorted in table order. */
static void apply_overrides(struct builder *b)
{
	size_t kept = 0;
	struct regname first = { 0 };	/* the group's first row, copied: rows move as they are kept */
	bool in_group = false;

	/* the built-in tables alone replace nothing: the sort by group is not needed */
	if (b->origin == 0) {
		qsort(b->rows, b->n, sizeof(*b->rows), cmp_table);
		return;
	}
	qsort(b->rows, b->n, sizeof(*b->rows), cmp_override);
	for (size_t i = 0; i < b->n; i++) {
		struct regname r = b->rows[i];

		if (!in_group || r.key != first.key || strcasecmp(r.impl, first.impl)) {
			first = r;
			in_group = true;
		}
		if (r.origin == first.origin) {
			b->rows[kept++] = r;
			continue;
		}
		/* every row kept for the group names the first row it hides */
		for (size_t w = kept; w-- > 0 && b->rows[w].key == r.key && !strcasecmp(b->rows[w].impl, r.impl); )
			if (!b->rows[w].replaces_file)
				b->rows[w].replaces_file = r.file, b->rows[w].replaces_line = r.line;
	}
	b->n = kept;
	qsort(b->rows, b->n, sizeof(*b->rows), cmp_table);
}

/* A table names a dozen implementations or so, its rows in runs of one: the
 * last one found is tried first, then the few others. */
static void note_impl(struct regtable *t, const char *impl, size_t *last)
{
	if (t->nimpls && !strcasecmp(t->impls[*last], impl))
		return;
	for (size_t i = 0; i < t->nimpls; i++)
		if (!strcasecmp(t->impls[i], impl)) {
			*last = i;
			return;
		}
	*last = t->nimpls;
	t->impls[t->nimpls++] = impl;
}

static int build_indexes(struct builder *b)
{
	struct regtable *t = b->t;
	size_t n = b->n, last = 0;

	t->rows = b->rows;
	t->count = n;
	b->rows = NULL;
	t->by_name = calloc(n ? n : 1, sizeof(*t->by_name));
	t->by_base = calloc(n ? n : 1, sizeof(*t->by_base));
	t->base_len = calloc(n ? n : 1, sizeof(*t->base_len));
	t->name_len = calloc(n ? n : 1, sizeof(*t->name_len));
	t->impls = calloc(n + t->nmidrs + 1, sizeof(*t->impls));
	if (!t->by_name || !t->by_base || !t->base_len || !t->name_len || !t->impls)
		return nomem(b);
	for (size_t i = 0; i < n; i++) {
		t->by_name[i] = t->by_base[i] = &t->rows[i];
		t->name_len[i] = strlen(t->rows[i].name);
		t->base_len[i] = regtable_base_length(t->rows[i].name);
		note_impl(t, t->rows[i].impl, &last);
	}
	for (size_t i = 0; i < t->nmidrs; i++)
		note_impl(t, t->midrs[i].impl, &last);
	qsort(t->impls, t->nimpls, sizeof(*t->impls), cmp_str);
	sorting = t;
	qsort(t->by_name, n, sizeof(*t->by_name), cmp_by_name);
	qsort(t->by_base, n, sizeof(*t->by_base), cmp_by_base);
	sorting = NULL;
	qsort(t->midrs, t->nmidrs, sizeof(*t->midrs), cmp_midr);
	return 0;
}

struct regtable *regtable_load(const char *const *files, size_t nfiles, unsigned dirs, char *why, size_t whylen)
{
	struct builder b = { .why = why, .whylen = whylen };
	char dir[4096];
	int ret;

	b.t = calloc(1, sizeof(*b.t));
	if (!b.t) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	ret = add_builtin(&b, idsr_registers_tsv, idsr_registers_tsv_end, "data/registers.tsv");
	if (!ret)
		ret = add_builtin(&b, idsr_midr_tsv, idsr_midr_tsv_end, "data/midr.tsv");
	if (!ret && (dirs & REGNAMES_SYSTEM_DIR) && registers_dir(true, dir, sizeof(dir)))
		ret = add_dir(&b, dir);
	if (!ret && (dirs & REGNAMES_USER_DIR) && registers_dir(false, dir, sizeof(dir)))
		ret = add_dir(&b, dir);
	for (size_t i = 0; i < nfiles && !ret; i++)
		ret = add_file(&b, files[i]);
	if (!ret) {
		apply_overrides(&b);
		ret = build_indexes(&b);
	}
	free(b.rows);
	if (ret) {
		regtable_free(b.t);
		return NULL;
	}
	return b.t;
}

void regtable_free(struct regtable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ntexts; i++)
		free(t->texts[i]);
	free(t->texts);
	free(t->rows);
	free(t->by_name);
	free(t->by_base);
	free(t->base_len);
	free(t->name_len);
	free(t->midrs);
	free(t->impls);
	free(t);
}
