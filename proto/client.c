/* SPDX-License-Identifier: MIT */
/* libidsr-client: a VMM's blocking connection to idsrd, reconnecting if asked (see idsr_client.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client_records.h"
#include "client_fast.h"
#include "frame.h"
#include "idsr_client.h"
#include "paths.h"
#include "unix_socket.h"

#ifdef IDSR_CLIENT_SHARED
#define IDSR_API __attribute__((visibility("default")))
#else
#define IDSR_API
#endif

/* Defaults for the zero fields of struct idsr_options. */
#define DEFAULT_MAX_RETRIES	20
#define DEFAULT_BACKOFF_MS	10
#define DEFAULT_BACKOFF_MAX_MS	1000
#define DEFAULT_WAIT_MS		1000

struct idsr_conn {
	int fd;				/* -1 while idsrd is away */
	uint64_t boot_id;
	bool replaying;
	uint32_t nvcpus;		/* size of next_seq */
	uint64_t *next_seq;		/* per vCPU */
	struct frame_reader reader;	/* verdicts arrive here */
	uint64_t spin_ns;		/* idsr_set_spin: poll this long before blocking */
	struct frame_arena arena;	/* decoding a Verdict mallocs nothing */

	/* What a reconnect needs: the path and the Hello, copied. */
	bool reconnect;
	struct idsr_options opts;
	char *path;
	char *vmm, *vm_name, *kernel, *impl;
	uint8_t instance[IDSR_INSTANCE_LEN];
	size_t instance_len;
	uint8_t *build_id;
	size_t build_id_len;
	uint64_t image_base, slide, midr;
	uint32_t vcpus;

	/* An outage: since when, how many tries, when the next one is due. */
	int64_t outage_deadline_ns;
	int64_t next_try_ns;
	unsigned tries;
	uint64_t fallbacks, reconnects;
	struct client_records records;	/* answered, not yet committed (reconnect only) */

	bool fp_ask;			/* Hello asks for the fast path (not $IDSR_FAST_PATH=0) */
	struct fp_client fp;		/* its region, when idsrd gave one */
};

static __thread char last_error[256];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

IDSR_API const char *idsr_last_error(void)
{
	return last_error;
}

static uint8_t process_instance[IDSR_INSTANCE_LEN];
static pid_t process_instance_pid;	/* the process it was drawn in */
static pthread_mutex_t process_instance_lock = PTHREAD_MUTEX_INITIALIZER;

/* This process's instance into out. Drawn again in a child made by fork():
 * the child is another VM run (idsr_hello: one id per process), and with its
 * parent's id its Hello would join the parent's boot, or a sibling's. */
static void process_instance_get(uint8_t out[IDSR_INSTANCE_LEN])
{
	pthread_mutex_lock(&process_instance_lock);
	if (process_instance_pid != getpid()) {
		process_instance_pid = getpid();
		if (getrandom(process_instance, sizeof(process_instance), 0) != sizeof(process_instance)) {
			/* No entropy yet: pid and time still tell runs apart on one host. */
			uint64_t v[2] = { (uint64_t)getpid(), (uint64_t)time(NULL) };
			memcpy(process_instance, v, sizeof(v));
		}
	}
	memcpy(out, process_instance, IDSR_INSTANCE_LEN);
	pthread_mutex_unlock(&process_instance_lock);
}

/* $IDSRD_SOCKET, else idsrd's default (proto/paths.c, the rule idsrd follows). */
static int default_socket(char *buf, size_t len)
{
	const char *env = getenv("IDSRD_SOCKET");
	char why[512];

	if (env && *env) {
		if ((size_t)snprintf(buf, len, "%s", env) >= len)
			return fail(-ENAMETOOLONG, "$IDSRD_SOCKET is too long");
		return 0;
	}
	if (paths_default(PATH_VMM_SOCKET, PATHS_CLIENT, buf, len, why, sizeof(why)) < 0)
		return fail(-EPERM, "no socket to connect to: %s", why);
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (ns > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_unix(const char *path, int *out)
{
	int fd = unix_socket_connect(path);

	if (fd == -ENAMETOOLONG)
		return fail(fd, "socket path `%s' is longer than %zu bytes", path, UNIX_SOCKET_PATH_MAX);
	if (fd < 0)
		return fail(fd, "cannot connect to idsrd at %s: %s%s", path, strerror(-fd),
			    fd == -ENOENT || fd == -ECONNREFUSED ? " (is idsrd running?)" : "");
	*out = fd;
	return 0;
}

/* Whether a whole frame (or a bad length) is already held. */
static bool frame_held(const struct idsr_conn *c)
{
	struct frame_reader peek = c->reader;
	const uint8_t *payload;
	size_t len;

	return frame_reader_next(&peek, &payload, &len) != 0;
}

/* Reads the next frame; an Error frame from the daemon becomes the message. */
static int recv_frame(struct idsr_conn *c, Frame **out)
{
	int rc;

	/*
	 * Sleeps in read, not in poll(POLLIN) then read. A thread asleep in a
	 * unix socket's read is also woken when idsrd reads the access (the
	 * socket's write space comes back): it may find no verdict yet and
	 * sleep again, a second wake-up. poll avoided that, but then the
	 * thread's whole wake-up (on an idle VM, a halted vCPU's exit to the
	 * hypervisor) began only once the verdict was sent, after idsrd's work;
	 * the early wake-up instead overlaps it with idsrd's work, as the floor's
	 * echo client's does. Quiet, in alternating runs, read against poll: p50
	 * 1.00-1.12x the floor against 1.21-1.29x, a guest's access through
	 * idsr-vmm 1.10-1.12x against 1.34-1.38x, for 1.03-1.11 sleeps a round
	 * trip against 1.00 (docs/performance.md, "The client sleeps in read").
	 */
	rc = frame_recv_in(c->fd, &c->reader, &c->arena, out);

	if (rc == -ECONNRESET)
		return fail(rc, "idsrd closed the connection");
	if (rc == -EBADMSG)
		return fail(rc, "idsrd sent a frame this library cannot decode");
	if (rc < 0)
		return fail(rc, "reading from idsrd: %s", strerror(-rc));
	if ((*out)->body_case == IDSR__V1__FRAME__BODY_ERROR) {
		rc = fail(-EPROTO, "idsrd: %s", (*out)->error->message);
		frame_release(&c->arena, *out);
		*out = NULL;
	}
	return rc;
}

static void conn_free(struct idsr_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	frame_reader_free(&c->reader);
	records_free(&c->records);
	fp_detach(&c->fp);
	free(c->next_seq);
	free(c->path);
	free(c->vmm);
	free(c->vm_name);
	free(c->kernel);
	free(c->impl);
	free(c->build_id);
	free(c);
}

/* Keeps what a Hello needs, so that a reconnect can say it again. */
static int conn_keep_hello(struct idsr_conn *c, const char *path, const struct idsr_hello *h)
{
	if (h->instance) {
		memcpy(c->instance, h->instance, h->instance_len);
		c->instance_len = h->instance_len;
	} else {
		process_instance_get(c->instance);
		c->instance_len = IDSR_INSTANCE_LEN;
	}
	c->path = strdup(path);
	c->vmm = strdup(h->vmm ? h->vmm : "");
	c->vm_name = strdup(h->vm_name ? h->vm_name : "");
	c->kernel = strdup(h->kernel ? h->kernel : "");
	c->impl = strdup(h->impl ? h->impl : "");
	c->build_id_len = h->build_id ? h->build_id_len : 0;
	c->build_id = malloc(c->build_id_len ? c->build_id_len : 1);
	if (!c->path || !c->vmm || !c->vm_name || !c->kernel || !c->impl || !c->build_id)
		return fail(-ENOMEM, "out of memory");
	if (c->build_id_len)
		memcpy(c->build_id, h->build_id, c->build_id_len);
	c->image_base = h->image_base;
	c->slide = h->slide;
	c->midr = h->midr;
	c->vcpus = h->vcpus;
	return 0;
}

static int grow_seq(struct idsr_conn *c, uint32_t vcpu)
{
	uint32_t n = vcpu + 1;
	uint64_t *p = realloc(c->next_seq, n * sizeof(*p));

	if (!p)
		return fail(-ENOMEM, "out of memory");
	memset(p + c->nvcpus, 0, (n - c->nvcpus) * sizeof(*p));
	c->next_seq = p;
	c->nvcpus = n;
	return 0;
}

/* A resumed boot: idsrd's rows of each vCPU end at Welcome.next_seq (vCPUs
 * not listed: at 0). The accesses answered past it are sent again, and the
 * vCPU goes on from its own next seq; a vCPU whose records do not reach back
 * that far goes on from idsrd's (client_records.c). */
static int conn_resume_seqs(struct idsr_conn *c, const Idsr__V1__Welcome *w)
{
	int rc;

	if (w->n_next_seq > c->nvcpus && (rc = grow_seq(c, (uint32_t)w->n_next_seq - 1)) < 0)
		return rc;
	/* An idsrd before Resend would close the connection on it: then
	 * every vCPU goes on from idsrd's end, as it did with such an idsrd. */
	if (!w->takes_resend)
		records_abandon(&c->records);
	rc = records_resend(&c->records, c->fd, w->next_seq, w->n_next_seq, c->next_seq, c->nvcpus);
	if (rc < 0)
		return fail(rc, "re-sending answered accesses to idsrd: %s", strerror(-rc));
	return 0;
}

/* Connects, says Hello (resuming resume_boot if not 0) and takes the Welcome. */
static int conn_hello(struct idsr_conn *c, uint64_t resume_boot)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	Idsr__V1__Guest guest = IDSR__V1__GUEST__INIT;
	Frame *reply = NULL;
	int rc, fd = -1;

	rc = connect_unix(c->path, &c->fd);
	if (rc < 0)
		return rc;
	c->reader.len = c->reader.start = 0;	/* nothing of an old connection */
	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.vmm = c->vmm;
	hello.vm_name = c->vm_name;
	hello.instance.data = c->instance;
	hello.instance.len = c->instance_len;
	hello.vcpus = c->vcpus;
	hello.resume_boot = resume_boot;
	hello.fast_path = c->fp_ask;
	guest.kernel = c->kernel;
	guest.build_id.data = c->build_id;
	guest.build_id.len = c->build_id_len;
	guest.image_base = c->image_base;
	guest.slide = c->slide;
	guest.midr = c->midr;
	guest.impl = c->impl;
	hello.guest = &guest;
	frame.body_case = IDSR__V1__FRAME__BODY_HELLO;
	frame.hello = &hello;
	rc = frame_send(c->fd, &frame);
	if (rc < 0) {
		rc = fail(rc, "sending Hello to idsrd: %s", strerror(-rc));
		goto err;
	}
	/* The region comes with the Welcome's first bytes (SCM_RIGHTS). */
	if (c->fp_ask && (rc = fp_recv_fd(c->fd, &c->reader, &fd)) < 0) {
		rc = fail(rc, "reading idsrd's Welcome: %s", strerror(-rc));
		goto err;
	}
	rc = recv_frame(c, &reply);
	if (rc < 0)
		goto err;
	if (reply->body_case != IDSR__V1__FRAME__BODY_WELCOME) {
		rc = fail(-EPROTO, "idsrd answered Hello with %s, expected Welcome",
			  frame_body_name(reply));
		goto err;
	}
	if (resume_boot && (rc = conn_resume_seqs(c, reply->welcome)) < 0)
		goto err;
	c->boot_id = reply->welcome->boot_id;
	c->replaying = reply->welcome->mode == IDSR__V1__MODE__REPLAY;
	fp_detach(&c->fp);	/* a reconnect's old region */
	/* A region that does not map or check out: round trips answer all. */
	if (reply->welcome->fast_path && fd >= 0) {
		bool on = c->fp.on;	/* idsr_set_fast_path holds across a reconnect */

		fp_attach(&c->fp, fd);
		c->fp.on = on;
	}
	if (fd >= 0)
		close(fd);
	frame_release(&c->arena, reply);
	return 0;
err:
	if (fd >= 0)
		close(fd);
	frame_release(&c->arena, reply);
	close(c->fd);
	c->fd = -1;
	return rc;
}

/* The fast path is asked for unless $IDSR_FAST_PATH=0 turns it off for the
 * process (idsr_set_fast_path, per connection). */
static bool fast_path_wanted(void)
{
	const char *env = getenv("IDSR_FAST_PATH");

	return !env || strcmp(env, "0") != 0;
}

IDSR_API int idsr_connect_opts(const char *path, const struct idsr_hello *h,
			       const struct idsr_options *opts, struct idsr_conn **out)
{
	char pathbuf[256];
	struct idsr_conn *c;
	int rc;

	if (h->instance_len > IDSR_INSTANCE_LEN)
		return fail(-EINVAL, "instance id is %zu bytes, at most %d", h->instance_len,
			    IDSR_INSTANCE_LEN);
	if (opts && opts->fallback != IDSR_FALLBACK_UNDEF && opts->fallback != IDSR_FALLBACK_RAZ)
		return fail(-EINVAL, "unknown fallback %d (IDSR_FALLBACK_UNDEF or IDSR_FALLBACK_RAZ)",
			    (int)opts->fallback);
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(-ENOMEM, "out of memory");
	c->fd = -1;
	c->fp_ask = fast_path_wanted();
	c->fp.on = true;
	c->nvcpus = h->vcpus ? h->vcpus : 1;
	c->next_seq = calloc(c->nvcpus, sizeof(*c->next_seq));
	if (!c->next_seq || frame_reader_init(&c->reader) < 0) {
		free(c->next_seq);
		free(c);
		return fail(-ENOMEM, "out of memory");
	}
	rc = path ? 0 : default_socket(pathbuf, sizeof(pathbuf));
	if (rc == 0)
		rc = conn_keep_hello(c, path ? path : pathbuf, h);
	if (rc == 0)
		rc = conn_hello(c, 0);
	if (rc < 0) {
		conn_free(c);
		return rc;
	}
	if (opts) {
		c->reconnect = true;
		c->opts = *opts;
		if (!c->opts.max_retries)
			c->opts.max_retries = DEFAULT_MAX_RETRIES;
		if (!c->opts.backoff_ms)
			c->opts.backoff_ms = DEFAULT_BACKOFF_MS;
		if (!c->opts.backoff_max_ms)
			c->opts.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
		if (!c->opts.wait_ms)
			c->opts.wait_ms = DEFAULT_WAIT_MS;
		if (!c->opts.records)
			c->opts.records = IDSR_RECORDS_DEFAULT;
		records_init(&c->records, c->opts.records);
	}
	*out = c;
	return 0;
}

IDSR_API int idsr_connect(const char *path, const struct idsr_hello *h, struct idsr_conn **out)
{
	return idsr_connect_opts(path, h, NULL, out);
}

/* Polls the socket without sleeping until a whole frame is held or spin_ns
 * passed: a verdict that comes back within a few µs is then taken without
 * the two context switches of sleeping in read. What arrives is left in the
 * reader for recv_frame. */
static void spin_for_frame(struct idsr_conn *c)
{
	int64_t deadline = mono_ns() + (int64_t)c->spin_ns;

	for (;;) {
		uint8_t *p;
		size_t space;
		ssize_t got;

		if (frame_held(c))
			return;		/* a whole frame (or a bad one): recv_frame takes it */
		frame_reader_space(&c->reader, &p, &space);
		got = recv(c->fd, p, space, MSG_DONTWAIT);
		if (got > 0)
			frame_reader_commit(&c->reader, (size_t)got);
		else if (got == 0 || (errno != EAGAIN && errno != EINTR) || mono_ns() >= deadline)
			return;		/* EOF and errors too: recv_frame reports them */
		else
			sched_yield();	/* the CPU to whoever waits for it: on a busy machine, often idsrd */
	}
}

IDSR_API int idsr_set_spin(struct idsr_conn *c, unsigned usec)
{
	if (usec > IDSR_SPIN_MAX_US)
		return fail(-EINVAL, "spin of %u µs is over the limit of %d µs", usec, IDSR_SPIN_MAX_US);
	c->spin_ns = (uint64_t)usec * 1000;
	return 0;
}

/* Keeps an answered access until idsrd says it committed it: if idsrd dies
 * first, the next idsrd gets it back (Resend), whichever path answered it. */
static void keep_answered(struct idsr_conn *c, const struct idsr_access *a, const struct idsr_verdict *v)
{
	records_keep(&c->records, &(struct client_record){
		.seq = a->seq, .pc = a->pc, .value = a->is_write ? a->value : v->value,
		.vcpu = a->vcpu, .key = a->key, .el = a->el, .is_write = a->is_write,
		.undef = v->undef,
	});
}

/* One Access and its Verdict on the live connection. */
static int conn_access(struct idsr_conn *c, struct idsr_access *a, struct idsr_verdict *v)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access access = IDSR__V1__ACCESS__INIT;
	uint8_t buf[128];	/* an Access frame is at most ~60 bytes */
	Frame *reply = NULL;
	int n, rc;

	access.seq = c->next_seq[a->vcpu];
	access.vcpu = a->vcpu;
	access.key = a->key;
	access.pc = a->pc;
	access.el = a->el;
	access.is_write = a->is_write;
	access.value = a->is_write ? a->value : 0;
	frame.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	frame.access = &access;
	n = frame_pack(&frame, buf, sizeof(buf));
	if (n < 0)
		return fail(n, "packing Access: %s", strerror(-n));
	rc = frame_write_all(c->fd, buf, (size_t)n, 0);
	if (rc < 0)
		return fail(rc, "sending Access to idsrd: %s", strerror(-rc));
	if (c->spin_ns)
		spin_for_frame(c);
	rc = recv_frame(c, &reply);
	if (rc < 0)
		return rc;
	if (reply->body_case != IDSR__V1__FRAME__BODY_VERDICT ||
	    reply->verdict->seq != access.seq || reply->verdict->vcpu != access.vcpu) {
		rc = fail(-EPROTO, "idsrd answered Access (vcpu %u seq %llu) with an unexpected %s",
			  access.vcpu, (unsigned long long)access.seq, frame_body_name(reply));
		frame_release(&c->arena, reply);
		return rc;
	}
	a->seq = access.seq;
	c->next_seq[a->vcpu]++;
	v->undef = reply->verdict->action == IDSR__V1__ACTION__UNDEF;
	v->value = v->undef ? 0 : reply->verdict->value;
	if (reply->verdict->committed)
		records_committed(&c->records, a->vcpu, reply->verdict->committed);
	frame_release(&c->arena, reply);
	keep_answered(c, a, v);
	return 0;
}

/* Tells idsrd to take the ring now (fast path). */
static void conn_wake(struct idsr_conn *c)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Wake wake = IDSR__V1__WAKE__INIT;

	frame.body_case = IDSR__V1__FRAME__BODY_WAKE;
	frame.wake = &wake;
	frame_send(c->fd, &frame);
}

/* The connection broke (idsrd stopped or crashed): an outage starts. */
static void conn_lost(struct idsr_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->tries = 0;
	c->next_try_ns = mono_ns();
	c->outage_deadline_ns = c->next_try_ns + (int64_t)c->opts.wait_ms * 1000000;
}

/* One reconnect try: resume the boot, or if idsrd refuses that (another
 * database, the boot ended), start a new boot with the same Hello. */
static bool conn_try_reconnect(struct idsr_conn *c)
{
	unsigned shift = c->tries < 16 ? c->tries : 16;
	uint64_t backoff = (uint64_t)c->opts.backoff_ms << shift;

	c->tries++;
	if (backoff > c->opts.backoff_max_ms)
		backoff = c->opts.backoff_max_ms;
	int rc;

	c->next_try_ns = mono_ns() + (int64_t)backoff * 1000000;
	rc = conn_hello(c, c->boot_id);
	if (rc == -EPROTO && (rc = conn_hello(c, 0)) == 0) {
		/* A new boot: the old one's records cannot go anywhere. */
		memset(c->next_seq, 0, c->nvcpus * sizeof(*c->next_seq));
		records_abandon(&c->records);
	}
	if (rc < 0)
		return false;
	c->reconnects++;
	return true;
}

/* In an outage: reconnects as the options say, waiting within the outage's
 * allowance; whether the connection is up. */
static bool conn_wait_up(struct idsr_conn *c)
{
	while (c->fd < 0) {
		int64_t now = mono_ns();

		if (c->tries < c->opts.max_retries && now >= c->next_try_ns) {
			if (conn_try_reconnect(c))
				return true;
			now = mono_ns();
		}
		if (c->tries >= c->opts.max_retries || now >= c->outage_deadline_ns)
			return false;
		sleep_ns((c->next_try_ns < c->outage_deadline_ns ? c->next_try_ns : c->outage_deadline_ns) - now);
	}
	return true;
}

/* Whether idsrd is gone from the connection: it sends nothing unasked, so
 * anything to read is its end (or an Error before it). */
static bool conn_gone(struct idsr_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

IDSR_API int idsr_access(struct idsr_conn *c, struct idsr_access *a, struct idsr_verdict *v)
{
	int rc;

	if (a->vcpu >= c->nvcpus && (rc = grow_seq(c, a->vcpu)) < 0)
		return rc;
	for (;;) {
		if (c->fd >= 0) {
			rc = fp_access(&c->fp, c->next_seq[a->vcpu], a, v);
			if (rc >= 0) {
				uint64_t below = fp_committed(&c->fp, a->vcpu);

				/* What idsrd committed is forgotten: no verdict says it here. */
				if (below)
					records_committed(&c->records, a->vcpu, below);
				a->seq = c->next_seq[a->vcpu]++;
				keep_answered(c, a, v);
				/* A failed Wake is a broken connection: the next round trip finds it. */
				if (rc == 1)
					conn_wake(c);
				return 0;
			}
			rc = conn_access(c, a, v);
			/* An Error frame (EPROTO) is about what we sent: no reconnect. */
			if (rc == 0 || !c->reconnect || rc == -EPROTO || rc == -ENOMEM)
				return rc;
			conn_lost(c);
		}
		/* Wait within the outage's allowance, then the fallback answers. */
		if (!conn_wait_up(c))
			break;
	}
	c->fallbacks++;
	a->seq = UINT64_MAX;
	v->undef = c->opts.fallback == IDSR_FALLBACK_UNDEF;
	v->value = 0;
	return 0;
}

IDSR_API int idsr_flush(struct idsr_conn *c)
{
	/* Answered accesses idsrd may not have: the fast path answers into the
	 * ring of an idsrd that died without taking it (a round trip would have
	 * found it gone). A reconnect re-sends them (Resend). */
	if (c->fd >= 0 && c->reconnect && conn_gone(c))
		conn_lost(c);
	if (c->fd >= 0)
		return 0;
	if (!c->reconnect)
		return fail(-ENOTCONN, "the connection to idsrd is broken (no reconnect asked)");
	if (!conn_wait_up(c)) {
		char why[sizeof(last_error)];

		/* fail formats into last_error: the last try's error is copied out first */
		snprintf(why, sizeof(why), "%s", last_error);
		return fail(-ENOTCONN, "idsrd did not come back within the outage's wait: %s", why);
	}
	return 0;
}

IDSR_API int idsr_close(struct idsr_conn *c, const char *reason)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Bye bye = IDSR__V1__BYE__INIT;
	int rc = 0;

	if (!c)
		return 0;
	if (c->records.held)
		idsr_flush(c);
	bye.reason = (char *)(reason ? reason : "");
	frame.body_case = IDSR__V1__FRAME__BODY_BYE;
	frame.bye = &bye;
	if (c->fd >= 0 && (rc = frame_send(c->fd, &frame)) < 0)
		rc = fail(rc, "sending Bye to idsrd: %s", strerror(-rc));
	conn_free(c);
	return rc;
}

IDSR_API uint64_t idsr_boot_id(const struct idsr_conn *c)
{
	return c->boot_id;
}

IDSR_API bool idsr_replaying(const struct idsr_conn *c)
{
	return c->replaying;
}

IDSR_API bool idsr_connected(const struct idsr_conn *c)
{
	return c->fd >= 0;
}

IDSR_API uint64_t idsr_fallbacks(const struct idsr_conn *c)
{
	return c->fallbacks;
}

IDSR_API uint64_t idsr_reconnects(const struct idsr_conn *c)
{
	return c->reconnects;
}

IDSR_API uint64_t idsr_uncommitted(const struct idsr_conn *c)
{
	return c->records.held;
}

IDSR_API uint64_t idsr_unprotected(const struct idsr_conn *c)
{
	return c->records.unprotected;
}

IDSR_API int idsr_handle_kvm_exit(struct idsr_conn *c, uint32_t vcpu, uint64_t pc, uint8_t el,
				  struct idsr_kvm_idsr *exit)
{
	struct idsr_access a = {
		.vcpu = vcpu,
		.key = idsr_key_a64(exit->Op0, exit->Op1, exit->CRn, exit->CRm, exit->Op2),
		.pc = pc,
		.el = el,
		.is_write = exit->is_write,
		.value = exit->regval,
	};
	struct idsr_verdict v;
	int rc = idsr_access(c, &a, &v);

	if (rc < 0)
		return rc;
	exit->is_handled = !v.undef;
	if (!v.undef && !exit->is_write)
		exit->regval = v.value;
	return 0;
}

IDSR_API int idsr_set_fast_path(struct idsr_conn *c, bool on)
{
	c->fp.on = on;
	return 0;
}

IDSR_API uint64_t idsr_fast_answers(const struct idsr_conn *c)
{
	return c->fp.answered;
}
