/* SPDX-License-Identifier: MIT */
/* VMM connections: one thread each, reading Access frames and answering them on the spot. */
#ifndef IDSRD_SERVER_H
#define IDSRD_SERVER_H

struct daemon;

/* Ready to take VMM connections. 0 or -errno. */
int server_start(struct daemon *d);
/* Stopping, from the main loop: ends every VMM connection (their boots end
 * as stopped); the main loop runs on until the last one is gone. */
void server_drain(struct daemon *d);
/* After the main loop: drains, and waits until every connection has ended. */
void server_stop(struct daemon *d);
/* Serves an accepted VMM connection on a thread of its own (or refuses it). */
void server_dispatch(struct daemon *d, int fd);

#endif
