/* SPDX-License-Identifier: MIT */
/* The control socket: idsrctl's requests (status, policy, subscribe, replay). */
#ifndef IDSRD_CONTROL_H
#define IDSRD_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "boot.h"
#include "frame.h"

struct control_client;

/* Serves the already-listening fd on the main loop. 0 or -errno. */
int control_start(uv_loop_t *loop, int listen_fd);
void control_stop(void);

/* Sends one reply frame to a control client. */
void control_reply(struct control_client *c, const Idsr__V1__ControlReply *reply);
/* Peer credentials of a control client. */
const struct boot_peer *control_peer(const struct control_client *c);

#endif
