/* SPDX-License-Identifier: MIT */
/* VMM connections: worker event loops that read Access frames and answer them on the spot. */
#ifndef IDSRD_SERVER_H
#define IDSRD_SERVER_H

struct daemon;
struct session;

/* Starts cfg.workers event-loop threads. 0 or -errno. */
int server_start(struct daemon *d);
/* Closes every VMM connection (their boots end) and joins the workers. */
void server_stop(struct daemon *d);
/* Hands an accepted VMM connection to a worker (round robin). */
void server_dispatch(struct daemon *d, int fd);
/* Reads from a session again (after back-pressure stopped it). */
void session_resume(struct session *s);

#endif
