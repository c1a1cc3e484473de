/* SPDX-License-Identifier: MIT */
/* VMM connections: worker event loops that read Access frames and answer them on the spot. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "boot.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "replayer.h"
#include "server.h"
#include "subscribe.h"

/* Stop reading from a VMM that does not read its verdicts past this. */
#define SESSION_WRITE_HIGH	(1u << 20)
/* Verdicts of one read are sent with one write; more frames than fit go in
 * the next write. */
#define SESSION_OUT_CAP		8192

struct worker {
	uv_loop_t loop;
	uv_async_t wakeup;		/* new connections, policy change, stop */
	pthread_t thread;
	pthread_mutex_t lock;		/* guards pending and stop */
	int *pending;
	size_t npending, cap;
	bool stop;
	struct live_policy *policy;	/* this loop's reference */
	unsigned sessions;
	uint64_t frames;		/* frames handled, for --poll */
	/* A frame is decoded and released within one callback: one arena per loop. */
	struct frame_arena arena;
};

struct session {
	uv_pipe_t pipe;			/* first: handle->data is not needed */
	struct worker *w;
	struct frame_reader reader;
	struct boot *boot;
	struct boot_peer peer;
	bool closing;
	bool reading;
	size_t outlen;
	/* SESSION_OUT_CAP bytes from the first frame to send on: an idle
	 * connection costs its handle and a 512-byte reader, no more. */
	uint8_t *out;
};

struct write_req {
	uv_write_t req;
	struct session *s;
	bool close_after;
	uint8_t data[];
};

/* ---- the live policy, per worker ---------------------------------------- */

/* Switches to a newer policy between two accesses (never during one). */
static const struct policy *worker_policy(struct worker *w)
{
	if (w->policy->generation != atomic_load_explicit(&idsrd->policy_generation,
							  memory_order_acquire)) {
		daemon_policy_put(w->policy);
		w->policy = daemon_policy_get();
	}
	return w->policy->policy;
}

/* ---- sending -------------------------------------------------------------- */

static void session_close(struct session *s);

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct session *s = wr->s;

	if (wr->close_after || (status < 0 && !s->closing))
		session_close(s);
	else if (!s->reading && !s->closing &&
		 uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) < SESSION_WRITE_HIGH / 2)
		session_resume(s);
	free(wr);
}

/* Sends what is in s->out: straight to the socket if it takes it, else queued. */
static void session_flush(struct session *s, bool close_after)
{
	uv_buf_t buf = uv_buf_init((char *)s->out, (unsigned)s->outlen);
	struct write_req *wr;
	int n = 0;

	if (s->outlen && uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) == 0)
		n = uv_try_write((uv_stream_t *)&s->pipe, &buf, 1);
	if (n < 0)
		n = 0;
	if ((size_t)n == s->outlen && !close_after) {
		s->outlen = 0;
		return;
	}
	wr = malloc(sizeof(*wr) + s->outlen - (size_t)n);
	if (!wr) {
		session_close(s);
		return;
	}
	wr->s = s;
	wr->close_after = close_after;
	if (s->outlen > (size_t)n)
		memcpy(wr->data, s->out + n, s->outlen - (size_t)n);
	buf = uv_buf_init((char *)wr->data, (unsigned)(s->outlen - (size_t)n));
	s->outlen = 0;
	if (uv_write(&wr->req, (uv_stream_t *)&s->pipe, &buf, 1, on_write) < 0) {
		free(wr);
		session_close(s);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) > SESSION_WRITE_HIGH && s->reading) {
		/* The VMM is not reading its verdicts: stop reading its accesses. */
		uv_read_stop((uv_stream_t *)&s->pipe);
		s->reading = false;
	}
}

static void session_send(struct session *s, const Frame *f)
{
	struct write_req *wr;
	uv_buf_t buf;
	size_t need;
	int n;

	if (!s->out && !(s->out = malloc(SESSION_OUT_CAP))) {
		log_err("out of memory for a VMM connection's verdicts; closing it");
		session_close(s);
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
		session_flush(s, false);
	if (need <= SESSION_OUT_CAP) {
		n = frame_pack(f, s->out + s->outlen, SESSION_OUT_CAP - s->outlen);
		if (n > 0)
			s->outlen += (size_t)n;
		return;
	}
	/* Rare and large (a resumed Welcome with thousands of vCPUs' seqs). */
	wr = malloc(sizeof(*wr) + need);
	if (!wr || (n = frame_pack(f, wr->data, need)) < 0) {
		free(wr);
		return;
	}
	wr->s = s;
	wr->close_after = false;
	buf = uv_buf_init((char *)wr->data, (unsigned)n);
	if (uv_write(&wr->req, (uv_stream_t *)&s->pipe, &buf, 1, on_write) < 0) {
		free(wr);
		session_close(s);
	}
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
	log_warn("VMM connection (pid %lld, uid %lld, boot %lld): %s; closing it",
		 (long long)s->peer.pid, (long long)s->peer.uid,
		 s->boot ? (long long)s->boot->id : 0LL, msg);
	daemon_note_error(s->peer.uid);
	err.code = code;
	err.message = msg;
	f.body_case = IDSR__V1__FRAME__BODY_ERROR;
	f.error = &err;
	session_send(s, &f);
	if (s->boot) {
		boot_leave(s->boot, msg, true);
		s->boot = NULL;
	}
	uv_read_stop((uv_stream_t *)&s->pipe);
	s->reading = false;
	session_flush(s, true);
	s->closing = true;
}

/* ---- handling frames ------------------------------------------------------ */

static void session_hello(struct session *s, const Idsr__V1__Hello *h)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Welcome welcome = IDSR__V1__WELCOME__INIT;
	char why[256];

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
	if (h->resume_boot)
		welcome.next_seq = boot_next_seqs(s->boot, &welcome.n_next_seq);
	f.body_case = IDSR__V1__FRAME__BODY_WELCOME;
	f.welcome = &welcome;
	session_send(s, &f);
	free(welcome.next_seq);
}

static void session_access(struct session *s, const Idsr__V1__Access *a)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Verdict verdict = IDSR__V1__VERDICT__INIT;
	struct boot *b = s->boot;
	struct policy_verdict pv;
	struct store_row row;
	char why[256];

	if (!b) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQUENCE, "Access before Hello");
		return;
	}
	if (boot_check_seq(b, a->vcpu, a->seq, why, sizeof(why)) < 0) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQ, "%s", why);
		return;
	}
	struct policy_access pa = {
		.key = a->key, .vcpu = a->vcpu, .pc = a->pc, .el = (uint8_t)a->el,
		.is_write = a->is_write, .value = a->value,
	};
	if (b->replay)
		replayer_answer(b, worker_policy(s->w), &pa, a->seq, &pv);
	else
		policy_decide(worker_policy(s->w), b->state, &pa, &pv);

	row = (struct store_row){
		.boot_id = b->id, .ts_ns = db_now_ns(), .seq = a->seq, .pc = a->pc,
		.value = a->is_write ? a->value : pv.value, .vcpu = a->vcpu, .key = a->key,
		.rule = pv.rule, .el = (uint8_t)a->el, .is_write = a->is_write, .undef = pv.undef,
	};
	if (!store_push_row(idsrd->store, &row))
		atomic_fetch_add_explicit(&b->rows_dropped, 1, memory_order_relaxed);
	daemon_policy_hit(s->w->policy, pv.rule);
	/* After the push: a subscriber registered before this load sees the row
	 * live; one registered after finds it committed by its store_flush. */
	if (atomic_load(&idsrd->subscribers))
		subscribe_publish(b, &row, s->w->policy);
	atomic_fetch_add_explicit(&b->accesses, 1, memory_order_relaxed);
	if (pv.undef)
		atomic_fetch_add_explicit(&b->undefs, 1, memory_order_relaxed);

	verdict.seq = a->seq;
	verdict.vcpu = a->vcpu;
	verdict.action = pv.undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
	verdict.value = pv.undef || a->is_write ? 0 : pv.value;
	f.body_case = IDSR__V1__FRAME__BODY_VERDICT;
	f.verdict = &verdict;
	session_send(s, &f);
}

static void session_frame(struct session *s, const uint8_t *payload, size_t len)
{
	Frame *f;

	s->w->frames++;
	f = frame_unpack_in(&s->w->arena, payload, len);
	if (!f) {
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_FRAME,
			     "a %zu-byte frame is not a valid idsr.v1.Frame (undecodable protobuf)", len);
		goto out;
	}
	switch (f->body_case) {
	case IDSR__V1__FRAME__BODY_HELLO:
		session_hello(s, f->hello);
		break;
	case IDSR__V1__FRAME__BODY_ACCESS:
		session_access(s, f->access);
		break;
	case IDSR__V1__FRAME__BODY_BYE:
		if (s->boot) {
			boot_leave(s->boot, *f->bye->reason ? f->bye->reason : "bye", false);
			s->boot = NULL;
		}
		uv_read_stop((uv_stream_t *)&s->pipe);
		s->reading = false;
		session_flush(s, true);
		s->closing = true;
		break;
	default:
		session_fail(s, IDSR__V1__ERROR_CODE__BAD_SEQUENCE,
			     "unexpected %s frame on the VMM socket (expected Hello, Access or Bye)",
			     frame_body_name(f));
	}
out:
	frame_release(&s->w->arena, f);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct session *s = (struct session *)h;
	uint8_t *p;
	size_t n;

	frame_reader_space(&s->reader, &p, &n);
	*buf = uv_buf_init((char *)p, (unsigned)n);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct session *s = (struct session *)stream;
	const uint8_t *payload;
	size_t len;
	int rc;

	if (nread == 0)
		return;
	if (nread < 0) {
		size_t pending = frame_reader_pending(&s->reader);

		if (nread == UV_EOF && pending)
			session_fail(s, IDSR__V1__ERROR_CODE__BAD_FRAME,
				     "connection ended inside a frame (%zu bytes of a truncated frame)",
				     pending);
		else if (s->boot) {
			boot_leave(s->boot, nread == UV_EOF ? "eof" : uv_strerror((int)nread), false);
			s->boot = NULL;
		}
		session_close(s);
		return;
	}
	frame_reader_commit(&s->reader, (size_t)nread);
	/* A callback below may close the session: re-check closing each time. */
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
		session_frame(s, payload, len);
	}
	/* Refused on its header: the bytes of a frame over the limit are not kept. */
	if (!s->closing && frame_reader_announced(&s->reader) > idsrd->cfg.max_frame &&
	    frame_reader_announced(&s->reader) <= FRAME_MAX)
		session_fail(s, IDSR__V1__ERROR_CODE__LIMIT,
			     "a %u-byte frame is over the limit of %u bytes (idsrd --max-frame)",
			     frame_reader_announced(&s->reader), idsrd->cfg.max_frame);
	if (!s->closing && s->outlen)
		session_flush(s, false);
}

void session_resume(struct session *s)
{
	if (uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read) == 0)
		s->reading = true;
}

static void on_session_closed(uv_handle_t *h)
{
	struct session *s = (struct session *)h;

	s->w->sessions--;
	atomic_fetch_sub(&idsrd->connections, 1);
	frame_reader_free(&s->reader);
	free(s->out);
	free(s);
}

static void session_close(struct session *s)
{
	if (uv_is_closing((uv_handle_t *)&s->pipe))
		return;
	s->closing = true;
	if (s->boot) {
		boot_leave(s->boot, "connection closed", false);
		s->boot = NULL;
	}
	uv_close((uv_handle_t *)&s->pipe, on_session_closed);
}

static void session_start(struct worker *w, int fd)
{
	struct session *s = calloc(1, sizeof(*s));
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!s || frame_reader_init(&s->reader) < 0) {
		log_err("out of memory for a VMM connection; closing it");
		free(s);
		close(fd);
		atomic_fetch_sub(&idsrd->connections, 1);
		return;
	}
	s->w = w;
	s->peer = (struct boot_peer){ -1, -1, -1 };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		s->peer = (struct boot_peer){ cred.uid, cred.gid, cred.pid };
	uv_pipe_init(&w->loop, &s->pipe, 0);
	if (uv_pipe_open(&s->pipe, fd) < 0) {
		close(fd);
		uv_close((uv_handle_t *)&s->pipe, on_session_closed);
		return;
	}
	w->sessions++;
	session_resume(s);
}

/* ---- workers -------------------------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg)
{
	if (h->type == UV_NAMED_PIPE) {
		struct session *s = (struct session *)h;

		if (s->boot) {
			boot_leave(s->boot, BOOT_STOPPED_REASON, false);
			s->boot = NULL;
		}
		session_close(s);
	}
	else if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_wakeup(uv_async_t *a)
{
	struct worker *w = a->data;
	int fds[64];
	size_t n;
	bool stop;

	do {
		pthread_mutex_lock(&w->lock);
		n = w->npending < 64 ? w->npending : 64;
		if (n) {
			memcpy(fds, w->pending, n * sizeof(int));
			memmove(w->pending, w->pending + n, (w->npending - n) * sizeof(int));
			w->npending -= n;
		}
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		for (size_t i = 0; i < n; i++)
			session_start(w, fds[i]);
	} while (n == 64);
	if (stop)
		uv_walk(&w->loop, close_walk, NULL);
}

/*
 * --poll: a vCPU that just got its verdict often traps again within a few
 * µs; sleeping in epoll in between costs two context switches per access.
 * So after a frame the worker keeps polling (epoll with no timeout) for a
 * window before it sleeps. The window adapts and is bounded: a window in
 * which the next frame came doubles it (up to --poll µs), one that ran out
 * halves it (down to 1/16 of that), so a guest that stopped trapping costs
 * little CPU. Returns when the loop has nothing left (stop).
 */
static void worker_poll(struct worker *w, uint64_t max_ns)
{
	uint64_t window = max_ns, min = max_ns / 16;

	for (;;) {
		uint64_t seen = w->frames, deadline;

		if (!uv_run(&w->loop, UV_RUN_ONCE))
			return;
		if (w->frames == seen)
			continue;
		deadline = uv_hrtime() + window;
		for (;;) {
			seen = w->frames;
			if (!uv_run(&w->loop, UV_RUN_NOWAIT))
				return;
			if (w->frames != seen) {
				window = window * 2 < max_ns ? window * 2 : max_ns;
				deadline = uv_hrtime() + window;
			} else if (uv_hrtime() >= deadline) {
				window = window / 2 > min ? window / 2 : min;
				break;
			} else {
				/* On a busy machine the VMM (or the writer) may be
				 * waiting for this CPU; with nothing else runnable,
				 * sched_yield returns at once. */
				sched_yield();
			}
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (idsrd->cfg.poll_us)
		worker_poll(w, (uint64_t)idsrd->cfg.poll_us * 1000);
	else
		uv_run(&w->loop, UV_RUN_DEFAULT);
	return NULL;
}

void server_dispatch(struct daemon *d, int fd)
{
	struct worker *w = d->workers[d->next_worker++ % d->nworkers];

	pthread_mutex_lock(&w->lock);
	if (w->npending == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		int *p = realloc(w->pending, cap * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&w->lock);
			close(fd);
			atomic_fetch_sub(&d->connections, 1);
			return;
		}
		w->pending = p;
		w->cap = cap;
	}
	w->pending[w->npending++] = fd;
	pthread_mutex_unlock(&w->lock);
	uv_async_send(&w->wakeup);
}

int server_start(struct daemon *d)
{
	d->workers = calloc(d->cfg.workers, sizeof(*d->workers));
	if (!d->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < d->cfg.workers; i++) {
		struct worker *w = calloc(1, sizeof(*w));
		int rc;

		if (!w)
			return -ENOMEM;
		uv_loop_init(&w->loop);
		pthread_mutex_init(&w->lock, NULL);
		uv_async_init(&w->loop, &w->wakeup, on_wakeup);
		w->wakeup.data = w;
		w->policy = daemon_policy_get();
		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc)
			return -rc;
		d->workers[d->nworkers++] = w;
	}
	return 0;
}

void server_stop(struct daemon *d)
{
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct worker *w = d->workers[i];

		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		uv_async_send(&w->wakeup);
	}
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct worker *w = d->workers[i];

		pthread_join(w->thread, NULL);
		uv_loop_close(&w->loop);
		daemon_policy_put(w->policy);
		for (size_t j = 0; j < w->npending; j++)
			close(w->pending[j]);
		free(w->pending);
		pthread_mutex_destroy(&w->lock);
		free(w);
	}
	free(d->workers);
	d->workers = NULL;
	d->nworkers = 0;
}
