/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: encoding and register-name parsing (lib/encoding.c, lib/regnames.c). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "regnames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const impls[] = { NULL, "", "apple", "arm-cortex-a76", "nonsense" };
	char text[256], buf[REGNAME_TEXT_MAX], again[ENC_TEXT_MAX];
	const struct regname *rows[8];
	struct enc_fields f;
	const char *why = NULL;
	uint32_t key, key2;

	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (enc_parse(text, &key, &why) == 0) {
		/* Every key that parses formats, and the text parses back to it
		 * (numbers may name keys no encoding uses: those stay numbers). */
		if (enc_unpack(key, &f)) {
			assert(enc_pack(&f) == key);
			enc_format(key, again, sizeof(again));
			assert(enc_parse(again, &key2, NULL) == 0 && key2 == key);
		}
		(void)enc_is_idsr(key);
	} else {
		assert(why && *why);
	}
	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
		int rc = regnames_lookup(text, impls[i], &key);

		assert(rc == 0 || rc == -ENOENT || rc == -ENOTUNIQ);
		if (rc == 0)
			assert(regnames_format(key, impls[i], buf, sizeof(buf)) == buf);
		(void)regnames_matches(text, impls[i], rows, 8);
	}
	(void)regnames_impl_known(text);
	/* The same bytes as a key: formatting any u32 is safe. */
	if (size >= 4) {
		memcpy(&key, data, 4);
		enc_format(key, again, sizeof(again));
		regnames_format(key, "apple", buf, sizeof(buf));
	}
	return 0;
}
