/* SPDX-License-Identifier: MIT */
/* libidsr-client's fast path: answering from the shared region's table (docs/design.md 3.6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client_fast.h"
#include "fp_layout.h"

#define LOAD(p, mo)	__atomic_load_n((p), (mo))
#define STORE(p, v, mo)	__atomic_store_n((p), (v), (mo))

int fp_recv_fd(int sock, struct frame_reader *r, int *fd)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint8_t *p;
	size_t space;
	ssize_t got;

	*fd = -1;
	frame_reader_space(r, &p, &space);
	iov = (struct iovec){ p, space };
	do {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	if (got == 0)
		return -ECONNRESET;
	frame_reader_commit(r, (size_t)got);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

static bool pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

/* Whether every part h names lies inside a mapping of size bytes, in order
 * (header, tables, ring), aligned for their 64-bit fields, checked without
 * overflow. */
static bool fits(const struct fp_header *h, uint64_t size)
{
	uint64_t tables, ring;

	if (h->record_size != FP_RECORD_SIZE || h->entry_size != sizeof(struct fp_entry) ||
	    !pow2(h->table_entries) || !pow2(h->ring_entries) || h->table_entries > 1u << 24 ||
	    h->ring_entries > 1u << 24 || h->region_size > size || h->table_offset % 8 || h->ring_offset % 8)
		return false;
	tables = 2ull * h->table_entries * h->entry_size;
	ring = (uint64_t)h->ring_entries * h->record_size;
	return h->vcpu_offset >= sizeof(*h) && h->vcpu_offset % 8 == 0 && h->nvcpus <= FP_MAX_VCPUS &&
	       h->header_size >= h->vcpu_offset + (uint64_t)h->nvcpus * sizeof(struct fp_vcpu) &&
	       h->header_size <= h->region_size &&
	       h->table_offset >= h->header_size && h->table_offset <= h->region_size &&
	       tables <= h->region_size - h->table_offset && h->ring_offset >= h->table_offset + tables &&
	       h->ring_offset <= h->region_size && ring <= h->region_size - h->ring_offset;
}

int fp_attach(struct fp_client *f, int fd)
{
	struct stat st;
	struct fp_header h;
	void *map;

	if (fstat(fd, &st) < 0 || st.st_size < FP_PAGE)
		return -EPROTO;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	memcpy(&h, map, sizeof(h));
	/* idsrd made it, but a wrong layout must not make this library read
	 * outside the mapping. */
	if (h.magic != FP_MAGIC || h.layout_version != FP_LAYOUT_VERSION || !fits(&h, (uint64_t)st.st_size)) {
		munmap(map, (size_t)st.st_size);
		return -EPROTO;
	}
	*f = (struct fp_client){
		.answered = f->answered, .ring_full = f->ring_full,
		.map = map, .size = (size_t)st.st_size, .hdr = map,
		.tables = (struct fp_entry *)((char *)map + h.table_offset),
		.ring = (struct fp_record *)((char *)map + h.ring_offset),
		.vcpus = (struct fp_vcpu *)((char *)map + h.vcpu_offset),
		.released = calloc(h.nvcpus ? h.nvcpus : 1, sizeof(uint64_t)),
		.table_entries = h.table_entries, .ring_entries = h.ring_entries,
		.nvcpus = h.nvcpus, .on = true,
	};
	if (!f->released) {
		munmap(map, (size_t)st.st_size);
		f->map = NULL;
		return -ENOMEM;
	}
	f->tail = LOAD(&f->hdr->tail, __ATOMIC_RELAXED);
	return 0;
}

void fp_detach(struct fp_client *f)
{
	/* The switch and the counts are the connection's, across reconnects. */
	struct fp_client keep = { .on = f->on, .answered = f->answered, .ring_full = f->ring_full };

	if (f->map)
		munmap(f->map, f->size);
	free(f->released);
	*f = keep;
}

/* The table entry of (key, direction) in epoch e's table, copied; false if none. */
static bool lookup(const struct fp_client *f, uint64_t e, uint32_t key, bool is_write, struct fp_entry *out)
{
	const struct fp_entry *t = f->tables + (e & 1) * f->table_entries;
	uint32_t slot = fp_slot(key, is_write, f->table_entries);

	for (int i = 0; i < FP_TABLE_PROBES; i++, slot = (slot + 1) & (f->table_entries - 1)) {
		uint32_t meta = LOAD(&t[slot].meta, __ATOMIC_ACQUIRE);

		if (!meta)
			return false;
		if (LOAD(&t[slot].key, __ATOMIC_RELAXED) == key && !!(meta & FP_WRITE) == is_write) {
			out->meta = meta;
			out->value = LOAD(&t[slot].value, __ATOMIC_RELAXED);
			out->rule = LOAD(&t[slot].rule, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

int fp_access(struct fp_client *f, uint64_t seq, const struct idsr_access *a, struct idsr_verdict *v)
{
	struct fp_header *h = f->hdr;
	struct fp_entry e;
	struct fp_record *rec;
	struct timespec ts;
	uint64_t epoch, head, used, expect;
	int wake = 0;

	if (!f->map || !f->on || a->el < 1 || a->el > 3 || a->vcpu >= f->nvcpus)
		return -1;
	epoch = LOAD(&h->epoch, __ATOMIC_ACQUIRE);
	if (!lookup(f, epoch, a->key, a->is_write, &e))
		return -1;
	/* A sequence lock: if idsrd published a new table meanwhile, what was
	 * read may be torn; the round trip answers instead. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (LOAD(&h->epoch, __ATOMIC_RELAXED) != epoch)
		return -1;
	head = LOAD(&h->head, __ATOMIC_ACQUIRE);
	used = f->tail - head;
	if (used >= f->ring_entries) {
		f->ring_full++;
		return -1;	/* full: the round trip makes idsrd take the ring first */
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	v->undef = e.meta & FP_UNDEF;
	v->value = v->undef || a->is_write ? 0 : e.value;
	rec = &f->ring[f->tail & (f->ring_entries - 1)];
	*rec = (struct fp_record){
		.seq = seq, .pc = a->pc, .value = a->is_write ? a->value : v->value,
		.ts_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, .epoch = epoch,
		.vcpu = a->vcpu, .key = a->key, .rule = e.rule, .el = a->el,
		.is_write = a->is_write, .undef = v->undef,
	};
	/* Seq_cst: pairs with idsrd's fence in fastpath_arm_wake (either idsrd
	 * sees this record or this sees its need_wake); fails once idsrd closed
	 * the ring (FP_CLOSED): then the record is not published. */
	expect = f->tail;
	if (!__atomic_compare_exchange_n(&h->tail, &expect, f->tail + 1, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return -1;
	f->tail++;
	if (LOAD(&h->need_wake, __ATOMIC_SEQ_CST) && __atomic_exchange_n(&h->need_wake, 0, __ATOMIC_RELAXED))
		wake = 1;
	if (used + 1 == f->ring_entries / 2)
		wake = 1;	/* half full: idsrd takes them before its tick */
	f->answered++;
	return wake;
}

uint64_t fp_committed(struct fp_client *f, uint32_t vcpu)
{
	uint64_t below;

	if (!f->map || vcpu >= f->nvcpus)
		return 0;
	/* Acquire: pairs with idsrd's release store (fastpath_committed). The
	 * value is idsrd's word only: a wrong one releases this connection's
	 * own records early, nothing more. */
	below = LOAD(&f->vcpus[vcpu].committed, __ATOMIC_ACQUIRE);
	if (below <= f->released[vcpu])
		return 0;
	f->released[vcpu] = below;
	return below;
}
