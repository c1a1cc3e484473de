/* SPDX-License-Identifier: MIT */
/* Live event subscriptions: the connections' threads copy matching accesses into per-subscriber rings; the main loop sends them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "filter.h"
#include "log.h"
#include "subscribe.h"

/* Events taken from a ring per write: bounds the time its lock is held. */
#define SUBSCRIBE_BATCH	256
/* Events are sent this long after the first one waits: batches of them
 * cost a few syscalls, where one write per access would cost the VMMs'
 * CPU. People reading a tail do not see 2 ms. */
#define SUBSCRIBE_DELAY_MS 2

/* One access as the ring holds it: fixed size, no pointers into a boot that
 * may end before the main loop sends it. */
struct sub_event {
	int64_t boot_id, ts_ns;
	uint64_t seq, pc, value, slide;
	uint64_t missed;		/* > 0: a marker, not an access */
	uint32_t vcpu, key;
	int32_t rule;
	uint8_t el, is_write, undef;
	char impl[24];
	char source[48];
	char hash[17];			/* the policy version rule is a line of */
};

struct subscriber {
	struct subscriber *next;	/* the list (main loop writes, connection threads read) */
	struct control_client *client;
	struct filter *filter;
	int64_t only_uid;		/* >= 0: not an admin, sees only the boots of this uid */
	pthread_mutex_t lock;		/* guards the ring; producers are the connections' threads */
	struct sub_event *ring;
	size_t head, count;		/* ring[head] is the oldest */
	uint64_t missed;		/* dropped since the last marker */
};

struct sub_write {
	uv_write_t req;
	uint8_t data[];
};

static pthread_rwlock_t subs_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct subscriber *subs;		/* written on the main loop under subs_lock */
static uv_async_t subs_wakeup;		/* a ring went from empty to not empty */
static uv_timer_t subs_timer;		/* sends what the rings hold */
static bool subs_running;

/* ---- the VMM path ---------------------------------------------------------- */

static void ring_put_locked(struct subscriber *s, const struct sub_event *ev)
{
	s->ring[(s->head + s->count) % SUBSCRIBE_RING] = *ev;
	s->count++;
}

/* Keeps order: a marker for what was dropped goes in before the next event. */
static bool ring_push(struct subscriber *s, const struct sub_event *ev)
{
	bool was_empty;

	pthread_mutex_lock(&s->lock);
	was_empty = s->count == 0;
	if (s->missed && s->count < SUBSCRIBE_RING) {
		struct sub_event marker = { .missed = s->missed };

		ring_put_locked(s, &marker);
		s->missed = 0;
	}
	if (s->count < SUBSCRIBE_RING)
		ring_put_locked(s, ev);
	else
		s->missed++;
	pthread_mutex_unlock(&s->lock);
	return was_empty;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

void subscribe_publish(const struct boot *b, const struct store_row *row, const struct live_policy *lp)
{
	struct filter_access fa = {
		.boot_id = row->boot_id, .vm_name = b->vm_name, .vcpu = row->vcpu, .key = row->key,
		.pc = row->pc, .is_write = row->is_write, .undef = row->undef,
	};
	struct sub_event ev = {
		.boot_id = row->boot_id, .ts_ns = row->ts_ns, .seq = row->seq, .pc = row->pc,
		.value = row->value, .slide = b->slide, .vcpu = row->vcpu, .key = row->key, .rule = row->rule,
		.el = row->el, .is_write = row->is_write, .undef = row->undef,
	};
	bool wake = false, named = false;

	/* Readers never wait on each other; the main loop holds the write lock
	 * only to link or unlink a subscriber. */
	pthread_rwlock_rdlock(&subs_lock);
	for (struct subscriber *s = subs; s; s = s->next) {
		if ((s->only_uid >= 0 && s->only_uid != b->peer.uid) || !filter_match(s->filter, &fa))
			continue;
		if (!named) {
			/* Only for an access somebody wants. */
			snprintf(ev.impl, sizeof(ev.impl), "%s", b->impl ? b->impl : "");
			snprintf(ev.source, sizeof(ev.source), "%s", base_name(policy_source(lp->policy)));
			snprintf(ev.hash, sizeof(ev.hash), "%s", policy_hash(lp->policy));
			named = true;
		}
		if (ring_push(s, &ev))
			wake = true;
	}
	if (wake && subs_running)
		uv_async_send(&subs_wakeup);
	pthread_rwlock_unlock(&subs_lock);
}

/* ---- the main loop: sending -------------------------------------------------- */

static void subscribe_schedule(void);

static void on_sub_written(uv_write_t *req, int status)
{
	free(req);
	/* A subscriber that stopped at the high-water mark goes on from here.
	 * (A cancelled write means the connection is closing: nothing to send.) */
	if (status == 0)
		subscribe_schedule();
}

static size_t event_pack(const struct sub_event *se, uint8_t *out, size_t cap)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Event ev = IDSR__V1__EVENT__INIT;
	int n;

	if (se->missed) {
		ev.missed = se->missed;
	} else {
		ev.boot_id = (uint64_t)se->boot_id;
		ev.vcpu = se->vcpu;
		ev.seq = se->seq;
		ev.ts_ns = se->ts_ns;
		ev.key = se->key;
		ev.pc = se->pc;
		ev.el = se->el;
		ev.is_write = se->is_write;
		ev.value = se->value;
		ev.action = se->undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
		ev.rule = se->rule;
		ev.impl = (char *)se->impl;
		ev.rule_source = (char *)se->source;
		ev.policy_hash = (char *)se->hash;
		ev.slide = se->slide;
	}
	f.body_case = IDSR__V1__FRAME__BODY_EVENT;
	f.event = &ev;
	n = frame_pack(&f, out, cap);
	return n > 0 ? (size_t)n : 0;
}

/* Sends what s's ring holds while its socket takes it; a subscriber that
 * does not read stops here and its ring overflows into `missed'. */
static void subscribe_drain(struct subscriber *s)
{
	uv_stream_t *stream = control_stream(s->client);
	struct sub_event batch[SUBSCRIBE_BATCH];

	while (!uv_is_closing((uv_handle_t *)stream) &&
	       uv_stream_get_write_queue_size(stream) < SUBSCRIBE_WRITE_HIGH) {
		struct sub_write *w;
		size_t n = 0, len = 0;
		uv_buf_t buf;

		pthread_mutex_lock(&s->lock);
		while (n < SUBSCRIBE_BATCH && s->count) {
			batch[n++] = s->ring[s->head];
			s->head = (s->head + 1) % SUBSCRIBE_RING;
			s->count--;
		}
		/* Nothing new came after the drops: say so now, not at the next event. */
		if (n < SUBSCRIBE_BATCH && !s->count && s->missed) {
			batch[n++] = (struct sub_event){ .missed = s->missed };
			s->missed = 0;
		}
		pthread_mutex_unlock(&s->lock);
		if (!n)
			return;
		w = malloc(sizeof(*w) + n * (FRAME_HEADER + 256));
		if (!w) {
			log_err("out of memory sending events to a subscriber; they are lost");
			return;
		}
		for (size_t i = 0; i < n; i++)
			len += event_pack(&batch[i], w->data + len, FRAME_HEADER + 256);
		buf = uv_buf_init((char *)w->data, (unsigned)len);
		if (uv_write(&w->req, stream, &buf, 1, on_sub_written) < 0) {
			free(w);
			return;
		}
	}
}

static void on_subs_timer(uv_timer_t *t)
{
	for (struct subscriber *s = subs; s; s = s->next)
		subscribe_drain(s);
}

static void subscribe_schedule(void)
{
	if (subs_running && !uv_is_active((uv_handle_t *)&subs_timer))
		uv_timer_start(&subs_timer, on_subs_timer, SUBSCRIBE_DELAY_MS, 0);
}

static void on_subs_wakeup(uv_async_t *a)
{
	subscribe_schedule();
}

/* ---- subscribing --------------------------------------------------------------- */

static void subscriber_free(struct subscriber *s)
{
	filter_free(s->filter);
	pthread_mutex_destroy(&s->lock);
	free(s->ring);
	free(s);
}

/* The Filter's keys and pattern as one comma-separated selector list. */
static char *filter_regs(const Idsr__V1__Filter *f)
{
	char *text = NULL, enc[ENC_TEXT_MAX];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return NULL;
	fputs(f->key_pattern ? f->key_pattern : "", m);
	for (size_t i = 0; i < f->n_keys; i++) {
		enc_format(f->keys[i], enc, sizeof(enc));
		fprintf(m, "%s%s", ftell(m) > 0 ? "," : "", enc);
	}
	fclose(m);
	return text;
}

void subscribe_request(struct control_client *c, const Idsr__V1__Filter *f)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	struct subscriber *s;
	char why[512], *regs;
	int rc;

	for (s = subs; s; s = s->next) {
		if (s->client == c) {
			control_fail(c, "this connection is already subscribed; open another one");
			return;
		}
	}
	s = calloc(1, sizeof(*s));
	regs = filter_regs(f);
	if (!s || !regs || !(s->ring = calloc(SUBSCRIBE_RING, sizeof(*s->ring)))) {
		control_fail(c, "idsrd is out of memory");
		goto fail;
	}
	struct filter_spec spec = {
		.boot_id = (int64_t)f->boot_id, .vm_name = f->vm_name, .vcpu = f->has_vcpu ? (int64_t)f->vcpu : -1,
		.regs = regs, .direction = (enum filter_direction)f->direction, .has_pc = f->has_pc,
		.pc_lo = f->pc_lo, .pc_hi = f->pc_hi, .action = (enum filter_action)f->action,
	};
	rc = filter_new(&spec, &s->filter, why, sizeof(why));
	if (rc < 0) {
		control_fail(c, why);
		goto fail;
	}
	free(regs);
	regs = NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->client = c;
	/* Like the boots' rows: an admin sees every boot, a user their own. */
	s->only_uid = control_is_admin(c) ? -1 : control_peer(c)->uid;
	pthread_rwlock_wrlock(&subs_lock);
	s->next = subs;
	subs = s;
	atomic_fetch_add(&idsrd->subscribers, 1);
	pthread_rwlock_unlock(&subs_lock);
	/* From here every access is published to s. Everything logged before
	 * is committed once this returns: tail reads it from the database. */
	store_flush(idsrd->store);
	r.ok = true;
	r.message = (char *)"subscribed: events follow";
	control_reply(c, &r);
	return;
fail:
	free(regs);
	if (s) {
		filter_free(s->filter);
		free(s->ring);
		free(s);
	}
}

void subscribe_drop(struct control_client *c)
{
	struct subscriber *s = NULL;

	pthread_rwlock_wrlock(&subs_lock);
	for (struct subscriber **p = &subs; *p; p = &(*p)->next) {
		if ((*p)->client == c) {
			s = *p;
			*p = s->next;
			atomic_fetch_sub(&idsrd->subscribers, 1);
			break;
		}
	}
	pthread_rwlock_unlock(&subs_lock);
	if (s)
		subscriber_free(s);
}

int subscribe_init(uv_loop_t *loop)
{
	int rc = uv_timer_init(loop, &subs_timer);

	if (rc == 0)
		rc = uv_async_init(loop, &subs_wakeup, on_subs_wakeup);
	subs_running = rc == 0;
	return rc;
}

void subscribe_stop(void)
{
	/* Under the write lock: no connection thread sends a wakeup to a closing handle. */
	pthread_rwlock_wrlock(&subs_lock);
	subs_running = false;
	pthread_rwlock_unlock(&subs_lock);
	if (!uv_is_closing((uv_handle_t *)&subs_wakeup))
		uv_close((uv_handle_t *)&subs_wakeup, NULL);
	if (!uv_is_closing((uv_handle_t *)&subs_timer))
		uv_close((uv_handle_t *)&subs_timer, NULL);
}
