/* SPDX-License-Identifier: MIT */
/* Protocol errors per VMM process: past --max-errors a minute the offender is slowed, its neighbours are not. */
#ifndef IDSRD_PENALTY_H
#define IDSRD_PENALTY_H

#include <stdbool.h>
#include <stdint.h>

struct boot_peer;

/* How long each new connection of an offending process waits before idsrd
 * reads it: a fuzzer or a VMM stuck in a reconnect loop makes at most
 * 1000 / PENALTY_DELAY_MS connections a second (each in parallel, up to
 * --max-connections), and a well-formed Hello is still welcomed after it. */
#define PENALTY_DELAY_MS	200
/* The window errors are counted in. */
#define PENALTY_WINDOW_MS	60000

/* Counts a protocol error of peer's connection (in boot, 0: none yet) and
 * logs it (why: what was wrong). Past cfg.max_errors in the window, the errors of that process are
 * no longer logged one by one: a summary at most once a second says how many
 * and that its connections are slowed. */
void penalty_note_error(const struct boot_peer *peer, int64_t boot, const char *why);
/* Milliseconds a new connection of peer waits before it is read: 0, or
 * PENALTY_DELAY_MS while its process is past cfg.max_errors in the window. */
unsigned penalty_delay_ms(const struct boot_peer *peer);

#endif
