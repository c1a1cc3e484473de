/* SPDX-License-Identifier: MIT */
/* Replay memory and cursor cost on a large synthetic trace: memory must stay flat, however long the boot. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "replay/cursor.h"

#define VCPUS 4

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set now, in KiB (/proc/self/statm: pages). */
static long rss_kib(void)
{
	long size, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f && fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	if (f)
		fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static long peak_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Access i of vCPU v of the synthetic boot. */
static void synth(uint32_t v, uint64_t i, struct replay_access *a)
{
	static const uint32_t keys[8] = { 0xc780, 0xc788, 0xc7a0, 0xc7a8, 0xefa0, 0xe7d5, 0xc5c2, 0xffff };
	uint64_t z = (i ^ (uint64_t)v << 40) + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	*a = (struct replay_access){
		.seq = i, .vcpu = v, .key = keys[(i * 7 + v) % 8], .pc = 0xffff000010080000ull + (i % 64) * 4,
		.el = 1, .is_write = i % 5 == 2, .value = z ^ (z >> 31),
	};
}

static int make_trace(const char *path, uint64_t per_vcpu)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	char why[256];

	unlink(path);
	if (db_open(path, DB_CREATE, &db, why, sizeof(why)) < 0) {
		fprintf(stderr, "replay_memory: %s\n", why);
		return -1;
	}
	sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN; INSERT INTO boots(id, start_ns, end_ns, vcpus, vm_name,"
		     " impl) VALUES (1, 1, 2, 4, 'synthetic', 'apple')", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO accesses(boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value,"
			   " action, rule) VALUES (1, ?, ?, ?, ?, ?, 1, ?, ?, 'emulate', 3)", -1, &st, NULL);
	for (uint32_t v = 0; v < VCPUS; v++) {
		for (uint64_t i = 0; i < per_vcpu; i++) {
			struct replay_access a;

			synth(v, i, &a);
			sqlite3_bind_int64(st, 1, v);
			sqlite3_bind_int64(st, 2, (int64_t)i);
			sqlite3_bind_int64(st, 3, (int64_t)(i * VCPUS + v));
			sqlite3_bind_int64(st, 4, a.key);
			sqlite3_bind_int64(st, 5, (int64_t)a.pc);
			sqlite3_bind_int(st, 6, a.is_write);
			sqlite3_bind_int64(st, 7, (int64_t)a.value);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	db_close(db);
	return 0;
}

int main(int argc, char **argv)
{
	const char *n_env = getenv("REPLAY_MEM_N");
	uint64_t total = n_env ? strtoull(n_env, NULL, 10) : 2000000, per = total / VCPUS, matched = 0;
	const char *path = argc > 1 ? argv[1] : "/tmp/idsr-replay-memory.db";
	struct replay_divergence d;
	struct replay_record rec;
	struct replay_cursor *c;
	struct replay_trace *t;
	char why[512];
	double t0, t1;
	long rss0, rss_mid = 0;

	t0 = now_s();
	if (make_trace(path, per) < 0)
		return 1;
	printf("replay memory: synthetic boot of %" PRIu64 " accesses on %d vCPUs written in %.1f s\n",
	       per * VCPUS, VCPUS, now_s() - t0);
	rss0 = rss_kib();
	t0 = now_s();
	if (replay_trace_open(path, 1, &t, why, sizeof(why)) < 0 || replay_cursor_new(t, 0, &c) < 0) {
		fprintf(stderr, "replay_memory: %s\n", why);
		return 1;
	}
	t1 = now_s();
	printf("  arming (open, count per-vCPU streams): %.2f ms\n", (t1 - t0) * 1e3);
	/* The vCPUs take turns, as a boot's do. */
	t0 = now_s();
	for (uint64_t i = 0; i < per; i++) {
		for (uint32_t v = 0; v < VCPUS; v++) {
			struct replay_access a;

			synth(v, i, &a);
			matched += replay_cursor_match(c, &a, &rec, &d) == REPLAY_MATCHED && rec.value == a.value;
		}
		if (i == per / 10)
			rss_mid = rss_kib();
	}
	t1 = now_s();
	printf("  matched %" PRIu64 " of %" PRIu64 " in %.2f s: %.0f ns per access\n", matched, per * VCPUS,
	       t1 - t0, (t1 - t0) * 1e9 / (double)(per * VCPUS));
	printf("  resident: %ld KiB before arming, %ld KiB after 10%%, %ld KiB at the end; peak %ld KiB\n",
	       rss0, rss_mid, rss_kib(), peak_kib());
	replay_cursor_free(c);
	replay_trace_close(t);
	for (const char *sfx = ""; sfx; sfx = !*sfx ? "-wal" : !strcmp(sfx, "-wal") ? "-shm" : NULL) {
		snprintf(why, sizeof(why), "%s%s", path, sfx);
		unlink(why);
	}
	return matched == per * VCPUS ? 0 : 1;
}
