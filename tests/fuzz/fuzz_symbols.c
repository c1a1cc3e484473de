/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the symbol-map parser (replay/symbols.c: nm / System.map lines, ELF through libelf) and lookups in what it reads. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct symbols *syms = NULL;
	char why[512];
	uint64_t off;

	/* symbols_load reads a file: the input goes to one in memory. */
	if (fd < 0) {
		fd = memfd_create("fuzz-symbols", 0);
		assert(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	assert(ftruncate(fd, 0) == 0);
	assert(pwrite(fd, data, size, 0) == (ssize_t)size);
	if (symbols_load(path, &syms, why, sizeof(why)) < 0) {
		assert(why[0] != '\0');	/* a refusal says where and why */
		return 0;
	}
	assert(symbols_count(syms) > 0);
	/* lookups at the edges and in between */
	static const uint64_t probes[] = { 0, 1, 0xffff, 0xffff800008000000ull, 0xffffffffffffffffull };
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const char *name = symbols_lookup(syms, probes[i], &off);

		if (name)
			assert(off <= probes[i]);
	}
	symbols_free(syms);
	return 0;
}
