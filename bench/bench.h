/* SPDX-License-Identifier: MIT */
/* What the bench programs share: clocks, percentiles, the blocking echo floor, a private idsrd, JSON. */
#ifndef IDSR_BENCH_H
#define IDSR_BENCH_H

/*
 * Every bench program measures idsrd against the physical floor IN THE SAME
 * RUN: a minimal blocking unix-socket echo server (its own process, one
 * thread per connection) and client exchanging frames of exactly the sizes
 * of a packed Access and Verdict, with no protobuf, policy or logging. The
 * two are measured in alternating rounds so that the load of a shared
 * machine hits both alike, and results are medians over the rounds.
 *
 * Sizes come from the environment so a quick look and a careful run use the
 * same programs: BENCH_ROUNDS (default 5), BENCH_N (round trips per round
 * and side, default 40000), BENCH_LONG=1 (the 10M-access memory run).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "idsr_client.h"
#include "tests/proc_threads.h"
#include "tests/rmtree.h"
#include "unix_socket.h"

#define BENCH_MAX_THREADS	64

/* ---- clocks, statistics ---------------------------------------------------- */

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void bench_die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline unsigned long bench_env(const char *name, unsigned long dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return dflt;
	v = strtoul(s, &end, 10);
	if (*end)
		bench_die("%s=`%s' is not a number", name, s);
	return v;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile (0..1) of n samples, sorting them in place. */
static inline double bench_quantile_us(uint64_t *ns, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(ns, n, sizeof(*ns), bench_cmp_u64);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)ns[i] / 1000.0;
}

static inline double bench_median(double *v, size_t n)
{
	double *c = malloc(n * sizeof(*c));
	double m;

	if (!c || n == 0) {
		free(c);
		return 0;
	}
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), bench_cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

static inline double bench_min(const double *v, size_t n)
{
	double m = n ? v[0] : 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static inline double bench_max(const double *v, size_t n)
{
	double m = n ? v[0] : 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}

/* One latency run: round trips, wall time and the latency quantiles. */
struct bench_lat {
	double p50, p99, p999, rate;	/* µs, µs, µs, round trips/s */
};

static inline struct bench_lat bench_lat_from(uint64_t *ns, size_t n, uint64_t wall_ns)
{
	struct bench_lat l;

	l.p50 = bench_quantile_us(ns, n, 0.50);
	l.p99 = bench_quantile_us(ns, n, 0.99);
	l.p999 = bench_quantile_us(ns, n, 0.999);
	l.rate = wall_ns ? (double)n * 1e9 / (double)wall_ns : 0;
	return l;
}

/* ---- the machine: CPUs and what else ran ------------------------------------ */

static inline double bench_loadavg(void)
{
	double l = 0;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = 0;
		fclose(f);
	}
	return l;
}

/* Resident set of a process, KiB (0 if gone). */
static inline long bench_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * CPU time, to say where a round trip's cost goes (a throughput ratio alone
 * does not). A process's comes from its CPU clock (clock_getcpuclockid: ns,
 * its ended threads counted too; /proc/PID/stat's clock ticks were 10 ms, a
 * tenth of a 4-connection round's server CPU); a named thread's from its
 * schedstat (ns), summed over the live threads of that name.
 */
static inline double bench_proc_cpu_s(pid_t pid)
{
	struct timespec ts;
	clockid_t clock;

	if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double bench_thread_cpu_s(pid_t pid, const char *name)
{
	double cpu_s;

	return proc_threads_named(pid, name, &cpu_s) > 0 ? cpu_s : 0;
}

/* This process's CPU time: the bench's client threads. */
static inline double bench_self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * Wake-ups, to say why a round trip costs what it does: every time a thread
 * sleeps (a voluntary context switch) something must wake it, and on an idle
 * VM each wake-up of a halted vCPU is an exit to the hypervisor. Sleeps of
 * all pid's live threads (its writer too), from their status.
 */
static inline double bench_proc_sleeps(pid_t pid)
{
	char path[320], line[128];
	struct dirent *e;
	double n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		unsigned long v;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, e->d_name);
		if (!(f = fopen(path, "r")))
			continue;	/* ended meanwhile */
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %lu", &v) == 1)
				n += (double)v;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* This thread's sleeps. */
static inline double bench_thread_sleeps(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (double)ru.ru_nvcsw;
}

/* Rescheduling interrupts on every CPU (/proc/interrupts' RES): how often a
 * CPU was told to run a thread woken elsewhere (an idle one: out of halt). */
static inline double bench_resched_ipis(void)
{
	char line[1024];
	double n = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " "), *end;

		if (strncmp(p, "RES:", 4))
			continue;
		for (p += 4;; p = end) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			n += (double)v;
		}
	}
	if (f)
		fclose(f);
	return n;
}

/*
 * The busy case, measured on purpose: one SCHED_IDLE spinner per CPU keeps
 * every vCPU from halting (so no wake-up pays an exit from halt) while
 * taking CPU from nobody else. A quiet figure beside a busy one says how
 * much of a round trip is waking idle CPUs.
 */
#define BENCH_MAX_SPINNERS	64

struct bench_busy {
	pid_t pid[BENCH_MAX_SPINNERS];
	unsigned n;
};

static inline void bench_busy_start(struct bench_busy *b)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	b->n = 0;
	for (long i = 0; i < cpus && b->n < BENCH_MAX_SPINNERS; i++) {
		pid_t pid = fork();

		if (pid < 0)
			bench_die("fork: %s", strerror(errno));
		if (pid == 0) {
			struct sched_param sp = { 0 };
			volatile unsigned long spin = 0;

			if (sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
				_exit(1);
			for (;;)
				spin++;
		}
		b->pid[b->n++] = pid;
	}
}

static inline void bench_busy_stop(struct bench_busy *b)
{
	for (unsigned i = 0; i < b->n; i++)
		kill(b->pid[i], SIGKILL);
	for (unsigned i = 0; i < b->n; i++)
		waitpid(b->pid[i], NULL, 0);
	b->n = 0;
}

/* ---- frames of the real sizes ----------------------------------------------- */

/* A typical trapped access: an EL1 read of an Apple HID register from a
 * kernel address; i-th of a run (writes every fourth, like a real boot's
 * read-modify-write mix). */
static inline void bench_access(uint32_t vcpu, uint64_t i, struct idsr_access *a)
{
	static const uint32_t keys[4] = { 0xc780, 0xc788, 0xc790, 0xc7a0 }; /* s3_0_c15_c0_0.. */

	*a = (struct idsr_access){
		.vcpu = vcpu, .key = keys[i & 3], .pc = 0xffff800010081234ull + (i & 0xff) * 4,
		.el = 1, .is_write = (i & 3) == 3, .value = 0x4000000000000000ull | i,
	};
}

/* The same mix on registers that bench_policy_text answers by stateless
 * rules (`value', `ignore'): what the fast path answers in the VMM. */
static inline void bench_fast_access(uint32_t vcpu, uint64_t i, struct idsr_access *a)
{
	static const uint32_t keys[4] = { 0xc790, 0xc798, 0xc7a0, 0xc7a8 }; /* s3_0_c15_c2_0.. */

	bench_access(vcpu, i, a);
	a->key = keys[i & 3];
}

/* Sizes on the wire (header included) of the Access and Verdict frames for
 * access i of a vCPU: what idsrd and the floor both carry. */
static inline void bench_frame_sizes(uint64_t i, size_t *access_len, size_t *verdict_len)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access acc = IDSR__V1__ACCESS__INIT;
	Idsr__V1__Verdict v = IDSR__V1__VERDICT__INIT;
	struct idsr_access a;
	uint8_t buf[256];

	bench_access(0, i, &a);
	acc.seq = i;
	acc.vcpu = a.vcpu;
	acc.key = a.key;
	acc.pc = a.pc;
	acc.el = a.el;
	acc.is_write = a.is_write;
	acc.value = a.is_write ? a.value : 0;
	f.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	f.access = &acc;
	*access_len = (size_t)frame_pack(&f, buf, sizeof(buf));
	v.seq = i;
	v.vcpu = 0;
	v.action = IDSR__V1__ACTION__EMULATE;
	v.value = a.is_write ? 0 : 0x1234;
	f.body_case = IDSR__V1__FRAME__BODY_VERDICT;
	f.verdict = &v;
	*verdict_len = (size_t)frame_pack(&f, buf, sizeof(buf));
}

/* The floor carries frames of these sizes, fixed so that it does no
 * protobuf work: those of access 20000 (a 3-byte seq, as most of a run). */
static size_t bench_alen, bench_vlen;
/* BENCH_ROUNDS and BENCH_N. */
static unsigned bench_rounds;
static uint64_t bench_n;

static inline void bench_init(void)
{
	bench_frame_sizes(20000, &bench_alen, &bench_vlen);
	signal(SIGPIPE, SIG_IGN);
	/* These programs measure round trips: no Hello asks for the fast path,
	 * whatever its default (docs/design.md 3.6), and the idsr-vmm that
	 * bench_vmm runs inherits it (bench/fastpath.sh and bench_fastpath, which
	 * turns it back on for its own runs, measure the fast path). */
	setenv("IDSR_FAST_PATH", "0", 1);
	bench_rounds = (unsigned)bench_env("BENCH_ROUNDS", 5);
	bench_n = bench_env("BENCH_N", 40000);
	if (bench_rounds < 1 || bench_rounds > 64 || bench_n < 640)
		bench_die("BENCH_ROUNDS must be 1..64 and BENCH_N at least 640");
}

/* ---- unix sockets ----------------------------------------------------------- */

/* unix_socket_connect with errno's convention: -1 and errno set. */
static inline int bench_connect(const char *path)
{
	int fd = unix_socket_connect(path);

	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

static inline bool bench_read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static inline bool bench_write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads one length-prefixed frame the way a blocking client does: one read
 * for the whole frame when it is there, more only if it comes in pieces. */
static inline bool bench_read_frame(int fd, uint8_t *buf, size_t cap)
{
	size_t have = 0, need = FRAME_HEADER;

	while (have < need) {
		ssize_t r = read(fd, buf + have, cap - have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		have += (size_t)r;
		if (need == FRAME_HEADER && have >= FRAME_HEADER) {
			need = FRAME_HEADER + ((size_t)buf[0] | (size_t)buf[1] << 8 |
					       (size_t)buf[2] << 16 | (size_t)buf[3] << 24);
			if (need > cap)
				return false;
		}
	}
	return true;
}

/* ---- the floor: a blocking echo server in its own process -------------------- */

struct bench_floor {
	pid_t pid;
	char path[108];
};

static inline void *bench_floor_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint8_t in[512], out[512];

	memset(out, 0, sizeof(out));
	/* Answer each Access-sized frame with a Verdict-sized one. */
	out[0] = (uint8_t)(bench_vlen - FRAME_HEADER);
	while (bench_read_frame(fd, in, sizeof(in)))
		if (!bench_write_full(fd, out, bench_vlen))
			break;
	close(fd);
	return NULL;
}

static inline void bench_floor_serve(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pthread_create(&t, NULL, bench_floor_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}

static inline void bench_floor_start(struct bench_floor *fl, const char *dir)
{
	struct sockaddr_un sa;
	int lfd;

	if (strlen(dir) + sizeof("/floor.sock") > sizeof(fl->path))
		bench_die("%s is too long a directory for a socket (set BENCH_DIR)", dir);
	memcpy(fl->path, dir, strlen(dir));
	memcpy(fl->path + strlen(dir), "/floor.sock", sizeof("/floor.sock"));
	if (unix_socket_address(fl->path, &sa) < 0)
		bench_die("%s is too long for a socket (set BENCH_DIR)", fl->path);
	unlink(fl->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0)
		bench_die("floor server: cannot listen on %s: %s", fl->path, strerror(errno));
	fl->pid = fork();
	if (fl->pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (fl->pid == 0)
		bench_floor_serve(lfd);
	close(lfd);
}

static inline void bench_floor_stop(struct bench_floor *fl)
{
	kill(fl->pid, SIGKILL);
	waitpid(fl->pid, NULL, 0);
	unlink(fl->path);
}

/* ---- a private idsrd ------------------------------------------------------ */

struct bench_daemon {
	pid_t pid;
	char dir[256];
	char socket[300], control[300], db[300], policy[300], log[300];
};

/* What the benchmark's accesses meet: storage, fixed values, ignored
 * writes, the catch-all UNDEF; a real policy's shape. */
static const char bench_policy_text[] =
	"# bench: a boot touching Apple HID registers\n"
	"s3_0_c15_c0_0               storage init=0x0\n"
	"s3_0_c15_c1_0               counter start=0x1000 step=8\n"
	"s3_0_c15_*_*    read        value 0x1234\n"
	"s3_0_c15_*_*    write       ignore\n"
	"*                           undef\n";

static inline void bench_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		bench_die("cannot write %s: %s", path, strerror(errno));
}

/* Starts BUILD/idsrd on private sockets and a fresh database in dir, with
 * extra arguments (NULL-terminated, may be NULL); waits until it answers. */
static inline void bench_daemon_start(struct bench_daemon *d, const char *dir, const char *const *extra)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char exe[512], more[512];
	const char *argv[32];
	int argc = 0;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->socket, sizeof(d->socket), "%s/vmm.sock", dir);
	snprintf(d->control, sizeof(d->control), "%s/control.sock", dir);
	snprintf(d->db, sizeof(d->db), "%s/trace.db", dir);
	snprintf(d->policy, sizeof(d->policy), "%s/policy.conf", dir);
	snprintf(d->log, sizeof(d->log), "%s/idsrd.log", dir);
	snprintf(exe, sizeof(exe), "%s/idsrd", build);
	unlink(d->db);
	for (const char *sfx = "-wal"; sfx; sfx = *sfx == '-' && sfx[1] == 'w' ? "-shm" : NULL) {
		char p[320];

		snprintf(p, sizeof(p), "%s%s", d->db, sfx);
		unlink(p);
	}
	bench_write_file(d->policy, bench_policy_text);
	argv[argc++] = exe;
	argv[argc++] = "--socket";
	argv[argc++] = d->socket;
	argv[argc++] = "--control";
	argv[argc++] = d->control;
	argv[argc++] = "--db";
	argv[argc++] = d->db;
	argv[argc++] = "--policy";
	argv[argc++] = d->policy;
	for (; extra && *extra && argc < 24; extra++)
		argv[argc++] = *extra;
	/* BENCH_IDSRD_ARGS: more options for every idsrd, e.g. "--queue 65536". */
	snprintf(more, sizeof(more), "%s", getenv("BENCH_IDSRD_ARGS") ? getenv("BENCH_IDSRD_ARGS") : "");
	for (char *save, *w = strtok_r(more, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	d->pid = fork();
	if (d->pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execv(exe, (char **)argv);
		fprintf(stderr, "bench: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int fd = bench_connect(d->control);

		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
			break;
		usleep(10000);
	}
	bench_die("idsrd did not start (see %s; was it built? run `make bench')", d->log);
}

/* SIGTERM (drain and flush) and wait; returns its exit status. */
static inline int bench_daemon_stop(struct bench_daemon *d)
{
	int st = 0;

	kill(d->pid, SIGTERM);
	waitpid(d->pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The store's counters from the control socket's Status. */
struct bench_status {
	uint64_t queue_depth, queue_high_water, rows_written, rows_dropped;
	uint64_t fp_records, fp_ring_full;	/* the fast path's (Status 18, 19) */
};

static inline int bench_daemon_status(struct bench_daemon *d, struct bench_status *out)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT, *reply = NULL;
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__StatusRequest sr = IDSR__V1__STATUS_REQUEST__INIT;
	struct frame_reader r;
	int fd = bench_connect(d->control), rc = -1;

	if (fd < 0)
		return -1;
	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_STATUS;
	req.status = &sr;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	if (frame_reader_init(&r) < 0) {
		close(fd);
		return -1;
	}
	if (frame_send(fd, &f) == 0 && frame_recv(fd, &r, &reply) == 0 &&
	    reply->body_case == IDSR__V1__FRAME__BODY_REPLY && reply->reply->status) {
		const Idsr__V1__Status *st = reply->reply->status;

		*out = (struct bench_status){ st->queue_depth, st->queue_high_water, st->rows_written,
					      st->rows_dropped, st->fast_path_records, st->fast_path_ring_full };
		rc = 0;
	}
	frame_free(reply);
	frame_reader_free(&r);
	close(fd);
	return rc;
}

/* Waits (up to 60 s) until the queue is empty; 0 or -1. */
static inline int bench_daemon_drain(struct bench_daemon *d, struct bench_status *st)
{
	for (int i = 0; i < 6000; i++) {
		if (bench_daemon_status(d, st) == 0 && st->queue_depth == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Rows of a boot in the daemon's database (read while it runs: WAL). */
static inline int64_t bench_rows_logged(struct bench_daemon *d, uint64_t boot_id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite3_open_v2(d->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM accesses WHERE boot_id = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (int64_t)boot_id);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

/* ---- clients: N threads, one connection each, started together -------------- */

/* TARGET_FAST: idsrd with the fast path on, accesses stateless rules
 * answer (bench_fast_access); TARGET_IDSRD: round trips only. */
enum bench_target { TARGET_FLOOR, TARGET_IDSRD, TARGET_FAST };

struct bench_client {
	enum bench_target target;
	const char *path;
	unsigned vcpu, nvcpus;
	const uint8_t *instance;	/* the boot all threads join */
	unsigned spin_us;		/* idsr_set_spin for --poll runs */
	uint64_t n;			/* round trips */
	uint64_t *lat_ns;		/* n samples, or NULL */
	pthread_barrier_t *start;
	uint64_t t0, t1;		/* when it started and ended */
	pid_t server;			/* > 0: count sleeps on both sides (1 client only) */
	double sleeps, server_sleeps, ipis;	/* over the n round trips */
	uint64_t boot_id;
	uint64_t fast;			/* of the n, answered by the fast path */
	bool replaying;			/* idsrd answered from a recording */
	bool failed;
	char error[256];
};

/* Counts from the first round trip to the last, the connection still open. */
static inline void bench_count_start(struct bench_client *c)
{
	if (c->server <= 0)
		return;
	c->sleeps = -bench_thread_sleeps();
	c->server_sleeps = -bench_proc_sleeps(c->server);
	c->ipis = -bench_resched_ipis();
}

static inline void bench_count_end(struct bench_client *c)
{
	if (c->server <= 0)
		return;
	c->sleeps += bench_thread_sleeps();
	c->server_sleeps += bench_proc_sleeps(c->server);
	c->ipis += bench_resched_ipis();
}

static inline void bench_client_floor(struct bench_client *c)
{
	int fd = bench_connect(c->path);
	uint8_t out[256], in[512];

	if (fd < 0) {
		snprintf(c->error, sizeof(c->error), "connect %s: %s", c->path, strerror(errno));
		c->failed = true;
		pthread_barrier_wait(c->start);
		return;
	}
	memset(out, 0, sizeof(out));
	out[0] = (uint8_t)(bench_alen - FRAME_HEADER);
	pthread_barrier_wait(c->start);
	bench_count_start(c);
	c->t0 = bench_now_ns();
	for (uint64_t i = 0; i < c->n; i++) {
		uint64_t t = c->lat_ns ? bench_now_ns() : 0;

		if (!bench_write_full(fd, out, bench_alen) || !bench_read_frame(fd, in, sizeof(in))) {
			snprintf(c->error, sizeof(c->error), "floor round trip %llu failed",
				 (unsigned long long)i);
			c->failed = true;
			break;
		}
		if (c->lat_ns)
			c->lat_ns[i] = bench_now_ns() - t;
	}
	c->t1 = bench_now_ns();
	bench_count_end(c);
	close(fd);
}

static inline void bench_client_idsrd(struct bench_client *c)
{
	struct idsr_hello h = { .vmm = "idsr-bench", .vm_name = "bench", .vcpus = c->nvcpus,
				.instance = c->instance, .instance_len = IDSR_INSTANCE_LEN,
				.kernel = "bench" };
	struct idsr_conn *conn;

	if (idsr_connect(c->path, &h, &conn) < 0) {
		snprintf(c->error, sizeof(c->error), "%s", idsr_last_error());
		c->failed = true;
		pthread_barrier_wait(c->start);
		return;
	}
	c->boot_id = idsr_boot_id(conn);
	c->replaying = idsr_replaying(conn);
	if (c->target != TARGET_FAST)
		idsr_set_fast_path(conn, false);	/* these benchmarks measure round trips */
	if (c->spin_us)
		idsr_set_spin(conn, c->spin_us);
	pthread_barrier_wait(c->start);
	bench_count_start(c);
	c->t0 = bench_now_ns();
	for (uint64_t i = 0; i < c->n; i++) {
		uint64_t t = c->lat_ns ? bench_now_ns() : 0;
		struct idsr_access a;
		struct idsr_verdict v;

		if (c->target == TARGET_FAST)
			bench_fast_access(c->vcpu, i, &a);
		else
			bench_access(c->vcpu, i, &a);
		if (idsr_access(conn, &a, &v) < 0) {
			snprintf(c->error, sizeof(c->error), "access %llu: %s", (unsigned long long)i,
				 idsr_last_error());
			c->failed = true;
			break;
		}
		if (c->lat_ns)
			c->lat_ns[i] = bench_now_ns() - t;
	}
	c->t1 = bench_now_ns();
	bench_count_end(c);
	c->fast = idsr_fast_answers(conn);
	idsr_close(conn, "bench done");
}

static inline void *bench_client_main(void *arg)
{
	struct bench_client *c = arg;

	if (c->target == TARGET_FLOOR)
		bench_client_floor(c);
	else
		bench_client_idsrd(c);
	return NULL;
}

/* The outcome of one run of nthreads clients. */
struct bench_run {
	double rate;			/* aggregate round trips/s */
	struct bench_lat lat;		/* when latencies were recorded */
	uint64_t sent;
	uint64_t fast;			/* of them, answered by the fast path */
	uint64_t t0, t1;		/* the first access's start, the last's end */
	uint64_t boot_id;
	bool replaying;
	/* bench_run_counted: a round trip's sleeps of the client and of the
	 * server's threads, and rescheduling interrupts (whole machine). */
	double sleeps, server_sleeps, ipis;
};

/* Runs nthreads clients of `target`, total round trips split evenly, with
 * latencies recorded when lat is true. A failure ends the program: a
 * benchmark that lost its daemon has nothing to report. */
static inline struct bench_run bench_run_clients_of(enum bench_target target, const char *path,
						    unsigned nthreads, uint64_t total, bool lat,
						    unsigned spin_us, pid_t server)
{
	struct bench_client c[BENCH_MAX_THREADS];
	pthread_t t[BENCH_MAX_THREADS];
	pthread_barrier_t start;
	uint8_t instance[IDSR_INSTANCE_LEN];
	uint64_t per = total / nthreads, t0 = UINT64_MAX, t1 = 0;
	uint64_t *samples = NULL;
	struct bench_run run = { 0 };

	if (nthreads > BENCH_MAX_THREADS)
		bench_die("at most %d client threads", BENCH_MAX_THREADS);
	for (size_t i = 0; i < sizeof(instance); i++)
		instance[i] = (uint8_t)rand();
	if (lat && !(samples = malloc(per * nthreads * sizeof(*samples))))
		bench_die("out of memory for %llu samples", (unsigned long long)(per * nthreads));
	pthread_barrier_init(&start, NULL, nthreads);
	for (unsigned i = 0; i < nthreads; i++) {
		c[i] = (struct bench_client){ .target = target, .path = path, .vcpu = i,
					      .nvcpus = nthreads, .instance = instance, .n = per,
					      .spin_us = spin_us, .start = &start,
					      .server = nthreads == 1 ? server : 0,
					      .lat_ns = samples ? samples + i * per : NULL };
		if (pthread_create(&t[i], NULL, bench_client_main, &c[i]))
			bench_die("cannot start client thread %u", i);
	}
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		if (c[i].failed)
			bench_die("%s client %u: %s", target == TARGET_FLOOR ? "floor" : "idsrd", i,
				  c[i].error);
		t0 = c[i].t0 < t0 ? c[i].t0 : t0;
		t1 = c[i].t1 > t1 ? c[i].t1 : t1;
		run.fast += c[i].fast;
	}
	run.t0 = t0;
	run.t1 = t1;
	pthread_barrier_destroy(&start);
	run.sent = per * nthreads;
	run.boot_id = c[0].boot_id;
	run.replaying = c[0].replaying;
	run.rate = (double)run.sent * 1e9 / (double)(t1 - t0);
	run.sleeps = c[0].sleeps / (double)per;
	run.server_sleeps = c[0].server_sleeps / (double)per;
	run.ipis = c[0].ipis / (double)per;
	if (samples)
		run.lat = bench_lat_from(samples, run.sent, t1 - t0);
	free(samples);
	return run;
}

static inline struct bench_run bench_run_clients(enum bench_target target, const char *path,
						 unsigned nthreads, uint64_t total, bool lat,
						 unsigned spin_us)
{
	return bench_run_clients_of(target, path, nthreads, total, lat, spin_us, 0);
}

/* One client, latencies recorded, and the wake-ups a round trip costs on
 * both sides counted (server: the floor's process or idsrd's pid). */
static inline struct bench_run bench_run_counted(enum bench_target target, const char *path,
						 pid_t server, uint64_t n, unsigned spin_us)
{
	return bench_run_clients_of(target, path, 1, n, true, spin_us, server);
}

/* CPU µs a round trip in one round: the server side (the floor's process, or
 * idsrd with all it did until its queue drained), of it idsrd's store writer,
 * and the clients (this process). */
struct bench_cpu {
	double server, writer, clients;
};

static inline struct bench_run bench_floor_round(struct bench_floor *fl, unsigned conns, uint64_t n,
						 struct bench_cpu *cpu)
{
	double s0 = bench_proc_cpu_s(fl->pid), c0 = bench_self_cpu_s();
	struct bench_run run = bench_run_clients(TARGET_FLOOR, fl->path, conns, n, false, 0);

	cpu->clients = (bench_self_cpu_s() - c0) * 1e6 / (double)n;
	cpu->server = (bench_proc_cpu_s(fl->pid) - s0) * 1e6 / (double)n;
	cpu->writer = 0;
	return run;
}

static inline struct bench_run bench_idsrd_round(struct bench_daemon *d, unsigned conns, uint64_t n,
						 struct bench_cpu *cpu)
{
	double d0 = bench_proc_cpu_s(d->pid), w0 = bench_thread_cpu_s(d->pid, "idsrd-store");
	double c0 = bench_self_cpu_s();
	struct bench_run run = bench_run_clients(TARGET_IDSRD, d->socket, conns, n, false, 0);
	struct bench_status st;

	cpu->clients = (bench_self_cpu_s() - c0) * 1e6 / (double)n;
	if (bench_daemon_drain(d, &st) < 0)
		bench_die("the store queue did not drain in 60 s");
	cpu->server = (bench_proc_cpu_s(d->pid) - d0) * 1e6 / (double)n;
	cpu->writer = (bench_thread_cpu_s(d->pid, "idsrd-store") - w0) * 1e6 / (double)n;
	return run;
}

/* The median of each field over n rounds. */
static inline struct bench_cpu bench_cpu_median(const struct bench_cpu *c, unsigned n)
{
	double server[64], writer[64], clients[64];

	for (unsigned r = 0; r < n && r < 64; r++) {
		server[r] = c[r].server;
		writer[r] = c[r].writer;
		clients[r] = c[r].clients;
	}
	return (struct bench_cpu){ bench_median(server, n), bench_median(writer, n),
				   bench_median(clients, n) };
}

/* ---- set-up and output ------------------------------------------------------ */

/* A private directory for sockets and the database (BENCH_DIR or /tmp). */
static inline void bench_tmpdir(char *buf, size_t len, const char *name)
{
	const char *base = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/tmp";

	snprintf(buf, len, "%s/idsr-bench-%s-XXXXXX", base, name);
	if (!mkdtemp(buf))
		bench_die("mkdtemp %s: %s", buf, strerror(errno));
}

static inline void bench_rmtree(const char *dir)
{
	if (rmtree(dir) < 0)
		fprintf(stderr, "bench: could not remove %s: %s\n", dir, strerror(errno));
}

/* Every program's start: sizes from the environment, a private directory,
 * the floor server in it, warmed up. */
static inline void bench_start(char *dir, size_t len, const char *name, struct bench_floor *fl)
{
	bench_init();
	bench_tmpdir(dir, len, name);
	bench_floor_start(fl, dir);
	bench_run_clients(TARGET_FLOOR, fl->path, 1, bench_n / 10, false, 0);
}

/* The JSON file a program writes its section to (run.sh merges them into
 * bench/results.json): BENCH_OUT, else build/bench/NAME.json. */
static inline FILE *bench_json_open(const char *name)
{
	char path[512];
	const char *dir = getenv("BENCH_OUT");
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.json", dir ? dir : "build/bench", name);
	f = fopen(path, "w");
	if (!f)
		bench_die("cannot write %s: %s", path, strerror(errno));
	return f;
}

static inline void bench_json_lat(FILE *f, const char *name, const struct bench_lat *l)
{
	fprintf(f, "\"%s\": {\"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, "
		"\"round_trips_per_s\": %.0f}", name, l->p50, l->p99, l->p999, l->rate);
}

#endif
