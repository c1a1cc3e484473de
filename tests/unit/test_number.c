/* SPDX-License-Identifier: MIT */
/* The one number parser: decimal or 0x hex, a digit first, 64 bits, nothing else. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "number.h"

static int parse(const char *s, uint64_t *v)
{
	*v = 0xdead;
	return num_parse_u64(s, strlen(s), v);
}

static void test_numbers(void **state)
{
	uint64_t v;

	assert_int_equal(parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("010", &v), 0);		/* decimal, not octal */
	assert_int_equal(v, 10);
	assert_int_equal(parse("0x1F", &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(parse("0X1f", &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(parse("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse("0xffffffffffffffff", &v), 0);
	assert_true(v == UINT64_MAX);
	/* n bytes, no NUL needed: a token of a longer line */
	assert_int_equal(num_parse_u64("12abc", 2, &v), 0);
	assert_int_equal(v, 12);
}

static void test_not_numbers(void **state)
{
	static const char *const bad[] = { "", " 5", "5 ", "-1", "+1", " -5", "0x", "0x-1", "1x", "x1",
					   "0b1", "1e3", "0x1g", "１" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &v), -EINVAL);
		assert_int_equal(v, 0xdead);		/* untouched */
	}
	assert_int_equal(parse("18446744073709551616", &v), -ERANGE);
	assert_int_equal(parse("99999999999999999999999", &v), -ERANGE);
	assert_int_equal(parse("0x10000000000000000", &v), -ERANGE);
	assert_int_equal(v, 0xdead);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_not_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
