/* SPDX-License-Identifier: MIT */
/*
 * The fast path's shared region (docs/design.md, "The fast path"): one memfd
 * per VMM connection, made and sealed by idsrd, passed with the Welcome.
 * Offsets and indexes only, never pointers; every field either side reads
 * from the other is read once (atomically) and bounds-checked.
 *
 *	header   header_size bytes (fp_header_size): sizes, the epoch, the ring's
 *	         ends, per vCPU the next seq idsrd takes and the committed seq
 *	tables   2 x table_entries entries: the verdicts of epochs e & 1
 *	ring     ring_entries records of FP_RECORD_SIZE bytes
 */
#ifndef IDSR_FASTPATH_H
#define IDSR_FASTPATH_H

#include <stdint.h>

#define FP_MAGIC		0x46525349u	/* "ISRF" little-endian */
#define FP_LAYOUT_VERSION	2
#define FP_PAGE			4096		/* the header is whole pages */
#define FP_TABLE_ENTRIES	1024		/* per epoch slot; a power of two */
#define FP_TABLE_PROBES		8		/* a lookup looks at most this many entries */
#define FP_RING_ENTRIES		1024		/* a power of two */
#define FP_MAX_VCPUS		4096		/* IDSR_MAX_VCPUS: a 68 KiB header at most */

/* Written by idsrd only, except where said. 64-byte lines keep the two
 * sides' hot fields apart. */
struct fp_header {
	uint32_t magic, layout_version;
	uint32_t header_size, table_entries, ring_entries, record_size, entry_size, nvcpus;
	uint64_t table_offset, ring_offset, region_size;
	uint64_t vcpu_offset;		/* vcpus[nvcpus]: 256 */
	uint64_t epoch;			/* the current table is tables[epoch & 1] */
	uint8_t pad1[56];
	uint64_t head;			/* records idsrd has taken */
	uint32_t need_wake;		/* idsrd sleeps: the next record sends a Wake (the client clears it) */
	uint8_t pad2[52];
	uint64_t tail;			/* records the client has written (the client's, but FP_CLOSED) */
	uint8_t pad3[56];
	struct fp_vcpu {
		uint64_t next_seq;	/* the seq idsrd takes next (as far as the ring went) */
		uint64_t committed;	/* every row below this seq is committed: the VMM may forget them */
	} vcpus[];			/* nvcpus of them */
};

/* idsrd sets it in tail when the connection ends (fetch-or): the client
 * publishes a record by a compare-and-swap of tail, which then fails, so
 * every record is either taken by idsrd's last drain or never published
 * (and the access becomes a round trip). */
#define FP_CLOSED	(1ull << 63)

/* A verdict: meta is 0 (empty) or FP_VALID | direction | action, stored last
 * (release) so that a reader that sees it sees the rest. */
#define FP_VALID	1u
#define FP_WRITE	2u
#define FP_UNDEF	4u
struct fp_entry {
	uint32_t key;
	uint32_t meta;
	uint64_t value;			/* what a read returns */
	int32_t rule;
	uint32_t pad;
};

/* One access answered in the VMM. */
struct fp_record {
	uint64_t seq;
	uint64_t pc;
	uint64_t value;			/* the written value, or what the read returned */
	int64_t ts_ns;			/* CLOCK_REALTIME when it was answered */
	uint64_t epoch;			/* of the table that answered */
	uint32_t vcpu;
	uint32_t key;
	int32_t rule;
	uint8_t el;
	uint8_t is_write;
	uint8_t undef;
	uint8_t pad[9];
};
#define FP_RECORD_SIZE	64
_Static_assert(sizeof(struct fp_record) == FP_RECORD_SIZE, "fp_record is 64 bytes");
_Static_assert(sizeof(struct fp_entry) == 24, "fp_entry is 24 bytes");
_Static_assert(sizeof(struct fp_header) == 256, "fp_header's fixed part is 256 bytes");

/* The header of a region for nvcpus vCPUs: whole pages. */
static inline uint64_t fp_header_size(uint32_t nvcpus)
{
	uint64_t bytes = sizeof(struct fp_header) + (uint64_t)nvcpus * sizeof(struct fp_vcpu);

	return (bytes + FP_PAGE - 1) / FP_PAGE * FP_PAGE;
}

#define FP_TABLES_SIZE	(2 * FP_TABLE_ENTRIES * sizeof(struct fp_entry))
#define FP_RING_SIZE	(FP_RING_ENTRIES * FP_RECORD_SIZE)

/* Where (key, direction) starts its probe in a table of n entries (n a power of two). */
static inline uint32_t fp_slot(uint32_t key, int is_write, uint32_t n)
{
	uint32_t h = (key ^ (uint32_t)is_write << 30) * 0x9e3779b1u;

	return (h >> 16) & (n - 1);
}

#endif
