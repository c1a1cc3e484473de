/* SPDX-License-Identifier: MIT */
/* The store queue's slots: chunks taken as rows wait and given back as the
 * writer passes them, so that idsrd's memory follows the queue's depth. The
 * queue's locking, pacing and writer are store.c.
 *
 * Why chunks: the queue used to be one ring of --queue slots whose head went
 * back to slot 0 only when the writer emptied it. A load that seldom lets
 * it empty (64 busy VMM connections: pacing keeps ~16,384 rows waiting, a
 * batch takes 8,192) walked the head through every slot, and all 64 MiB of
 * the default ring became resident: the 64-connection stress test peaked at
 * 76-87 MiB (docs/performance.md, "The ring's size"). Now slots are taken
 * STORE_CHUNK (64 KiB) at a time, always the lowest free chunk: when chunk c is
 * taken, chunks 0..c-1 are all in use, so the chunks ever touched are no
 * more than the most ever in use at once, and those hold the queue's high
 * water: at most high water / STORE_CHUNK + 2 chunks (a partly read head
 * chunk and a partly filled tail one). The mapping is reserved for --queue
 * rows and two chunks more, so a queue of --queue rows always finds its
 * chunks, and nothing is allocated while a producer holds the lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "store_int.h"

static size_t ring_bytes(const struct store *s)
{
	return s->nchunks * STORE_CHUNK * sizeof(*s->ring);
}

int store_queue_init(struct store *s, size_t cap)
{
	s->cap = cap;
	s->nchunks = cap / STORE_CHUNK + 2;
	s->next = calloc(s->nchunks, sizeof(*s->next));
	s->free_chunks = calloc((s->nchunks + 63) / 64, sizeof(*s->free_chunks));
	/* Reserved, not touched: pages become resident as chunks are taken. */
	s->ring = mmap(NULL, ring_bytes(s), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (s->ring == MAP_FAILED)
		s->ring = NULL;
	if (!s->next || !s->free_chunks || !s->ring)
		return -ENOMEM;
	/* A huge page would make 32 chunks resident at the first row. */
	madvise(s->ring, ring_bytes(s), MADV_NOHUGEPAGE);
	for (size_t c = 0; c < s->nchunks; c++)
		s->free_chunks[c / 64] |= 1ull << (c % 64);
	return 0;
}

void store_queue_free(struct store *s)
{
	if (s->ring)
		munmap(s->ring, ring_bytes(s));
	free(s->next);
	free(s->free_chunks);
}

/* Lock held. The lowest free chunk, taken; -1 if none (only for a control
 * record in a full queue while a trim holds a chunk: see store_queue_trim). */
static long chunk_take(struct store *s)
{
	for (size_t w = 0; w < (s->nchunks + 63) / 64; w++) {
		if (s->free_chunks[w]) {
			size_t c = w * 64 + (size_t)__builtin_ctzll(s->free_chunks[w]);

			s->free_chunks[w] &= ~(1ull << (c % 64));
			if ((c + 1) * STORE_CHUNK > s->touched)
				s->touched = (c + 1) * STORE_CHUNK;
			return (long)c;
		}
	}
	return -1;
}

/* Lock held. */
static void chunk_give(struct store *s, size_t c)
{
	s->free_chunks[c / 64] |= 1ull << (c % 64);
}

bool store_queue_put(struct store *s, const struct store_item *it)
{
	size_t slot = s->tail;

	if (slot % STORE_CHUNK == 0) {	/* the tail chunk is full, or the queue has none */
		long c = chunk_take(s);

		if (c < 0)
			return false;
		if (s->count)
			s->next[(slot - 1) / STORE_CHUNK] = (uint32_t)c;
		else
			s->head = (size_t)c * STORE_CHUNK;
		slot = (size_t)c * STORE_CHUNK;
	}
	s->ring[slot] = *it;
	s->tail = slot + 1;
	s->count++;
	return true;
}

size_t store_queue_copy(const struct store *s, size_t head, size_t n, struct store_item *out)
{
	size_t at = head, done = 0, k;

	while (done < n) {
		k = STORE_CHUNK - at % STORE_CHUNK;
		if (k > n - done)
			k = n - done;
		memcpy(out + done, s->ring + at, k * sizeof(*out));
		done += k;
		at += k;
		/* next[] of a chunk whose successor holds counted items was set
		 * under the lock before they were counted. */
		if (done < n && at % STORE_CHUNK == 0)
			at = (size_t)s->next[at / STORE_CHUNK - 1] * STORE_CHUNK;
	}
	return at;
}

void store_queue_taken(struct store *s, size_t at, size_t n)
{
	size_t c = s->head / STORE_CHUNK, last = (at - 1) / STORE_CHUNK, next;

	for (; c != last; c = next) {
		next = s->next[c];
		chunk_give(s, c);
	}
	s->count -= n;
	if (s->count == 0) {		/* empty: the next row takes the lowest chunk again */
		chunk_give(s, c);
		s->head = s->tail = 0;
	} else if (at % STORE_CHUNK == 0) {
		s->head = (size_t)s->next[c] * STORE_CHUNK;
		chunk_give(s, c);
	} else {
		s->head = at;
	}
}

/*
 * After a spike (a stuck disk filled the queue) its deep chunks stay resident
 * though free. When the writer has emptied the queue and more than twice
 * STORE_TRIM_KEEP slots were touched, it hands the chunks past
 * STORE_TRIM_KEEP back to the kernel, one at a time: it holds the one it
 * drops, so no producer writes a page being dropped, and the madvise runs
 * without the lock, which answering threads must never wait for. Holding
 * one chunk never makes a row find the queue full: rows stop STORE_RESERVE
 * slots short of --queue, and the mapping has a chunk more than they need
 * (a control record may wait for it, as for a full queue). A chunk the queue
 * took meanwhile (it grew again) is in use: it is skipped.
 */
void store_queue_trim(struct store *s)
{
	const size_t bytes = STORE_CHUNK * sizeof(*s->ring);
	size_t keep = STORE_TRIM_KEEP / STORE_CHUNK, to;

	pthread_mutex_lock(&s->lock);
	if (s->count || s->touched <= 2 * STORE_TRIM_KEEP) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	to = s->touched / STORE_CHUNK;
	s->touched = STORE_TRIM_KEEP;	/* chunk_take raises it again for the ones taken meanwhile */
	for (size_t c = keep; c < to; c++) {
		if (!(s->free_chunks[c / 64] & 1ull << (c % 64)))
			continue;
		s->free_chunks[c / 64] &= ~(1ull << (c % 64));
		pthread_mutex_unlock(&s->lock);
		if (madvise(s->ring + c * STORE_CHUNK, bytes, MADV_DONTNEED) < 0)
			log_debug("store: cannot hand back %zu bytes of the queue: %s", bytes, strerror(errno));
		pthread_mutex_lock(&s->lock);
		chunk_give(s, c);
	}
	pthread_mutex_unlock(&s->lock);
}
