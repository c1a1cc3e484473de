/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: the fast path's region header as the client library checks it
 * (fp_attach, then answering from what it mapped) and idsrd's record checker. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_fast.h"
#include "fastpath.h"
#include "fp_layout.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_policy[] =
	"HID1 read value 0x1111\n"
	"HID2_EL1 storage\n"
	"s3_0_c15_c3_0 el=2 raz-wi\n"
	"s3_0_c15_c4_0 write ignore\n"
	"* undef\n";

/* The input: byte 0 picks what to fuzz; 0: the rest is a region (as idsrd
 * would send it, header first); 1: the rest is records for the checker. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy *p;
	struct policy_error err;

	if (!p && policy_parse(fuzz_policy, sizeof(fuzz_policy) - 1, "fuzz.conf", &p, &err) < 0)
		abort();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		char why[256];

		for (size_t off = 1; off + sizeof(struct fp_record) <= size; off += sizeof(struct fp_record)) {
			struct fp_record rec;

			memcpy(&rec, data + off, sizeof(rec));
			why[0] = 0;
			if (fastpath_check(&rec, p, why, sizeof(why)) < 0)
				assert(why[0]);		/* a refusal always says why */
		}
		return 0;
	}
	{
		int fd = memfd_create("fuzz-region", MFD_CLOEXEC);
		size_t region = fp_header_size(2) + FP_TABLES_SIZE + FP_RING_SIZE;
		size_t len = size - 1 > region ? size - 1 : region;
		struct fp_client f = { .on = true };

		if (fd < 0 || ftruncate(fd, (off_t)len) < 0 || pwrite(fd, data + 1, size - 1, 0) < 0)
			abort();
		if (fp_attach(&f, fd) == 0) {
			/* what it accepted must be safe to answer from */
			for (uint32_t k = 0; k < 64; k++) {
				struct idsr_access a = { .key = 0xc780u + k * 8, .el = 1, .vcpu = k % 2,
							 .is_write = k & 1 };
				struct idsr_verdict v;

				fp_access(&f, k, &a, &v);
				fp_committed(&f, a.vcpu);
			}
			fp_detach(&f);
		}
		close(fd);
	}
	return 0;
}
