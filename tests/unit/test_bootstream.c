/* SPDX-License-Identifier: MIT */
/* Unit tests of the boot reader: metadata, per-vCPU cursors, compact arrays, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "replay/bootstream.h"
#include "tests/rmtree.h"

static char dir[] = "/tmp/idsr-bootstream-XXXXXX";
static char trace[64];

/* Two boots: 1 has vCPUs 0 and 2 (not 1) and an UNDEF row; 2 has no accesses. */
static int setup(void **state)
{
	sqlite3 *db;
	char why[256];

	assert_non_null(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/trace.db", dir);
	assert_int_equal(db_open(trace, DB_CREATE, &db, why, sizeof(why)), 0);
	assert_int_equal(sqlite3_exec(db,
		"INSERT INTO boots (id, start_ns, kernel, impl, vcpus, slide, image_base, accesses)"
		"  VALUES (1, 1, 'linux-6.1', 'apple', 4, -8796093022208, 1073741824, 4);"
		"INSERT INTO boots (id, start_ns, vcpus) VALUES (2, 2, 1);"
		"INSERT INTO accesses (boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value, action) VALUES"
		"  (1, 2, 0, 5, 51072, -140737488355328, 1, 0, -1, 'emulate'),"
		"  (1, 0, 1, 4, 51080, 4096, 2, 1, 7, 'undef'),"
		"  (1, 0, 0, 3, 51072, 4092, 1, 0, 0, 'emulate'),"
		"  (1, 2, 1, 6, 3221815304, 8, 1, 1, 42, 'emulate')",
		NULL, NULL, NULL), SQLITE_OK);
	db_close(db);
	return 0;
}

static int teardown(void **state)
{
	return rmtree(dir);
}

static struct bootstream *open_ref(int64_t boot_id)
{
	struct bootstream *bs = NULL;
	char why[256];

	assert_int_equal(bootstream_open(trace, boot_id, &bs, why, sizeof(why)), 0);
	return bs;
}

static void test_info(void **state)
{
	struct bootstream *bs = open_ref(1);
	const struct bootstream_info *in = bootstream_info(bs);

	assert_int_equal(in->boot_id, 1);
	assert_string_equal(in->path, trace);
	assert_string_equal(in->kernel, "linux-6.1");
	assert_string_equal(in->impl, "apple");
	assert_int_equal(in->vcpus, 4);
	assert_true(in->slide == 0xfffff80000000000ull);
	assert_int_equal(in->image_base, 0x40000000);
	bootstream_close(bs);
	/* no boot id: the last boot, whose text columns are NULL */
	bs = open_ref(0);
	in = bootstream_info(bs);
	assert_int_equal(in->boot_id, 2);
	assert_null(in->kernel);
	assert_null(in->impl);
	bootstream_close(bs);
}

static void test_cursor_order_and_fields(void **state)
{
	struct bootstream *bs = open_ref(1);
	struct bootstream_cursor *c, *c2;
	struct bootstream_access r;
	uint32_t vcpu;
	char why[256];

	assert_int_equal(sizeof(struct bootstream_access), 32);
	assert_int_equal(bootstream_cursor_open(bs, -1, &c, why, sizeof(why)), 0);
	/* one cursor at a time */
	assert_int_equal(bootstream_cursor_open(bs, -1, &c2, why, sizeof(why)), -EBUSY);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 1);
	assert_int_equal(vcpu, 0);
	assert_int_equal(r.seq, 0);
	assert_int_equal(r.pc, 4092);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 1);
	assert_int_equal(vcpu, 0);
	assert_int_equal(r.seq, 1);
	assert_int_equal(r.key, 51080);
	assert_int_equal(r.el, 2);
	assert_int_equal(r.is_write, 1);
	assert_int_equal(r.value, 7);
	assert_int_equal(r.undef, 1);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 1);
	assert_int_equal(vcpu, 2);
	assert_true(r.pc == 0xffff800000000000ull);
	assert_true(r.value == UINT64_MAX);
	assert_int_equal(r.undef, 0);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 1);
	assert_int_equal(r.key, 3221815304u);	/* p9:0:c1 wide (MCRR) */
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 0);
	bootstream_cursor_close(c);

	/* one vCPU only */
	assert_int_equal(bootstream_cursor_open(bs, 2, &c, why, sizeof(why)), 0);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 1);
	assert_int_equal(vcpu, 2);
	assert_int_equal(r.seq, 0);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 1);
	assert_int_equal(bootstream_cursor_next(c, &vcpu, &r, why, sizeof(why)), 0);
	bootstream_cursor_close(c);
	bootstream_close(bs);
}

static void test_load(void **state)
{
	struct bootstream *bs = open_ref(1);
	struct bootstream_vcpu *v;
	size_t n;
	char why[256];

	assert_int_equal(bootstream_load(bs, &v, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].vcpu, 0);
	assert_int_equal(v[0].count, 2);
	assert_int_equal(v[0].rows[1].value, 7);
	assert_int_equal(v[1].vcpu, 2);
	assert_int_equal(v[1].count, 2);
	assert_int_equal(v[1].rows[1].value, 42);
	bootstream_free_vcpus(v, n);
	bootstream_close(bs);

	bs = open_ref(2);
	assert_int_equal(bootstream_load(bs, &v, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	bootstream_free_vcpus(v, n);
	bootstream_close(bs);
}

static void test_errors(void **state)
{
	struct bootstream *bs = NULL;
	char why[256], want[160];

	assert_int_equal(bootstream_open(trace, 9, &bs, why, sizeof(why)), -ENOENT);
	snprintf(want, sizeof(want), "%s: no boot 9 in this trace (idsrctl boots lists them)", trace);
	assert_string_equal(why, want);
	assert_null(bs);
	assert_int_equal(bootstream_open("/nonexistent/trace.db", 0, &bs, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "/nonexistent/trace.db: No such file or directory");
	assert_null(bs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_cursor_order_and_fields),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
