/* SPDX-License-Identifier: MIT */
/* Default places of idsrd's sockets and database: the one rule for idsrd, idsrctl and libidsr-client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

/* In proto/ so that libidsr-client can use it: it may depend on libc only. */

static const char *const path_names[] = {
	[PATH_VMM_SOCKET] = "vmm.sock",
	[PATH_CONTROL_SOCKET] = "control.sock",
	[PATH_DB] = "trace.db",
};

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int fmt(char *buf, size_t len, char *why, size_t whylen, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) {
		snprintf(why, whylen, "the default path %s/%s is too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/*
 * The /tmp fallback is shared with every user: a directory of that name made
 * by someone else (or open to them) would let them plant a socket that VMMs
 * and idsrctl then talk to. lstat, not stat: a symlink is refused too.
 */
static int check_tmp_dir(const char *dir, uid_t uid, bool create, char *why, size_t whylen)
{
	struct stat st;

	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT && !create)
			return 0;	/* a client: nothing there, connecting says so */
		if (errno != ENOENT) {
			snprintf(why, whylen, "%s: %s", dir, strerror(errno));
			return -errno;
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
		if (lstat(dir, &st) < 0) {
			snprintf(why, whylen, "%s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is not a directory; remove it, or set XDG_RUNTIME_DIR", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != uid) {
		snprintf(why, whylen, "%s belongs to uid %u, not to uid %u: refusing to use it (someone "
			 "else could answer there); remove it, or set XDG_RUNTIME_DIR", dir,
			 (unsigned)st.st_uid, (unsigned)uid);
		return -EPERM;
	}
	if (st.st_mode & 022) {
		snprintf(why, whylen, "%s is writable by others (mode %04o): refusing to use it; "
			 "chmod 700 it, or set XDG_RUNTIME_DIR", dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static int user_path(enum path_kind kind, uid_t uid, unsigned flags, char *buf, size_t len,
		     char *why, size_t whylen)
{
	const char *xdg, *home;
	char dir[4096];
	int rc;

	if (kind == PATH_DB) {
		if ((xdg = env_or_null("XDG_STATE_HOME")))
			snprintf(dir, sizeof(dir), "%s/idsrd", xdg);
		else if ((home = env_or_null("HOME")))
			snprintf(dir, sizeof(dir), "%s/.local/state/idsrd", home);
		else {
			snprintf(why, whylen, "neither $XDG_STATE_HOME nor $HOME is set: give --db");
			return -ENOENT;
		}
		return fmt(buf, len, why, whylen, dir, path_names[kind]);
	}
	if ((xdg = env_or_null("XDG_RUNTIME_DIR"))) {
		snprintf(dir, sizeof(dir), "%s/idsrd", xdg);
	} else {
		snprintf(dir, sizeof(dir), "%s/idsrd-%u",
			 env_or_null("TMPDIR") ? env_or_null("TMPDIR") : "/tmp", (unsigned)uid);
		rc = check_tmp_dir(dir, uid, flags & PATHS_CREATE, why, whylen);
		if (rc < 0)
			return rc;
	}
	return fmt(buf, len, why, whylen, dir, path_names[kind]);
}

int paths_default_uid(enum path_kind kind, uid_t uid, unsigned flags, char *buf, size_t len,
		      char *why, size_t whylen)
{
	const char *sys_dir = kind == PATH_DB ? "/var/lib/idsrd" : "/run/idsrd";
	char sys[64];
	int rc;

	if (uid == 0)
		return fmt(buf, len, why, whylen, sys_dir, path_names[kind]);
	rc = user_path(kind, uid, flags, buf, len, why, whylen);
	if (rc < 0 || kind == PATH_DB || !(flags & PATHS_CLIENT))
		return rc;
	/* A client of the system service (a member of group idsrd, say): its
	 * socket when no per-user idsrd has made one. */
	snprintf(sys, sizeof(sys), "%s/%s", sys_dir, path_names[kind]);
	if (access(buf, F_OK) != 0 && access(sys, F_OK) == 0)
		snprintf(buf, len, "%s", sys);
	return 0;
}

int paths_default(enum path_kind kind, unsigned flags, char *buf, size_t len, char *why, size_t whylen)
{
	return paths_default_uid(kind, getuid(), flags, buf, len, why, whylen);
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
