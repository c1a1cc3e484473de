/* SPDX-License-Identifier: MIT */
/* Live event subscriptions (idsrctl tail -f): filtered in the daemon, never slowing the VMM path. */
#ifndef IDSRD_SUBSCRIBE_H
#define IDSRD_SUBSCRIBE_H

#include <uv.h>

#include "boot.h"
#include "control.h"
#include "daemon.h"
#include "store.h"

/* Events a subscriber may have waiting in the daemon; past that it misses
 * events and is told how many (Event.missed). */
#define SUBSCRIBE_RING		4096
/* Bytes queued on a subscriber's socket before its ring stops draining. */
#define SUBSCRIBE_WRITE_HIGH	(1u << 20)

/* On the main loop: set up (before the first request) and tear down. */
int subscribe_init(uv_loop_t *loop);
void subscribe_stop(void);

/* A Subscribe request: compiles the filter, registers c, and answers once
 * every row logged before is committed (so tail can read them from the
 * database and take the rest live, with no gap). */
void subscribe_request(struct control_client *c, const Idsr__V1__Filter *filter);
/* c's connection closed: forget its subscription, if any. */
void subscribe_drop(struct control_client *c);

/* The VMM path (the connections' threads): call only when idsrd->subscribers > 0.
 * Copies the row to every matching subscriber's ring; never waits for one. */
void subscribe_publish(const struct boot *b, const struct store_row *row, const struct live_policy *lp);

#endif
