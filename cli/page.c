/* SPDX-License-Identifier: MIT */
/* The self-contained HTML pages of report and diff --html: no network, no external fonts or scripts; they open from disk. */
#include <stdio.h>

#include "cli.h"
#include "page.h"

/* cli/page_assets.S */
extern const char idsr_page_css[], idsr_page_css_end[];
extern const char idsr_page_common_js[], idsr_page_common_js_end[];
extern const char idsr_page_report_js[], idsr_page_report_js_end[];
extern const char idsr_page_diff_js[], idsr_page_diff_js_end[];

static void asset(FILE *f, const char *start, const char *end)
{
	fwrite(start, 1, (size_t)(end - start), f);
}

void page_begin(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"generator\" content=\"idsrctl " IDSR_VERSION "\">\n<title>", f);
	for (const char *p = title; *p; p++) {
		if (*p == '<')
			fputs("&lt;", f);
		else if (*p == '&')
			fputs("&amp;", f);
		else
			fputc(*p, f);
	}
	fputs("</title>\n<style>\n", f);
	asset(f, idsr_page_css, idsr_page_css_end);
	fputs("</style>\n</head>\n<body>\n<main id=\"app\"></main>\n"
	      "<script type=\"application/json\" id=\"idsr-data\">", f);
}

void page_end(FILE *f, enum page_kind kind)
{
	fputs("</script>\n<script>\n", f);
	asset(f, idsr_page_common_js, idsr_page_common_js_end);
	if (kind == PAGE_REPORT)
		asset(f, idsr_page_report_js, idsr_page_report_js_end);
	else
		asset(f, idsr_page_diff_js, idsr_page_diff_js_end);
	fputs("</script>\n</body>\n</html>\n", f);
}
