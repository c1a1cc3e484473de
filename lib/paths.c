/* SPDX-License-Identifier: MIT */
/* Default places of idsrd's sockets and database, shared by idsrd, idsrctl and the client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

static const char *const path_names[] = {
	[PATH_VMM_SOCKET] = "vmm.sock",
	[PATH_CONTROL_SOCKET] = "control.sock",
	[PATH_DB] = "trace.db",
};

static const char *user_dir(enum path_kind kind, char *buf, size_t len)
{
	const char *xdg;

	if (kind == PATH_DB) {
		xdg = getenv("XDG_STATE_HOME");
		if (xdg && *xdg)
			snprintf(buf, len, "%s/idsrd/%s", xdg, path_names[kind]);
		else
			snprintf(buf, len, "%s/.local/state/idsrd/%s",
				 getenv("HOME") ? getenv("HOME") : "/tmp", path_names[kind]);
		return buf;
	}
	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg)
		snprintf(buf, len, "%s/idsrd/%s", xdg, path_names[kind]);
	else
		snprintf(buf, len, "/tmp/idsrd-%u/%s", (unsigned)getuid(), path_names[kind]);
	return buf;
}

const char *paths_default(enum path_kind kind, bool system, char *buf, size_t len)
{
	char sys[128];

	snprintf(sys, sizeof(sys), "%s/%s", kind == PATH_DB ? "/var/lib/idsrd" : "/run/idsrd",
		 path_names[kind]);
	if (system) {
		snprintf(buf, len, "%s", sys);
		return buf;
	}
	user_dir(kind, buf, len);
	/* A client of the system daemon: use its socket when ours is absent. */
	if (kind != PATH_DB && access(buf, F_OK) != 0 && access(sys, F_OK) == 0)
		snprintf(buf, len, "%s", sys);
	return buf;
}

int paths_make_parent(const char *path, unsigned mode)
{
	char dir[4096];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
