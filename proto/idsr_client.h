/* SPDX-License-Identifier: MIT */
/*
 * libidsr-client: how a VMM hands trapped IMPLEMENTATION DEFINED system
 * register accesses to idsrd and gets back what the guest should see.
 *
 * Use one connection per vCPU thread (the normal case): every connection of
 * one VM run sends the same instance id, so idsrd logs them as one boot.
 *
 *	struct idsr_hello hello = { .vmm = "myvmm", .vm_name = "guest0", .vcpus = 4 };
 *	struct idsr_conn *conn;
 *	if (idsr_connect(NULL, &hello, &conn) < 0)
 *		errx(1, "idsrd: %s", idsr_last_error());
 *	...on a trapped access of vCPU 2:
 *	struct idsr_access a = { .vcpu = 2, .key = key, .pc = pc, .el = 1,
 *				 .is_write = false };
 *	struct idsr_verdict v;
 *	if (idsr_access(conn, &a, &v) < 0 || v.undef)
 *		inject_undef();
 *	else
 *		set_rt(v.value);
 *	...
 *	idsr_close(conn, "guest halted");
 *
 * To ride out a restart of idsrd, connect with idsr_connect_opts (below):
 * the library then reconnects and continues the same boot.
 *
 * All functions return 0 or a negative errno; idsr_last_error() then says
 * what failed in words (per thread). Calls on one connection must not run
 * concurrently; different connections are independent.
 */
#ifndef IDSR_CLIENT_H
#define IDSR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IDSR_INSTANCE_LEN 16

/* Who is connecting. Every field is optional. */
struct idsr_hello {
	const char *vmm;		/* "qemu 9.1", "kvmtool", … */
	const char *vm_name;
	/* Same bytes for every connection of one VM run. NULL: the library
	 * uses one random id per process (a process is one VM run; a child
	 * made by fork() draws its own). */
	const uint8_t *instance;
	size_t instance_len;		/* <= IDSR_INSTANCE_LEN */
	uint32_t vcpus;			/* vCPUs of the VM */
	const char *kernel;		/* guest kernel, free text */
	const uint8_t *build_id;
	size_t build_id_len;
	uint64_t image_base;		/* kernel link address */
	uint64_t slide;			/* KASLR slide */
	uint64_t midr;			/* the guest's MIDR_EL1: names the implementation */
	const char *impl;		/* or name it: "apple", "arm-cortex-a76" */
};

/* One trapped access. key is the packed encoding (idsr_key_a64/a32 below). */
struct idsr_access {
	uint32_t vcpu;
	uint32_t key;
	uint64_t pc;
	uint8_t el;			/* exception level the access came from */
	bool is_write;
	uint64_t value;			/* the written value (writes) */
	uint64_t seq;			/* out: the per-vCPU sequence number used */
};

struct idsr_verdict {
	bool undef;			/* inject UNDEF into the guest */
	uint64_t value;			/* EMULATE of a read: what Rt gets */
};

struct idsr_conn;

/*
 * What the library does when idsrd goes away (it crashed, or was restarted):
 * the next idsr_access finds the connection broken and reconnects, trying up
 * to max_retries times with a wait of backoff_ms before the first retry,
 * doubled each time up to backoff_max_ms. A reconnect resumes the same boot
 * (Hello.resume_boot): idsrd reopens it and says where each vCPU's rows in
 * its database end. If idsrd refuses the resume (another database; the boot
 * ended, e.g. its last connection said Bye; idsrd died before committing the
 * boot's record), the library starts a new boot with the same Hello, and the
 * records go to idsr_unprotected(). The boot ends when its last connection
 * leaves: with a connection per vCPU, close them when the VM ends, not as
 * each vCPU stops, or a vCPU still reconnecting is left without its boot.
 *
 * Nothing answered is lost to a crash of idsrd: the library keeps every
 * answered access until idsrd says its row is committed (Verdict.committed),
 * and after a resume sends the ones past the database's end again (a Resend
 * frame, before the next access), so the boot's rows go on gapless, as the
 * guest saw them. It keeps at most `records` per connection (0: the default,
 * IDSR_RECORDS_DEFAULT; about 40 bytes each, allocated as needed); past that
 * the oldest are released before their commit and counted by
 * idsr_unprotected(), never making the guest wait. A vCPU whose records
 * then no longer reach back to the database's end goes on from there (what
 * was released is lost to a crash).
 *
 * While idsrd is away, an access waits: the first access of an outage waits
 * up to wait_ms for the reconnect; when that passes (or the retries are used
 * up) the access, and every later one until a reconnect succeeds, is
 * answered by the fallback, without waiting, and idsr_access returns 0:
 *	IDSR_FALLBACK_UNDEF	the guest gets UNDEF (what stock KVM does: the default)
 *	IDSR_FALLBACK_RAZ	reads return 0, writes are ignored
 * Fallback answers are not logged (there is no daemon to log them); their
 * a->seq is UINT64_MAX and idsr_fallbacks() counts them. Retries left are
 * still tried between accesses after wait_ms, as their backoff comes due.
 * Zero fields take the defaults: 20 retries, 10 ms, 1000 ms, wait 1000 ms.
 */
enum idsr_fallback {
	IDSR_FALLBACK_UNDEF = 0,
	IDSR_FALLBACK_RAZ = 1,
};

struct idsr_options {
	unsigned max_retries;		/* reconnect tries per outage */
	unsigned backoff_ms;		/* wait before the first retry */
	unsigned backoff_max_ms;	/* the doubling stops here */
	unsigned wait_ms;		/* the first access of an outage waits this long */
	enum idsr_fallback fallback;	/* the answer while idsrd is away */
	unsigned records;		/* answered accesses kept until committed */
};

/* Twice what idsrd leaves uncommitted at most while its disk keeps up
 * (STORE_PACE_ROWS, 16384 rows over all connections): one connection may
 * carry the whole load, and idsrd's word that rows are committed lags by
 * about one commit. 1.25 MiB at most per connection. */
#define IDSR_RECORDS_DEFAULT 32768

/* Connects to idsrd's VMM socket (path NULL: $IDSRD_SOCKET, else idsrd's
 * default: /run/idsrd/vmm.sock for root; for others
 * $XDG_RUNTIME_DIR/idsrd/vmm.sock, else /tmp/idsrd-UID/vmm.sock (refused
 * unless UID owns that directory and only it may write there), else
 * /run/idsrd/vmm.sock when that exists), says hello and waits for the welcome. */
int idsr_connect(const char *path, const struct idsr_hello *hello, struct idsr_conn **out);
/* The same, reconnecting as opts say when idsrd goes away (opts NULL: no
 * reconnect, as idsr_connect: a broken connection fails every call). The
 * first connect is not retried: it fails if idsrd is not there. */
int idsr_connect_opts(const char *path, const struct idsr_hello *hello,
		      const struct idsr_options *opts, struct idsr_conn **out);

/* Sends one access and waits for its verdict. The library numbers each
 * vCPU's accesses (a->seq). */
int idsr_access(struct idsr_conn *conn, struct idsr_access *a, struct idsr_verdict *v);

/* Low-latency mode, for a VMM that gives the vCPU thread's core to the
 * boot: after sending an access, poll for the verdict for up to usec
 * microseconds before sleeping in read (0, the default: sleep at once).
 * With idsrd --poll on the other side a round trip then needs no context
 * switch; the cost is a core busy while the vCPU waits anyway. usec is at
 * most IDSR_SPIN_MAX_US. */
#define IDSR_SPIN_MAX_US 10000
int idsr_set_spin(struct idsr_conn *conn, unsigned usec);

/*
 * The fast path (on by default when idsrd offers it; off for every
 * connection of the process with IDSR_FAST_PATH=0 in the environment, and
 * from idsrd's side with idsrd --no-fast-path): idsrd shares a region with
 * the connection, and an access that a stateless rule answers (value,
 * raz-wi, ignore, undef, with no el=, vcpu= or pc=) is answered here, from
 * its table, without a syscall; it is still logged, in order, as idsrd takes
 * the region's ring, and kept with the round trips' answers for a resend
 * after a crash until idsrd publishes in the region that its row is
 * committed. on=false makes every later access of conn a round trip, also
 * after a reconnect (benchmarks of round trips). The first access of each
 * register and direction, and each after a policy change, is a round trip
 * (it fills the table).
 */
int idsr_set_fast_path(struct idsr_conn *conn, bool on);
uint64_t idsr_fast_answers(const struct idsr_conn *conn);	/* accesses the fast path answered */

/* Makes sure idsrd has every access answered on conn so far, or will take
 * it before the Bye: if idsrd died meanwhile (the fast path answers without
 * it, so a vCPU can end its work without noticing), reconnects and re-sends
 * them, waiting as an access would. A VMM whose VM ends calls it on every
 * connection before closing any: the last Bye ends the boot, and a
 * connection that resumes it after that starts a new boot instead. 0, or
 * -ENOTCONN when idsrd could not be reached (idsr_last_error says why). */
int idsr_flush(struct idsr_conn *conn);
/* Says goodbye (reason may be NULL) and frees conn; it calls idsr_flush
 * first when conn holds answered accesses not yet committed. */
int idsr_close(struct idsr_conn *conn, const char *reason);

uint64_t idsr_boot_id(const struct idsr_conn *conn);
bool idsr_replaying(const struct idsr_conn *conn);	/* the daemon answers from a recording */
bool idsr_connected(const struct idsr_conn *conn);	/* false during an outage */
uint64_t idsr_fallbacks(const struct idsr_conn *conn);	/* accesses the fallback answered */
uint64_t idsr_reconnects(const struct idsr_conn *conn);	/* successful reconnects */
uint64_t idsr_uncommitted(const struct idsr_conn *conn);	/* records kept, awaiting their commit */
uint64_t idsr_unprotected(const struct idsr_conn *conn);	/* records released before their commit */

/* What the last failing call on this thread failed on, in words. */
const char *idsr_last_error(void);

/* Packed encodings (docs/design.md, section 2). */
static inline uint32_t idsr_key_a64(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2)
{
	return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2;
}
static inline uint32_t idsr_key_a32(unsigned coproc, unsigned opc1, unsigned crn, unsigned crm, unsigned opc2)
{
	return 1u << 31 | coproc << 16 | opc1 << 11 | crn << 7 | crm << 3 | opc2;
}
static inline uint32_t idsr_key_a32_wide(unsigned coproc, unsigned opc1, unsigned crm)
{
	return 1u << 31 | 1u << 30 | coproc << 16 | opc1 << 11 | crm << 3;
}

/*
 * For a VMM on a KVM patched with KVM_CAP_ARM_IDSR_TO_USER: the exit's
 * fields as KVM_EXIT_ARM_IDSR reports them. Fill the inputs from
 * run->arm_idsr, call idsr_handle_kvm_exit, copy is_handled and regval back,
 * and KVM either completes the access (is_handled = 1, reads get regval) or
 * injects UNDEF (is_handled = 0).
 */
struct idsr_kvm_idsr {
	uint8_t Op0, Op1, CRn, CRm, Op2;	/* in */
	uint8_t is_write;			/* in */
	uint8_t is_handled;			/* out */
	uint64_t regval;			/* in: written value; out: read value */
};

int idsr_handle_kvm_exit(struct idsr_conn *conn, uint32_t vcpu, uint64_t pc, uint8_t el,
			 struct idsr_kvm_idsr *exit);

#ifdef __cplusplus
}
#endif

#endif
