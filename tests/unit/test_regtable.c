/* SPDX-License-Identifier: MIT */
/* Tests loading register names from users' files: every bad row refused with FILE:LINE and why,
 * a user row replacing a built-in one, MIDR rows with variant/revision ranges, a failed load
 * leaving the table as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "regnames.h"
#include "regtable.h"
#include "../rmtree.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/idsr-regtable.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char why[256];

	rmtree(dir);
	/* back to the built-in names for the next test */
	return regnames_init(NULL, 0, 0, why, sizeof(why));
}

/* Writes text to DIR/name; returns the path (static: one at a time). */
static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Loads text as a user file: NULL on success, else the message after "DIR/t.tsv:". */
static const char *load_error(const char *text)
{
	static char why[512];
	const char *path = write_file("t.tsv", text, strlen(text));
	struct regtable *t = regtable_load(&path, 1, 0, why, sizeof(why));

	if (t) {
		regtable_free(t);
		return NULL;
	}
	assert_memory_equal(why, path, strlen(path));
	return why + strlen(path) + 1;
}

static void test_bad_rows(void **state)
{
	assert_null(load_error("# only a comment\n\n"));
	assert_null(load_error("s3_0_c15_c0_0\tA_EL1\tx\r\np15:0:c9:c0:0\tB\tx\tdesc\tsource\n"));
	assert_string_equal(load_error("\n\ns3_0_c15_c0_0\tA_EL1\n"),
			    "3: a name row has 3 to 5 tab-separated columns (encoding, name, implementation, "
			    "description, source), not 2");
	assert_string_equal(load_error("s3_0_c15_c0_0\tA_EL1\tx\td\ts\textra\n"),
			    "1: a name row has 3 to 5 tab-separated columns (encoding, name, implementation, "
			    "description, source), not 6");
	assert_string_equal(load_error("a\tb\tc\td\te\tf\tg\th\ti\n"), "1: more than 8 tab-separated columns");
	assert_string_equal(load_error("s3_0_c16_c0_0\tA_EL1\tx\n"), "1: encoding `s3_0_c16_c0_0': CRn out of range (0-15)");
	assert_string_equal(load_error("s3_0_c15_c0_0\t\tx\n"), "1: name `': empty register name");
	assert_string_equal(load_error("s3_0_c15_c0_0\t1ST_EL1\tx\n"), "1: name `1ST_EL1': a register name starts with a letter");
	assert_string_equal(load_error("s3_0_c15_c0_0\tA EL1\tx\n"),
			    "1: name `A EL1': a register name holds only letters, digits, `_' and `.'");
	assert_string_equal(load_error("s3_0_c15_c0_0\ts3_0_c15_c0_1\tx\n"),
			    "1: name `s3_0_c15_c0_1': an encoding, not a register name");
	assert_string_equal(load_error("s3_0_c15_c0_0\tA123456789012345678901234567890123456789012345678901234567890123\tx\n"),
			    "1: name `A123456789012345678901234567890123456789': register name too long (at most 63 characters)");
	assert_string_equal(load_error("s3_0_c15_c0_0\tA_EL1\tmy core\n"),
			    "1: implementation `my core': an implementation name holds only letters, digits, `-', `_' and `.'");
	assert_string_equal(load_error("s3_0_c15_c0_0\tA_EL1\t\n"), "1: implementation `': empty implementation name");

	assert_null(load_error("midr\t0x41\t0xd07\tr1p0-r1p15\tx\n"));
	assert_null(load_error("midr\t41\t*\t*\tx\tdesc\tsource\n"));
	assert_string_equal(load_error("midr\t0x41\t0xd07\t*\n"),
			    "1: a MIDR row has 5 to 7 tab-separated columns (midr, implementer, part, revisions, "
			    "implementation, description, source), not 4");
	assert_string_equal(load_error("midr\t0x141\t0xd07\t*\tx\n"),
			    "1: implementer `0x141': expected a hex number from 0x00 to 0xff (0x41 is Arm, 0x61 Apple)");
	assert_string_equal(load_error("midr\tArm\t0xd07\t*\tx\n"),
			    "1: implementer `Arm': expected a hex number from 0x00 to 0xff (0x41 is Arm, 0x61 Apple)");
	assert_string_equal(load_error("midr\t0x41\t0x1000\t*\tx\n"),
			    "1: part `0x1000': expected a hex part number from 0x000 to 0xfff, or * for any");
	assert_string_equal(load_error("midr\t0x41\t0xd07\tr1p2-r0p0\tx\n"),
			    "1: revisions `r1p2-r0p0': expected rNpM (variant N, revision M, 0-15), a range rNpM-rNpM "
			    "from low to high, or * for any");
	assert_string_equal(load_error("midr\t0x41\t0xd07\tr16p0\tx\n"),
			    "1: revisions `r16p0': expected rNpM (variant N, revision M, 0-15), a range rNpM-rNpM "
			    "from low to high, or * for any");
	assert_string_equal(load_error("midr\t0x41\t0xd07\t*\t-x\n"),
			    "1: implementation `-x': an implementation name starts with a letter or digit");
}

static void test_bad_files(void **state)
{
	char why[256];
	const char *path = write_file("nul.tsv", "s3_0_c15_c0_0\tA\0B\tx\n", 19);
	struct regtable *t = regtable_load(&path, 1, 0, why, sizeof(why));
	char expect[256];

	assert_null(t);
	snprintf(expect, sizeof(expect), "%s: holds a NUL byte: not a text table", path);
	assert_string_equal(why, expect);
	path = dir;
	assert_null(regtable_load(&path, 1, 0, why, sizeof(why)));
	snprintf(expect, sizeof(expect), "%s: not a regular file", dir);
	assert_string_equal(why, expect);
}

static void test_override(void **state)
{
	static const char text[] =
		"# the TRM's name for the A57's, a name for an unknown register, a new core\n"
		"s3_1_c15_c2_1\tCPUECTLR_EL1\tARM-Cortex-A57\tCPU Extended Control Register\tTRM\n"
		"s3_1_c15_c2_1\tCPUECTLR\tarm-cortex-a57\tits short name, an alias\n"
		"s3_7_c15_c15_7\tLAST_EL1\tlab\n"
		"midr\t0x41\t0xd07\tr1p0-r1p15\tlab\tA57 r1, named apart\n"
		"midr\t0x7a\t*\t*\tlab\n";
	const char *path = write_file("lab.tsv", text, strlen(text));
	uint32_t ectlr = enc_a64(3, 1, 15, 2, 1), key;
	size_t builtin, count, n;
	const struct regname *r;
	const char *impls[32];
	char why[256];

	regnames_table(&builtin);
	assert_int_equal(regnames_init(&path, 1, 0, why, sizeof(why)), 0);
	regnames_table(&count);
	assert_int_equal(count, builtin - 1 + 3);	/* one built-in row replaced by two, one new */
	/* the user's rows replace the built-in one for (key, implementation), case aside */
	assert_string_equal(regnames_name(ectlr, "arm-cortex-a57"), "CPUECTLR_EL1");
	assert_string_equal(regnames_name(ectlr, "arm-cortex-a72"), "ECTLR_EL1");
	r = regnames_by_key(ectlr, &n);
	assert_int_equal(n, 4);
	assert_string_equal(r[2].name, "CPUECTLR_EL1");
	assert_int_equal(r[2].origin, 1);
	assert_string_equal(r[2].file, path);
	assert_int_equal(r[2].line, 2);
	assert_string_equal(r[2].source, "TRM");
	assert_string_equal(r[2].replaces_file, "data/registers.tsv");
	assert_int_equal(r[2].replaces_line, 1070);
	assert_string_equal(r[3].name, "CPUECTLR");
	assert_string_equal(r[3].replaces_file, "data/registers.tsv");
	assert_int_equal(regnames_lookup("CPUECTLR", "arm-cortex-a57", &key), 0);
	assert_int_equal(key, ectlr);
	assert_int_equal(regnames_lookup("ECTLR_EL1", "arm-cortex-a57", &key), -ENOENT);
	/* a register no built-in row names, in an implementation only the user's rows name */
	assert_string_equal(regnames_name(0xffff, "lab"), "LAST_EL1");
	assert_true(regnames_impl_known("lab"));
	assert_int_equal(regnames_impls(impls, 32), 13);

	/* MIDR: the user's rows first; ranges by variant and revision */
	assert_string_equal(regnames_impl_from_midr(0x411fd070), "lab");
	assert_string_equal(regnames_impl_from_midr(0x411fd07f), "lab");
	assert_string_equal(regnames_impl_from_midr(0x410fd07f), "arm-cortex-a57");
	assert_string_equal(regnames_impl_from_midr(0x412fd070), "arm-cortex-a57");
	assert_string_equal(regnames_impl_from_midr(0x7a0f0010), "lab");
	assert_int_equal(regnames_midr(0x7a0f0010)->line, 6);

	/* a failed load leaves the table as it was */
	path = write_file("bad.tsv", "s3_0_c15_c0_0\tA_EL1\n", 20);
	assert_int_equal(regnames_init(&path, 1, 0, why, sizeof(why)), -EINVAL);
	assert_string_equal(regnames_name(0xffff, "lab"), "LAST_EL1");
}

static void test_dirs(void **state)
{
	char why[512], cfg[128], d[160];
	const char *path;

	snprintf(cfg, sizeof(cfg), "%s/config", dir);
	snprintf(d, sizeof(d), "%s/idsrd", cfg);
	assert_int_equal(mkdir(cfg, 0755), 0);
	assert_int_equal(mkdir(d, 0755), 0);
	snprintf(d, sizeof(d), "%s/idsrd/registers.d", cfg);
	assert_int_equal(mkdir(d, 0755), 0);
	setenv("XDG_CONFIG_HOME", cfg, 1);
	write_file("config/idsrd/registers.d/b.tsv", "s3_7_c15_c15_7\tB_EL1\tlab\n", 25);
	write_file("config/idsrd/registers.d/a.tsv", "s3_7_c15_c15_7\tA_EL1\tlab\n", 25);
	write_file("config/idsrd/registers.d/.hidden.tsv", "garbage\n", 8);
	write_file("config/idsrd/registers.d/notes.txt", "garbage\n", 8);
	assert_int_equal(regnames_init(NULL, 0, REGNAMES_USER_DIR, why, sizeof(why)), 0);
	/* in name order: b.tsv after a.tsv, so b's row wins; other files are not read */
	assert_string_equal(regnames_name(0xffff, "lab"), "B_EL1");
	/* --names files after the directories */
	path = write_file("c.tsv", "s3_7_c15_c15_7\tC_EL1\tlab\n", 25);
	assert_int_equal(regnames_init(&path, 1, REGNAMES_USER_DIR, why, sizeof(why)), 0);
	assert_string_equal(regnames_name(0xffff, "lab"), "C_EL1");
	/* without the directory: nothing of it */
	assert_int_equal(regnames_init(NULL, 0, 0, why, sizeof(why)), 0);
	assert_null(regnames_name(0xffff, "lab"));
	/* a directory that does not exist is no error */
	setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
	assert_int_equal(regnames_init(NULL, 0, REGNAMES_USER_DIR, why, sizeof(why)), 0);
	unsetenv("XDG_CONFIG_HOME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
