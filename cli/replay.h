/* SPDX-License-Identifier: MIT */
/* What the two halves of idsrctl replay share: the offline check against a policy. */
#ifndef IDSR_CLI_REPLAY_H
#define IDSR_CLI_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cli_trace_arg;
/* Runs the trace's boot (0: its last) through the policy file and lists where
 * its answers differ. CLI_OK, CLI_DIFFERENT or CLI_ERROR. */
int replay_against(const struct cli_trace_arg *trace, const char *policy_path, bool json);

/* "note: boot N of PATH has no PCs (imported): accesses were matched on vCPU
 * order, register, direction and value only" */
void replay_no_pcs_note(FILE *f, int64_t boot_id, const char *path);

#endif
