/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: a user's names file (lib/regtable.c) read as idsrctl --names reads it, then looked up
 * (lib/regnames.c): a refusal names the file, a good file's every row is found again, MIDR rows name known
 * implementations. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "encoding.h"
#include "regnames.h"
#include "regtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	const char *files[1] = { path };
	char why[512];
	size_t n;

	/* the input as a file, without touching the disk */
	if (fd < 0) {
		fd = memfd_create("names.tsv", 0);
		assert(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	assert(ftruncate(fd, 0) == 0);
	assert(pwrite(fd, data, size, 0) == (ssize_t)size);
	if (regnames_init(files, 1, 0, why, sizeof(why)) < 0) {
		/* refused: the message names the file, and a row's line when a row is bad */
		assert(!strncmp(why, path, strlen(path)) && why[strlen(path)] == ':');
		return 0;
	}
	const struct regname *t = regnames_table(&n);

	for (size_t i = 0; i < n; i++) {
		char enc[ENC_TEXT_MAX];
		uint32_t key;

		assert(i == 0 || t[i - 1].key <= t[i].key);
		assert(strlen(t[i].name) < REGNAME_TEXT_MAX && enc_parse(t[i].name, &key, NULL) != 0);
		enc_format(t[i].key, enc, sizeof(enc));
		/* every row of the file stays (nothing is read after it), named in its implementation */
		if (t[i].origin == 1) {
			assert(!strcmp(t[i].file, path) && t[i].line >= 1);
			assert(regnames_name(t[i].key, t[i].impl) != NULL);
			assert(regnames_impl_known(t[i].impl));
		}
	}
	/* a MIDR from the input's first bytes: what it names is a known implementation */
	uint32_t midr = 0;
	const char *impl;

	memcpy(&midr, data, size < sizeof(midr) ? size : sizeof(midr));
	impl = regnames_impl_from_midr(midr);
	assert(!impl || regnames_impl_known(impl));
	return 0;
}
