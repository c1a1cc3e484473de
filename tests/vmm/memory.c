/* SPDX-License-Identifier: MIT */
/* Guest RAM: loads the flat guest binary into one buffer all vCPUs map. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "vmm.h"

int mem_load(const struct vmm_opts *o, struct vmm_mem *m)
{
	size_t stacks = (size_t)o->vcpus * VMM_STACK_SIZE;
	struct stat st;
	ssize_t n;
	int fd, ret = -1;

	*m = (struct vmm_mem){ .size = o->mem_mib << 20, .base = o->base };
	fd = open(o->guest, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("cannot open guest binary `%s': %s", o->guest, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("guest binary `%s' is not a regular file", o->guest);
		ret = -EINVAL;
		goto out;
	}
	if (st.st_size == 0 || (size_t)st.st_size + stacks > m->size) {
		log_err("guest binary `%s' is %lld bytes: it must be non-empty and fit in %llu MiB of "
			"RAM beside %u vCPU stacks of 64 KiB (raise --mem)", o->guest,
			(long long)st.st_size, (unsigned long long)o->mem_mib, o->vcpus);
		ret = -EFBIG;
		goto out;
	}
	m->ram = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->ram == MAP_FAILED) {
		ret = -errno;
		m->ram = NULL;
		log_err("cannot allocate %llu MiB of guest RAM: %s", (unsigned long long)o->mem_mib,
			strerror(errno));
		goto out;
	}
	n = read(fd, m->ram, (size_t)st.st_size);
	if (n != st.st_size) {
		ret = n < 0 ? -errno : -EIO;
		log_err("cannot read guest binary `%s': %s", o->guest, n < 0 ? strerror(errno) : "short read");
		mem_free(m);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int mem_map(uc_engine *uc, const struct vmm_mem *m)
{
	uc_err err = uc_mem_map_ptr(uc, m->base, m->size, UC_PROT_ALL, m->ram);

	if (err != UC_ERR_OK) {
		log_err("cannot map guest RAM at 0x%llx: %s", (unsigned long long)m->base, uc_strerror(err));
		return -ENOMEM;
	}
	return 0;
}

void mem_free(struct vmm_mem *m)
{
	if (m->ram)
		munmap(m->ram, m->size);
	m->ram = NULL;
}

/* Stacks grow down from the top of RAM, 64 KiB per vCPU. */
uint64_t mem_stack_top(const struct vmm_mem *m, unsigned vcpu)
{
	return m->base + m->size - (uint64_t)vcpu * VMM_STACK_SIZE;
}

bool mem_read32(const struct vmm_mem *m, uint64_t addr, uint32_t *out)
{
	if (addr < m->base || addr - m->base > m->size - 4)
		return false;
	memcpy(out, m->ram + (addr - m->base), 4);
	return true;
}
