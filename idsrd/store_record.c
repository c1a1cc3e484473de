/* SPDX-License-Identifier: MIT */
/* The store's control records (boots, policies, divergences): the copies the
 * queue holds until the writer has written them, and what is done when one
 * cannot be made. The queue and its writer are store.c. */
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "log.h"
#include "store_int.h"

void store_item_free(struct store_item *it)
{
	struct store_policy_rec *p = it->rec;

	switch (it->kind) {
	case ITEM_ROW:
		return;
	case ITEM_BOOT_BEGIN: {
		struct store_boot *b = it->rec;

		free((char *)b->vmm); free((char *)b->vm_name); free((char *)b->kernel);
		free((char *)b->impl); free((char *)b->policy_hash); free((char *)b->replay_source);
		free((void *)b->instance); free((void *)b->build_id);
		break;
	}
	case ITEM_BOOT_END:
	case ITEM_BOOT_RESUME:
		free((char *)((struct store_boot_end *)it->rec)->reason);
		break;
	case ITEM_DIVERGENCE:
		free((char *)((struct store_divergence *)it->rec)->kind);
		break;
	case ITEM_POLICY:
	case ITEM_BOOT_POLICY:
		free(p->hash); free(p->text); free(p->source); free(p->how); free(p->old_hash);
		break;
	case ITEM_BOOT_PUSHED:
		free(((struct store_push_rec *)it->rec)->url);
		break;
	}
	free(it->rec);
}

static void *copy_bytes(const uint8_t *p, size_t n)
{
	void *c = malloc(n ? n : 1);

	if (c && n)
		memcpy(c, p, n);
	return c;
}

/* *dst = a copy of src (NULL stays NULL); false if out of memory. */
static bool copy_text(const char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

/* Queues a control record; if it could not be copied (ok false: out of
 * memory), frees what was and counts and logs its loss, as a row the queue
 * has no room for is counted: never lost in silence. */
static void store_push_copy(struct store *s, enum store_kind kind, void *rec, bool ok, int64_t boot_id)
{
	static const char *const what[] = {
		[ITEM_BOOT_BEGIN] = "the start of boot", [ITEM_BOOT_END] = "the end of boot",
		[ITEM_BOOT_RESUME] = "the resume of boot", [ITEM_BOOT_POLICY] = "the policy of boot",
		[ITEM_POLICY] = "a policy change", [ITEM_DIVERGENCE] = "a divergence of boot",
		[ITEM_BOOT_PUSHED] = "the push of boot",
	};
	struct store_item it = { .kind = kind, .rec = rec };

	if (rec && ok) {
		store_push_record(s, kind, rec);
		return;
	}
	if (rec)
		store_item_free(&it);
	pthread_mutex_lock(&s->lock);
	s->stats.records_dropped++;
	pthread_mutex_unlock(&s->lock);
	if (kind == ITEM_POLICY)
		log_err("store: out of memory queuing %s; it is not in %s", what[kind], s->path);
	else
		log_err("store: out of memory queuing %s %lld; it is not in %s", what[kind],
			(long long)boot_id, s->path);
}

void store_boot_begin(struct store *s, const struct store_boot *b)
{
	struct store_boot *c = malloc(sizeof(*c));
	bool ok = true;

	if (c) {
		*c = *b;
		ok = copy_text(&c->vmm, b->vmm) && ok;
		ok = copy_text(&c->vm_name, b->vm_name) && ok;
		ok = copy_text(&c->kernel, b->kernel) && ok;
		ok = copy_text(&c->impl, b->impl) && ok;
		ok = copy_text(&c->policy_hash, b->policy_hash) && ok;
		ok = copy_text(&c->replay_source, b->replay_source) && ok;
		c->instance = copy_bytes(b->instance, b->instance_len);
		c->build_id = copy_bytes(b->build_id, b->build_id_len);
		ok = ok && c->instance && c->build_id;
	}
	store_push_copy(s, ITEM_BOOT_BEGIN, c, ok, b->id);
}

void store_boot_end(struct store *s, const struct store_boot_end *e)
{
	struct store_boot_end *c = malloc(sizeof(*c));
	bool ok = true;

	if (c) {
		*c = *e;
		ok = copy_text(&c->reason, e->reason);
	}
	store_push_copy(s, ITEM_BOOT_END, c, ok, e->id);
}

void store_boot_resume(struct store *s, int64_t boot_id)
{
	struct store_boot_end *c = calloc(1, sizeof(*c));

	if (c)
		c->id = boot_id;
	store_push_copy(s, ITEM_BOOT_RESUME, c, true, boot_id);
}

void store_boot_policy(struct store *s, int64_t boot_id, const char *hash, int64_t since_ns)
{
	struct store_policy_rec *p = calloc(1, sizeof(*p));
	bool ok = true;

	if (p) {
		p->boot_id = boot_id;
		p->since_ns = since_ns;
		ok = (p->hash = strdup(hash)) != NULL;
	}
	store_push_copy(s, ITEM_BOOT_POLICY, p, ok, boot_id);
}

void store_policy(struct store *s, const char *hash, const char *text, const char *source,
		  const char *how, const char *old_hash, const struct boot_peer *peer)
{
	struct store_policy_rec *p = calloc(1, sizeof(*p));
	bool ok = true;

	if (p) {
		ok = (p->hash = strdup(hash)) != NULL;
		ok = (p->text = strdup(text)) != NULL && ok;
		ok = (p->how = strdup(how)) != NULL && ok;
		ok = (!source || (p->source = strdup(source))) && ok;
		ok = (!old_hash || (p->old_hash = strdup(old_hash))) && ok;
		p->peer_uid = peer->uid;
		p->peer_gid = peer->gid;
		p->peer_pid = peer->pid;
	}
	store_push_copy(s, ITEM_POLICY, p, ok, 0);
}

void store_divergence(struct store *s, const struct store_divergence *d)
{
	struct store_divergence *c = malloc(sizeof(*c));
	bool ok = true;

	if (c) {
		*c = *d;
		ok = (c->kind = strdup(d->kind)) != NULL;
	}
	store_push_copy(s, ITEM_DIVERGENCE, c, ok, d->boot_id);
}

void store_boot_pushed(struct store *s, int64_t boot_id, const char *url, int64_t rows, int64_t pushed_ns)
{
	struct store_push_rec *p = calloc(1, sizeof(*p));
	bool ok = true;

	if (p) {
		p->boot_id = boot_id;
		p->rows = rows;
		p->pushed_ns = pushed_ns;
		ok = (p->url = strdup(url)) != NULL;
	}
	store_push_copy(s, ITEM_BOOT_PUSHED, p, ok, boot_id);
}
