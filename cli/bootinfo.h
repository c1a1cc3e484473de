/* SPDX-License-Identifier: MIT */
/* One boot's row of `boots', read once for the views that describe a whole boot (export, report). */
#ifndef IDSR_CLI_BOOTINFO_H
#define IDSR_CLI_BOOTINFO_H

#include <stdint.h>
#include <sqlite3.h>

struct cli_boot {
	int64_t id;
	int64_t start_ns, end_ns;	/* end_ns 0: running or cut off */
	char *vmm, *vm_name, *kernel, *impl, *mode, *policy_hash, *end_reason;	/* NULL if not recorded */
	uint64_t slide, image_base, midr;
	uint32_t vcpus;
	int64_t accesses, undefs, rows_dropped, divergences;
	char *boot_uid, *host;		/* schema 4; NULL in older traces, host NULL if not recorded */
};

/* Reads boot id of db; 0, or -errno with why printed as `idsrctl: <cmd>: …'. */
int cli_boot_read(const char *cmd, sqlite3 *db, int64_t id, struct cli_boot *b);
void cli_boot_free(struct cli_boot *b);

#endif
