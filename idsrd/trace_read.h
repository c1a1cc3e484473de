/* SPDX-License-Identifier: MIT */
/* TraceRead: the database as the peer may see it, in pages, for readers that cannot open the file. */
#ifndef IDSRD_TRACE_READ_H
#define IDSRD_TRACE_READ_H

#include "control.h"

/*
 * Answers req with pages of the database (ControlReply.trace_page) built on
 * the thread pool: the boots the peer may see (all for an admin, else those
 * whose boots.peer_uid is the peer's uid), their policies, the register names
 * and, unless boots_only, the rows of the boot asked for (or of every visible
 * boot). A boot the peer may not see is left out as if it were not there.
 */
void trace_read_request(struct control_client *c, const Idsr__V1__TraceRead *req);
/* The client is gone: its read stops at its next step. */
void trace_read_client_gone(struct control_client *c);

#endif
