/* SPDX-License-Identifier: MIT */
/* Hands a vCPU's trapped IDSR access to idsrd through libidsr-client (or answers it in-process). */
#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "vmm.h"

/*
 * A real VMM rides out a restart of idsrd: the library resumes the boot and
 * re-sends what idsrd had not committed, so the boot's rows stay whole. An
 * access waits up to FWD_WAIT_MS for idsrd to come back before the vCPU gets
 * UNDEF (the library's fallback): a restart takes well under a second on an
 * idle machine, but several under AddressSanitizer at a load of 30 (tests run
 * there), and a guest that sees UNDEFs is not the boot being recorded. A
 * minute outlasts any restart while a daemon that is gone for good still
 * lets the guest go on. Retries come every FWD_RETRY_MAX_MS at most, so a
 * vCPU goes on within that of idsrd's return; their number covers the wait.
 */
#define FWD_WAIT_MS		60000
#define FWD_RETRY_MAX_MS	250
#define FWD_RETRIES		(FWD_WAIT_MS / FWD_RETRY_MAX_MS + 16)

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
	struct idsr_options reconnect = {
		.max_retries = FWD_RETRIES, .backoff_ms = 10, .backoff_max_ms = FWD_RETRY_MAX_MS,
		.wait_ms = FWD_WAIT_MS,
	};
	int ret;

	if (o->local_raz)
		return 0;
	ret = idsr_connect_opts(o->socket, &hello, o->no_reconnect ? NULL : &reconnect, &v->conn);
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

void fwd_done(struct vcpu *v)
{
	if (!v->conn)
		return;
	/* idsrd has all this vCPU answered before any vCPU says Bye (an idsrd
	 * killed while the fast path answered the last accesses: reconnect). */
	if (idsr_flush(v->conn) < 0)
		log_warn("vCPU %u: %s", v->index, idsr_last_error());
	v->fast = idsr_fast_answers(v->conn);
}

void fwd_close(struct vcpu *v)
{
	if (!v->conn)
		return;
	/* What the boot's rows lack, said where the user looks. */
	if (idsr_fallbacks(v->conn))
		log_warn("vCPU %u: %llu accesses got UNDEF while idsrd was away; they are not logged",
			 v->index, (unsigned long long)idsr_fallbacks(v->conn));
	if (idsr_unprotected(v->conn))
		log_warn("vCPU %u: %llu answered accesses were released before idsrd committed them;"
			 " (a crash of idsrd then may have lost them)", v->index, (unsigned long long)idsr_unprotected(v->conn));
	v->fast = idsr_fast_answers(v->conn);
	idsr_close(v->conn, v->state == VCPU_HALTED ? "guest halted" : v->why);
	v->conn = NULL;
}
