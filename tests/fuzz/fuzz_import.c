/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: idsrctl import's readers (cli/import_m1n1.c, cli/import_table.c) on any bytes, in each format, strict and lenient. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_as(const uint8_t *data, size_t size, const char *format, bool lenient)
{
	struct import_opts o = { .format = format, .file = "fuzz", .timebase_hz = 24e6, .lenient = lenient,
				 .impl = !strcmp(format, "m1n1") ? "apple" : NULL };
	struct import_set s = { 0 };
	FILE *f = fmemopen((void *)data, size, "r");
	int rc;

	if (!f)
		return;
	if (!strcmp(format, "m1n1"))
		rc = import_read_m1n1(f, &o, &s);
	else if (!strcmp(format, "csv"))
		rc = import_read_csv(f, &o, &s);
	else
		rc = import_read_jsonl(f, &o, &s);
	fclose(f);
	/* Every row kept is whole, and every line is counted once. */
	assert(rc == 0 || rc == -1);
	for (size_t i = 0; i < s.n; i++) {
		assert(s.rows[i].vcpu < 4096);
		assert(s.rows[i].el <= 3);
		assert(s.rows[i].line >= 1 && s.rows[i].line <= s.lines);
	}
	assert(s.other_lines + s.bad_lines <= s.lines);
	free(s.rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const formats[] = { "m1n1", "csv", "jsonl" };
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

	/* The readers' errors go to stderr, libFuzzer's report too: silence only ours. */
	fflush(stderr);
	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	for (size_t i = 0; i < 3; i++) {
		read_as(data, size, formats[i], false);
		read_as(data, size, formats[i], true);
	}
	fflush(stderr);
	if (saved >= 0)
		dup2(saved, STDERR_FILENO);
	if (saved >= 0)
		close(saved);
	if (null >= 0)
		close(null);
	return 0;
}
