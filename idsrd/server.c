/* SPDX-License-Identifier: MIT */
/* VMM connections: one thread each, reading Access frames and answering them on the spot. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "boot.h"
#include "daemon.h"
#include "durable.h"
#include "db.h"
#include "deadline.h"
#include "fastpath.h"
#include "log.h"
#include "penalty.h"
#include "replayer.h"
#include "server.h"
#include "subscribe.h"

/*
 * Why a thread per connection, blocking in read, and not event loops: on the
 * trap path each access is one wake-up of the thread that answers it. A
 * thread blocked in read is woken straight into its read and answers at
 * once; a libuv worker is woken in epoll_wait, returns to its loop and only
 * then reads — one more syscall and a longer path per access, on every
 * access. Measured with 4 VMM connections on 2 CPUs (bench_scaling,
 * docs/performance.md): 0.79-0.82x the floor's aggregate with threads against
 * 0.51-0.59x with the worker loops, and a p50 of 0.93-0.97x against 1.16x. The main loop
 * (libuv) still accepts connections and serves idsrctl; a VMM that does not
 * read its verdicts now blocks only its own thread.
 *
 * An idle connection costs no thread: a new one, and one that sent nothing
 * for SESSION_IDLE_MS, is parked in the main loop (uv_poll) until it is
 * readable, then a thread is started for it again. So 10k idle connections
 * cost their sockets and sessions, not 10k stacks.
 */

/* Verdicts of one read are sent with one write; more frames than fit go in
 * the next write. */
#define SESSION_OUT_CAP		8192
/* A session's stack: its deepest path is an Error frame's message (~1 KiB). */
#define SESSION_STACK		(256 * 1024)
/* A connection that sent nothing for this long is parked (no thread). */
#define SESSION_IDLE_MS		2000

struct session {
	int fd;
	struct session *prev, *next;	/* all sessions (server_drain shuts them down) */
	struct session *park_next;	/* handed to the main loop to park */
	uv_poll_t park;			/* parked: waits for the VMM in the main loop */
	struct frame_reader reader;
	struct boot *boot;
	struct boot_peer peer;
	struct live_policy *policy;	/* this thread's reference */
	struct durable durable;		/* Verdict.committed per vCPU */
	bool resumed;			/* a resumed Welcome, no Access yet: Resend allowed */
	bool closing;
	size_t outlen;
	/* SESSION_OUT_CAP bytes from the first frame to send on. */
	uint8_t *out;
	uint64_t poll_window_ns;	/* --poll: how long to poll before sleeping */
	unsigned delay_ms;		/* its process erred: wait this long before the first read */
	/* A frame is decoded and released within one call, into this arena on
	 * the running thread's stack (a parked session has none). */
	struct frame_arena *arena;
	struct fp_region *fp;		/* the fast path's region, or NULL */
	bool fp_woken;			/* a Wake came: records flow, tick before sleeping */
	bool fp_unsettled;		/* records taken whose commit is not yet published */
};

/* Every session, running or parked, so that idsrd can end them and wait for them. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t gone;		/* a session ended */
	struct session *head;
	unsigned live;
	bool stopping;
	struct session *to_park;	/* handed over by their threads */
	uv_async_t parker;		/* main loop: park what is in to_park */
	uv_loop_t *loop;
} sessions = { .lock = PTHREAD_MUTEX_INITIALIZER, .gone = PTHREAD_COND_INITIALIZER };

/* ---- the live policy, per session --------------------------------------- */


/* ---- sending -------------------------------------------------------------- */

/* Sends what is in s->out, sleeping while the VMM does not read (that stops
 * only this VMM); a connection that cannot take it is closing. */
static void session_flush(struct session *s, int flags)
{
	if (s->outlen && frame_write_all(s->fd, s->out, s->outlen, flags) < 0)
		s->closing = true;
	s->outlen = 0;
}

static void session_send(struct session *s, const Frame *f)
{
	uint8_t *big;
	size_t need;
	int n;

	if (!s->out && !(s->out = malloc(SESSION_OUT_CAP))) {
		log_err("out of memory for a VMM connection's verdicts; closing it");
		s->closing = true;
		return;
	}
	/* A Verdict is packed in one pass when it fits (frame_pack): sizing it
	 * first would cost as much again, on every access. */
	n = frame_pack(f, s->out + s->outlen, SESSION_OUT_CAP - s->outlen);
	if (n > 0) {
		s->outlen += (size_t)n;
		return;
	}
	need = FRAME_HEADER + protobuf_c_message_get_packed_size(&f->base);
	if (s->outlen + need > SESSION_OUT_CAP)
		session_flush(s, 0);
	if (need <= SESSION_OUT_CAP) {
		n = frame_pack(f, s->out + s->outlen, SESSION_OUT_CAP - s->outlen);
		if (n > 0)
			s->outlen += (size_t)n;
		return;
	}
	/* Rare and large (a resumed Welcome with thousands of vCPUs' seqs). */
	big = malloc(need);
	if (big && (n = frame_pack(f, big, need)) > 0 && frame_write_all(s->fd, big, (size_t)n, 0) < 0)
		s->closing = true;
	free(big);
}

/* Tells the VMM what was wrong, closes the connection and marks its boot. */
static void session_fail(struct session *s, Idsr__V1__ErrorCode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void session_fail(struct session *s, Idsr__V1__ErrorCode code, const char *fmt, ...)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Error err = IDSR__V1__ERROR__INIT;
	char msg[512];
	va_list ap;

	if (s->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	penalty_note_error(&s->peer, s->boot ? s->boot->id : 0, msg);
	err.code = code;
	err.message = msg;
	f.body_case = IDSR__V1__FRAME__BODY_ERROR;
	f.error = &err;
	session_send(s, &f);
	if (s->boot) {
		boot_leave(s->boot, msg, true);
		s->boot = NULL;
	}
	/* Best effort: a VMM that does not read gets no Error, not a hang. */
	session_flush(s, MSG_DONTWAIT);
	s->closing = true;
}

/* Sends s->out with fd attached (SCM_RIGHTS) to its first byte. */
static void session_flush_fd(struct session *s, int fd)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec iov = { s->out, s->outlen };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 || ((size_t)n < s->outlen && frame_write_all(s->fd, s->out + n, s->outlen - (size_t)n, 0) < 0))
		s->closing = true;
	s->outlen = 0;
}

/* Takes the fast path's records: how many, or -1 when one lied and the
 * connection failed. */
static int session_drain(struct session *s)
{
	char why[256];
	int n;

	if (!s->fp || !s->boot)
		return 0;
	n = fastpath_drain(s->fp, s->boot, &s->durable, why, sizeof(why));
	if (n < 0)
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_FRAME, "%s", why);
	if (n > 0)
		s->fp_unsettled = true;
	return n;
}

/* Publishes in the region what the store committed since the last
 * publication (the VMM forgets those records); whether some rows are
 * still awaited. */
static bool session_settle(struct session *s)
{
	for (uint32_t v = 0; v < s->durable.n; v++)
		fastpath_committed(s->fp, v, durable_poll(&s->durable, v));
	return durable_pending(&s->durable);
}

/*
 * Before sleeping in read, a fast-path connection takes its records, and
 * while they come it takes them every FP_TICK_MS (the most a record waits).
 * It also ticks until the rows of the records it took are committed and
 * that is published in the region (a VMM answered only by the fast path
 * gets no Verdict.committed, and its library keeps each record until then).
 * Once a take finds none (and no Wake just came) and nothing of the records
 * awaits its commit, it sets need_wake and sleeps: the VMM's next record
 * sends a Wake. So a connection that only makes round trips never ticks,
 * and an idle VMM costs nothing once its rows are committed.
 */
#define FP_TICK_MS	10
static void session_fp_wait(struct session *s)
{
	while (!s->closing && s->boot) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int n = session_drain(s);

		if (n < 0)
			return;
		if (s->fp_unsettled && !session_settle(s))
			s->fp_unsettled = false;
		if (n == 0 && !s->fp_woken && !s->fp_unsettled && fastpath_arm_wake(s->fp))
			return;
		s->fp_woken = false;
		if (poll(&p, 1, FP_TICK_MS) != 0)
			return;		/* a frame (or the end): read it */
	}
}

/* ---- handling frames ------------------------------------------------------ */

static void session_hello(struct session *s, const Idsr__V1__Hello *h)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Welcome welcome = IDSR__V1__WELCOME__INIT;
	char why[256];
	int fd = -1;

	if (s->boot) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQUENCE,
			     "a second Hello on a connection that already said Hello");
		return;
	}
	if (h->protocol != IDSR_PROTOCOL_VERSION) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_VERSION,
			     "Hello speaks protocol version %u; this idsrd speaks version %d",
			     h->protocol, IDSR_PROTOCOL_VERSION);
		return;
	}
	s->boot = boot_join(h, &s->peer, why, sizeof(why));
	if (!s->boot) {
		session_fail(s, IDSR__V1__ERROR_CODE__LIMIT, "cannot start a boot: %s", why);
		return;
	}
	welcome.boot_id = (uint64_t)s->boot->id;
	welcome.mode = s->boot->replay ? IDSR__V1__MODE__REPLAY : IDSR__V1__MODE__LIVE;
	welcome.replay_of = (uint64_t)s->boot->replay_of;
	welcome.protocol = IDSR_PROTOCOL_VERSION;
	if (h->resume_boot) {
		welcome.next_seq = boot_next_seqs(s->boot, &welcome.n_next_seq);
		welcome.takes_resend = true;
	}
	s->resumed = h->resume_boot != 0;
	/* A replay boot answers from its recording: no table to give. */
	if (h->fast_path && !idsrd->cfg.no_fast_path && !s->boot->replay) {
		s->fp = fastpath_open(s->boot, &fd, why, sizeof(why));
		if (!s->fp)
			log_warn("boot %lld: %s; its VMM makes round trips", (long long)s->boot->id, why);
	}
	welcome.fast_path = s->fp != NULL;
	f.body_case = IDSR__V1__FRAME__BODY_WELCOME;
	f.welcome = &welcome;
	session_send(s, &f);
	free(welcome.next_seq);
	if (s->fp) {
		session_flush_fd(s, fd);
		close(fd);
	}
}

static void session_access(struct session *s, const Idsr__V1__Access *a)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Verdict verdict = IDSR__V1__VERDICT__INIT;
	struct boot *b = s->boot;
	const struct policy *policy;
	struct policy_verdict pv;
	struct store_row row;
	uint64_t place;
	int64_t ts_ns;
	char why[256];

	if (!b) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQUENCE, "Access before Hello");
		return;
	}
	s->resumed = false;
	if (s->fp)
		fastpath_retire(s->fp);	/* the VMM waits for this verdict: no record is being written */
	if (boot_check_seq(b, a->vcpu, a->seq, why, sizeof(why)) < 0) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQ, "%s", why);
		return;
	}
	struct policy_access pa = {
		.key = a->key, .vcpu = a->vcpu, .pc = a->pc, .el = (uint8_t)a->el,
		.is_write = a->is_write, .value = a->value,
	};
	/* The row's time is taken with the policy (daemon_policy_at): it tells
	 * which version answered, and so which rule the line names, for good. */
	policy = daemon_policy_at(&s->policy, &ts_ns);
	if (b->replay)
		replayer_answer(b, policy, &pa, a->seq, &pv);
	else
		policy_decide(policy, b->state, &pa, &pv);
	if (s->fp && !b->replay && pa.el >= 1)
		fastpath_learn(s->fp, s->policy, pa.key, pa.is_write);

	row = (struct store_row){
		.boot_id = b->id, .ts_ns = ts_ns, .seq = a->seq, .pc = a->pc,
		.value = a->is_write ? a->value : pv.value, .vcpu = a->vcpu, .key = a->key,
		.rule = pv.rule, .el = (uint8_t)a->el, .is_write = a->is_write ? 1 : 0, .undef = pv.undef,
	};
	place = boot_log(b, &row, s->policy);

	verdict.seq = a->seq;
	verdict.vcpu = a->vcpu;
	verdict.action = pv.undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
	verdict.value = pv.undef || a->is_write ? 0 : pv.value;
	verdict.committed = durable_note(&s->durable, a->vcpu, a->seq, place);
	if (s->fp)
		fastpath_committed(s->fp, a->vcpu, verdict.committed);
	f.body_case = IDSR__V1__FRAME__BODY_VERDICT;
	f.verdict = &verdict;
	session_send(s, &f);
}

/* Accesses a dead idsrd answered, logged as answered (idsrd/durable.c). */
static void session_resend(struct session *s, const Idsr__V1__Resend *r)
{
	char why[256];
	int rc;

	if (!s->resumed)
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQUENCE,
			     "Resend not right after a resumed Welcome (Hello.resume_boot)");
	else if ((rc = durable_resend(s->boot, s->policy, r, why, sizeof(why))) < 0)
		session_fail(s, rc == -EINVAL ? IDSR__V1__ERROR_CODE__BAD_FRAME :
			     IDSR__V1__ERROR_CODE__BAD_SEQ, "%s", why);
}

static void session_frame(struct session *s, const uint8_t *payload, size_t len)
{
	Frame *f = frame_unpack_in(s->arena, payload, len);

	if (!f) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_FRAME,
			     "a %zu-byte frame is not a valid idsr.v1.Frame (undecodable protobuf)", len);
		return;
	}
	switch (f->body_case) {
	case IDSR__V1__FRAME__BODY_HELLO:
		session_hello(s, f->hello);
		break;
	case IDSR__V1__FRAME__BODY_RESEND:
		session_resend(s, f->resend);
		break;
	case IDSR__V1__FRAME__BODY_ACCESS:
		session_access(s, f->access);
		break;
	case IDSR__V1__FRAME__BODY_WAKE:
		s->fp_woken = true;	/* its records were taken before this frame */
		break;
	case IDSR__V1__FRAME__BODY_BYE:
		if (s->boot) {
			boot_leave(s->boot, *f->bye->reason ? f->bye->reason : "bye", false);
			s->boot = NULL;
		}
		session_flush(s, 0);
		s->closing = true;
		break;
	default:
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQUENCE,
			     "unexpected %s frame on the VMM socket (expected Hello, Access, Resend, Wake or Bye)",
			     frame_body_name(f));
	}
	frame_release(s->arena, f);
}

/* Answers every whole frame read so far, then sends the answers in one write. */
static void session_input(struct session *s)
{
	const uint8_t *payload;
	size_t len;
	int rc;

	/* A frame below may close the session: re-check closing each time. */
	while (!s->closing && (rc = frame_reader_next(&s->reader, &payload, &len)) != 0) {
		if (rc < 0) {
			session_fail(s, IDSR__V1__ERROR_CODE__BAD_FRAME,
				     "frame length out of range (must be 1..%d bytes)", FRAME_MAX);
			break;
		}
		if (len > idsrd->cfg.max_frame) {
			session_fail(s, IDSR__V1__ERROR_CODE__LIMIT,
				     "a %zu-byte frame is over the limit of %u bytes (idsrd --max-frame)",
				     len, idsrd->cfg.max_frame);
			break;
		}
		/* The records written before this frame go first: each vCPU's
		 * rows keep the guest's order whichever path answered. */
		if (session_drain(s) < 0)
			break;
		session_frame(s, payload, len);
	}
	/* Refused on its header: the bytes of a frame over the limit are not kept. */
	if (!s->closing && frame_reader_announced(&s->reader) > idsrd->cfg.max_frame &&
	    frame_reader_announced(&s->reader) <= FRAME_MAX)
		session_fail(s, IDSR__V1__ERROR_CODE__LIMIT,
			     "a %u-byte frame is over the limit of %u bytes (idsrd --max-frame)",
			     frame_reader_announced(&s->reader), idsrd->cfg.max_frame);
	if (!s->closing)
		session_flush(s, 0);
}

/* ---- reading -------------------------------------------------------------- */

/*
 * --poll: a vCPU that just got its verdict often traps again within a few
 * µs; sleeping in read in between costs two context switches per access.
 * So after answering, the session polls the socket for a window before it
 * sleeps. The window adapts and is bounded: one in which the next frame came
 * doubles it (up to --poll µs), one that ran out halves it (down to 1/16 of
 * that), so a guest that stopped trapping costs little CPU. Returns what
 * recv returned, or -1 with EAGAIN when the window ran out.
 */
static ssize_t session_poll(struct session *s, uint8_t *p, size_t space)
{
	uint64_t max = (uint64_t)idsrd->cfg.poll_us * 1000, deadline;
	ssize_t got;

	if (!s->poll_window_ns)
		s->poll_window_ns = max;
	deadline = uv_hrtime() + s->poll_window_ns;
	for (;;) {
		got = recv(s->fd, p, space, MSG_DONTWAIT);
		if (got >= 0 || (errno != EAGAIN && errno != EINTR)) {
			if (got > 0)
				s->poll_window_ns = s->poll_window_ns * 2 < max ? s->poll_window_ns * 2 : max;
			return got;
		}
		if (uv_hrtime() >= deadline) {
			s->poll_window_ns = s->poll_window_ns / 2 > max / 16 ? s->poll_window_ns / 2 : max / 16;
			errno = EAGAIN;
			return -1;
		}
		/* On a busy machine the VMM (or the writer) may be waiting for
		 * this CPU; with nothing else runnable, sched_yield returns at once. */
		sched_yield();
	}
}

/* Reads what the VMM sent into the reader: > 0, 0 at its end, or -errno. */
static ssize_t session_read(struct session *s)
{
	uint8_t *p;
	size_t space;
	ssize_t got = -1;

	frame_reader_space(&s->reader, &p, &space);
	if (idsrd->cfg.poll_us && s->boot) {
		got = session_poll(s, p, space);
		if (got < 0 && errno != EAGAIN)
			return -errno;
	}
	if (got < 0) {
		do
			got = read(s->fd, p, space);
		while (got < 0 && errno == EINTR);
	}
	if (got < 0)
		return -errno;
	if (got > 0)
		frame_reader_commit(&s->reader, (size_t)got);
	return got;
}

static bool server_stopping(void)
{
	bool stopping;

	pthread_mutex_lock(&sessions.lock);
	stopping = sessions.stopping;
	pthread_mutex_unlock(&sessions.lock);
	return stopping;
}

/* The VMM ended the connection (or idsrd is stopping): end its part of the boot. */
static void session_ended(struct session *s, ssize_t rc)
{
	size_t pending = frame_reader_pending(&s->reader);
	bool stopping = server_stopping();

	/* The VMM publishes no record after the seal: the drain takes them all. */
	if (s->fp && s->boot) {
		fastpath_seal(s->fp);
		if (session_drain(s) < 0)
			return;
	}
	if (!stopping && rc == 0 && pending) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_FRAME,
			     "connection ended inside a frame (%zu bytes of a truncated frame)", pending);
	} else if (s->boot) {
		boot_leave(s->boot, stopping ? BOOT_STOPPED_REASON : rc == 0 ? "eof" : strerror((int)-rc),
			   false);
		s->boot = NULL;
	}
}

/* ---- sessions ------------------------------------------------------------- */

static void session_run(struct session *s);

/* Hands an idle session to the main loop; false if idsrd is stopping. */
static bool session_park(struct session *s)
{
	pthread_mutex_lock(&sessions.lock);
	if (sessions.stopping) {
		pthread_mutex_unlock(&sessions.lock);
		return false;
	}
	s->park_next = sessions.to_park;
	sessions.to_park = s;
	pthread_mutex_unlock(&sessions.lock);
	uv_async_send(&sessions.parker);
	return true;
}

static void session_free(struct session *s)
{
	if (s->boot)
		boot_leave(s->boot, server_stopping() ? BOOT_STOPPED_REASON : "connection closed", false);
	daemon_policy_put(s->policy);
	durable_free(&s->durable);
	fastpath_close(s->fp);
	pthread_mutex_lock(&sessions.lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		sessions.head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	close(s->fd);		/* under the lock: server_drain never shuts down a reused fd */
	if (--sessions.live == 0 && sessions.stopping)
		uv_async_send(&sessions.parker);	/* the main loop may end */
	pthread_cond_broadcast(&sessions.gone);
	pthread_mutex_unlock(&sessions.lock);
	atomic_fetch_sub(&idsrd->connections, 1);
	frame_reader_free(&s->reader);
	free(s->out);
	free(s);
}

/* The penalty of a process past --max-errors (penalty.h), in this
 * connection's own thread: only it waits. idsrd stopping ends the wait. */
static void session_delay(struct session *s)
{
	struct timespec until = deadline_after_ms((long)s->delay_ms);

	s->delay_ms = 0;
	pthread_mutex_lock(&sessions.lock);
	while (!sessions.stopping &&
	       pthread_cond_timedwait(&sessions.gone, &sessions.lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&sessions.lock);
}

static void *session_main(void *arg)
{
	struct session *s = arg;
	struct frame_arena arena;
	int fl = fcntl(s->fd, F_GETFL);

	arena.used = arena.spilled = 0;
	s->arena = &arena;
	pthread_setname_np(pthread_self(), "idsrd-vmm");	/* idsrd(8), THREADS */
	if (s->delay_ms)
		session_delay(s);
	/* Blocking reads and writes (uv_poll made the socket non-blocking). */
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
	while (!s->closing) {
		ssize_t rc;

		if (s->fp) {
			session_fp_wait(s);
			if (s->closing)
				break;
		}
		rc = session_read(s);

		if (rc == -EAGAIN && session_park(s))
			return NULL;	/* idle: the main loop has it (s->arena is not used there) */
		if (rc <= 0) {
			session_ended(s, rc == -EAGAIN ? 0 : rc);
			break;
		}
		session_input(s);
	}
	session_free(s);
	return NULL;
}

/* Starts a thread for s (or, if none can be had, ends it). */
static void session_run(struct session *s)
{
	pthread_attr_t attr;
	pthread_t thread;
	int rc;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SESSION_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thread, &attr, session_main, s);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return;
	log_err("cannot start a thread for a VMM connection (pid %lld): %s; closing it",
		(long long)s->peer.pid, strerror(rc));
	if (s->boot) {
		boot_leave(s->boot, "idsrd could not start a thread for the connection", true);
		s->boot = NULL;
	}
	session_free(s);
}

/* ---- parked sessions (main loop) ------------------------------------------- */

static void on_parked_closed(uv_handle_t *h)
{
	session_run(h->data);
}

static void on_parked_readable(uv_poll_t *p, int status, int events)
{
	uv_poll_stop(p);
	uv_close((uv_handle_t *)p, on_parked_closed);
}

static void session_wait(struct session *s)
{
	s->park.data = s;
	if (uv_poll_init(sessions.loop, &s->park, s->fd) < 0 ||
	    uv_poll_start(&s->park, UV_READABLE | UV_DISCONNECT, on_parked_readable) < 0)
		session_run(s);		/* cannot wait: a thread waits instead */
}

static void on_park(uv_async_t *a)
{
	struct session *list, *next;
	bool stopping;

	pthread_mutex_lock(&sessions.lock);
	list = sessions.to_park;
	sessions.to_park = NULL;
	stopping = sessions.stopping;
	pthread_mutex_unlock(&sessions.lock);
	for (struct session *s = list; s; s = next) {
		next = s->park_next;
		if (stopping)
			session_run(s);	/* reads the end server_drain made, and ends */
		else
			session_wait(s);
	}
	pthread_mutex_lock(&sessions.lock);
	if (sessions.stopping && sessions.live == 0 && !uv_is_closing((uv_handle_t *)a))
		uv_close((uv_handle_t *)a, NULL);
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- the server ----------------------------------------------------------- */

void server_dispatch(int fd)
{
	struct session *s = NULL;
	struct timeval idle = { SESSION_IDLE_MS / 1000, SESSION_IDLE_MS % 1000 * 1000 };
	struct ucred cred;
	socklen_t len = sizeof(cred);

	/* Only the main loop, which calls this, sets stopping (and closes the
	 * listener first): checked here, it holds until the session is linked. */
	if (server_stopping())
		goto refuse;
	s = calloc(1, sizeof(*s));
	if (!s || frame_reader_init(&s->reader) < 0) {
		log_err("out of memory for a VMM connection; closing it");
		goto refuse;
	}
	s->fd = fd;
	s->peer = (struct boot_peer){ -1, -1, -1 };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		s->peer = (struct boot_peer){ cred.uid, cred.gid, cred.pid };
	s->delay_ms = penalty_delay_ms(&s->peer);
	/* A read that waits this long returns EAGAIN: the session parks. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	s->policy = daemon_policy_get();
	pthread_mutex_lock(&sessions.lock);
	s->next = sessions.head;
	if (s->next)
		s->next->prev = s;
	sessions.head = s;
	sessions.live++;
	pthread_mutex_unlock(&sessions.lock);
	session_wait(s);	/* a thread once it sends something */
	return;
refuse:
	free(s);
	close(fd);
	atomic_fetch_sub(&idsrd->connections, 1);
}

int server_start(void)
{
	sessions.loop = idsrd->loop;
	sessions.stopping = false;
	return uv_async_init(idsrd->loop, &sessions.parker, on_park) < 0 ? -ENOMEM : 0;
}

void server_drain(void)
{
	pthread_mutex_lock(&sessions.lock);
	sessions.stopping = true;
	/* A running session wakes from read or write with its end; a parked one
	 * becomes readable, gets a thread, reads the end. Each ends its boot. */
	for (struct session *s = sessions.head; s; s = s->next)
		shutdown(s->fd, SHUT_RDWR);
	pthread_cond_broadcast(&sessions.gone);	/* ends a penalty's wait (session_delay) */
	if (sessions.live == 0 && !uv_is_closing((uv_handle_t *)&sessions.parker))
		uv_close((uv_handle_t *)&sessions.parker, NULL);
	pthread_mutex_unlock(&sessions.lock);
}

void server_stop(void)
{
	server_drain();
	pthread_mutex_lock(&sessions.lock);
	while (sessions.live)
		pthread_cond_wait(&sessions.gone, &sessions.lock);
	pthread_mutex_unlock(&sessions.lock);
}
