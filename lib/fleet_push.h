/* SPDX-License-Identifier: MIT */
/* Pushing boots of a trace database to ClickHouse (idsrctl push, idsrd --push; docs/fleet.md). */
#ifndef IDSR_FLEET_PUSH_H
#define IDSR_FLEET_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "clickhouse.h"

#define PUSH_BATCH_DEFAULT 100000
#define PUSH_BATCH_MAX 1000000	/* under ClickHouse's max_insert_block_size: a batch is one block */

/* A boot's row, as pushed and pulled back (strings NULL when NULL in the trace). */
struct push_boot {
	int64_t id;
	char uid[40], *host;
	int64_t start_ns, end_ns;	/* end_ns 0: running or cut off (NULL) */
	char *vmm, *vm_name, *kernel, *build_id_hex, *impl, *mode, *policy_hash, *end_reason, *imported_from;
	char *instance_hex, *replay_source;
	uint64_t image_base, slide, midr;
	uint32_t vcpus;
	int64_t replay_of, accesses, undefs, rows_dropped, divergences;	/* replay_of 0: NULL */
	int64_t peer_uid, peer_gid, peer_pid;
	bool has_peer_uid, has_peer_gid, has_peer_pid;	/* false: NULL */
	int has_pcs;
	int64_t rows;			/* its rows in `accesses' (push only) */
	bool finished;			/* ended, and not cut off */
};

/* The columns of the ClickHouse `boots' table in the order push writes them
 * and pull reads them. */
#define PUSH_BOOT_COLUMNS "boot_uid, host, boot_id, start_ns, end_ns, vmm, vm_name, kernel, build_id," \
	" image_base, slide, midr, impl, vcpus, mode, replay_of, policy_hash, end_reason, accesses, undefs," \
	" rows_dropped, divergences, has_pcs, imported_from, pushed_ns, instance, replay_source, peer_uid," \
	" peer_gid, peer_pid"

/* Reads boot id of db (schema 4 or later). 0; -ENOENT (no such boot),
 * -EPROTO (an older schema: no boot_uid), -EIO, with why filled. */
int push_boot_read(sqlite3 *db, int64_t id, struct push_boot *b, char *why, size_t whylen);
void push_boot_free(struct push_boot *b);

/* Creates the tables if missing; with cluster, the Distributed *_all too. */
int push_tables(struct ch *ch, const char *cluster, char *why, size_t whylen);

struct push_result {
	bool already;			/* the server had the whole boot */
	int64_t sent, batches, on_server;
};
/* Sends what the server lacks of boot b, checks the count, then its `boots' row. */
int push_one(struct ch *ch, sqlite3 *db, const struct push_boot *b, size_t batch, struct push_result *r,
	     char *why, size_t whylen);
/* count() and distinct (vcpu, seq) of boot uid on the server. */
int push_server_count(struct ch *ch, const char *uid, int64_t *count, int64_t *distinct, char *why,
		      size_t whylen);
/* The shard (0 .. n-1) of a boot: its boot_uid's first 64 bits mod n, the same on every retry. */
size_t push_shard(const char *uid, size_t n);

/* A growing text buffer (failed: out of memory, later adds ignored). */
struct push_buf {
	char *p;
	size_t len, cap;
	bool failed;
};
void push_buf_add(struct push_buf *b, const char *s);
void push_buf_addn(struct push_buf *b, const char *s, size_t n);

#endif
