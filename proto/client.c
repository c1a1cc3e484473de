/* SPDX-License-Identifier: MIT */
/* libidsr-client: a VMM's blocking connection to idsrd (see idsr_client.h). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "idsr_client.h"

#ifdef IDSR_CLIENT_SHARED
#define IDSR_API __attribute__((visibility("default")))
#else
#define IDSR_API
#endif

struct idsr_conn {
	int fd;
	uint64_t boot_id;
	bool replaying;
	uint32_t nvcpus;		/* size of next_seq */
	uint64_t *next_seq;		/* per vCPU */
	struct frame_reader reader;	/* verdicts arrive here */
	uint64_t spin_ns;		/* idsr_set_spin: poll this long before blocking */
};

static __thread char last_error[256];

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

IDSR_API const char *idsr_last_error(void)
{
	return last_error;
}

static uint8_t process_instance[IDSR_INSTANCE_LEN];
static pthread_once_t process_instance_once = PTHREAD_ONCE_INIT;

static void make_process_instance(void)
{
	if (getrandom(process_instance, sizeof(process_instance), 0) != sizeof(process_instance)) {
		/* No entropy yet: pid and time still tell runs apart on one host. */
		uint64_t v[2] = { (uint64_t)getpid(), (uint64_t)time(NULL) };
		memcpy(process_instance, v, sizeof(v));
	}
}

static const char *default_socket(char *buf, size_t len)
{
	const char *env = getenv("IDSRD_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return env;
	if (getuid() != 0 && xdg && *xdg) {
		snprintf(buf, len, "%s/idsrd/vmm.sock", xdg);
		if (access(buf, F_OK) == 0)
			return buf;
	}
	return "/run/idsrd/vmm.sock";
}

static int connect_unix(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(-ENAMETOOLONG, "socket path `%s' is longer than %zu bytes", path,
			    sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(-errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return fail(-err, "cannot connect to idsrd at %s: %s%s", path, strerror(err),
			    err == ENOENT || err == ECONNREFUSED ? " (is idsrd running?)" : "");
	}
	*out = fd;
	return 0;
}

/* Reads the next frame; an Error frame from the daemon becomes the message. */
static int recv_frame(struct idsr_conn *c, Frame **out)
{
	int rc = frame_recv(c->fd, &c->reader, out);

	if (rc == -ECONNRESET)
		return fail(rc, "idsrd closed the connection");
	if (rc == -EBADMSG)
		return fail(rc, "idsrd sent a frame this library cannot decode");
	if (rc < 0)
		return fail(rc, "reading from idsrd: %s", strerror(-rc));
	if ((*out)->body_case == IDSR__V1__FRAME__BODY_ERROR) {
		rc = fail(-EPROTO, "idsrd: %s", (*out)->error->message);
		frame_free(*out);
		*out = NULL;
	}
	return rc;
}

IDSR_API int idsr_connect(const char *path, const struct idsr_hello *h, struct idsr_conn **out)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	Idsr__V1__Guest guest = IDSR__V1__GUEST__INIT;
	char pathbuf[256];
	struct idsr_conn *c;
	Frame *reply = NULL;
	int rc;

	if (h->instance_len > IDSR_INSTANCE_LEN)
		return fail(-EINVAL, "instance id is %zu bytes, at most %d", h->instance_len,
			    IDSR_INSTANCE_LEN);
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(-ENOMEM, "out of memory");
	c->fd = -1;
	c->nvcpus = h->vcpus ? h->vcpus : 1;
	c->next_seq = calloc(c->nvcpus, sizeof(*c->next_seq));
	if (!c->next_seq) {
		rc = fail(-ENOMEM, "out of memory");
		goto err;
	}
	if (frame_reader_init(&c->reader) < 0) {
		rc = fail(-ENOMEM, "out of memory");
		goto err;
	}
	rc = connect_unix(path ? path : default_socket(pathbuf, sizeof(pathbuf)), &c->fd);
	if (rc < 0)
		goto err;

	pthread_once(&process_instance_once, make_process_instance);
	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.vmm = (char *)(h->vmm ? h->vmm : "");
	hello.vm_name = (char *)(h->vm_name ? h->vm_name : "");
	if (h->instance) {
		hello.instance.data = (uint8_t *)h->instance;
		hello.instance.len = h->instance_len;
	} else {
		hello.instance.data = process_instance;
		hello.instance.len = sizeof(process_instance);
	}
	hello.vcpus = h->vcpus;
	guest.kernel = (char *)(h->kernel ? h->kernel : "");
	guest.build_id.data = (uint8_t *)h->build_id;
	guest.build_id.len = h->build_id ? h->build_id_len : 0;
	guest.image_base = h->image_base;
	guest.slide = h->slide;
	guest.midr = h->midr;
	guest.impl = (char *)(h->impl ? h->impl : "");
	hello.guest = &guest;
	frame.body_case = IDSR__V1__FRAME__BODY_HELLO;
	frame.hello = &hello;
	rc = frame_send(c->fd, &frame);
	if (rc < 0) {
		rc = fail(rc, "sending Hello to idsrd: %s", strerror(-rc));
		goto err;
	}
	rc = recv_frame(c, &reply);
	if (rc < 0)
		goto err;
	if (reply->body_case != IDSR__V1__FRAME__BODY_WELCOME) {
		rc = fail(-EPROTO, "idsrd answered Hello with %s, expected Welcome",
			  frame_body_name(reply));
		goto err;
	}
	c->boot_id = reply->welcome->boot_id;
	c->replaying = reply->welcome->mode == IDSR__V1__MODE__REPLAY;
	frame_free(reply);
	*out = c;
	return 0;
err:
	frame_free(reply);
	if (c->fd >= 0)
		close(c->fd);
	frame_reader_free(&c->reader);
	free(c->next_seq);
	free(c);
	return rc;
}

static int grow_seq(struct idsr_conn *c, uint32_t vcpu)
{
	uint32_t n = vcpu + 1;
	uint64_t *p = realloc(c->next_seq, n * sizeof(*p));

	if (!p)
		return fail(-ENOMEM, "out of memory");
	memset(p + c->nvcpus, 0, (n - c->nvcpus) * sizeof(*p));
	c->next_seq = p;
	c->nvcpus = n;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Polls the socket without sleeping until a whole frame is held or spin_ns
 * passed: a verdict that comes back within a few µs is then taken without
 * the two context switches of sleeping in read. What arrives is left in the
 * reader for recv_frame. */
static void spin_for_frame(struct idsr_conn *c)
{
	uint64_t deadline = now_ns() + c->spin_ns;
	const uint8_t *payload;
	size_t len;

	for (;;) {
		struct frame_reader peek = c->reader;
		uint8_t *p;
		size_t space;
		ssize_t got;

		if (frame_reader_next(&peek, &payload, &len) != 0)
			return;		/* a whole frame (or a bad one): recv_frame takes it */
		frame_reader_space(&c->reader, &p, &space);
		got = recv(c->fd, p, space, MSG_DONTWAIT);
		if (got > 0)
			frame_reader_commit(&c->reader, (size_t)got);
		else if (got == 0 || (errno != EAGAIN && errno != EINTR) || now_ns() >= deadline)
			return;		/* EOF and errors too: recv_frame reports them */
	}
}

IDSR_API int idsr_set_spin(struct idsr_conn *c, unsigned usec)
{
	if (usec > IDSR_SPIN_MAX_US)
		return fail(-EINVAL, "spin of %u µs is over the limit of %d µs", usec, IDSR_SPIN_MAX_US);
	c->spin_ns = (uint64_t)usec * 1000;
	return 0;
}

IDSR_API int idsr_access(struct idsr_conn *c, struct idsr_access *a, struct idsr_verdict *v)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Access access = IDSR__V1__ACCESS__INIT;
	uint8_t buf[128];	/* an Access frame is at most ~60 bytes */
	Frame *reply = NULL;
	int n, rc;

	if (a->vcpu >= c->nvcpus && (rc = grow_seq(c, a->vcpu)) < 0)
		return rc;
	access.seq = c->next_seq[a->vcpu];
	access.vcpu = a->vcpu;
	access.key = a->key;
	access.pc = a->pc;
	access.el = a->el;
	access.is_write = a->is_write;
	access.value = a->is_write ? a->value : 0;
	frame.body_case = IDSR__V1__FRAME__BODY_ACCESS;
	frame.access = &access;
	n = frame_pack(&frame, buf, sizeof(buf));
	if (n < 0)
		return fail(n, "packing Access: %s", strerror(-n));
	for (int off = 0; off < n;) {
		ssize_t w = send(c->fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail(-errno, "sending Access to idsrd: %s", strerror(errno));
		off += (int)w;
	}
	if (c->spin_ns)
		spin_for_frame(c);
	rc = recv_frame(c, &reply);
	if (rc < 0)
		return rc;
	if (reply->body_case != IDSR__V1__FRAME__BODY_VERDICT ||
	    reply->verdict->seq != access.seq || reply->verdict->vcpu != access.vcpu) {
		rc = fail(-EPROTO, "idsrd answered Access (vcpu %u seq %llu) with an unexpected %s",
			  access.vcpu, (unsigned long long)access.seq, frame_body_name(reply));
		frame_free(reply);
		return rc;
	}
	a->seq = access.seq;
	c->next_seq[a->vcpu]++;
	v->undef = reply->verdict->action == IDSR__V1__ACTION__UNDEF;
	v->value = v->undef ? 0 : reply->verdict->value;
	frame_free(reply);
	return 0;
}

IDSR_API int idsr_close(struct idsr_conn *c, const char *reason)
{
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT;
	Idsr__V1__Bye bye = IDSR__V1__BYE__INIT;
	int rc;

	if (!c)
		return 0;
	bye.reason = (char *)(reason ? reason : "");
	frame.body_case = IDSR__V1__FRAME__BODY_BYE;
	frame.bye = &bye;
	rc = frame_send(c->fd, &frame);
	if (rc < 0)
		rc = fail(rc, "sending Bye to idsrd: %s", strerror(-rc));
	close(c->fd);
	frame_reader_free(&c->reader);
	free(c->next_seq);
	free(c);
	return rc;
}

IDSR_API uint64_t idsr_boot_id(const struct idsr_conn *c)
{
	return c->boot_id;
}

IDSR_API bool idsr_replaying(const struct idsr_conn *c)
{
	return c->replaying;
}

IDSR_API int idsr_handle_kvm_exit(struct idsr_conn *c, uint32_t vcpu, uint64_t pc, uint8_t el,
				  struct idsr_kvm_idsr *exit)
{
	struct idsr_access a = {
		.vcpu = vcpu,
		.key = idsr_key_a64(exit->Op0, exit->Op1, exit->CRn, exit->CRm, exit->Op2),
		.pc = pc,
		.el = el,
		.is_write = exit->is_write,
		.value = exit->regval,
	};
	struct idsr_verdict v;
	int rc = idsr_access(c, &a, &v);

	if (rc < 0)
		return rc;
	exit->is_handled = !v.undef;
	if (!v.undef && !exit->is_write)
		exit->regval = v.value;
	return 0;
}
