/* SPDX-License-Identifier: MIT */
/* Integration-test harness: a real build/idsrd on a private socket and database in a temp dir. */
#ifndef IDSR_TEST_HARNESS_H
#define IDSR_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
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

#include "tests/rmtree.h"
#include "unix_socket.h"

/* Memory bounds do not hold under AddressSanitizer (shadow, quarantine) or
 * when idsrd runs under valgrind (IDSRD_WRAPPER): then they are not asserted. */
#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_SANITIZED 1
#else
#define HARNESS_SANITIZED 0
#endif
#define HARNESS_RSS_UNBOUNDED (HARNESS_SANITIZED || getenv("IDSRD_WRAPPER") != NULL)

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

static inline int64_t harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long a test waits for a state before it gives up: generous, because a
 * machine shared with other builds (`make check-busy`, CI) can stall idsrd for
 * seconds. A passing test never waits it out; only a failing one does. */
#define HARNESS_DEADLINE_MS 60000

/* Polls cond every 10 ms until it holds or HARNESS_DEADLINE_MS pass: a test
 * waits for a state, never for a time. The caller asserts the state after. */
#define harness_wait_until(cond)							\
	do {										\
		int64_t harness_end_ = harness_now_ms() + HARNESS_DEADLINE_MS;		\
		while (!(cond) && harness_now_ms() < harness_end_)			\
			harness_sleep_ms(10);						\
	} while (0)

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

/* Connects to a unix socket at path; -1 on failure. */
static inline int harness_connect_path(const char *path)
{
	int fd = unix_socket_connect(path);

	return fd < 0 ? -1 : fd;
}

/* Starts idsrd with the harness's paths plus extra (NULL-terminated) args. */
static inline int harness_start(struct harness *h, const char *const *extra)
{
	char bin[256], wrapper[512] = "";
	const char *argv[48];
	const char *wrap = getenv("IDSRD_WRAPPER");
	int n = 0;
	/* under valgrind, ten times the deadline; a crash's recovery may take seconds too */
	int64_t deadline = harness_now_ms() + (wrap && *wrap ? 10 : 1) * HARNESS_DEADLINE_MS;

	snprintf(bin, sizeof(bin), "%s/idsrd", harness_build());
	/* IDSRD_WRAPPER="valgrind --flags": idsrd runs under it (scripts/valgrind.sh) */
	if (wrap && *wrap) {
		snprintf(wrapper, sizeof(wrapper), "%s", wrap);
		for (char *w = strtok(wrapper, " \t\n"); w && n < 16; w = strtok(NULL, " \t\n"))
			argv[n++] = w;
	}
	argv[n++] = bin;
	argv[n++] = "--socket"; argv[n++] = h->sock;
	argv[n++] = "--control"; argv[n++] = h->ctl;
	argv[n++] = "--db"; argv[n++] = h->db;
	argv[n++] = "--foreground";
	if (access(h->policy, F_OK) == 0) {
		argv[n++] = "--policy";
		argv[n++] = h->policy;
	}
	for (; extra && *extra && n < 47; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	h->pid = fork();
	if (h->pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0)
			dup2(fd, 2);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	while (harness_now_ms() < deadline) {
		int status;

		/* Sockets left by a killed idsrd exist but refuse: wait for a live one. */
		int vfd = harness_connect_path(h->sock), cfd = harness_connect_path(h->ctl);

		if (vfd >= 0)
			close(vfd);
		if (cfd >= 0)
			close(cfd);
		if (vfd >= 0 && cfd >= 0)
			return 0;
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = 0;
			return -1;
		}
		harness_sleep_ms(10);
	}
	return -1;
}

/* harness_init + harness_start for a cmocka group setup: -1 (and where to
 * look) if the daemon did not start. */
static inline int harness_setup(struct harness *h, const char *policy_text)
{
	harness_init(h, policy_text);
	if (harness_start(h, NULL) < 0) {
		fprintf(stderr, "# idsrd did not start; see %s\n", h->log);
		return -1;
	}
	return 0;
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
	if (h->pid > 0)
		harness_stop(h);
	if (getenv("KEEP_TEST_DIR"))
		return;
	if (rmtree(h->dir) < 0)
		fprintf(stderr, "# could not remove %s: %s\n", h->dir, strerror(errno));
}

/* A raw connection to the VMM socket, for hostile-input tests. */
static inline int harness_raw_connect(const struct harness *h)
{
	return harness_connect_path(h->sock);
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

/* harness_query_int with a printf-style query. */
static inline long long harness_queryf(const struct harness *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline long long harness_queryf(const struct harness *h, const char *fmt, ...)
{
	char sql[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return harness_query_int(h, sql);
}

/* A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"); -1 if absent. */
static inline long long harness_proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) && line[strlen(field)] == ':')
			v = atoll(line + strlen(field) + 1);
	fclose(f);
	return v;
}

/* True if idsrd's log (its first 64 KiB) says text. */
static inline bool harness_log_has(const struct harness *h, const char *text)
{
	static char buf[1 << 16];
	FILE *f = fopen(h->log, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, text) != NULL;
}

/* Copies idsrd's log to stderr as TAP comments: what a failed test shows. */
static inline void harness_dump_log(const struct harness *h)
{
	char line[1024];
	FILE *f = fopen(h->log, "r");

	if (!f)
		return;
	fprintf(stderr, "# idsrd's log (%s):\n", h->log);
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "#   %s%s", line, strchr(line, '\n') ? "" : "\n");
	fclose(f);
}

/* How many times idsrd's log (its first 64 KiB) says text. */
static inline int harness_log_count(const struct harness *h, const char *text)
{
	static char buf[1 << 16];
	FILE *f = fopen(h->log, "r");
	const char *p;
	size_t n;
	int count = 0;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	for (p = buf; (p = strstr(p, text)); p += strlen(text))
		count++;
	return count;
}

/* Runs a one-text query on the trace, read-only; the caller frees the result. */
static inline char *harness_query_text(const struct harness *h, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *v = NULL;

	if (sqlite3_open_v2(h->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			v = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

#ifdef IDSR_FRAME_H
/* Asks the daemon for its status over the control socket; NULL if it did not
 * answer. The reply frame is the caller's (frame_free). */
static inline Frame *harness_status(const struct harness *h)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__StatusRequest sr = IDSR__V1__STATUS_REQUEST__INIT;
	struct frame_reader r;
	Frame *reply = NULL;
	int fd = harness_connect_path(h->ctl);

	if (fd < 0)
		return NULL;
	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_STATUS;
	req.status = &sr;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	frame_reader_init(&r);
	if (frame_send(fd, &f) < 0 || frame_recv(fd, &r, &reply) < 0 ||
	    reply->body_case != IDSR__V1__FRAME__BODY_REPLY || !reply->reply->status) {
		frame_free(reply);
		reply = NULL;
	}
	frame_reader_free(&r);
	close(fd);
	return reply;
}
#endif

#endif
