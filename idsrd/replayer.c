/* SPDX-License-Identifier: MIT */
/* Replay mode: arming a recorded boot, answering the next boot from it, reporting its progress. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "replay/cursor.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "replayer.h"

/* Divergences a progress report carries in full (all go to the database). */
#define REPLAYER_DETAILS	32
#define REPLAYER_TICK_MS	200
/* A finished replay is kept this long for an idsrctl that asks late. */
#define REPLAYER_KEEP_NS	(60 * 1000000000LL)

struct replay_watcher {
	struct replay_watcher *next;
	struct control_client *c;
};

/* An armed replay and, once a boot took it, its progress and outcome. */
struct replay_plan {
	struct replay_plan *next;	/* registry; main loop only */
	uint64_t arm_id;
	struct control_client *owner;	/* main loop only */
	struct replay_watcher *watchers;	/* main loop only */
	char *vm_name;
	bool lenient;
	struct replay_trace *trace;	/* the run's once a boot takes the plan */
	char *path, *impl;
	int64_t source_boot;
	uint32_t nvcpus;
	uint64_t *recorded, total;

	pthread_mutex_t lock;		/* what follows is shared with the connections' threads */
	struct replay_run *run;		/* while the boot runs */
	int64_t boot_id;
	bool done, failed;
	int64_t done_ns;
	char *message, *end_reason;
	uint64_t divergences;
	uint64_t *matched;		/* per vCPU, set when the boot ends */
	size_t ndetails;
	struct replay_divergence details[REPLAYER_DETAILS];
};

/* A boot being answered from a plan's recording (server.c's sessions are
 * connections: another thing). */
struct replay_run {
	struct replay_plan *plan;
	struct replay_cursor *cursor;
	atomic_bool failed;		/* strict: UNDEF from the first divergence on */
};

static struct replay_plan *plans;	/* main loop only */
static uint64_t next_arm_id = 1;
static uv_timer_t tick;
static bool ticking;

static void plan_free(struct replay_plan *p)
{
	struct replay_watcher *w, *next;

	for (w = p->watchers; w; w = next) {
		next = w->next;
		free(w);
	}
	replay_trace_close(p->trace);
	pthread_mutex_destroy(&p->lock);
	free(p->vm_name);
	free(p->path);
	free(p->impl);
	free(p->recorded);
	free(p->matched);
	free(p->message);
	free(p->end_reason);
	free(p);
}

/* Marks p finished; p->lock held. */
static void plan_finish_locked(struct replay_plan *p, bool failed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void plan_finish_locked(struct replay_plan *p, bool failed, const char *fmt, ...)
{
	va_list ap;

	free(p->message);
	va_start(ap, fmt);
	if (vasprintf(&p->message, fmt, ap) < 0)
		p->message = NULL;
	va_end(ap);
	p->failed = failed;
	p->done = true;
	p->done_ns = db_now_ns();
}

/* ---- arming ----------------------------------------------------------------- */

int replayer_arm(const char *path, int64_t boot_id, bool lenient, const char *vm_name,
		 struct control_client *owner, uint64_t *arm_id, char *why, size_t whylen)
{
	const struct replay_trace_info *in;
	struct replay_plan *p = calloc(1, sizeof(*p));
	int rc;

	if (!p) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	rc = replay_trace_open(path, boot_id, &p->trace, why, whylen);
	if (rc < 0)
		goto fail;
	in = replay_trace_info(p->trace);
	p->path = strdup(in->path);
	p->impl = strdup(in->impl ? in->impl : "");
	p->vm_name = strdup(vm_name ? vm_name : "");
	p->recorded = calloc(in->nvcpus ? in->nvcpus : 1, sizeof(*p->recorded));
	p->matched = calloc(in->nvcpus ? in->nvcpus : 1, sizeof(*p->matched));
	if (!p->path || !p->impl || !p->vm_name || !p->recorded || !p->matched) {
		snprintf(why, whylen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(p->recorded, in->recorded, in->nvcpus * sizeof(*p->recorded));
	p->nvcpus = in->nvcpus;
	p->total = in->total;
	p->source_boot = in->boot_id;
	p->lenient = lenient;
	p->owner = owner;
	pthread_mutex_lock(&idsrd->boots_lock);
	if (idsrd->replay) {
		snprintf(why, whylen, "a replay is already armed (arm %" PRIu64 " of %s): wait for its boot, "
			 "or drop it with idsrctl replay --disarm", idsrd->replay->arm_id, idsrd->replay->path);
		pthread_mutex_unlock(&idsrd->boots_lock);
		rc = -EBUSY;
		goto fail;
	}
	p->arm_id = next_arm_id++;
	idsrd->replay = p;
	pthread_mutex_unlock(&idsrd->boots_lock);
	p->next = plans;
	plans = p;
	*arm_id = p->arm_id;
	log_info("replay %" PRIu64 " armed: boot %" PRId64 " of %s (%" PRIu64 " accesses on %u vCPUs), %s, "
		 "for the next boot%s%s", p->arm_id, p->source_boot, p->path, p->total, p->nvcpus,
		 lenient ? "lenient" : "strict", *p->vm_name ? " of vm " : "", p->vm_name);
	return 0;
fail:
	plan_free(p);
	return rc;
}

/* Drops the armed plan if it is p (or any, p NULL); true if one was dropped. */
static bool plan_disarm(struct replay_plan *p, const char *why)
{
	struct replay_plan *armed;

	pthread_mutex_lock(&idsrd->boots_lock);
	armed = idsrd->replay;
	if (armed && (!p || armed == p))
		idsrd->replay = NULL;
	else
		armed = NULL;
	pthread_mutex_unlock(&idsrd->boots_lock);
	if (!armed)
		return false;
	pthread_mutex_lock(&armed->lock);
	plan_finish_locked(armed, true, "disarmed before a boot started (%s)", why);
	pthread_mutex_unlock(&armed->lock);
	replay_trace_close(armed->trace);
	armed->trace = NULL;
	log_info("replay %" PRIu64 " disarmed: %s", armed->arm_id, why);
	return true;
}

int replayer_disarm(char *why, size_t whylen)
{
	if (!plan_disarm(NULL, "idsrctl replay --disarm")) {
		snprintf(why, whylen, "no replay is armed (a replay that a boot took runs until the boot ends)");
		return -ENOENT;
	}
	return 0;
}

/* ---- the replaying boot ---------------------------------------------------- */

void replayer_attach(struct boot *b, const char *vm_name, uint64_t slide, struct store_boot *sb)
{
	struct replay_plan *p = idsrd->replay;
	struct replay_run *run;

	if (!p || (*p->vm_name && strcmp(p->vm_name, vm_name ? vm_name : "")))
		return;
	run = calloc(1, sizeof(*run));
	if (!run || replay_cursor_new(p->trace, slide, &run->cursor) < 0) {
		log_err("replay %" PRIu64 ": out of memory starting boot %" PRId64 "; it runs live",
			p->arm_id, b->id);
		free(run);
		return;
	}
	run->plan = p;
	idsrd->replay = NULL;
	pthread_mutex_lock(&p->lock);
	p->run = run;
	p->boot_id = b->id;
	pthread_mutex_unlock(&p->lock);
	b->replay = run;
	b->replay_of = p->source_boot;
	sb->replay = true;
	sb->replay_of = p->source_boot;
	sb->replay_source = p->path;
	log_info("boot %" PRId64 " replays boot %" PRId64 " of %s (replay %" PRIu64 ")", b->id,
		 p->source_boot, p->path, p->arm_id);
}

static void event_from_record(Idsr__V1__Event *e, int64_t boot_id, uint32_t vcpu, const struct replay_record *r)
{
	idsr__v1__event__init(e);
	e->boot_id = (uint64_t)boot_id;
	e->vcpu = vcpu;
	e->seq = r->seq;
	e->ts_ns = r->ts_ns;
	e->key = r->key;
	e->pc = r->pc;
	e->el = r->el;
	e->is_write = r->is_write;
	e->value = r->value;
	e->action = r->undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
	e->rule = r->rule;
}

/* Logs a divergence of b, counts it and keeps its details for reports. */
static void run_report(struct boot *b, const struct replay_divergence *d)
{
	struct replay_run *run = b->replay;
	struct replay_plan *p = run->plan;
	struct store_divergence sd = {
		.boot_id = b->id, .replay_of = p->source_boot, .ts_ns = db_now_ns(),
		.vcpu = d->vcpu, .seq = d->seq, .kind = replay_kind_name(d->kind),
		.has_expected = d->has_expected, .has_actual = d->has_actual,
		.expected_key = d->expected.key, .expected_pc = d->expected.pc,
		.expected_value = d->expected.value, .expected_is_write = d->expected.is_write,
		.actual_key = d->actual.key, .actual_pc = d->actual.pc,
		.actual_value = d->actual.value, .actual_is_write = d->actual.is_write,
	};

	store_divergence(idsrd->store, &sd);
	atomic_fetch_add_explicit(&b->divergences, 1, memory_order_relaxed);
	pthread_mutex_lock(&p->lock);
	if (p->divergences++ == 0)
		log_warn("boot %" PRId64 " diverged from boot %" PRId64 " of %s: vCPU %u seq %" PRIu64 ": %s%s",
			 b->id, p->source_boot, p->path, d->vcpu, d->seq, replay_kind_name(d->kind),
			 p->lenient ? "; lenient: the live policy answers what the recording cannot" :
				      "; strict: UNDEF from here on");
	if (p->ndetails < REPLAYER_DETAILS)
		p->details[p->ndetails++] = *d;
	pthread_mutex_unlock(&p->lock);
}

/* Strict, after a divergence: UNDEF from then on. */
static void strict_verdict(struct policy_verdict *pv)
{
	pv->undef = true;
	pv->value = 0;
	pv->rule = POLICY_RULE_STRICT;
}

/* The recording could not be read: said once, then answered as after a divergence. */
static void run_failed(struct boot *b, struct replay_run *run, int rc)
{
	pthread_mutex_lock(&run->plan->lock);
	if (!run->plan->message && asprintf(&run->plan->message, "replaying %s failed: %s",
					   run->plan->path, replay_cursor_strerror(rc)) < 0)
		run->plan->message = NULL;
	pthread_mutex_unlock(&run->plan->lock);
	log_err("boot %" PRId64 ": replaying %s failed: %s", b->id, run->plan->path,
		replay_cursor_strerror(rc));
	atomic_store(&run->failed, true);
}

void replayer_answer(struct boot *b, const struct policy *live, const struct policy_access *pa,
		     uint64_t seq, struct policy_verdict *pv)
{
	struct replay_run *run = b->replay;
	struct replay_access a = {
		.seq = seq, .pc = pa->pc, .value = pa->value, .vcpu = pa->vcpu, .key = pa->key,
		.el = pa->el, .is_write = pa->is_write,
	};
	struct replay_divergence d;
	struct replay_record rec;
	int rc;

	/* Failed: strict after its first divergence, either after the recording
	 * could not be read. */
	if (atomic_load_explicit(&run->failed, memory_order_relaxed)) {
		if (run->plan->lenient)
			policy_decide(live, b->state, pa, pv);
		else
			strict_verdict(pv);
		return;
	}
	rc = replay_cursor_match(run->cursor, &a, &rec, &d);
	if (rc == REPLAY_MATCHED || (rc == REPLAY_DIVERGED && d.has_answer && run->plan->lenient)) {
		pv->undef = rec.undef;
		pv->value = rec.is_write ? 0 : rec.value;
		pv->rule = POLICY_RULE_REPLAY;
	} else {
		if (rc < 0)
			run_failed(b, run, rc);
		if (run->plan->lenient) {
			policy_decide(live, b->state, pa, pv);
		} else {
			atomic_store(&run->failed, true);
			strict_verdict(pv);
		}
	}
	/* Reported once answered: the report shows the live side as logged. */
	if (rc == REPLAY_DIVERGED) {
		d.answered = true;
		d.answer_undef = pv->undef;
		d.answer_value = pv->value;
		d.answer_rule = pv->rule;
		run_report(b, &d);
	}
}

static void run_missing(void *arg, const struct replay_divergence *d)
{
	run_report(arg, d);
}

void replayer_boot_end(struct boot *b, const char *reason)
{
	struct replay_run *run = b->replay;
	struct replay_plan *p;
	uint32_t vcpus = 0;
	bool failed;

	if (!run)
		return;
	p = run->plan;
	/* After a strict failure the guest ran on UNDEFs: what it did not reach is noise. */
	if (!atomic_load(&run->failed))
		replay_cursor_finish(run->cursor, run_missing, b);
	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < p->nvcpus; i++) {
		p->matched[i] = replay_cursor_matched(run->cursor, i);
		vcpus += p->recorded[i] > 0;
	}
	p->run = NULL;
	p->end_reason = strdup(reason ? reason : "");
	failed = p->divergences > 0 || p->message;
	if (p->message) {
		char *msg = p->message;

		p->message = NULL;
		plan_finish_locked(p, true, "%s", msg);
		free(msg);
	}
	else if (!failed)
		plan_finish_locked(p, false, "reproduced: %" PRIu64 " accesses on %u vCPUs matched",
				   p->total, vcpus);
	else
		plan_finish_locked(p, true, "diverged: %" PRIu64 " divergence%s, the first on vCPU %u at seq %"
				   PRIu64 " (%s)", p->divergences, p->divergences == 1 ? "" : "s",
				   p->details[0].vcpu, p->details[0].seq, replay_kind_name(p->details[0].kind));
	log_info("boot %" PRId64 " (replay %" PRIu64 " of boot %" PRId64 "): %s", b->id, p->arm_id,
		 p->source_boot, p->message ? p->message : "done");
	pthread_mutex_unlock(&p->lock);
	replay_cursor_free(run->cursor);
	free(run);
	b->replay = NULL;
	/* The trace is closed on the main loop (plan_free), never under a connection thread's feet. */
}

/* ---- progress reports ------------------------------------------------------ */

/* The events a report points into: details x (expected, actual, context). */
struct report_events {
	Idsr__V1__ReplayDivergence div[REPLAYER_DETAILS];
	Idsr__V1__ReplayDivergence *divp[REPLAYER_DETAILS];
	Idsr__V1__Event ev[REPLAYER_DETAILS][2 + REPLAY_CONTEXT];
	Idsr__V1__Event *ctxp[REPLAYER_DETAILS][REPLAY_CONTEXT];
};

static void report_details(struct replay_plan *p, struct report_events *re, Idsr__V1__ReplayProgress *pr)
{
	for (size_t i = 0; i < p->ndetails; i++) {
		const struct replay_divergence *d = &p->details[i];
		Idsr__V1__ReplayDivergence *rd = &re->div[i];

		idsr__v1__replay_divergence__init(rd);
		rd->vcpu = d->vcpu;
		rd->seq = d->seq;
		rd->kind = (char *)replay_kind_name(d->kind);
		rd->missing = d->missing;
		if (d->has_expected) {
			event_from_record(&re->ev[i][0], p->source_boot, d->vcpu, &d->expected);
			rd->expected = &re->ev[i][0];
		}
		if (d->has_actual) {
			Idsr__V1__Event *e = &re->ev[i][1];

			idsr__v1__event__init(e);
			e->boot_id = (uint64_t)p->boot_id;
			e->vcpu = d->actual.vcpu;
			e->seq = d->actual.seq;
			e->key = d->actual.key;
			e->pc = d->actual.pc;
			e->el = d->actual.el;
			e->is_write = d->actual.is_write;
			e->value = d->actual.value;
			if (d->answered) {
				/* As the database has the row: a read's value is its answer. */
				e->action = d->answer_undef ? IDSR__V1__ACTION__UNDEF : IDSR__V1__ACTION__EMULATE;
				e->rule = d->answer_rule;
				if (!e->is_write)
					e->value = d->answer_value;
			}
			rd->actual = e;
		}
		for (size_t j = 0; j < d->ncontext; j++) {
			event_from_record(&re->ev[i][2 + j], p->source_boot, d->vcpu, &d->context[j]);
			re->ctxp[i][j] = &re->ev[i][2 + j];
		}
		rd->n_context = d->ncontext;
		rd->context = re->ctxp[i];
		re->divp[i] = rd;
	}
	pr->n_details = p->ndetails;
	pr->details = re->divp;
}

static void plan_send(struct replay_plan *p, struct control_client *c)
{
	Idsr__V1__ControlReply r = IDSR__V1__CONTROL_REPLY__INIT;
	Idsr__V1__ReplayProgress pr = IDSR__V1__REPLAY_PROGRESS__INIT;
	struct report_events *re = malloc(sizeof(*re));
	uint64_t *matched = calloc(p->nvcpus ? p->nvcpus : 1, sizeof(*matched));

	if (!re || !matched)
		goto out;
	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < p->nvcpus; i++)
		matched[i] = p->run ? replay_cursor_matched(p->run->cursor, i) : p->matched[i];
	pr.boot_id = (uint64_t)p->boot_id;
	pr.replay_of = (uint64_t)p->source_boot;
	pr.n_matched = p->nvcpus;
	pr.matched = matched;
	pr.n_recorded = p->nvcpus;
	pr.recorded = p->recorded;
	pr.divergences = p->divergences;
	pr.done = p->done;
	pr.failed = p->failed;
	pr.message = p->message ? p->message :
		     p->boot_id ? (char *)"replaying" : (char *)"armed: waiting for a new boot";
	pr.impl = p->impl;
	pr.source = p->path;
	pr.lenient = p->lenient;
	pr.vm_name = p->vm_name;
	pr.end_reason = p->end_reason ? p->end_reason : (char *)"";
	report_details(p, re, &pr);
	r.ok = true;
	r.arm_id = p->arm_id;
	r.progress = &pr;
	control_reply(c, &r);
	pthread_mutex_unlock(&p->lock);
out:
	free(matched);
	free(re);
}

static void plan_drop_watchers(struct replay_plan *p)
{
	struct replay_watcher *w, *next;

	for (w = p->watchers; w; w = next) {
		next = w->next;
		free(w);
	}
	p->watchers = NULL;
}

static void on_tick(uv_timer_t *t)
{
	int64_t now = db_now_ns();

	for (struct replay_plan **pp = &plans; *pp;) {
		struct replay_plan *p = *pp;
		bool done;

		pthread_mutex_lock(&p->lock);
		done = p->done;
		pthread_mutex_unlock(&p->lock);
		for (struct replay_watcher *w = p->watchers; w; w = w->next)
			plan_send(p, w->c);
		if (done)
			plan_drop_watchers(p);
		if (done && now - p->done_ns > REPLAYER_KEEP_NS) {
			*pp = p->next;
			plan_free(p);
			continue;
		}
		pp = &p->next;
	}
}

int replayer_watch(struct control_client *c, uint64_t arm_id, char *why, size_t whylen)
{
	struct replay_plan *p = plans;
	struct replay_watcher *w;

	while (p && p->arm_id != arm_id)
		p = p->next;
	if (!p) {
		snprintf(why, whylen, "no replay %" PRIu64 " (finished replays are kept for a minute)", arm_id);
		return -ENOENT;
	}
	plan_send(p, c);
	pthread_mutex_lock(&p->lock);
	bool done = p->done;
	pthread_mutex_unlock(&p->lock);
	if (done)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	w->c = c;
	w->next = p->watchers;
	p->watchers = w;
	return 0;
}

void replayer_client_gone(struct control_client *c)
{
	for (struct replay_plan *p = plans; p; p = p->next) {
		for (struct replay_watcher **wp = &p->watchers; *wp;) {
			struct replay_watcher *w = *wp;

			if (w->c == c) {
				*wp = w->next;
				free(w);
			} else {
				wp = &w->next;
			}
		}
		if (p->owner == c) {
			p->owner = NULL;
			/* idsrctl replay was interrupted or timed out before the boot came. */
			plan_disarm(p, "the idsrctl that armed it left");
		}
	}
}

void replayer_start(uv_loop_t *loop)
{
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, on_tick, REPLAYER_TICK_MS, REPLAYER_TICK_MS);
	uv_unref((uv_handle_t *)&tick);
	ticking = true;
}

void replayer_stop(void)
{
	if (ticking && !uv_is_closing((uv_handle_t *)&tick))
		uv_close((uv_handle_t *)&tick, NULL);
	ticking = false;
}

void replayer_cleanup(void)
{
	while (plans) {
		struct replay_plan *p = plans;

		plans = p->next;
		plan_free(p);
	}
	idsrd->replay = NULL;
}
