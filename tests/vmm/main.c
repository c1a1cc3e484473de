/* SPDX-License-Identifier: MIT */
/* idsr-vmm: loads the guest, connects one idsrd session per vCPU, runs the vCPU threads, reports. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "vmm.h"

/* One id for this VM run: every vCPU connection sends it, so idsrd logs one boot. */
static int main_instance(uint8_t *id, size_t len)
{
	if (getrandom(id, len, 0) != (ssize_t)len) {
		log_err("cannot get random bytes for the instance id: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

struct main_signals {
	sigset_t set;
	struct vcpu *vcpus;
	unsigned n;
};

/* Ctrl-C or SIGTERM stops every vCPU the clean way: each says goodbye to
 * idsrd with the reason, and --regs-out is still written. One thread takes
 * the signals (blocked everywhere else) and stops the running instances. */
static void *main_signal_thread(void *arg)
{
	struct main_signals *s = arg;
	uc_engine *uc;
	unsigned i;
	int sig;

	for (;;) {
		if (sigwait(&s->set, &sig) != 0)
			continue;
		for (i = 0; i < s->n; i++) {
			atomic_store(&s->vcpus[i].interrupt, sig);
			uc = atomic_load(&s->vcpus[i].running_uc);
			if (uc)
				uc_emu_stop(uc);
		}
	}
	return NULL;
}

static int main_report(const struct vmm_opts *o, struct vcpu *vcpus, uint64_t boot)
{
	unsigned i, halted = 0;

	for (i = 0; i < o->vcpus; i++) {
		struct vcpu *v = &vcpus[i];

		if (v->state == VCPU_HALTED)
			halted++;
		else
			log_err("vCPU %u stopped: %s", v->index, v->why);
	}
	if (halted == o->vcpus) {
		uint64_t accesses = 0, undefs = 0, fast = 0;
		char who[64], how[64] = "";

		for (i = 0; i < o->vcpus; i++) {
			accesses += vcpus[i].accesses;
			undefs += vcpus[i].undefs;
			fast += vcpus[i].fast;
		}
		if (fast)
			snprintf(how, sizeof(how), " (%llu by the fast path)", (unsigned long long)fast);
		/* one write: other programs (idsrctl tail) may share the terminal */
		if (boot)
			snprintf(who, sizeof(who), "boot %llu", (unsigned long long)boot);
		else
			snprintf(who, sizeof(who), "answered in-process (--local raz)");
		fprintf(stderr, VMM_NAME ": %s: %u vCPU%s halted at %s: %llu IDSR accesses, %llu UNDEF%s\n", who,
			o->vcpus, o->vcpus == 1 ? "" : "s", o->aarch32 ? "bkpt #0" : "brk #0",
			(unsigned long long)accesses, (unsigned long long)undefs, how);
	}
	return halted == o->vcpus ? 0 : 1;
}

/* Connects every vCPU before any runs (the boot starts with all of them),
 * runs them to their end; false if that could not be done. */
static bool main_run(const struct vmm_opts *o, struct vcpu *vcpus, const uint8_t *instance, uint64_t *boot)
{
	unsigned i, started;

	for (i = 0; i < o->vcpus; i++)
		if (fwd_connect(&vcpus[i], instance, IDSR_INSTANCE_LEN) < 0)
			return false;
	*boot = vcpus[0].conn ? idsr_boot_id(vcpus[0].conn) : 0;
	for (started = 0; started < o->vcpus; started++) {
		errno = pthread_create(&vcpus[started].thread, NULL, vcpu_thread, &vcpus[started]);
		if (errno) {
			log_err("cannot start the thread of vCPU %u: %s", started, strerror(errno));
			break;
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(vcpus[i].thread, NULL);
	return started == o->vcpus;
}

int main(int argc, char **argv)
{
	struct vmm_opts opts;
	struct vmm_mem mem;
	uint8_t instance[IDSR_INSTANCE_LEN];
	struct main_signals sigs;
	pthread_t sig_thread;
	struct vcpu *vcpus;
	uint64_t boot = 0;
	int status = 1;
	bool ran;
	unsigned i;

	log_init(VMM_NAME, false, LOG_LVL_INFO);
	opts_parse(argc, argv, &opts);
	if (mem_load(&opts, &mem) < 0)
		return 1;
	vcpus = calloc(opts.vcpus, sizeof(*vcpus));
	if (!vcpus || main_instance(instance, sizeof(instance)) < 0)
		goto out_mem;
	for (i = 0; i < opts.vcpus; i++)
		vcpus[i] = (struct vcpu){ .index = i, .opts = &opts, .mem = &mem };
	/* from here on a signal goes to the signal thread, also while connecting */
	sigs = (struct main_signals){ .vcpus = vcpus, .n = opts.vcpus };
	sigemptyset(&sigs.set);
	sigaddset(&sigs.set, SIGINT);
	sigaddset(&sigs.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs.set, NULL);	/* the vCPU threads inherit it */
	errno = pthread_create(&sig_thread, NULL, main_signal_thread, &sigs);
	if (errno) {
		log_err("cannot start the signal thread: %s", strerror(errno));
		goto out_close;
	}
	ran = main_run(&opts, vcpus, instance, &boot);
	pthread_cancel(sig_thread);	/* sigwait is a cancellation point */
	pthread_join(sig_thread, NULL);
	if (!ran)
		goto out_close;
	status = main_report(&opts, vcpus, boot);
	if (opts.regs_out && regs_write_json(opts.regs_out, vcpus, opts.vcpus) < 0)
		status = 1;
out_close:
	/* Every connection is flushed before any says Bye: the boot ends with its
	 * last connection, and one whose vCPU halted before an idsrd restart (idle
	 * since) reconnects only in its flush; after the others' Bye, the boot it
	 * would resume has ended, and its records would go to a new boot's count
	 * of the unprotected. */
	for (i = 0; i < opts.vcpus && vcpus; i++)
		fwd_done(&vcpus[i]);
	for (i = 0; i < opts.vcpus && vcpus; i++) {
		if (vcpus[i].state == VCPU_RUNNING)
			vcpus[i].state = VCPU_STOPPED;
		if (!vcpus[i].why[0])
			snprintf(vcpus[i].why, sizeof(vcpus[i].why), "VMM exit");
		fwd_close(&vcpus[i]);
		if (vcpus[i].uc)
			uc_close(vcpus[i].uc);
	}
	free(vcpus);
out_mem:
	mem_free(&mem);
	return status;
}
