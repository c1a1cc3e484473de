/* SPDX-License-Identifier: MIT */
/* idsrctl diff's insides, shared by its text and JSON output (cli/diff.c) and its HTML page (cli/diff_html.c). */
#ifndef IDSR_CLI_DIFF_H
#define IDSR_CLI_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/bootdiff.h"
#include "replay/bootstream.h"

struct diff_opts {
	const char *ref[2];
	enum bootdiff_align how;
	const char *symfile[2];
	bool slide_set[2];
	uint64_t slide[2];
	size_t context;
	bool color;
	bool stat;
	bool json;
	bool html;
	const char *output;		/* --html -o FILE */
	struct cli_fleet fleet;		/* selectors of a URL side without #BOOT_UID */
};

/* One boot being compared. */
struct diff_side {
	const char *ref;
	char *path;			/* the file as named (read maybe through a copy) */
	struct bootstream *bs;
	const struct bootstream_info *info;
	struct bootstream_vcpu *vcpus;
	size_t nvcpus;
	size_t rows;
	struct symbols *syms;
	uint64_t slide;
	int err;			/* of reading the rows, with why */
	char why[512];
};

struct diff_out {
	FILE *f;
	const struct diff_opts *o;
	struct diff_side *side[2];
	const struct bootdiff *d;
	const char *red, *green, *yellow, *cyan, *bold, *reset;
};

struct diff_hunk {
	size_t start, end;		/* lines [start, end) */
	size_t a_start, b_start;	/* positions in A and B at start */
	size_t a_count, b_count;
};

static inline bool consumes_a(int op)
{
	return op != BOOTDIFF_ADDED;
}

static inline bool consumes_b(int op)
{
	return op != BOOTDIFF_REMOVED;
}

/*
 * Finds the next hunk at or after line *from: changes closer than 2 * context
 * share one hunk. *ai and *bi track the A and B positions of line *from.
 */
bool diff_next_hunk(const struct bootdiff_vcpu *v, size_t context, size_t *from, size_t *ai, size_t *bi,
		    struct diff_hunk *h);
/* "function+0xoff" with symbols, else the PC in hex. */
const char *diff_where_text(const struct diff_side *s, const struct bootstream_access *r, char *buf, size_t len);
/* The implementation register names are given in: A's, else B's. */
const char *diff_register_impl(const struct diff_out *p);
/* --html: the page, to -o FILE or stdout. 0, or -errno with why printed. */
int diff_html(const struct diff_out *p);

#endif
