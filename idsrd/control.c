/* SPDX-License-Identifier: MIT */
/* The control socket: idsrctl's requests (status, policy, subscribe, replay). */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "db.h"
#include "fastpath.h"
#include "log.h"
#include "policy_ctl.h"
#include "pusher.h"
#include "replayer.h"
#include "subscribe.h"
#include "trace_read.h"

/* Supplementary groups of a peer that are looked at (more are ignored). */
#define CONTROL_MAX_GROUPS 64

struct control_client {
	uv_pipe_t pipe;
	struct frame_reader reader;
	struct boot_peer peer;
	gid_t groups[CONTROL_MAX_GROUPS];	/* SO_PEERGROUPS at accept */
	int ngroups;
};

static uv_pipe_t control_server;

const struct boot_peer *control_peer(const struct control_client *c)
{
	return &c->peer;
}

/* ---- access control --------------------------------------------------------- */

static bool control_in_admin_group(const struct control_client *c)
{
	const char *name = idsrd->cfg.admin_group;
	struct group *gr;

	if (!name || !*name || !(gr = getgrnam(name)))
		return false;
	if (c->peer.gid == (int64_t)gr->gr_gid)
		return true;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gr->gr_gid)
			return true;
	return false;
}

bool control_is_admin(const struct control_client *c)
{
	return c->peer.uid == 0 || c->peer.uid == (int64_t)getuid() || control_in_admin_group(c);
}

bool control_may_access_boot(const struct control_client *c, int64_t owner_uid, int64_t boot_id,
			     const char *what, char *why, size_t whylen)
{
	if (control_is_admin(c) || (owner_uid >= 0 && c->peer.uid == owner_uid))
		return true;
	log_warn("refused %s of boot %lld to uid %lld (pid %lld): the boot belongs to uid %lld"
		 " and the peer is neither root nor in the admin group (--admin-group)",
		 what, (long long)boot_id, (long long)c->peer.uid, (long long)c->peer.pid,
		 (long long)owner_uid);
	if (why)
		snprintf(why, whylen, "permission denied: boot %lld belongs to uid %lld; only its owner,"
			 " root or the admin group may %s it", (long long)boot_id, (long long)owner_uid,
			 what);
	return false;
}

bool control_may_change_policy(const struct control_client *c, char *why, size_t whylen)
{
	if (control_is_admin(c))
		return true;
	log_warn("refused a policy change to uid %lld (pid %lld): the live policy answers every"
		 " boot, so only root, idsrd's uid or the admin group (--admin-group) may change it",
		 (long long)c->peer.uid, (long long)c->peer.pid);
	if (why)
		snprintf(why, whylen, "permission denied: the live policy answers every user's boots;"
			 " only root, idsrd's user or the admin group may change it");
	return false;
}

/* ---- replies ------------------------------------------------------------------ */

uv_stream_t *control_stream(struct control_client *c)
{
	return (uv_stream_t *)&c->pipe;
}

static void on_written(uv_write_t *req, int status)
{
	free(req);
}

void control_reply(struct control_client *c, const Idsr__V1__ControlReply *reply)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	uv_write_t *req;
	uint8_t *buf;
	uv_buf_t b;
	int n;

	f.body_case = IDSR__V1__FRAME__BODY_REPLY;
	f.reply = (Idsr__V1__ControlReply *)reply;
	req = malloc(sizeof(*req) + FRAME_HEADER + FRAME_MAX);
	if (!req)
		return;
	buf = (uint8_t *)(req + 1);
	n = frame_pack(&f, buf, FRAME_HEADER + FRAME_MAX);
	if (n < 0) {
		free(req);
		return;
	}
	b = uv_buf_init((char *)buf, (unsigned)n);
	if (uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0)
		free(req);
}

void control_fail(struct control_client *c, const char *msg)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;

	r.ok = false;
	r.message = (char *)msg;
	control_reply(c, &r);
}

static void control_status(struct control_client *c)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	Idsr__V1__Status st = IDSR__V1__STATUS__INIT;
	Idsr__V1__BootStatus *bs = NULL, **bsp = NULL;
	Idsr__V1__PushStatus ps = IDSR__V1__PUSH_STATUS__INIT;
	struct pusher_status push;
	struct live_policy *lp = daemon_policy_get();
	struct store_stats ss;
	struct fastpath_stats fs;
	struct stat sb;
	char wal[4200];
	size_t n = 0, i = 0;
	int64_t now = db_now_ns();
	bool admin = control_is_admin(c);

	store_get_stats(idsrd->store, &ss);
	st.version = (char *)IDSR_VERSION;
	st.uptime_ns = now - idsrd->start_ns;
	st.socket = (char *)idsrd->cfg.socket_path;
	st.control = (char *)idsrd->cfg.control_path;
	st.db = (char *)idsrd->cfg.db_path;
	/* With its WAL: until a checkpoint, most of a busy trace is there. */
	st.db_bytes = stat(idsrd->cfg.db_path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	snprintf(wal, sizeof(wal), "%s-wal", idsrd->cfg.db_path);
	st.db_bytes += stat(wal, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	st.queue_depth = ss.queue_depth;
	st.queue_high_water = ss.queue_high_water;
	st.rows_written = ss.rows_written;
	st.rows_dropped = ss.rows_dropped;
	st.policy_hash = (char *)policy_hash(lp->policy);
	st.policy_source = (char *)policy_source(lp->policy);
	st.subscribers = atomic_load(&idsrd->subscribers);
	st.connections = atomic_load(&idsrd->connections);
	fastpath_stats(&fs);
	st.fast_path_records = fs.records;
	st.fast_path_ring_full = fs.ring_full;
	st.fast_path_dropped = fs.dropped;
	st.fast_path_connections = fs.regions;
	if (pusher_get_status(&push)) {
		ps.url = push.url;
		ps.pending = push.pending;
		ps.waiting = push.waiting;
		ps.boots_pushed = push.boots_pushed;
		ps.rows_pushed = push.rows_pushed;
		ps.failures = push.failures;
		ps.last_error = push.last_error;
		ps.last_error_ns = push.last_error_ns;
		ps.next_try_ns = push.next_try_ns;
		ps.backoff_ms = push.backoff_ms;
		ps.boot_id = (uint64_t)push.boot_id;
		ps.skipped = push.skipped;
		st.push = &ps;
	}

	pthread_mutex_lock(&idsrd->boots_lock);
	st.boots_total = idsrd->boots_total;
	st.replay_armed = idsrd->replay != NULL;
	for (struct boot *b = idsrd->boots; b; b = b->next)
		n++;
	bs = calloc(n ? n : 1, sizeof(*bs));
	bsp = calloc(n ? n : 1, sizeof(*bsp));
	for (struct boot *b = idsrd->boots; b && bs && bsp; b = b->next) {
		uint64_t acc = boot_accesses(b);

		/* Other users' boots are not listed (quietly: status is for everyone). */
		if (!admin && b->peer.uid != c->peer.uid)
			continue;

		idsr__v1__boot_status__init(&bs[i]);
		bsp[i] = &bs[i];
		bs[i].boot_id = (uint64_t)b->id;
		bs[i].vm_name = b->vm_name;
		bs[i].vmm = b->vmm;
		bs[i].vcpus = b->vcpus;
		bs[i].accesses = acc;
		bs[i].undefs = boot_undefs(b);
		bs[i].rows_dropped = atomic_load(&b->rows_dropped) +
				     store_boot_losses(idsrd->store, b->id);
		bs[i].mode = b->replay ? IDSR__V1__MODE__REPLAY : IDSR__V1__MODE__LIVE;
		bs[i].replay_of = (uint64_t)b->replay_of;
		bs[i].start_ns = b->start_ns;
		bs[i].impl = b->impl ? b->impl : (char *)"";
		bs[i].peer_uid = (uint32_t)b->peer.uid;
		pthread_mutex_lock(&b->lock);
		bs[i].connections = b->connections;
		/* The rate since the previous status request (or the boot's start). */
		if (now > b->rate_last_ns)
			b->rate = (double)(acc - b->rate_last_accesses) * 1e9 / (double)(now - b->rate_last_ns);
		b->rate_last_accesses = acc;
		b->rate_last_ns = now;
		bs[i].rate = b->rate;
		pthread_mutex_unlock(&b->lock);
		i++;
	}
	st.n_boots = bs && bsp ? i : 0;
	st.boots = bsp;
	r.ok = true;
	r.status = &st;
	control_reply(c, &r);
	pthread_mutex_unlock(&idsrd->boots_lock);
	free(bs);
	free(bsp);
	daemon_policy_put(lp);
}

/* ReplayArm, ReplayDisarm, ReplayWatch: the work is replayer.c's. */
static void control_replay(struct control_client *c, const Idsr__V1__ControlRequest *req)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	const Idsr__V1__ReplayArm *arm = req->replay_arm;
	char why[512];
	uint64_t arm_id = 0;
	int rc;

	if (req->req_case != IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_WATCH && !control_is_admin(c)) {
		control_fail(c, "a replay answers the next boot of any user, so only root, idsrd's user or "
			     "the admin group (--admin-group) may arm or disarm one");
		return;
	}
	switch (req->req_case) {
	case IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_ARM:
		rc = replayer_arm(arm->trace_path, (int64_t)arm->boot_id, arm->lenient, arm->vm_name, c,
				  &arm_id, why, sizeof(why));
		break;
	case IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_DISARM:
		rc = replayer_disarm(why, sizeof(why));
		break;
	default:
		/* Watch answers with progress replies of its own. */
		rc = replayer_watch(c, req->replay_watch->arm_id, why, sizeof(why));
		if (rc == 0)
			return;
	}
	if (rc < 0) {
		control_fail(c, why);
		return;
	}
	r.ok = true;
	r.arm_id = arm_id;
	r.message = (char *)(arm_id ? "armed" : "disarmed");
	control_reply(c, &r);
}

static void control_request(struct control_client *c, const Idsr__V1__ControlRequest *req)
{
	if (req->protocol != IDSR_PROTOCOL_VERSION) {
		char msg[128];

		snprintf(msg, sizeof(msg), "control protocol version %u is not spoken; this idsrd speaks %d",
			 req->protocol, IDSR_PROTOCOL_VERSION);
		control_fail(c, msg);
		return;
	}
	switch (req->req_case) {
	case IDSR__V1__CONTROL_REQUEST__REQ_STATUS:
		control_status(c);
		break;
	case IDSR__V1__CONTROL_REQUEST__REQ_SUBSCRIBE:
		subscribe_request(c, req->subscribe);
		break;
	case IDSR__V1__CONTROL_REQUEST__REQ_POLICY:
		policy_ctl_request(c, req->policy);
		break;
	case IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_ARM:
	case IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_DISARM:
	case IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_WATCH:
		control_replay(c, req);
		break;
	case IDSR__V1__CONTROL_REQUEST__REQ_TRACE_READ:
		trace_read_request(c, req->trace_read);
		break;
	default:
		control_fail(c, "this request is not supported by this idsrd");
	}
}

static void on_client_closed(uv_handle_t *h)
{
	struct control_client *c = (struct control_client *)h;

	subscribe_drop(c);
	replayer_client_gone(c);
	trace_read_client_gone(c);
	frame_reader_free(&c->reader);
	free(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct control_client *c = (struct control_client *)h;
	uint8_t *p;
	size_t n;

	frame_reader_space(&c->reader, &p, &n);
	*buf = uv_buf_init((char *)p, (unsigned)n);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct control_client *c = (struct control_client *)stream;
	const uint8_t *payload;
	size_t len;
	int rc;

	if (nread < 0) {
		uv_close((uv_handle_t *)stream, on_client_closed);
		return;
	}
	frame_reader_commit(&c->reader, (size_t)nread);
	while ((rc = frame_reader_next(&c->reader, &payload, &len)) > 0) {
		Frame *f = frame_unpack(payload, len);

		if (!f || f->body_case != IDSR__V1__FRAME__BODY_CONTROL) {
			control_fail(c, "expected a ControlRequest frame");
			frame_free(f);
			uv_read_stop(stream);
			uv_close((uv_handle_t *)stream, on_client_closed);
			return;
		}
		control_request(c, f->control);
		frame_free(f);
		if (uv_is_closing((uv_handle_t *)stream))
			return;
	}
	if (rc < 0) {
		control_fail(c, "frame length out of range");
		uv_close((uv_handle_t *)stream, on_client_closed);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct control_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	socklen_t glen;
	uv_os_fd_t fd;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || frame_reader_init(&c->reader) < 0) {
		free(c);
		return;
	}
	uv_pipe_init(server->loop, &c->pipe, 0);
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	c->peer = (struct boot_peer){ -1, -1, -1 };
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->peer = (struct boot_peer){ cred.uid, cred.gid, cred.pid };
		/* The admin group may be a supplementary group of the peer. */
		glen = sizeof(c->groups);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &glen) == 0)
			c->ngroups = (int)(glen / sizeof(gid_t));
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int control_start(uv_loop_t *loop, int listen_fd)
{
	int rc;

	rc = subscribe_init(loop);
	if (rc < 0)
		return rc;
	uv_pipe_init(loop, &control_server, 0);
	rc = uv_pipe_open(&control_server, listen_fd);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&control_server, 64, on_connection);
	return rc;
}

static void close_client(uv_handle_t *h, void *arg)
{
	if (h->type == UV_NAMED_PIPE && h != (uv_handle_t *)&control_server && !uv_is_closing(h))
		uv_close(h, on_client_closed);
}

void control_stop(void)
{
	subscribe_stop();
	if (!uv_is_closing((uv_handle_t *)&control_server))
		uv_close((uv_handle_t *)&control_server, NULL);
	uv_walk(control_server.loop, close_client, NULL);
}
