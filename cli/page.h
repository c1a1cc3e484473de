/* SPDX-License-Identifier: MIT */
/* The self-contained HTML pages of report and diff --html: a data island and the page's own script and style, embedded at build time (cli/page_assets.S). */
#ifndef IDSR_CLI_PAGE_H
#define IDSR_CLI_PAGE_H

#include <stdio.h>

enum page_kind { PAGE_REPORT, PAGE_DIFF };

/* The document up to the opening of its JSON data island
 * (<script type="application/json" id="idsr-data">). */
void page_begin(FILE *f, const char *title);
/* Closes the data island and appends the scripts: common.js, then kind's. */
void page_end(FILE *f, enum page_kind kind);

#endif
