/* SPDX-License-Identifier: MIT */
/* Tests the packed encoding: pack/unpack/parse/format round trips, bad input, the IDSR space. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "encoding.h"

static uint32_t parse_ok(const char *text)
{
	const char *why = NULL;
	uint32_t key = 0xdeadbeef;

	if (enc_parse(text, &key, &why)) {
		print_error("enc_parse(\"%s\") failed: %s\n", text, why);
		fail();
	}
	assert_null(why);
	return key;
}

static void assert_bad(const char *text, const char *reason)
{
	const char *why = NULL;
	uint32_t key = 0x12345678;

	assert_int_equal(enc_parse(text, &key, &why), -EINVAL);
	assert_string_equal(why, reason);
	assert_int_equal(key, 0x12345678);
	/* why is optional */
	assert_int_equal(enc_parse(text, &key, NULL), -EINVAL);
}

static void assert_format(uint32_t key, const char *want)
{
	char buf[ENC_TEXT_MAX];

	assert_int_equal(enc_format(key, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

static void test_aarch64_round_trip(void **state)
{
	struct enc_fields f;

	assert_int_equal(parse_ok("s3_0_c15_c0_0"), 0xc780);
	assert_int_equal(parse_ok("S3_0_C15_C0_0"), 0xc780);
	assert_int_equal(parse_ok("s3_4_c15_c1_2"), enc_a64(3, 4, 15, 1, 2));
	assert_int_equal(enc_a64(3, 4, 15, 1, 2), 0xe78a);
	assert_int_equal(parse_ok("s3_7_c11_c15_7"), 0xfdff);
	assert_int_equal(parse_ok("s0_0_c0_c0_0"), 0);
	assert_format(0xc780, "s3_0_c15_c0_0");
	assert_format(0xfdff, "s3_7_c11_c15_7");
	assert_format(0, "s0_0_c0_c0_0");

	assert_true(enc_unpack(0xe78a, &f));
	assert_false(f.aarch32);
	assert_false(f.wide);
	assert_int_equal(f.op0, 3);
	assert_int_equal(f.op1, 4);
	assert_int_equal(f.crn, 15);
	assert_int_equal(f.crm, 1);
	assert_int_equal(f.op2, 2);
	assert_int_equal(enc_pack(&f), 0xe78a);

	/* every AArch64 key survives format -> parse -> pack */
	for (uint32_t key = 0; key < 0x10000; key++) {
		char buf[ENC_TEXT_MAX];
		uint32_t back;

		assert_true(enc_unpack(key, &f));
		assert_int_equal(enc_pack(&f), key);
		enc_format(key, buf, sizeof(buf));
		assert_int_equal(enc_parse(buf, &back, NULL), 0);
		assert_int_equal(back, key);
	}
}

static void test_aarch32_round_trip(void **state)
{
	struct enc_fields f;

	assert_int_equal(parse_ok("p15:0:c9:c0:0"), 0x800f0480);
	assert_int_equal(parse_ok("P15:0:C9:C0:0"), 0x800f0480);
	assert_int_equal(parse_ok("p15:7:c15:c15:7"), enc_a32(15, 7, 15, 15, 7));
	assert_int_equal(enc_a32(15, 7, 15, 15, 7), 0x800f3fff);
	assert_format(0x800f0480, "p15:0:c9:c0:0");
	assert_format(0x800f3fff, "p15:7:c15:c15:7");

	assert_true(enc_unpack(enc_a32(14, 3, 11, 8, 5), &f));
	assert_true(f.aarch32);
	assert_false(f.wide);
	assert_int_equal(f.coproc, 14);
	assert_int_equal(f.op1, 3);
	assert_int_equal(f.crn, 11);
	assert_int_equal(f.crm, 8);
	assert_int_equal(f.op2, 5);
	assert_int_equal(enc_pack(&f), enc_a32(14, 3, 11, 8, 5));
}

static void test_wide_round_trip(void **state)
{
	struct enc_fields f;

	assert_int_equal(parse_ok("p15:1:c15"), 0xc00f0878);
	assert_int_equal(enc_a32_wide(15, 1, 15), 0xc00f0878);
	/* MCRR/MRRC opc1 is 4 bits */
	assert_int_equal(parse_ok("p15:15:c15"), enc_a32_wide(15, 15, 15));
	assert_format(0xc00f0878, "p15:1:c15");
	assert_format(enc_a32_wide(15, 15, 15), "p15:15:c15");

	assert_true(enc_unpack(enc_a32_wide(15, 9, 15), &f));
	assert_true(f.aarch32);
	assert_true(f.wide);
	assert_int_equal(f.coproc, 15);
	assert_int_equal(f.op1, 9);
	assert_int_equal(f.crn, 0);
	assert_int_equal(f.crm, 15);
	assert_int_equal(f.op2, 0);
	assert_int_equal(enc_pack(&f), enc_a32_wide(15, 9, 15));
}

static void test_numbers(void **state)
{
	assert_int_equal(parse_ok("0xc780"), 0xc780);
	assert_int_equal(parse_ok("0XC780"), 0xc780);
	assert_int_equal(parse_ok("51072"), 0xc780);
	assert_int_equal(parse_ok("0"), 0);
	/* decimal, never octal */
	assert_int_equal(parse_ok("010"), 10);
	assert_int_equal(parse_ok("0x800f0480"), 0x800f0480);
	assert_int_equal(parse_ok("0xc00f0878"), 0xc00f0878);

	assert_bad("0x10000", "number has bits set that no encoding uses");
	assert_bad("0x80100000", "number has bits set that no encoding uses");	/* bit 20 */
	assert_bad("0x800fc000", "number has bits set that no encoding uses");	/* opc1 bit 3, narrow */
	assert_bad("0xc00f0880", "number has bits set that no encoding uses");	/* CRn in wide */
	assert_bad("0xc00f0879", "number has bits set that no encoding uses");	/* opc2 in wide */
	assert_bad("0xc00f8078", "number has bits set that no encoding uses");	/* bit 15 in wide */
	assert_bad("0x100000000", "number too large for a 32-bit key");
	assert_bad("99999999999999999999999", "number too large for a 32-bit key");
	assert_bad("0x", "not a number (expected 0x<hex digits> or decimal digits)");
	assert_bad("0xg", "not a number (expected 0x<hex digits> or decimal digits)");
	assert_bad("12ab", "not a number (expected 0x<hex digits> or decimal digits)");
	assert_bad("1 ", "not a number (expected 0x<hex digits> or decimal digits)");
}

static void test_bad_aarch64(void **state)
{
	assert_bad("", "empty encoding");
	assert_bad(" s3_0_c15_c0_0", "not an encoding (expected s<op0>_<op1>_c<CRn>_c<CRm>_<op2>, "
		   "p<coproc>:<opc1>:c<CRn>:c<CRm>:<opc2>, p<coproc>:<opc1>:c<CRm> or a number)");
	assert_bad("-1", "not an encoding (expected s<op0>_<op1>_c<CRn>_c<CRm>_<op2>, "
		   "p<coproc>:<opc1>:c<CRn>:c<CRm>:<opc2>, p<coproc>:<opc1>:c<CRm> or a number)");
	assert_bad("sctlr_el1", "expected op0 after `s' (as in s3_0_c15_c0_0)");
	assert_bad("s4_0_c15_c0_0", "op0 out of range (0-3)");
	assert_bad("s3_8_c15_c0_0", "op1 out of range (0-7)");
	assert_bad("s3_0_c16_c0_0", "CRn out of range (0-15)");
	assert_bad("s3_0_c15_c16_0", "CRm out of range (0-15)");
	assert_bad("s3_0_c15_c0_8", "op2 out of range (0-7)");
	assert_bad("s3_0_c99999999999999_c0_0", "CRn out of range (0-15)");
	assert_bad("s3-0_c15_c0_0", "expected `_' after op0");
	assert_bad("s3_", "expected op1 after `s<op0>_'");
	assert_bad("s3_0", "expected `_' after op1");
	assert_bad("s3_0_15_c0_0", "expected `c<CRn>' after op1 (as in s3_0_c15_c0_0)");
	assert_bad("s3_0_c_c0_0", "expected a number after `c' (CRn)");
	assert_bad("s3_0_c15", "expected `_' after CRn");
	assert_bad("s3_0_c15_0_0", "expected `c<CRm>' after CRn (as in s3_0_c15_c0_0)");
	assert_bad("s3_0_c15_c", "expected a number after `c' (CRm)");
	assert_bad("s3_0_c15_c0", "expected `_' after CRm");
	assert_bad("s3_0_c15_c0_", "expected op2 after CRm");
	assert_bad("s3_0_c15_c0_0 ", "unexpected text after op2");
	assert_bad("s3_0_c15_c0_0_el1", "unexpected text after op2");
}

static void test_bad_aarch32(void **state)
{
	assert_bad("p", "expected a coprocessor number after `p' (as in p15:0:c9:c0:0)");
	assert_bad("p16:0:c9:c0:0", "coproc out of range (0-15)");
	assert_bad("p15", "expected `:' after the coprocessor number");
	assert_bad("p15:", "expected opc1 after `p<coproc>:'");
	assert_bad("p15:8:c9:c0:0", "opc1 out of range (0-7)");
	assert_bad("p15:16:c15", "opc1 out of range (0-7; 0-15 for MCRR/MRRC)");
	assert_bad("p15:0", "expected `:' after opc1");
	assert_bad("p15:0:9:c0:0",
		   "expected `c<CRn>' or `c<CRm>' after opc1 (as in p15:0:c9:c0:0 or p15:1:c15)");
	assert_bad("p15:0:c", "expected a number after `c'");
	assert_bad("p15:0:c16:c0:0", "CRn/CRm out of range (0-15)");
	assert_bad("p15:0:c16", "CRn/CRm out of range (0-15)");
	assert_bad("p15:0:c9_c0:0", "expected `:' after CRn");
	assert_bad("p15:0:c9:0:0", "expected `c<CRm>' after CRn (as in p15:0:c9:c0:0)");
	assert_bad("p15:0:c9:c16:0", "CRm out of range (0-15)");
	assert_bad("p15:0:c9:c0", "expected `:' after CRm");
	assert_bad("p15:0:c9:c0:", "expected opc2 after CRm");
	assert_bad("p15:0:c9:c0:8", "opc2 out of range (0-7)");
	assert_bad("p15:0:c9:c0:0:", "unexpected text after opc2");
}

static void test_format_invalid_key(void **state)
{
	assert_format(0x10000, "0x00010000");
	assert_format(0xffffffff, "0xffffffff");
}

static void test_idsr_edges(void **state)
{
	/* AArch64: op0 = 3 and CRn = 11 or 15 only */
	assert_true(enc_is_idsr(parse_ok("s3_0_c15_c0_0")));
	assert_true(enc_is_idsr(parse_ok("s3_7_c11_c15_7")));
	assert_true(enc_is_idsr(parse_ok("s3_0_c11_c0_0")));
	assert_false(enc_is_idsr(parse_ok("s3_0_c10_c0_0")));
	assert_false(enc_is_idsr(parse_ok("s3_0_c12_c0_0")));
	assert_false(enc_is_idsr(parse_ok("s3_0_c14_c15_7")));
	assert_false(enc_is_idsr(parse_ok("s2_0_c15_c0_0")));
	assert_false(enc_is_idsr(parse_ok("s1_0_c11_c0_0")));

	/* AArch32 c9: CRm c0-c2, c5-c8 */
	assert_true(enc_is_idsr(parse_ok("p15:0:c9:c0:0")));
	assert_true(enc_is_idsr(parse_ok("p15:0:c9:c2:7")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c9:c3:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c9:c4:0")));
	assert_true(enc_is_idsr(parse_ok("p15:0:c9:c5:0")));
	assert_true(enc_is_idsr(parse_ok("p15:7:c9:c8:7")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c9:c9:0")));
	/* c10: CRm c0, c1, c4, c8 */
	assert_true(enc_is_idsr(parse_ok("p15:0:c10:c0:0")));
	assert_true(enc_is_idsr(parse_ok("p15:0:c10:c1:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c10:c2:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c10:c3:0")));
	assert_true(enc_is_idsr(parse_ok("p15:0:c10:c4:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c10:c7:0")));
	assert_true(enc_is_idsr(parse_ok("p15:0:c10:c8:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c10:c15:0")));
	/* c11: CRm c0-c8, c15 */
	assert_true(enc_is_idsr(parse_ok("p15:0:c11:c8:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c11:c9:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c11:c14:0")));
	assert_true(enc_is_idsr(parse_ok("p15:0:c11:c15:0")));
	/* c15: any CRm; c12-c14 and cp14 never */
	assert_true(enc_is_idsr(parse_ok("p15:3:c15:c7:2")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c12:c0:0")));
	assert_false(enc_is_idsr(parse_ok("p14:0:c9:c0:0")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c1:c0:0")));
	/* MCRR/MRRC: CRm c15 on cp15 only */
	assert_true(enc_is_idsr(parse_ok("p15:0:c15")));
	assert_true(enc_is_idsr(parse_ok("p15:15:c15")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c14")));
	assert_false(enc_is_idsr(parse_ok("p15:0:c2")));	/* TTBR0 */
	assert_false(enc_is_idsr(parse_ok("p14:0:c15")));
	/* keys no encoding uses */
	assert_false(enc_is_idsr(0x1c780));
	assert_false(enc_is_idsr(0xc00f0ff8));
}

struct census {
	unsigned a64, a32, wide;
	uint32_t last;
	bool ascending;
};

static void count_key(uint32_t key, void *arg)
{
	struct census *c = arg;
	struct enc_fields f;

	assert_true(enc_is_idsr(key));
	assert_true(enc_unpack(key, &f));
	if (c->a64 + c->a32 + c->wide && key <= c->last)
		c->ascending = false;
	c->last = key;
	if (!f.aarch32)
		c->a64++;
	else if (f.wide)
		c->wide++;
	else
		c->a32++;
}

static void count_all(uint32_t key, void *arg)
{
	if (enc_is_idsr(key))
		++*(unsigned *)arg;
}

static void test_enumerate_space(void **state)
{
	struct census c = { .ascending = true };
	unsigned brute = 0;

	enc_for_each_idsr(count_key, &c);
	/* op1 8 x CRn 2 x CRm 16 x op2 8 */
	assert_int_equal(c.a64, 2048);
	/* (CRn,CRm) pairs: c9 7 + c10 4 + c11 10 + c15 16 = 37, x opc1 8 x opc2 8 */
	assert_int_equal(c.a32, 2368);
	/* opc1 0-15, CRm c15 */
	assert_int_equal(c.wide, 16);
	assert_true(c.ascending);

	/* nothing outside what enc_for_each_idsr visits is IDSR either */
	for (uint32_t key = 0; key < 0x10000; key++)
		count_all(key, &brute);
	for (uint32_t low = 0; low < 0x100000; low++) {
		count_all(ENC_AARCH32 | low, &brute);
		count_all(ENC_AARCH32 | ENC_WIDE | low, &brute);
	}
	assert_int_equal(brute, 2048 + 2368 + 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aarch64_round_trip),
		cmocka_unit_test(test_aarch32_round_trip),
		cmocka_unit_test(test_wide_round_trip),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bad_aarch64),
		cmocka_unit_test(test_bad_aarch32),
		cmocka_unit_test(test_format_invalid_key),
		cmocka_unit_test(test_idsr_edges),
		cmocka_unit_test(test_enumerate_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
