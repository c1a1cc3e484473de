/* SPDX-License-Identifier: MIT */
/* Hands a vCPU's trapped IDSR access to idsrd through libidsr-client (or answers it in-process). */
#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "vmm.h"

int fwd_connect(struct vcpu *v, const uint8_t *instance, size_t instance_len)
{
	const struct vmm_opts *o = v->opts;
	struct idsr_hello hello = {
		.vmm = VMM_NAME " " IDSR_VERSION,
		.vm_name = o->vm_name,
		.instance = instance,
		.instance_len = instance_len,
		.vcpus = o->vcpus,
		.kernel = o->kernel,
		.image_base = o->base,
		.slide = o->slide,
		.midr = o->midr,
	};
	int ret;

	if (o->local_raz)
		return 0;
	ret = idsr_connect(o->socket, &hello, &v->conn);
	if (ret < 0) {
		log_err("vCPU %u: %s", v->index, idsr_last_error());
		if (ret == -EACCES || ret == -EPERM)
			log_err("idsrd is running but this user may not use its socket: run as a member "
				"of the socket's group (idsrd --socket-group, `idsrd' for the system "
				"service), or start an idsrd of your own");
		else
			log_err("start idsrd (its socket: --socket PATH or $IDSRD_SOCKET), "
				"or run without a daemon with --local raz");
		v->conn = NULL;
	}
	return ret;
}

/* The in-process answer: what idsrd would say under a `* raz-wi' policy,
 * keeping its built-in rule that an access from EL0 is UNDEF. */
static void fwd_local_raz(unsigned el, struct idsr_verdict *verdict)
{
	verdict->undef = el == 0;
	verdict->value = 0;
}

int fwd_access(struct vcpu *v, uint32_t key, uint64_t pc, unsigned el, bool is_write,
	       uint64_t value, struct idsr_verdict *verdict)
{
	struct idsr_access a = {
		.vcpu = v->index, .key = key, .pc = pc, .el = (uint8_t)el,
		.is_write = is_write, .value = value,
	};
	int ret;

	if (!v->conn) {
		fwd_local_raz(el, verdict);
	} else {
		ret = idsr_access(v->conn, &a, verdict);
		if (ret < 0)
			return ret;
	}
	v->accesses++;
	if (verdict->undef)
		v->undefs++;
	return 0;
}

void fwd_fail(struct vcpu *v, uint32_t key, uint64_t pc)
{
	vcpu_stop_at(v, pc, "idsrd did not answer the access to key 0x%08x at PC 0x%llx: %s", key,
		  (unsigned long long)pc, idsr_last_error());
}

void fwd_close(struct vcpu *v)
{
	if (!v->conn)
		return;
	idsr_close(v->conn, v->state == VCPU_HALTED ? "guest halted" : v->why);
	v->conn = NULL;
}
