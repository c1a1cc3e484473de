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
/* Sends a failed reply saying why. */
void control_fail(struct control_client *c, const char *msg);
/* The client's connection, for streams of frames (subscriptions). */
uv_stream_t *control_stream(struct control_client *c);
/* Peer credentials of a control client. */
const struct boot_peer *control_peer(const struct control_client *c);

/*
 * Access control for requests that read or change what belongs to someone.
 * An admin is root, idsrd's own uid, or a member (primary or supplementary
 * group, from SO_PEERGROUPS) of idsrd --admin-group. control_may_access_boot:
 * an admin, or the uid that started the boot (owner_uid, boots.peer_uid).
 * Changing the live policy touches every boot: admins only. Each refusal is
 * logged with the peer and the reason; *why (if not NULL) gets the words.
 */
bool control_is_admin(const struct control_client *c);
bool control_may_access_boot(const struct control_client *c, int64_t owner_uid, int64_t boot_id,
			     const char *what, char *why, size_t whylen);
bool control_may_change_policy(const struct control_client *c, char *why, size_t whylen);

#endif
