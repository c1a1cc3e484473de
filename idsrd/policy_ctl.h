/* SPDX-License-Identifier: MIT */
/* Policy requests on the control socket: show, load, set, unset, reload. */
#ifndef IDSRD_POLICY_CTL_H
#define IDSRD_POLICY_CTL_H

#include "control.h"

/* Answers one PolicyRequest on the main loop; every change is recorded with
 * the control client's uid and pid. */
void policy_ctl_request(struct control_client *c, const Idsr__V1__PolicyRequest *req);

#endif
