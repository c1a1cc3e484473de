/* SPDX-License-Identifier: MIT */
/* Default places of idsrd's sockets and database, shared by idsrd, idsrctl and the client. */
#ifndef IDSR_PATHS_H
#define IDSR_PATHS_H

#include <stdbool.h>
#include <stddef.h>

enum path_kind { PATH_VMM_SOCKET, PATH_CONTROL_SOCKET, PATH_DB };

/*
 * The default for kind: under systemd (system=true) /run/idsrd/vmm.sock,
 * /run/idsrd/control.sock and /var/lib/idsrd/trace.db; otherwise
 * $XDG_RUNTIME_DIR/idsrd/… and $XDG_STATE_HOME/idsrd/trace.db (falling back
 * to /tmp/idsrd-$UID and ~/.local/state). For clients, system=false still
 * picks /run/idsrd/… when that socket exists and the per-user one does not.
 */
const char *paths_default(enum path_kind kind, bool system, char *buf, size_t len);
/* mkdir -p of path's parent directory with mode; 0 or -errno. */
int paths_make_parent(const char *path, unsigned mode);

#endif
