/* SPDX-License-Identifier: MIT */
/* Tests the policy engine: parsing (good forms, every class of error with its position), matching, and the answers with their state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "policy.h"

#define HID0	enc_a64(3, 0, 15, 0, 0)		/* apple HID0_EL1 */
#define HID4	enc_a64(3, 0, 15, 4, 0)		/* apple HID4_EL1 */
#define SCTLR	enc_a64(3, 0, 1, 0, 0)		/* architectural, outside the IDSR space */

static struct policy *parse_ok(const char *text)
{
	struct policy_error err;
	struct policy *p = NULL;
	char buf[512];

	if (policy_parse(text, strlen(text), "policy.conf", &p, &err)) {
		print_error("unexpected error: %s\n", policy_error_format(&err, buf, sizeof(buf)));
		fail();
	}
	assert_non_null(p);
	return p;
}

static void parse_bad(const char *text, const char *want)
{
	struct policy_error err;
	struct policy *p = (struct policy *)&err;
	char buf[512];

	assert_int_equal(policy_parse(text, strlen(text), "policy.conf", &p, &err), -EINVAL);
	assert_null(p);
	assert_string_equal(policy_error_format(&err, buf, sizeof(buf)), want);
}

static struct policy_access acc(uint32_t key, bool is_write)
{
	return (struct policy_access){ .key = key, .el = 1, .is_write = is_write, .pc = 0x1000 };
}

static int match_line(const struct policy *p, const struct policy_access *a)
{
	const struct policy_rule *r = policy_match(p, a);

	return r ? r->line : 0;
}

static uint64_t read_value(const struct policy *p, struct policy_state *st, uint32_t key, uint32_t vcpu)
{
	struct policy_access a = acc(key, false);
	struct policy_verdict v;

	a.vcpu = vcpu;
	policy_decide(p, st, &a, &v);
	assert_false(v.undef);
	return v.value;
}

static void write_value(const struct policy *p, struct policy_state *st, uint32_t key, uint32_t vcpu,
			uint64_t value)
{
	struct policy_access a = acc(key, true);
	struct policy_verdict v;

	a.vcpu = vcpu;
	a.value = value;
	policy_decide(p, st, &a, &v);
	assert_false(v.undef);
	assert_int_equal(v.value, 0);
}

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_design_example(void **state)
{
	struct policy *p = parse_ok(
		"impl apple                                # where register names come from\n"
		"# selector                 [read|write] [el=N] [vcpu=N] [pc=A-B]   action [args]\n"
		"HID0_EL1                                  storage init=0x0\n"
		"HID4                       read           value 0x44\n"
		"s3_0_c15_*_*               read           value 0\n"
		"s3_0_c15_*_*               write          ignore\n"
		"p15:0:c9:c0-c2:*                          raz-wi\n"
		"s3_4_c15_c1_2                             counter start=0x1000 step=8\n"
		"*                                         undef\n");
	const struct policy_rule *r;

	(void)state;
	assert_string_equal(policy_impl(p), "apple");
	assert_false(policy_allows_el0(p));
	assert_string_equal(policy_source(p), "policy.conf");
	assert_int_equal(policy_rule_count(p), 7);
	assert_null(policy_rule_at(p, 7));

	r = policy_rule_at(p, 0);
	assert_int_equal(r->line, 3);
	assert_string_equal(r->text, "HID0_EL1                                  storage init=0x0");
	assert_int_equal(r->action, POLICY_STORAGE);
	assert_int_equal(r->dir, POLICY_ANY);
	assert_int_equal(r->el, -1);
	assert_int_equal(r->vcpu, -1);
	assert_false(r->has_pc);
	assert_int_equal(r->value, 0);
	assert_int_equal(r->wmask, UINT64_MAX);
	assert_false(r->scope_vm);

	r = policy_rule_at(p, 1);
	assert_int_equal(r->line, 4);
	assert_int_equal(r->dir, POLICY_READ);
	assert_int_equal(r->action, POLICY_VALUE);
	assert_int_equal(r->value, 0x44);

	r = policy_rule_at(p, 3);
	assert_int_equal(r->dir, POLICY_WRITE);
	assert_int_equal(r->action, POLICY_IGNORE);
	assert_int_equal(policy_rule_at(p, 4)->action, POLICY_RAZ_WI);

	r = policy_rule_at(p, 5);
	assert_int_equal(r->action, POLICY_COUNTER);
	assert_int_equal(r->value, 0x1000);
	assert_int_equal(r->step, 8);
	r = policy_rule_at(p, 6);
	assert_int_equal(r->line, 9);
	assert_string_equal(r->text, "*                                         undef");
	assert_int_equal(r->action, POLICY_UNDEF);
	policy_free(p);
}

static void test_parse_every_form(void **state)
{
	struct policy *p = parse_ok(
		"allow-el0\n"
		"  \t # only a comment\n"
		"\n"
		"S3_0_C15_C0_0 pc=0x10-0x20 vcpu=3 el=1 write storage wmask=0xff scope=vm init=18446744073709551615\n"
		"hid0_el1 el=0 read pc=4096 value 0xFFFFFFFFFFFFFFFF\r\n"
		"s3_1-2_c15_c0-c15_* counter scope=vcpu step=0 start=7   # trailing comment\n"
		"p15:1:c15 random seed=42 scope=vm\n"
		"p15:*:c*:*:* random\n"
		"s*_*_*_*_* raz-wi\n"
		"* value 0");
	const struct policy_rule *r;

	(void)state;
	assert_true(policy_allows_el0(p));
	assert_null(policy_impl(p));
	assert_int_equal(policy_rule_count(p), 7);

	r = policy_rule_at(p, 0);
	assert_int_equal(r->line, 4);
	assert_int_equal(r->dir, POLICY_WRITE);
	assert_int_equal(r->el, 1);
	assert_int_equal(r->vcpu, 3);
	assert_true(r->has_pc);
	assert_int_equal(r->pc_lo, 0x10);
	assert_int_equal(r->pc_hi, 0x20);
	assert_int_equal(r->action, POLICY_STORAGE);
	assert_int_equal(r->wmask, 0xff);
	assert_true(r->scope_vm);
	assert_int_equal(r->value, UINT64_MAX);

	r = policy_rule_at(p, 1);
	assert_string_equal(r->text, "hid0_el1 el=0 read pc=4096 value 0xFFFFFFFFFFFFFFFF");
	assert_int_equal(r->el, 0);
	assert_int_equal(r->dir, POLICY_READ);
	assert_int_equal(r->pc_lo, 4096);
	assert_int_equal(r->pc_hi, 4096);
	assert_int_equal(r->value, UINT64_MAX);

	r = policy_rule_at(p, 2);
	assert_string_equal(r->text, "s3_1-2_c15_c0-c15_* counter scope=vcpu step=0 start=7");
	assert_int_equal(r->action, POLICY_COUNTER);
	assert_int_equal(r->value, 7);
	assert_int_equal(r->step, 0);
	assert_false(r->scope_vm);

	r = policy_rule_at(p, 3);
	assert_int_equal(r->action, POLICY_RANDOM);
	assert_true(r->has_seed);
	assert_int_equal(r->seed, 42);
	assert_true(r->scope_vm);
	r = policy_rule_at(p, 4);
	assert_int_equal(r->action, POLICY_RANDOM);
	assert_false(r->has_seed);
	assert_int_equal(policy_rule_at(p, 6)->line, 10);
	policy_free(p);
}

static void test_parse_empty(void **state)
{
	struct policy *p = parse_ok("");
	struct policy_state *st = policy_state_new(1);
	struct policy_access a = acc(HID0, false);
	struct policy_verdict v;

	(void)state;
	assert_int_equal(policy_rule_count(p), 0);
	assert_string_equal(policy_text(p), "");
	policy_decide(p, st, &a, &v);
	assert_true(v.undef);
	assert_int_equal(v.rule, POLICY_RULE_DEFAULT);
	policy_free(p);
	p = parse_ok("# nothing but comments\n\n   \n");
	assert_int_equal(policy_rule_count(p), 0);
	policy_free(p);
	policy_state_free(st);
}

static void test_parse_errors_selector(void **state)
{
	(void)state;
	parse_bad("impl apple\nHID99_EL1 raz-wi",
		  "policy.conf:2:1: unknown register `HID99_EL1' in implementation apple: "
		  "use its encoding (e.g. s3_0_c15_c0_0) or check `impl'");
	parse_bad("NOSUCHREG raz-wi",
		  "policy.conf:1:1: unknown register `NOSUCHREG' (no implementation names it): "
		  "use its encoding, e.g. s3_0_c15_c0_0");
	parse_bad("# Cortex-A53/A57/A72 and the later cores put CPUACTLR_EL1 at different encodings\n  CPUACTLR_EL1 raz-wi",
		  "policy.conf:2:3: ambiguous register name `CPUACTLR_EL1' (s3_0_c15_c1_0 on arm-cortex-a55 and 6 more, "
		  "s3_1_c15_c2_0 on arm-cortex-a53 and 2 more): add `impl NAME' before the rules or use the encoding");
	parse_bad("s3_0_c16_c0_0 raz-wi",
		  "policy.conf:1:6: bad CRn field `c16' in `s3_0_c16_c0_0': expected c0 to c15, `*' or a range lo-hi");
	parse_bad("s3_8_c15_c0_0 raz-wi",
		  "policy.conf:1:4: bad op1 field `8' in `s3_8_c15_c0_0': expected 0 to 7, `*' or a range lo-hi");
	parse_bad("s3_0_c15_c0_x raz-wi",
		  "policy.conf:1:13: bad op2 field `x' in `s3_0_c15_c0_x': expected 0 to 7, `*' or a range lo-hi");
	parse_bad("p15:0:c9:c0-:0 raz-wi",
		  "policy.conf:1:10: bad CRm field `c0-' in `p15:0:c9:c0-:0': expected c0 to c15, `*' or a range lo-hi");
	parse_bad("p15:16:c15 raz-wi",
		  "policy.conf:1:5: bad opc1 field `16' in `p15:16:c15': expected 0 to 15, `*' or a range lo-hi");
	parse_bad("s3_0_c15_c0 raz-wi",
		  "policy.conf:1:1: bad encoding `s3_0_c15_c0': expected s<op0>_<op1>_c<CRn>_c<CRm>_<op2>, "
		  "e.g. s3_0_c15_c0_0");
	parse_bad("p15:0:c9:c0 raz-wi",
		  "policy.conf:1:1: bad encoding `p15:0:c9:c0': expected p<coproc>:<opc1>:c<CRn>:c<CRm>:<opc2> "
		  "(MCR/MRC) or p<coproc>:<opc1>:c<CRm> (MCRR/MRRC)");
	parse_bad("p15:0:c9:c2-c0:* raz-wi",
		  "policy.conf:1:10: bad CRm range `c2-c0' in `p15:0:c9:c2-c0:*': the low end is above the high end");
	parse_bad("read raz-wi",
		  "policy.conf:1:1: expected a selector (a register name, an encoding such as s3_0_c15_c0_0, "
		  "p15:0:c9:c0:0 or p15:1:c15, or `*'), got `read'");
}

static void test_parse_errors_qualifiers(void **state)
{
	(void)state;
	parse_bad("HID0 cpu=1 raz-wi",
		  "policy.conf:1:6: unknown qualifier `cpu=1': expected read, write, el=N, vcpu=N or pc=A-B before the action");
	parse_bad("HID0 read el=1 write raz-wi",
		  "policy.conf:1:16: duplicate qualifier `write': this rule already gives read or write");
	parse_bad("HID0 el=1 el=2 raz-wi",
		  "policy.conf:1:11: duplicate qualifier `el=2': this rule already gives el=");
	parse_bad("HID0 el=4 raz-wi",
		  "policy.conf:1:9: bad exception level `4': expected 0, 1, 2 or 3");
	parse_bad("HID0 vcpu=4294967296 raz-wi",
		  "policy.conf:1:11: bad vCPU `4294967296': expected 0 to 4294967295");
	parse_bad("HID0 pc=0x20-0x10 raz-wi",
		  "policy.conf:1:9: bad range `0x20-0x10' in `pc=': the low end is above the high end");
	parse_bad("HID0 pc=0x10- raz-wi",
		  "policy.conf:1:14: expected a number after `pc=0x10-', got nothing");
}

static void test_parse_errors_actions(void **state)
{
	(void)state;
	parse_bad("HID0 read",
		  "policy.conf:1:10: expected an action (undef, raz-wi, value, ignore, storage, counter, random), "
		  "got end of line");
	parse_bad("impl apple\n\n\nHID4       read valu 0x44",
		  "policy.conf:4:17: expected an action (undef, raz-wi, value, ignore, storage, counter, random), "
		  "got `valu'");
	parse_bad("HID4 value   # the value is missing",
		  "policy.conf:1:11: expected a value after `value', got end of line");
	parse_bad("HID4 value 0x4g",
		  "policy.conf:1:12: bad number `0x4g': expected decimal or 0x-prefixed hex");
	parse_bad("HID4 value -1",
		  "policy.conf:1:12: bad number `-1': expected decimal or 0x-prefixed hex");
	parse_bad("HID4 value 0x10000000000000000",
		  "policy.conf:1:12: number `0x10000000000000000' does not fit in 64 bits");
	parse_bad("HID4 value 18446744073709551616",
		  "policy.conf:1:12: number `18446744073709551616' does not fit in 64 bits");
	parse_bad("HID0 storage init=0 mask=1",
		  "policy.conf:1:21: unknown option `mask=1' for storage: expected init=V, wmask=M or scope=vcpu|vm");
	parse_bad("HID0 counter step=1 seed=2",
		  "policy.conf:1:21: unknown option `seed=2' for counter: expected start=V, step=S or scope=vcpu|vm");
	parse_bad("HID0 random init=1",
		  "policy.conf:1:13: unknown option `init=1' for random: expected seed=S or scope=vcpu|vm");
	parse_bad("HID0 storage init=1 init=2",
		  "policy.conf:1:21: duplicate option `init=2' for storage");
	parse_bad("HID0 storage scope=cpu",
		  "policy.conf:1:20: bad scope `cpu': expected scope=vcpu or scope=vm");
	parse_bad("HID0 storage init=",
		  "policy.conf:1:19: expected a number after `init=', got nothing");
	parse_bad("HID0 raz-wi now",
		  "policy.conf:1:13: unexpected `now' after `raz-wi': one rule a line (comments start with #)");
	parse_bad("HID4 value 1 2",
		  "policy.conf:1:14: unexpected `2' after `value V': one rule a line (comments start with #)");
	parse_bad("HID0 read ignore",
		  "policy.conf:1:11: `ignore' is for write rules only: add `write' before it, "
		  "or answer reads with raz-wi or value V");
	parse_bad("HID0 ignore",
		  "policy.conf:1:6: `ignore' is for write rules only: add `write' before it, "
		  "or answer reads with raz-wi or value V");
}

static void test_parse_errors_directives(void **state)
{
	(void)state;
	parse_bad("impl banana",
		  "policy.conf:1:6: unknown implementation `banana': expected one of "
		  "apple, arm-architectural, arm-cortex-a53, arm-cortex-a55, arm-cortex-a57, arm-cortex-a72, "
		  "arm-cortex-a76, arm-cortex-a78, arm-cortex-x1, arm-neoverse-n1, arm-neoverse-n2, arm-neoverse-v1");
	parse_bad("impl",
		  "policy.conf:1:5: expected an implementation name after `impl', got end of line");
	parse_bad("impl apple\nimpl arm-cortex-a76",
		  "policy.conf:2:1: duplicate `impl': the implementation is already apple (line 1)");
	parse_bad("* undef\nimpl apple",
		  "policy.conf:2:1: `impl' must come before the first rule (line 1): names are looked up as rules are read");
	parse_bad("impl apple extra",
		  "policy.conf:1:12: unexpected `extra' after `impl NAME': one rule a line (comments start with #)");
	parse_bad("allow-el0 please",
		  "policy.conf:1:11: unexpected `please' after `allow-el0 (it takes no arguments)': "
		  "one rule a line (comments start with #)");
	parse_bad("allow-el1",
		  "policy.conf:1:1: unknown directive `allow-el1': the one allow directive is `allow-el0' "
		  "(lets EL0 accesses reach the rules)");
	{
		static const char nul[] = "* undef\nHID0 \0 raz-wi";
		struct policy_error err;
		struct policy *p;
		char buf[512];

		assert_int_equal(policy_parse(nul, sizeof(nul) - 1, "policy.conf", &p, &err), -EINVAL);
		assert_string_equal(policy_error_format(&err, buf, sizeof(buf)),
				    "policy.conf:2:6: unexpected NUL byte: a policy is text");
		assert_int_equal(policy_parse("* undef # \0", 11, "policy.conf", &p, &err), -EINVAL);
		assert_string_equal(policy_error_format(&err, buf, sizeof(buf)),
				    "policy.conf:1:11: unexpected NUL byte: a policy is text");
	}
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/test_policy.XXXXXX", path[64], buf[512];
	struct policy_error err;
	struct policy *p;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	assert_int_equal(policy_load_file(path, &p, &err), -ENOENT);
	assert_null(p);
	assert_int_equal(err.line, 0);
	snprintf(buf, sizeof(buf), "%s: cannot read the policy: No such file or directory", path);
	{
		char got[512];

		assert_string_equal(policy_error_format(&err, got, sizeof(got)), buf);
	}
	assert_int_equal(policy_load_file(dir, &p, &err), -EISDIR);

	snprintf(path, sizeof(path), "%s/p.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("HID0 raz-wi\nHID4 value\n", f);
	fclose(f);
	assert_int_equal(policy_load_file(path, &p, &err), -EINVAL);
	snprintf(buf, sizeof(buf), "%s:2:11: expected a value after `value', got end of line", path);
	{
		char got[512];

		assert_string_equal(policy_error_format(&err, got, sizeof(got)), buf);
	}
	f = fopen(path, "w");
	fputs("HID0 raz-wi\n", f);
	fclose(f);
	assert_int_equal(policy_load_file(path, &p, &err), 0);
	assert_string_equal(policy_source(p), path);
	assert_string_equal(policy_text(p), "HID0 raz-wi\n");
	assert_int_equal(policy_rule_count(p), 1);
	policy_free(p);
	unlink(path);
	rmdir(dir);
}

static void test_hash(void **state)
{
	struct policy *p;

	(void)state;
	/* FNV-1a 64 of the empty text is the offset basis (Fowler, Noll, Vo) */
	p = parse_ok("");
	assert_string_equal(policy_hash(p), "cbf29ce484222325");
	policy_free(p);
	/* computed independently: python3, h ^= byte; h *= 0x100000001b3 (mod 2^64) */
	p = parse_ok("* undef\n");
	assert_string_equal(policy_hash(p), "da185d528a97f77f");
	policy_free(p);
}

/* ---- matching ----------------------------------------------------------- */

static void test_match_first_wins(void **state)
{
	struct policy *p = parse_ok(
		"HID0 value 1\n"
		"s3_0_c15_*_* value 2\n"
		"* value 3\n"
		"HID0 value 4\n");
	struct policy_access a = acc(HID0, false);

	(void)state;
	assert_int_equal(match_line(p, &a), 1);
	a.key = HID4;
	assert_int_equal(match_line(p, &a), 2);
	a.key = enc_a64(3, 1, 15, 0, 0);
	assert_int_equal(match_line(p, &a), 3);
	a.key = enc_a32(15, 0, 9, 0, 0);
	assert_int_equal(match_line(p, &a), 3);
	a.key = SCTLR;				/* outside the IDSR table: the scan */
	assert_int_equal(match_line(p, &a), 3);
	a.key = 0x7fffffff;			/* no encoding at all: only `*' */
	assert_int_equal(match_line(p, &a), 3);
	policy_free(p);
}

static struct policy *ranges_policy;

/* Called for every IDSR key: the compiled table against the fields. */
static void check_range_key(uint32_t key, void *arg)
{
	int *c = arg;
	struct enc_fields f;
	struct policy_access a = acc(key, false);
	bool want, got;

	assert_true(enc_unpack(key, &f));
	if (!f.aarch32)
		want = f.op1 >= 1 && f.op1 <= 6 && f.crn == 15 && f.crm >= 2 && f.crm <= 3 &&
		       f.op2 >= 1 && f.op2 <= 2;
	else
		want = !f.wide && f.op1 <= 1 && f.crn == 11 && f.op2 >= 3;
	got = policy_match(ranges_policy, &a) != NULL;
	if (want != got) {
		print_error("key 0x%x: want %d got %d\n", key, want, got);
		fail();
	}
	c[0] += got;
	c[1]++;
}

static void test_match_table_exhaustive(void **state)
{
	int c[2] = { 0, 0 };

	(void)state;
	ranges_policy = parse_ok("s3_1-6_c15_c2-c3_1-2 raz-wi\np15:0-1:c11:c*:3-7 raz-wi\n");
	enc_for_each_idsr(check_range_key, c);
	assert_true(c[1] > 4000);
	/* A64: op1 1-6 x CRm 2-3 x op2 1-2; A32 c11: opc1 0-1 x CRm c0-c8,c15 x opc2 3-7 */
	assert_int_equal(c[0], 6 * 2 * 2 + 2 * 10 * 5);
	policy_free(ranges_policy);
}

static void test_match_qualifiers(void **state)
{
	struct policy *p = parse_ok(
		"allow-el0\n"
		"HID0 write value 1\n"
		"HID0 el=2 value 2\n"
		"HID0 vcpu=3 value 3\n"
		"HID0 pc=0x2000-0x2fff value 4\n"
		"HID0 el=0 read vcpu=1 pc=0x10 value 5\n"
		"HID0 read value 6\n");
	struct policy_access a = acc(HID0, true);

	(void)state;
	assert_int_equal(match_line(p, &a), 2);
	a.is_write = false;
	assert_int_equal(match_line(p, &a), 7);
	a.el = 2;
	assert_int_equal(match_line(p, &a), 3);
	a.el = 1;
	a.vcpu = 3;
	assert_int_equal(match_line(p, &a), 4);
	a.vcpu = 0;
	a.pc = 0x2000;
	assert_int_equal(match_line(p, &a), 5);
	a.pc = 0x2fff;
	assert_int_equal(match_line(p, &a), 5);
	a.pc = 0x3000;
	assert_int_equal(match_line(p, &a), 7);
	a.pc = 0x10;
	a.el = 0;
	a.vcpu = 1;
	assert_int_equal(match_line(p, &a), 6);
	a.vcpu = 2;
	assert_int_equal(match_line(p, &a), 7);
	a.is_write = true;
	assert_int_equal(match_line(p, &a), 2);
	policy_free(p);

	/* A write-only rule never answers reads: they fall through to the default. */
	p = parse_ok("s3_0_c15_*_* write ignore\n");
	a = acc(HID0, false);
	assert_null(policy_match(p, &a));
	a.is_write = true;
	assert_int_equal(match_line(p, &a), 1);
	policy_free(p);
}

static void test_match_names(void **state)
{
	struct policy *p = parse_ok("hid4 value 4\nHID0_EL1 value 0\n");
	struct policy_access a = acc(HID4, false);

	(void)state;
	assert_int_equal(match_line(p, &a), 1);
	a.key = HID0;
	assert_int_equal(match_line(p, &a), 2);
	policy_free(p);

	/* The impl directive picks among names that differ per implementation. */
	p = parse_ok("impl arm-cortex-a76\nCPUECTLR raz-wi\n");
	a.key = enc_a64(3, 0, 15, 1, 4);
	assert_int_equal(match_line(p, &a), 2);
	a.key = enc_a64(3, 1, 15, 2, 1);
	assert_null(policy_match(p, &a));
	policy_free(p);
	p = parse_ok("impl arm-cortex-a57\nECTLR_EL1 raz-wi\n");
	assert_int_equal(match_line(p, &a), 2);
	assert_string_equal(policy_impl(p), "arm-cortex-a57");
	policy_free(p);
}

static void test_match_aarch32(void **state)
{
	struct policy *p = parse_ok(
		"p15:0-3:c15 value 7\n"		/* MCRR/MRRC, opc1 0-3 */
		"p15:0:c9:c0-c2:* raz-wi\n"
		"p15:*:c15:c*:* value 9\n");
	struct policy_access a = acc(enc_a32_wide(15, 2, 15), false);

	(void)state;
	assert_int_equal(match_line(p, &a), 1);
	a.key = enc_a32_wide(15, 4, 15);
	assert_null(policy_match(p, &a));
	a.key = enc_a32(15, 2, 15, 15, 0);	/* narrow, same opc1/CRm: not the wide rule */
	assert_int_equal(match_line(p, &a), 3);
	a.key = enc_a32(15, 0, 9, 2, 7);
	assert_int_equal(match_line(p, &a), 2);
	a.key = enc_a32(15, 0, 9, 5, 0);
	assert_null(policy_match(p, &a));
	a.key = enc_a32(15, 1, 9, 0, 0);
	assert_null(policy_match(p, &a));
	a.key = enc_a64(3, 0, 15, 15, 0);	/* AArch64 with the same numbers */
	assert_null(policy_match(p, &a));
	policy_free(p);
}

/* ---- answers ------------------------------------------------------------ */

static void test_decide_el0_and_default(void **state)
{
	struct policy *p = parse_ok("* value 5\n");
	struct policy_state *st = policy_state_new(1);
	struct policy_access a = acc(HID0, false);
	struct policy_verdict v;

	(void)state;
	a.el = 0;
	policy_decide(p, st, &a, &v);
	assert_true(v.undef);
	assert_int_equal(v.rule, POLICY_RULE_EL0);
	a.el = 1;
	policy_decide(p, st, &a, &v);
	assert_false(v.undef);
	assert_int_equal(v.value, 5);
	assert_int_equal(v.rule, 1);
	policy_free(p);

	/* A rule for EL0 is legal without allow-el0, and overruled: EL0 is UNDEF whatever the policy. */
	p = parse_ok("HID0 el=0 value 5\n* value 6\n");
	a.el = 0;
	assert_int_equal(match_line(p, &a), 1);
	policy_decide(p, st, &a, &v);
	assert_true(v.undef);
	assert_int_equal(v.rule, POLICY_RULE_EL0);
	policy_free(p);

	p = parse_ok("allow-el0\nHID4 value 5\n");
	a.el = 0;
	policy_decide(p, st, &a, &v);
	assert_true(v.undef);
	assert_int_equal(v.rule, POLICY_RULE_DEFAULT);
	a.key = HID4;
	policy_decide(p, st, &a, &v);
	assert_false(v.undef);
	assert_int_equal(v.value, 5);
	assert_int_equal(v.rule, 2);
	a.is_write = true;
	policy_decide(p, st, &a, &v);
	assert_false(v.undef);
	assert_int_equal(v.value, 0);
	policy_free(p);

	/* No policy at all: still the EL0 rule and the default. */
	policy_decide(NULL, st, &a, &v);
	assert_int_equal(v.rule, POLICY_RULE_EL0);
	a.el = 1;
	policy_decide(NULL, st, &a, &v);
	assert_true(v.undef);
	assert_int_equal(v.rule, POLICY_RULE_DEFAULT);

	p = parse_ok("HID0 undef\n* raz-wi\n");
	a = acc(HID0, false);
	policy_decide(p, st, &a, &v);
	assert_true(v.undef);
	assert_int_equal(v.rule, 1);
	a.key = HID4;
	policy_decide(p, st, &a, &v);
	assert_false(v.undef);
	assert_int_equal(v.value, 0);
	assert_int_equal(v.rule, 2);
	policy_free(p);
	policy_state_free(st);
}

static void test_storage_wmask_and_scope(void **state)
{
	struct policy *p = parse_ok(
		"HID0 storage init=0x1234 wmask=0xff00\n"
		"HID4 storage scope=vm\n");
	struct policy_state *st = policy_state_new(1);

	(void)state;
	assert_int_equal(read_value(p, st, HID0, 0), 0x1234);
	write_value(p, st, HID0, 0, 0xabcd);
	assert_int_equal(read_value(p, st, HID0, 0), 0xab34);
	/* per vCPU: vCPU 1 has its own, still at init */
	assert_int_equal(read_value(p, st, HID0, 1), 0x1234);
	write_value(p, st, HID0, 1, 0xffffffffffffffffull);
	assert_int_equal(read_value(p, st, HID0, 1), 0xff34);
	assert_int_equal(read_value(p, st, HID0, 0), 0xab34);

	/* scope=vm: one value for every vCPU; default init 0, wmask all ones */
	assert_int_equal(read_value(p, st, HID4, 5), 0);
	write_value(p, st, HID4, 2, 0xfedcba9876543210ull);
	assert_int_equal(read_value(p, st, HID4, 7), 0xfedcba9876543210ull);
	policy_free(p);
	policy_state_free(st);
}

static void test_storage_survives_reload(void **state)
{
	struct policy *p = parse_ok("HID0 storage init=1\n");
	struct policy_state *st = policy_state_new(1);

	(void)state;
	write_value(p, st, HID0, 0, 0x55);
	policy_free(p);
	/* A new policy, another line, another init: the stored value stays. */
	p = parse_ok("# reloaded\nHID4 value 4\ns3_0_c15_c0_* storage init=2 wmask=0xf0\n");
	assert_int_equal(read_value(p, st, HID0, 0), 0x55);
	/* a register first touched now gets the new init */
	assert_int_equal(read_value(p, st, enc_a64(3, 0, 15, 0, 1), 0), 2);
	write_value(p, st, HID0, 0, 0xff);
	assert_int_equal(read_value(p, st, HID0, 0), 0xf5);
	policy_free(p);
	policy_state_free(st);
}

static void test_counter(void **state)
{
	struct policy *p = parse_ok(
		"s3_4_c15_c1_2 counter start=0x1000 step=8\n"
		"HID0 counter\n"
		"HID4 counter start=10 step=5 scope=vm\n");
	struct policy_state *st = policy_state_new(1);
	uint32_t ctr = enc_a64(3, 4, 15, 1, 2);

	(void)state;
	assert_int_equal(read_value(p, st, ctr, 0), 0x1000);
	assert_int_equal(read_value(p, st, ctr, 0), 0x1008);
	write_value(p, st, ctr, 0, 0);		/* accepted and dropped */
	assert_int_equal(read_value(p, st, ctr, 0), 0x1010);
	assert_int_equal(read_value(p, st, ctr, 1), 0x1000);	/* per vCPU */
	assert_int_equal(read_value(p, st, HID0, 0), 0);
	assert_int_equal(read_value(p, st, HID0, 0), 1);
	assert_int_equal(read_value(p, st, HID4, 0), 10);
	assert_int_equal(read_value(p, st, HID4, 1), 15);	/* shared by the VM */
	assert_int_equal(read_value(p, st, HID4, 2), 20);
	policy_free(p);
	policy_state_free(st);
}

static void test_random(void **state)
{
	struct policy *p = parse_ok("HID0 random seed=42\nHID4 random\ns3_0_c15_c1_0 random seed=42 scope=vm\n");
	struct policy_state *a = policy_state_new(1), *b = policy_state_new(2), *c = policy_state_new(1);
	uint64_t seq[8];

	(void)state;
	/* seeded: the same sequence from every state (every boot), whatever its seed */
	for (int i = 0; i < 8; i++)
		seq[i] = read_value(p, a, HID0, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(read_value(p, b, HID0, 0), seq[i]);
	assert_int_not_equal(seq[0], seq[1]);
	/* its own stream per vCPU and per register */
	assert_int_not_equal(read_value(p, c, HID0, 1), seq[0]);
	assert_int_not_equal(read_value(p, c, enc_a64(3, 0, 15, 1, 0), 0), seq[0]);
	/* writes are dropped and do not advance the stream */
	write_value(p, c, HID0, 0, 123);
	assert_int_equal(read_value(p, c, HID0, 0), seq[0]);

	/* unseeded: from the state's seed, so reproducible for the same one only */
	seq[0] = read_value(p, a, HID4, 0);
	assert_int_equal(read_value(p, c, HID4, 0), seq[0]);
	assert_int_not_equal(read_value(p, b, HID4, 0), seq[0]);
	policy_free(p);
	policy_state_free(a);
	policy_state_free(b);
	policy_state_free(c);
}

static void test_state_grows(void **state)
{
	struct policy *p = parse_ok("* storage init=7\n");
	struct policy_state *st = policy_state_new(1);

	(void)state;
	/* more (register, vCPU) slots than preallocated: the table grows, nothing is lost */
	for (uint32_t vcpu = 0; vcpu < 4; vcpu++)
		for (uint32_t crm = 0; crm < 16; crm++)
			for (uint32_t op = 0; op < 64; op++)
				write_value(p, st, enc_a64(3, op >> 3, 15, crm, op & 7), vcpu, vcpu << 16 | crm << 8 | op);
	for (uint32_t vcpu = 0; vcpu < 4; vcpu++)
		for (uint32_t crm = 0; crm < 16; crm++)
			for (uint32_t op = 0; op < 64; op++)
				assert_int_equal(read_value(p, st, enc_a64(3, op >> 3, 15, crm, op & 7), vcpu),
						 vcpu << 16 | crm << 8 | op);
	assert_int_equal(read_value(p, st, enc_a64(3, 0, 11, 0, 0), 9), 7);
	policy_free(p);
	policy_state_free(st);
}

struct counter_thread {
	const struct policy *p;
	struct policy_state *st;
	uint64_t got[2000];
};

static void *count_reads(void *arg)
{
	struct counter_thread *t = arg;
	struct policy_access a = acc(HID0, false);
	struct policy_verdict v;

	for (int i = 0; i < 2000; i++) {
		policy_decide(t->p, t->st, &a, &v);
		t->got[i] = v.value;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_threads_share_state(void **state)
{
	struct policy *p = parse_ok("HID0 counter scope=vm\n");
	struct policy_state *st = policy_state_new(1);
	static struct counter_thread t[4];
	pthread_t tid[4];
	uint64_t *all = malloc(sizeof(uint64_t) * 8000);

	(void)state;
	for (int i = 0; i < 4; i++) {
		t[i].p = p;
		t[i].st = st;
		assert_int_equal(pthread_create(&tid[i], NULL, count_reads, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		memcpy(all + i * 2000, t[i].got, sizeof(t[i].got));
	}
	/* every value 0..7999 handed out exactly once */
	qsort(all, 8000, sizeof(uint64_t), cmp_u64);
	for (uint64_t i = 0; i < 8000; i++)
		assert_int_equal(all[i], i);
	free(all);
	policy_free(p);
	policy_state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_design_example),
		cmocka_unit_test(test_parse_every_form),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_errors_selector),
		cmocka_unit_test(test_parse_errors_qualifiers),
		cmocka_unit_test(test_parse_errors_actions),
		cmocka_unit_test(test_parse_errors_directives),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_match_first_wins),
		cmocka_unit_test(test_match_table_exhaustive),
		cmocka_unit_test(test_match_qualifiers),
		cmocka_unit_test(test_match_names),
		cmocka_unit_test(test_match_aarch32),
		cmocka_unit_test(test_decide_el0_and_default),
		cmocka_unit_test(test_storage_wmask_and_scope),
		cmocka_unit_test(test_storage_survives_reload),
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_state_grows),
		cmocka_unit_test(test_threads_share_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
