/* SPDX-License-Identifier: MIT */
/* Default places of idsrd's sockets and database: the one rule for idsrd, idsrctl and libidsr-client. */
#ifndef IDSR_PATHS_H
#define IDSR_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum path_kind { PATH_VMM_SOCKET, PATH_CONTROL_SOCKET, PATH_DB };

/* Flags for paths_default. */
#define PATHS_CREATE	1u	/* idsrd: make the per-user runtime directory (0700) if missing */
#define PATHS_CLIENT	2u	/* a client: take /run/idsrd/… when the per-user socket is absent */

/*
 * The default for kind, as uid sees it (docs/design.md "Default paths"):
 *   root:   /run/idsrd/vmm.sock, /run/idsrd/control.sock, /var/lib/idsrd/trace.db
 *   others: $XDG_RUNTIME_DIR/idsrd/{vmm,control}.sock, without XDG_RUNTIME_DIR
 *           ${TMPDIR:-/tmp}/idsrd-UID/…, a directory that must belong to uid and
 *           be writable by nobody else; $XDG_STATE_HOME/idsrd/trace.db, else
 *           ~/.local/state/idsrd/trace.db.
 * 0, or -errno with why filled (a /tmp directory someone else owns: -EPERM).
 */
int paths_default_uid(enum path_kind kind, uid_t uid, unsigned flags, char *buf, size_t len,
		      char *why, size_t whylen);
/* paths_default_uid for getuid(). */
int paths_default(enum path_kind kind, unsigned flags, char *buf, size_t len, char *why, size_t whylen);
/* mkdir -p of path's parent directory with mode; 0 or -errno. */
int paths_make_parent(const char *path, unsigned mode);

#endif
