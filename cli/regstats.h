/* SPDX-License-Identifier: MIT */
/* Per-register statistics of one boot, read from a trace incrementally: shared by stats and top. */
#ifndef IDSR_CLI_REGSTATS_H
#define IDSR_CLI_REGSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

struct regstat {
	uint32_t key;
	uint64_t count, reads, writes, undefs;
	int64_t first_ns, last_ns;
	uint64_t *pcs;			/* open-addressed set of distinct PCs */
	size_t npcs, pcs_cap;
	bool pc_zero;			/* 0 is the set's empty slot: kept apart */
};

struct regstats {
	int64_t boot_id;
	char *vm_name, *impl;
	int64_t start_ns;		/* the boot's start */
	int64_t first_ns, last_ns;	/* of its accesses */
	uint64_t total, undefs;
	struct regstat *regs;		/* sorted by key */
	size_t nregs, regs_cap;
	uint64_t *next_seq;		/* per vCPU: where the next read starts */
	size_t nvcpus;
};

/* Starts statistics of boot boot_id of db (its name and start from `boots').
 * 0, or -errno with the reason printed as `idsrctl: <cmd>: …' (cmd NULL: quiet;
 * -ENOENT: no such boot, or not committed yet). */
int regstats_init(struct regstats *s, sqlite3 *db, int64_t boot_id, const char *cmd);
/* Adds the rows committed since the last call. 0 or -errno (printed). */
int regstats_update(struct regstats *s, sqlite3 *db, const char *cmd);
void regstats_free(struct regstats *s);

/* Prints the registers, most accessed first: a table (at most limit rows,
 * 0 = all) or one JSON object per register. */
void regstats_print(FILE *f, const struct regstats *s, bool json, size_t limit);

#endif
