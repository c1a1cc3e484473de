/* SPDX-License-Identifier: MIT */
/* Tests register names: the embedded table, lookups both ways per implementation, MIDR mapping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "encoding.h"
#include "regnames.h"
#include "regtable.h"

#define HID0	0xc780u			/* s3_0_c15_c0_0 */
#define S3_1_C15_C2_0	0xcf90u		/* PMCR2_EL1 on apple, CPUACTLR_EL1 on Cortex-A53/A57/A72 */

static uint32_t key_of(const char *text)
{
	uint32_t key;

	assert_int_equal(enc_parse(text, &key, NULL), 0);
	return key;
}

static void test_table(void **state)
{
	size_t count;
	const struct regname *t = regnames_table(&count);

	/* data/registers.tsv: 1148 lines, 12 of them comments; no row rejected */
	assert_int_equal(count, 1136);
	for (size_t i = 1; i < count; i++)
		assert_true(t[i - 1].key <= t[i].key);
	/* the same pointer every time: parsed once */
	assert_ptr_equal(regnames_table(&count), t);
	assert_int_equal(key_of("s3_0_c15_c0_0"), HID0);
	assert_int_equal(key_of("s3_1_c15_c2_0"), S3_1_C15_C2_0);
}

static void *load_table(void *arg)
{
	size_t count;

	return (void *)regnames_table(&count);
}

static void test_table_threads(void **state)
{
	pthread_t th[4];
	void *got[4];

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, load_table, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &got[i]), 0);
		assert_ptr_equal(got[i], got[0]);
	}
}

static void test_name_by_key(void **state)
{
	char buf[REGNAME_TEXT_MAX];

	assert_string_equal(regnames_name(HID0, "apple"), "HID0_EL1");
	/* only Apple names it: unambiguous without an implementation */
	assert_string_equal(regnames_name(HID0, NULL), "HID0_EL1");
	assert_string_equal(regnames_name(HID0, ""), "HID0_EL1");
	/* named on Apple only, so not on a Cortex */
	assert_null(regnames_name(HID0, "arm-cortex-a57"));

	assert_string_equal(regnames_name(S3_1_C15_C2_0, "apple"), "PMCR2_EL1");
	assert_string_equal(regnames_name(S3_1_C15_C2_0, "arm-cortex-a57"), "CPUACTLR_EL1");
	assert_string_equal(regnames_name(S3_1_C15_C2_0, "ARM-Cortex-A72"), "CPUACTLR_EL1");
	assert_string_equal(regnames_name(S3_1_C15_C2_0, "arm-cortex-a53"), "CPUACTLR_EL1");
	assert_null(regnames_name(S3_1_C15_C2_0, NULL));	/* implementations disagree */
	assert_null(regnames_name(S3_1_C15_C2_0, "arm-cortex-a76"));

	/* each core its own names (TF-A's headers): L2ECTLR_EL1 on A53 and A57, not on A72 */
	assert_string_equal(regnames_name(key_of("s3_1_c11_c0_3"), "arm-cortex-a53"), "L2ECTLR_EL1");
	assert_string_equal(regnames_name(key_of("s3_1_c11_c0_3"), "arm-cortex-a57"), "L2ECTLR_EL1");
	assert_null(regnames_name(key_of("s3_1_c11_c0_3"), "arm-cortex-a72"));
	assert_string_equal(regnames_name(key_of("s3_0_c15_c1_1"), "arm-cortex-a78"), "ACTLR2_EL1");
	assert_string_equal(regnames_name(key_of("s3_0_c15_c1_1"), "arm-neoverse-n1"), "CPUACTLR2_EL1");
	assert_string_equal(regnames_name(key_of("s3_0_c15_c1_5"), "arm-neoverse-n2"), "CPUECTLR2_EL1");
	assert_string_equal(regnames_name(key_of("s3_0_c15_c1_3"), "arm-neoverse-v1"), "CPUACTLR4_EL1");
	assert_string_equal(regnames_name(key_of("s3_0_c15_c9_0"), "arm-cortex-x1"), "ACTLR5_EL1");
	assert_string_equal(regnames_name(key_of("s3_6_c15_c8_0"), "arm-cortex-a55"), "CPUPSELR_EL3");
	assert_string_equal(regnames_name(key_of("s3_3_c15_c2_4"), "arm-cortex-a78"), "CPUAMCNTENCLR0_EL0");
	/* the cp15 forms of the cores with AArch32 at EL1 */
	assert_string_equal(regnames_name(key_of("p15:0:c15"), "arm-cortex-a53"), "CPUACTLR");
	assert_string_equal(regnames_name(key_of("p15:1:c15"), "arm-cortex-a57"), "ECTLR");
	assert_string_equal(regnames_name(key_of("p15:2:c15"), "arm-cortex-a57"), "CPUMERRSR");
	assert_string_equal(regnames_name(key_of("p15:2:c15"), "arm-cortex-a72"), "MERRSR");
	assert_string_equal(regnames_name(key_of("p15:1:c9:c0:2"), "arm-cortex-a72"), "L2CTLR");
	assert_string_equal(regnames_name(key_of("p15:1:c15:c0:0"), "arm-cortex-a53"), "L2ACTLR");
	assert_null(regnames_name(key_of("p15:1:c9:c0:2"), "arm-cortex-a53"));

	/* architectural names on every implementation */
	assert_string_equal(regnames_name(key_of("s3_0_c1_c0_0"), "apple"), "SCTLR_EL1");
	assert_string_equal(regnames_name(key_of("s3_0_c1_c0_0"), "arm-cortex-a76"), "SCTLR_EL1");
	assert_string_equal(regnames_name(key_of("s3_0_c1_c0_0"), NULL), "SCTLR_EL1");
	/* HACR_EL2 is in both the apple and the architectural rows */
	assert_string_equal(regnames_name(key_of("s3_4_c1_c1_7"), NULL), "HACR_EL2");

	assert_null(regnames_name(key_of("s3_7_c11_c15_7"), "apple"));
	assert_null(regnames_name(key_of("p15:0:c9:c0:0"), NULL));

	assert_string_equal(regnames_format(HID0, "apple", buf, sizeof(buf)), "HID0_EL1");
	assert_string_equal(regnames_format(HID0, "arm-cortex-a76", buf, sizeof(buf)), "s3_0_c15_c0_0");
	assert_string_equal(regnames_format(enc_a32_wide(15, 4, 15), NULL, buf, sizeof(buf)), "p15:4:c15");
	/* A53, A57 and A72 all call p15:1:c15 ECTLR: a name without an implementation */
	assert_string_equal(regnames_format(enc_a32_wide(15, 1, 15), NULL, buf, sizeof(buf)), "ECTLR");
}

static void assert_lookup(const char *name, const char *impl, uint32_t want)
{
	uint32_t key = 0xdeadbeef;

	assert_int_equal(regnames_lookup(name, impl, &key), 0);
	assert_int_equal(key, want);
}

static void assert_lookup_fails(const char *name, const char *impl, int err)
{
	uint32_t key = 0xdeadbeef;

	assert_int_equal(regnames_lookup(name, impl, &key), err);
	assert_int_equal(key, 0xdeadbeef);
}

static void test_lookup(void **state)
{
	assert_lookup("HID0_EL1", "apple", HID0);
	assert_lookup("hid0_el1", "apple", HID0);
	assert_lookup("HID0", "apple", HID0);
	assert_lookup("hid0", NULL, HID0);
	assert_lookup("HID0_EL1", NULL, HID0);
	assert_lookup("CPUACTLR_EL1", "arm-cortex-a57", S3_1_C15_C2_0);
	/* an exact name beats a suffix-less one: CPUACTLR is the cp15 form */
	assert_lookup("cpuactlr", "arm-cortex-a72", key_of("p15:0:c15"));
	assert_lookup("cpuactlr", "arm-cortex-a76", key_of("s3_0_c15_c1_0"));
	assert_lookup("PMCR2", "apple", S3_1_C15_C2_0);
	/* an implementation sees the architectural names too */
	assert_lookup("SCTLR_EL1", "apple", key_of("s3_0_c1_c0_0"));
	assert_lookup("sctlr_el1", "arm-cortex-a76", key_of("s3_0_c1_c0_0"));
	/* the same name and key in two implementations is not ambiguous */
	assert_lookup("HACR_EL2", NULL, key_of("s3_4_c1_c1_7"));
	/* an exact name beats suffix-less matches (ACTLR_EL1, _EL2, _EL3 share "ACTLR") */
	assert_lookup("ACTLR_EL1", NULL, key_of("s3_0_c1_c0_1"));
	/* the implementation's own name wins over others' */
	assert_lookup("CPUECTLR_EL1", "arm-cortex-a76", key_of("s3_0_c15_c1_4"));
	assert_lookup("ectlr_el1", "arm-cortex-a57", key_of("s3_1_c15_c2_1"));
	/* every core that has CPUECTLR_EL1 has it at s3_0_c15_c1_4 (A53/A57/A72 call theirs ECTLR) */
	assert_lookup("CPUECTLR_EL1", NULL, key_of("s3_0_c15_c1_4"));

	/* CPUACTLR_EL1 is s3_1_c15_c2_0 on A53/A57/A72 and s3_0_c15_c1_0 on A55, A76 and later */
	assert_lookup_fails("CPUACTLR_EL1", NULL, -ENOTUNIQ);
	/* L2ECTLR is exactly the cp15 form's name; L2ECTLR_EL1 the A64 one's */
	assert_lookup("L2ECTLR", "", key_of("p15:1:c9:c0:3"));
	assert_lookup("L2ECTLR_EL1", "", key_of("s3_1_c11_c0_3"));
	assert_lookup_fails("ACTLR", NULL, -ENOTUNIQ);
	/* RCTX: three architectural encodings under one name */
	assert_lookup_fails("RCTX", "arm-architectural", -ENOTUNIQ);

	assert_lookup_fails("NO_SUCH_REG", NULL, -ENOENT);
	assert_lookup_fails("HID0_EL2", "apple", -ENOENT);	/* wrong suffix is not a match */
	assert_lookup_fails("HID0", "arm-cortex-a76", -ENOENT);
	assert_lookup_fails("CPUACTLR_EL1", "apple", -ENOENT);
	assert_lookup_fails("L2CTLR_EL1", "arm-cortex-a53", -ENOENT);	/* TF-A gives A53 none */
	assert_lookup_fails("", NULL, -ENOENT);
	assert_lookup_fails("_EL1", NULL, -ENOENT);
}

static void test_matches(void **state)
{
	const struct regname *m[4];

	char buf[256];

	/* equal names in table order: by key, then as the file lists them */
	assert_int_equal(regnames_matches("CPUACTLR_EL1", NULL, m, 4), 10);
	assert_string_equal(m[0]->name, "CPUACTLR_EL1");
	assert_string_equal(m[0]->impl, "arm-cortex-a55");
	assert_int_equal(m[0]->key, key_of("s3_0_c15_c1_0"));
	assert_string_equal(m[3]->impl, "arm-cortex-x1");
	assert_string_equal(regnames_candidates("CPUACTLR_EL1", NULL, buf, sizeof(buf)),
			    "s3_0_c15_c1_0 on arm-cortex-a55 and 6 more, s3_1_c15_c2_0 on arm-cortex-a53 and 2 more");
	assert_string_equal(regnames_candidates("RCTX", NULL, buf, sizeof(buf)),
			    "s1_3_c7_c3_4 on arm-architectural, s1_3_c7_c3_5 on arm-architectural, "
			    "s1_3_c7_c3_7 on arm-architectural");
	assert_int_equal(regnames_matches("RCTX", NULL, m, 2), 3);
	assert_int_equal(regnames_matches("hid0", "apple", m, 4), 1);
	assert_string_equal(m[0]->name, "HID0_EL1");
	assert_string_equal(m[0]->impl, "apple");
	assert_string_equal(m[0]->description, "Hardware Implementation-Dependent Register 0");
	assert_int_equal(regnames_matches("nope", NULL, m, 4), 0);
}

static void test_by_key(void **state)
{
	const char *impls[8];
	const struct regname *r;
	size_t n;

	r = regnames_by_key(S3_1_C15_C2_0, &n);
	assert_int_equal(n, 4);
	/* rows of one key keep the file's order, each with where it was read and its source */
	assert_string_equal(r[0].name, "PMCR2_EL1");
	assert_string_equal(r[0].impl, "apple");
	assert_string_equal(r[1].name, "CPUACTLR_EL1");
	assert_string_equal(r[1].impl, "arm-cortex-a53");
	assert_string_equal(r[1].file, "data/registers.tsv");
	assert_int_equal(r[1].line, 1051);
	assert_int_equal(r[1].origin, 0);
	assert_null(r[1].replaces_file);
	assert_string_equal(r[1].source, "TF-A 6a164dda7208 include/lib/cpus/aarch64/cortex_a53.h CORTEX_A53_CPUACTLR_EL1");
	assert_string_equal(r[3].impl, "arm-cortex-a72");
	/* DBGBVR<n>_EL1 is s2_0_c0_c<n>_4: one name a key (the table once had all sixteen at n = 0) */
	r = regnames_by_key(key_of("s2_0_c0_c0_4"), &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].name, "DBGBVR0_EL1");
	r = regnames_by_key(key_of("s2_0_c0_c15_4"), &n);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].name, "DBGBVR15_EL1");
	assert_string_equal(regnames_name(key_of("s2_0_c0_c0_4"), NULL), "DBGBVR0_EL1");
	regnames_by_key(key_of("p15:0:c9:c0:0"), &n);
	assert_int_equal(n, 0);
	regnames_by_key(0xffffffff, &n);
	assert_int_equal(n, 0);

	/* sorted: what messages list as the known implementations */
	assert_int_equal(regnames_impls(impls, 8), 12);
	assert_string_equal(impls[0], "apple");
	assert_string_equal(impls[1], "arm-architectural");
	assert_string_equal(impls[2], "arm-cortex-a53");
	assert_string_equal(impls[7], "arm-cortex-a78");
	assert_int_equal(regnames_impls(impls, 1), 12);
}

static void test_impl(void **state)
{
	static const struct { uint32_t midr; const char *impl; } cores[] = {
		/* implementer 0x41, the part numbers of Linux's cputype.h, variant/revision as TF-A's MIDRs */
		{ 0x410fd034, "arm-cortex-a53" }, { 0x412fd050, "arm-cortex-a55" },
		{ 0x411fd073, "arm-cortex-a57" }, { 0x410fd082, "arm-cortex-a72" },
		{ 0x414fd0b1, "arm-cortex-a76" }, { 0x411fd411, "arm-cortex-a78" },
		{ 0x411fd440, "arm-cortex-x1" }, { 0x414fd0c1, "arm-neoverse-n1" },
		{ 0x410fd490, "arm-neoverse-n2" }, { 0x411fd401, "arm-neoverse-v1" },
	};
	const struct regtable_midr *m;

	assert_true(regnames_impl_known("apple"));
	assert_true(regnames_impl_known("arm-architectural"));
	assert_true(regnames_impl_known("arm-cortex-a53"));
	assert_true(regnames_impl_known("arm-neoverse-v1"));
	assert_true(regnames_impl_known("Apple"));
	assert_false(regnames_impl_known("arm-cortex-a57-a72"));
	assert_false(regnames_impl_known(""));
	assert_false(regnames_impl_known(NULL));

	/* Apple M1 Firestorm: implementer 0x61, part 0x023 */
	assert_string_equal(regnames_impl_from_midr(0x611f0230), "apple");
	for (size_t i = 0; i < sizeof(cores) / sizeof(cores[0]); i++)
		assert_string_equal(regnames_impl_from_midr(cores[i].midr), cores[i].impl);
	/* where the row came from */
	m = regnames_midr(0x410fd034);
	assert_non_null(m);
	assert_string_equal(m->file, "data/midr.tsv");
	assert_int_equal(m->line, 6);
	assert_int_equal(m->part, 0xd03);
	/* Cortex-A73 (0xD09) and Neoverse V2 (0xD4F) have no rows */
	assert_null(regnames_impl_from_midr(0x410fd090));
	assert_null(regnames_impl_from_midr(0x410fd4f0));
	/* Qualcomm implementer with an Arm-looking part number */
	assert_null(regnames_impl_from_midr(0x510fd070));
	assert_null(regnames_impl_from_midr(0));
	/* the upper 32 bits of MIDR_EL1 are RES0: ignored */
	assert_string_equal(regnames_impl_from_midr(0xffffffff611f0230ull), "apple");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_threads),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_name_by_key),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_by_key),
		cmocka_unit_test(test_impl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
