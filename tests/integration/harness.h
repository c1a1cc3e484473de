/* SPDX-License-Identifier: MIT */
/* Integration-test harness: a real build/idsrd on a private socket and database in a temp dir. */
#ifndef IDSR_TEST_HARNESS_H
#define IDSR_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct harness {
	char dir[256];
	char sock[300], ctl[300], db[300], policy[300], log[300];
	pid_t pid;
};

static inline void harness_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline void harness_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "# cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* Makes the temp dir and names the files; writes policy_text if not NULL. */
static inline void harness_init(struct harness *h, const char *policy_text)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/idsr-itest.XXXXXX");
	if (!mkdtemp(h->dir))
		abort();
	snprintf(h->sock, sizeof(h->sock), "%s/vmm.sock", h->dir);
	snprintf(h->ctl, sizeof(h->ctl), "%s/ctl.sock", h->dir);
	snprintf(h->db, sizeof(h->db), "%s/trace.db", h->dir);
	snprintf(h->policy, sizeof(h->policy), "%s/policy.conf", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/idsrd.log", h->dir);
	if (policy_text)
		harness_write_file(h->policy, policy_text);
}

static inline const char *harness_build(void)
{
	const char *b = getenv("BUILD");

	return b && *b ? b : "build";
}

/* Starts idsrd with the harness's paths plus extra (NULL-terminated) args. */
static inline int harness_start(struct harness *h, const char *const *extra)
{
	char bin[256];
	const char *argv[32];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/idsrd", harness_build());
	argv[n++] = bin;
	argv[n++] = "--socket"; argv[n++] = h->sock;
	argv[n++] = "--control"; argv[n++] = h->ctl;
	argv[n++] = "--db"; argv[n++] = h->db;
	argv[n++] = "--foreground";
	if (access(h->policy, F_OK) == 0) {
		argv[n++] = "--policy";
		argv[n++] = h->policy;
	}
	for (; extra && *extra && n < 31; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	h->pid = fork();
	if (h->pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0)
			dup2(fd, 2);
		execv(bin, (char **)argv);
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		int status;

		if (access(h->sock, F_OK) == 0 && access(h->ctl, F_OK) == 0)
			return 0;
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			return -1;
		}
		harness_sleep_ms(10);
	}
	return -1;
}

/* SIGTERM and wait; returns the exit status (or -1). */
static inline int harness_stop(struct harness *h)
{
	int status = -1;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, SIGTERM);
	waitpid(h->pid, &status, 0);
	h->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline void harness_cleanup(struct harness *h)
{
	char cmd[400];

	if (h->pid > 0)
		harness_stop(h);
	if (getenv("KEEP_TEST_DIR"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", h->dir);
}

/* A raw connection to the VMM socket, for hostile-input tests. */
static inline int harness_raw_connect(const struct harness *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(h->sock) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, h->sock, strlen(h->sock) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* Runs a one-value query ("SELECT count(*) …") on the trace, read-only. */
static inline long long harness_query_int(const struct harness *h, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	} else {
		fprintf(stderr, "# query failed: %s: %s\n", sql, sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return v;
}

#endif
