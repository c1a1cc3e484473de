/* SPDX-License-Identifier: MIT */
/* Unit tests of the symbol-map parser and address lookups (nm and System.map formats). */
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

#include "replay/symbols.h"

static char path[] = "/tmp/idsr-symbols-XXXXXX";

static struct symbols *load_text(const char *text, int want, const char *want_why)
{
	struct symbols *syms = NULL;
	char why[256] = "";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(symbols_load(path, &syms, why, sizeof(why)), want);
	if (want_why) {
		char full[512];
		snprintf(full, sizeof(full), "%s%s", path, want_why);
		assert_string_equal(why, full);
	}
	unlink(path);
	strcpy(path, "/tmp/idsr-symbols-XXXXXX");
	return syms;
}

static void test_nm_output(void **state)
{
	/* `nm` of a guest: unsorted, with data, absolute (--defsym) and undefined symbols */
	struct symbols *s = load_text("0000000040000048 T acc_init\n"
				      "0000000000000001 A ADD_ACCESS\n"
				      "0000000040000000 T _start\n"
				      "0000000040000014 t hid_init\n"
				      "0000000040010000 d some_data\n"
				      "                 U printk\n"
				      "                 w weak_undefined\n"
				      "0000000040000058 W wait_counter\n", 0, NULL);
	uint64_t off = 99;

	assert_int_equal(symbols_count(s), 4);
	assert_null(symbols_lookup(s, 0x3fffffff, &off));
	assert_string_equal(symbols_lookup(s, 0x40000000, &off), "_start");
	assert_int_equal(off, 0);
	assert_string_equal(symbols_lookup(s, 0x40000013, &off), "_start");
	assert_int_equal(off, 0x13);
	assert_string_equal(symbols_lookup(s, 0x40000024, &off), "hid_init");
	assert_int_equal(off, 0x10);
	assert_string_equal(symbols_lookup(s, 0x40000050, &off), "acc_init");
	/* data symbols never capture a PC: past the last function it is still that function */
	assert_string_equal(symbols_lookup(s, 0x40010004, &off), "wait_counter");
	assert_int_equal(off, 0x40010004 - 0x40000058);
	symbols_free(s);
}

static void test_system_map_aliases(void **state)
{
	/* System.map: sorted, 64-bit kernel addresses, two names for one address */
	struct symbols *s = load_text("ffff800008000000 t _head\n"
				      "ffff800008010000 t __do_softirq_alias\n"
				      "ffff800008010000 T __do_softirq\n"
				      "ffff800008010100 T gic_handle_irq\n", 0, NULL);
	uint64_t off;

	assert_int_equal(symbols_count(s), 4);
	/* the global name wins over the local alias */
	assert_string_equal(symbols_lookup(s, 0xffff800008010008ull, &off), "__do_softirq");
	assert_int_equal(off, 8);
	assert_string_equal(symbols_lookup(s, 0xffffffffffffffffull, &off), "gic_handle_irq");
	symbols_free(s);
}

static void test_errors(void **state)
{
	struct symbols *s = NULL;
	char why[256];

	assert_int_equal(symbols_load("/nonexistent/map", &s, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "/nonexistent/map: No such file or directory");
	assert_null(s);
	load_text("0000000000000000 T ok\nnot-an-address T x\n", -EINVAL,
		  ":2: expected `ADDRESS TYPE NAME' with a hexadecimal address");
	load_text("0000000000000000 T ok\n0000000000000010 Tx name\n", -EINVAL,
		  ":2: expected a one-letter symbol type after the address");
	load_text("0000000000000010 T\n", -EINVAL, ":1: expected a symbol name after the type");
	load_text("0000000000000010 d only_data\n", -EINVAL,
		  ": no text symbols (expected an ELF with a symbol table, or `nm' or System.map output)");
}

/* An ELF's symbol table gives what nm's listing of it gives (the guests'
 * .map files are `nm -n` of their .elf). */
static void test_elf_matches_nm(void **state)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char elf[512], map[512], why[256];
	struct symbols *from_elf, *from_map;

	snprintf(elf, sizeof(elf), "%s/guests/apple_boot.elf", build);
	snprintf(map, sizeof(map), "%s/guests/apple_boot.map", build);
	assert_int_equal(symbols_load(elf, &from_elf, why, sizeof(why)), 0);
	assert_int_equal(symbols_load(map, &from_map, why, sizeof(why)), 0);
	assert_int_equal(symbols_count(from_elf), symbols_count(from_map));
	for (uint64_t pc = 0x40000000; pc < 0x40001000; pc += 4) {
		uint64_t off_elf = 1, off_map = 2;
		const char *a = symbols_lookup(from_elf, pc, &off_elf), *b = symbols_lookup(from_map, pc, &off_map);

		assert_string_equal(a, b);
		assert_int_equal(off_elf, off_map);
	}
	{
		uint64_t off = 99;
		assert_string_equal(symbols_lookup(from_elf, 0x40000000, &off), "_start");
		assert_int_equal(off, 0);
	}
	symbols_free(from_elf);
	symbols_free(from_map);
	/* the magic alone: a damaged file, said as such */
	load_text("\177ELF", -EINVAL, ": a damaged or truncated ELF file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nm_output),
		cmocka_unit_test(test_system_map_aliases),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_elf_matches_nm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
