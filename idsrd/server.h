/* SPDX-License-Identifier: MIT */
/* VMM connections: one thread each, reading Access frames and answering them on the spot. */
#ifndef IDSRD_SERVER_H
#define IDSRD_SERVER_H

/* They serve the process's one daemon, idsrd (daemon.h), as the rest of it does. */

/* Ready to take VMM connections on idsrd->loop. 0 or -errno. */
int server_start(void);
/* Stopping, from the main loop: ends every VMM connection (their boots end
 * as stopped); the main loop runs on until the last one is gone. */
void server_drain(void);
/* After the main loop: drains, and waits until every connection has ended. */
void server_stop(void);
/* Serves an accepted VMM connection on a thread of its own (or refuses it). */
void server_dispatch(int fd);

#endif
