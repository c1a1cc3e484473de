/* SPDX-License-Identifier: MIT */
/* Access filters: every field, register names/encodings/patterns through the policy parser, and bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "filter.h"

#define HID0 0xc780u	/* s3_0_c15_c0_0 */
#define HID1 0xc788u	/* s3_0_c15_c1_0 */
#define HID5 0xc7a8u	/* s3_0_c15_c5_0 */
#define CP15_C9 0x800f0488u	/* p15:0:c9:c1:0 */

static struct filter *compile(const struct filter_spec *spec)
{
	struct filter *f = NULL;
	char why[256] = "";
	int rc = filter_new(spec, &f, why, sizeof(why));

	if (rc < 0)
		fprintf(stderr, "# %s\n", why);
	assert_int_equal(rc, 0);
	return f;
}

static bool match(const struct filter *f, uint32_t key, uint32_t vcpu, uint64_t pc, bool wr, bool undef)
{
	struct filter_access a = { .boot_id = 7, .vm_name = "vm1", .vcpu = vcpu, .key = key, .pc = pc,
				   .is_write = wr, .undef = undef };

	return filter_match(f, &a);
}

static void test_everything(void **state)
{
	struct filter_spec spec = { .vcpu = -1 };
	struct filter *f = compile(&spec);

	assert_true(match(f, HID0, 0, 0, false, false));
	assert_true(match(f, 0x12345u, 9, 1, true, true));	/* not even an IDSR */
	filter_free(f);
}

static void test_boot_vm_action(void **state)
{
	struct filter_spec spec = { .vcpu = -1, .boot_id = 7, .vm_name = "vm1", .action = FILTER_UNDEF };
	struct filter *f = compile(&spec);
	struct filter_access a = { .boot_id = 8, .vm_name = "vm1", .key = HID0, .undef = true };

	assert_true(match(f, HID0, 0, 0, false, true));
	assert_false(match(f, HID0, 0, 0, false, false));	/* emulated */
	assert_false(filter_match(f, &a));			/* boot 8 */
	a.boot_id = 7;
	a.vm_name = "vm2";
	assert_false(filter_match(f, &a));
	a.vm_name = NULL;
	assert_false(filter_match(f, &a));
	filter_free(f);
	spec = (struct filter_spec){ .vcpu = -1, .action = FILTER_EMULATED };
	f = compile(&spec);
	assert_true(match(f, HID0, 0, 0, false, false));
	assert_false(match(f, HID0, 0, 0, false, true));
	filter_free(f);
}

static void test_regs(void **state)
{
	struct filter_spec spec = { .vcpu = -1, .regs = "HID0_EL1,s3_0_c15_c5_0,p15:0:c9:c0-c2:*" };
	struct filter *f = compile(&spec);

	assert_true(match(f, HID0, 0, 0, false, false));
	assert_false(match(f, HID1, 0, 0, false, false));
	assert_true(match(f, HID5, 3, 0, true, false));
	assert_true(match(f, CP15_C9, 0, 0, false, false));
	filter_free(f);
	spec.regs = "s3_0_c15_*_*";
	f = compile(&spec);
	assert_true(match(f, HID1, 0, 0, false, false));
	assert_false(match(f, 0xef80u, 0, 0, false, false));	/* s3_5_c15_c0_0 */
	filter_free(f);
}

static void test_qualifiers(void **state)
{
	struct filter_spec spec = { .vcpu = 1, .direction = FILTER_WRITES, .has_pc = true, .pc_lo = 0x1000, .pc_hi = 0x1fff };
	struct filter *f = compile(&spec);

	assert_true(match(f, HID0, 1, 0x1000, true, false));
	assert_true(match(f, HID1, 1, 0x1fff, true, true));
	assert_false(match(f, HID0, 0, 0x1000, true, false));	/* vCPU */
	assert_false(match(f, HID0, 1, 0x1000, false, false));	/* a read */
	assert_false(match(f, HID0, 1, 0x2000, true, false));	/* PC */
	assert_false(match(f, HID0, 1, 0xfff, true, false));
	filter_free(f);
	spec = (struct filter_spec){ .vcpu = -1, .direction = FILTER_READS, .regs = "HID1" };
	f = compile(&spec);
	assert_true(match(f, HID1, 5, 0, false, false));
	assert_false(match(f, HID1, 5, 0, true, false));
	filter_free(f);
}

static void bad(const struct filter_spec *spec, const char *why_expected)
{
	struct filter *f = (struct filter *)1;
	char why[256] = "";

	assert_int_equal(filter_new(spec, &f, why, sizeof(why)), -22);
	assert_null(f);
	assert_string_equal(why, why_expected);
}

static void test_bad(void **state)
{
	bad(&(struct filter_spec){ .vcpu = -1, .regs = "HID0,,HID1" },
	    "--reg `HID0,,HID1': expected comma-separated register names, encodings or patterns "
	    "(no blanks, no empty items)");
	bad(&(struct filter_spec){ .vcpu = -1, .regs = "HID0 undef" },
	    "--reg `HID0 undef': expected comma-separated register names, encodings or patterns "
	    "(no blanks, no empty items)");
	bad(&(struct filter_spec){ .vcpu = -1, .regs = "HID0,NOSUCH" },
	    "--reg `NOSUCH': unknown register `NOSUCH' (no implementation names it): use its encoding, "
	    "e.g. s3_0_c15_c0_0");
	bad(&(struct filter_spec){ .vcpu = -1, .has_pc = true, .pc_lo = 2, .pc_hi = 1 },
	    "--pc: the low end 0x2 is above the high end 0x1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything),
		cmocka_unit_test(test_boot_vm_action),
		cmocka_unit_test(test_regs),
		cmocka_unit_test(test_qualifiers),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
