/* SPDX-License-Identifier: MIT */
/* Writes pairs of synthetic boots into trace databases for the diff benchmark (bench/diff.sh). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "encoding.h"

/*
 * related N P:   A is N accesses; B is A where each position, with probability
 *                P, is dropped, preceded by a new access, or has its value
 *                changed (a third each): two boots of neighbouring kernels.
 * unrelated N:   A and B are N accesses to disjoint register sets.
 * shuffled N:    A and B are N independent random accesses to the same
 *                registers: the worst case for an alignment on registers.
 */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct access {
	uint32_t key;
	uint8_t is_write;
	uint64_t value;
};

/* A guest touches a few dozen registers: s3_<op1>_c15_c<crm>_<op2>. */
static struct access random_access(unsigned op1)
{
	struct access a;

	a.key = enc_a64(3, op1, 15, (unsigned)(rng() % 8), (unsigned)(rng() % 3));
	a.is_write = rng() % 3 == 0;
	/* reads mostly return the same few values; writes vary more */
	a.value = a.is_write ? rng() % 4096 : rng() % 4;
	return a;
}

struct writer {
	sqlite3 *db;
	sqlite3_stmt *ins;
	int64_t seq;
	uint64_t pc;
};

static int writer_open(struct writer *w, const char *path)
{
	char why[512];
	int ret;

	memset(w, 0, sizeof(*w));
	remove(path);
	ret = db_open(path, DB_CREATE, &w->db, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "diff_gen: %s\n", why);
		return ret;
	}
	if (sqlite3_exec(w->db, "PRAGMA synchronous=OFF; BEGIN;"
			 "INSERT INTO boots (id, start_ns, kernel, impl, vcpus) VALUES (1, 0, 'bench', 'apple', 1)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "INSERT INTO accesses (boot_id, vcpu, seq, ts_ns, key, pc, el, is_write,"
			       " value, action) VALUES (1, 0, ?, ?, ?, ?, 1, ?, ?, 'emulate')",
			       -1, &w->ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "diff_gen: %s: %s\n", path, sqlite3_errmsg(w->db));
		return -EIO;
	}
	w->pc = 0xffff800008010000ull;
	return 0;
}

static int writer_put(struct writer *w, const struct access *a)
{
	sqlite3_bind_int64(w->ins, 1, w->seq);
	sqlite3_bind_int64(w->ins, 2, w->seq * 1000);
	sqlite3_bind_int64(w->ins, 3, a->key);
	sqlite3_bind_int64(w->ins, 4, (int64_t)w->pc);
	sqlite3_bind_int64(w->ins, 5, a->is_write);
	sqlite3_bind_int64(w->ins, 6, (int64_t)a->value);
	w->seq++;
	w->pc += 4 * (1 + rng() % 16);
	if (sqlite3_step(w->ins) != SQLITE_DONE) {
		fprintf(stderr, "diff_gen: insert: %s\n", sqlite3_errmsg(w->db));
		return -EIO;
	}
	sqlite3_reset(w->ins);
	return 0;
}

static int writer_close(struct writer *w)
{
	int ret = 0;

	sqlite3_finalize(w->ins);
	if (sqlite3_exec(w->db, "UPDATE boots SET accesses = (SELECT count(*) FROM accesses); COMMIT",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "diff_gen: commit: %s\n", sqlite3_errmsg(w->db));
		ret = -EIO;
	}
	db_close(w->db);
	return ret;
}

static int generate(const char *mode, long n, double p, struct writer *a, struct writer *b)
{
	uint64_t threshold = (uint64_t)(p * (double)UINT64_MAX);
	int ret = 0;

	for (long i = 0; i < n && !ret; i++) {
		struct access x = random_access(0), y;

		if (!strcmp(mode, "related")) {
			ret = writer_put(a, &x);
			if (ret || rng() >= threshold) {
				ret = ret ? ret : writer_put(b, &x);
				continue;
			}
			switch (rng() % 3) {
			case 0:		/* dropped in B */
				break;
			case 1:		/* B has a new access first */
				y = random_access(0);
				ret = writer_put(b, &y);
				ret = ret ? ret : writer_put(b, &x);
				break;
			default:	/* B's value differs */
				y = x;
				y.value ^= 1 + rng() % 255;
				ret = writer_put(b, &y);
			}
		} else {
			y = random_access(!strcmp(mode, "unrelated") ? 1 : 0);
			ret = writer_put(a, &x);
			ret = ret ? ret : writer_put(b, &y);
		}
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct writer a, b;
	double p = argc > 5 ? strtod(argv[5], NULL) : 0.01;
	long n;

	if (argc < 5 || (strcmp(argv[1], "related") && strcmp(argv[1], "unrelated") &&
			 strcmp(argv[1], "shuffled"))) {
		fprintf(stderr, "usage: diff_gen related|unrelated|shuffled A.db B.db N [P]\n");
		return 2;
	}
	n = strtol(argv[4], NULL, 10);
	if (writer_open(&a, argv[2]) || writer_open(&b, argv[3]))
		return 1;
	if (generate(argv[1], n, p, &a, &b) || writer_close(&a) || writer_close(&b))
		return 1;
	printf("%s: A %" PRId64 " accesses, B %" PRId64 " accesses\n", argv[1], a.seq, b.seq);
	return 0;
}
