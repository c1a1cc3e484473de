/* SPDX-License-Identifier: MIT */
/* idsrctl import: a recording made elsewhere (an m1n1 log, a CSV or JSON-lines table) read into rows of a new boot. */
#ifndef IDSR_CLI_IMPORT_H
#define IDSR_CLI_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One imported access: the contract columns of `accesses` (schema.sql). */
struct import_row {
	uint64_t seq;
	uint64_t pc;
	uint64_t value;
	int64_t ts_ns;
	uint32_t vcpu;
	uint32_t key;
	int32_t rule;
	uint8_t el;
	bool is_write;
	bool undef;
	size_t line;			/* where it was read, for errors */
};

struct import_opts {
	const char *format, *file, *db, *impl, *vm_name;
	double timebase_hz;		/* m1n1's counter */
	bool all;			/* m1n1: keep registers outside the IDSR space */
	bool lenient;			/* skip and count lines that do not parse */
	bool json;
};

/* What was read: the rows, and the lines that were not. */
struct import_set {
	struct import_row *rows;
	size_t n, cap;
	bool has_pcs;			/* the recording gave PCs */
	bool has_seq;			/* ... and seqs (else given in file order per vCPU) */
	bool has_ts;			/* ... and times (else 1 ns apart in file order) */
	bool ts_relative;		/* the times count from the recording's start (m1n1) */
	uint64_t lines;			/* lines read */
	uint64_t other_lines;		/* lines that are not accesses (m1n1's MMIO traces, ...) */
	uint64_t outside_idsr;		/* m1n1: accesses outside the IDSR space, not kept (no --all) */
	uint64_t bad_lines;		/* --lenient: lines that looked like accesses but did not parse */
	char first_bad[256];		/* --lenient: the first such line's error */
	const char *recorder;		/* boots.vmm: "m1n1", or NULL */
};

/* Appends a row (its line set); false when out of memory. */
bool import_push(struct import_set *s, const struct import_row *r);

/*
 * Reports a line that does not parse: "FILE:LINE:COLUMN: message". Without
 * --lenient it is printed and the import fails (returns false); with it the
 * line is counted (and the first kept for the summary) and reading goes on.
 */
bool import_bad_line(struct import_set *s, const struct import_opts *o, size_t line, size_t column,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * A register given by name or encoding ("HID0_EL1", "s3_0_c15_c0_0", a packed
 * key): *key, or false with *why saying what is wrong (an unknown name lists
 * the nearest known ones).
 */
bool import_register(const char *text, const char *impl, uint32_t *key, char *why, size_t whylen);

/* The formats' readers: 0, or -1 after an error was printed. */
int import_read_m1n1(FILE *f, const struct import_opts *o, struct import_set *s);
int import_read_csv(FILE *f, const struct import_opts *o, struct import_set *s);
int import_read_jsonl(FILE *f, const struct import_opts *o, struct import_set *s);

#endif
