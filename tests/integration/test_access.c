/* SPDX-License-Identifier: MIT */
/* Access control: socket and file modes, peers recorded per boot and policy change, one uid cannot see or change another's. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <grp.h>
#include <sys/time.h>

#include "frame.h"
#include "harness.h"
#include "idsr_client.h"

#define HID1 0xc788u
#define HID2 0xc790u
#define HID3 0xc798u
#define NOBODY 65534		/* uid and gid of the other user */

static const char policy_text[] = "impl apple\nHID1 read value 0x1111\n* undef\n";
static struct harness h;
static gid_t admin_gid;

static int teardown(void **state)
{
	harness_cleanup(&h);
	return 0;
}

/* ---- modes ----------------------------------------------------------------- */

static void assert_mode(const char *path, unsigned mode, gid_t gid)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != mode)
		fprintf(stderr, "# %s: mode %o, expected %o\n", path, st.st_mode & 07777, mode);
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_gid, gid);
}

static void test_modes(void **state)
{
	const char *const args[] = { "--socket-group", "nogroup", NULL };

	harness_init(&h, policy_text);
	assert_int_equal(harness_start(&h, args), 0);
	assert_mode(h.sock, 0660, NOBODY);	/* VMMs: the socket group */
	assert_mode(h.ctl, 0600, 0);		/* control: idsrd's user only */
	assert_mode(h.db, 0640, 0);		/* the trace: not world-readable */
}

/* ---- as another user ---------------------------------------------------------- */

/* Runs fn in a child as uid/gid NOBODY (with the given supplementary groups);
 * returns fn's exit code. The child writes what it saw to out (a pipe). */
static pid_t spawn_nobody(int (*fn)(int out, void *arg), void *arg, const gid_t *groups, size_t ngroups,
			  int *from_child)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (setgroups(ngroups, groups) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(99);
		_exit(fn(p[1], arg));
	}
	close(p[1]);
	*from_child = p[0];
	return pid;
}

static void read_all(int fd, char *seen, size_t seenlen)
{
	size_t len = 0;
	ssize_t n;

	while (len < seenlen - 1 && (n = read(fd, seen + len, seenlen - 1 - len)) > 0)
		len += (size_t)n;
	seen[len] = '\0';
	close(fd);
}

static int as_nobody(int (*fn)(int out, void *arg), void *arg, const gid_t *groups, size_t ngroups,
		     char *seen, size_t seenlen)
{
	int from, status = -1;
	pid_t pid = spawn_nobody(fn, arg, groups, ngroups, &from);

	read_all(from, seen, seenlen);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A control request; the reply frame (or NULL). */
static Frame *control_call(Idsr__V1__ControlRequest *req)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	struct frame_reader r;
	Frame *reply = NULL;
	int fd = harness_connect_path(h.ctl);

	if (fd < 0)
		return NULL;
	req->protocol = IDSR_PROTOCOL_VERSION;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = req;
	frame_reader_init(&r);
	if (frame_send(fd, &f) < 0 || frame_recv(fd, &r, &reply) < 0) {
		frame_free(reply);
		reply = NULL;
	}
	frame_reader_free(&r);
	close(fd);
	return reply;
}

/* "boot ids seen: 1 2" — the boots status lists to the caller. */
static int child_status(int out, void *arg)
{
	Frame *f = harness_status(&h);

	if (!f)
		return 1;
	dprintf(out, "boots:");
	for (size_t i = 0; i < f->reply->status->n_boots; i++)
		dprintf(out, " %llu", (unsigned long long)f->reply->status->boots[i]->boot_id);
	frame_free(f);
	return 0;
}

static int child_policy_set(int out, void *arg)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__PolicyRequest pr = IDSR__V1__POLICY_REQUEST__INIT;
	Frame *f;

	pr.op = IDSR__V1__POLICY_REQUEST__OP__SET;
	pr.text = "HID2 read value 0x6666";
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_POLICY;
	req.policy = &pr;
	f = control_call(&req);
	if (!f || f->body_case != IDSR__V1__FRAME__BODY_REPLY)
		return 1;
	dprintf(out, "%s: %s", f->reply->ok ? "ok" : "refused", f->reply->message);
	frame_free(f);
	return 0;
}

/* A boot of its own: connects, one access, says the boot id, waits for EOF on
 * stdin-like fd (arg) before it ends. */
static int child_boot(int out, void *arg)
{
	struct idsr_hello hello = { .vmm = "test_access", .vm_name = "nobody's", .vcpus = 1,
				    .instance = (const uint8_t *)"nobody-instance", .instance_len = 15 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct idsr_verdict v;
	struct idsr_conn *c;
	int *hold = arg;
	char b;

	close(hold[1]);		/* (the parent's end) */
	if (idsr_connect(h.sock, &hello, &c) < 0 || idsr_access(c, &a, &v) < 0) {
		dprintf(out, "error: %s", idsr_last_error());
		return 1;
	}
	dprintf(out, "%llu", (unsigned long long)idsr_boot_id(c));
	close(out);
	while (read(hold[0], &b, 1) > 0)
		;
	idsr_close(c, "nobody done");
	return 0;
}

/* Resuming root's boot as nobody (the instance is right, the uid is not). */
static int child_resume(int out, void *arg)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Hello hello = IDSR__V1__HELLO__INIT;
	struct frame_reader r;
	Frame *reply = NULL;
	int fd = harness_connect_path(h.sock);

	hello.protocol = IDSR_PROTOCOL_VERSION;
	hello.instance.data = (uint8_t *)"root-instance";
	hello.instance.len = 13;
	hello.resume_boot = *(uint64_t *)arg;
	f.body_case = IDSR__V1__FRAME__BODY_HELLO;
	f.hello = &hello;
	frame_reader_init(&r);
	if (fd < 0 || frame_send(fd, &f) < 0 || frame_recv(fd, &r, &reply) < 0)
		return 1;
	dprintf(out, "%s", reply->body_case == IDSR__V1__FRAME__BODY_ERROR ? reply->error->message : "welcome");
	frame_free(reply);
	frame_reader_free(&r);
	close(fd);
	return 0;
}

/* Subscribes (every event it may see), tells the parent, runs a boot of its
 * own with 3 accesses, then counts the events: "own=N events=E other=O". */
static int child_subscribe(int out, void *arg)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__Filter filter = IDSR__V1__FILTER__INIT;
	struct idsr_hello hello = { .vm_name = "nobody's watched", .vcpus = 1 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	struct timeval tv = { HARNESS_DEADLINE_MS / 1000, 0 };
	struct frame_reader r;
	struct idsr_verdict v;
	struct idsr_conn *c;
	unsigned events = 0, other = 0;
	bool last = false;
	char go;
	int *ready = arg, fd = harness_connect_path(h.ctl);
	uint64_t own;
	Frame *reply;

	close(ready[0]);
	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_SUBSCRIBE;
	req.subscribe = &filter;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	frame_reader_init(&r);
	if (fd < 0 || frame_send(fd, &f) < 0 || frame_recv(fd, &r, &reply) < 0 ||
	    reply->body_case != IDSR__V1__FRAME__BODY_REPLY || !reply->reply->ok)
		return dprintf(out, "subscribing failed"), 2;
	frame_free(reply);
	if (write(ready[1], "r", 1) != 1)
		return 3;
	if (idsr_connect(h.sock, &hello, &c) < 0)
		return dprintf(out, "connect: %s", idsr_last_error()), 4;
	own = idsr_boot_id(c);
	for (int i = 0; i < 3; i++)
		if (idsr_access(c, &a, &v) < 0)
			return dprintf(out, "access %d: %s", i, idsr_last_error()), 5;
	/* Once the parent's accesses are answered (so published), one more of
	 * ours, HID2: the last event this subscriber gets, which ends the count.
	 * (Waiting for a quiet second instead lost events on a loaded machine.) */
	if (read(ready[1], &go, 1) != 1)
		return dprintf(out, "no go from the parent"), 6;
	close(ready[1]);
	a.key = HID2;
	if (idsr_access(c, &a, &v) < 0)
		return dprintf(out, "the last access: %s", idsr_last_error()), 7;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!last && frame_recv(fd, &r, &reply) == 0) {
		if (reply->body_case == IDSR__V1__FRAME__BODY_EVENT) {
			last = reply->event->boot_id == own && reply->event->key == HID2;
			events += !last;
			other += reply->event->boot_id != own;
		}
		frame_free(reply);
	}
	if (!last)
		return dprintf(out, "own=%llu events=%u other=%u, not the last", (unsigned long long)own,
			       events, other), 8;
	dprintf(out, "own=%llu events=%u other=%u", (unsigned long long)own, events, other);
	idsr_close(c, NULL);
	frame_reader_free(&r);
	close(fd);
	return 0;
}

static void test_two_users(void **state)
{
	const char *const args[] = { "--socket-mode", "0666", "--control-mode", "0666",
				     "--admin-group", "staff", NULL };
	struct idsr_hello hello = { .vmm = "test_access", .vm_name = "root's", .vcpus = 1,
				    .instance = (const uint8_t *)"root-instance", .instance_len = 13 };
	struct idsr_access a = { .key = HID1, .el = 1 };
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__PolicyRequest pr = IDSR__V1__POLICY_REQUEST__INIT;
	struct idsr_verdict v;
	struct idsr_conn *c;
	char seen[512], expect[512];
	uint64_t root_boot, nobody_boot;
	int hold[2], rc;
	pid_t child;
	Frame *f;

	harness_init(&h, policy_text);
	/* nobody reaches the sockets; the trace in the same directory stays 0640 */
	assert_int_equal(chmod(h.dir, 0755), 0);
	assert_int_equal(harness_start(&h, args), 0);
	assert_int_equal(idsr_connect(h.sock, &hello, &c), 0);
	assert_int_equal(idsr_access(c, &a, &v), 0);
	root_boot = idsr_boot_id(c);

	/* nobody starts a boot of its own, and keeps it open until hold closes */
	assert_int_equal(pipe(hold), 0);
	child = spawn_nobody(child_boot, hold, NULL, 0, &rc);
	close(hold[0]);
	read_all(rc, seen, sizeof(seen));
	nobody_boot = strtoull(seen, NULL, 10);
	if (!nobody_boot)
		fprintf(stderr, "# nobody's boot: %s\n", seen);
	assert_true(nobody_boot > 0);
	harness_wait_until(harness_queryf(&h, "SELECT count(*) FROM boots WHERE id = %llu",
						  (unsigned long long)nobody_boot) >= 1);

	/* peers recorded on each boot */
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM boots WHERE id = %llu AND peer_uid = 0"
					" AND peer_gid = 0 AND peer_pid = %d", (unsigned long long)root_boot,
					(int)getpid()), 1);
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM boots WHERE id = %llu AND peer_uid = %d"
					" AND peer_gid = %d AND peer_pid > 0 AND peer_pid != %d",
					(unsigned long long)nobody_boot, NOBODY, NOBODY, (int)getpid()), 1);

	/* status: nobody sees its own boot only; root and the admin group see both */
	assert_int_equal(as_nobody(child_status, NULL, NULL, 0, seen, sizeof(seen)), 0);
	snprintf(expect, sizeof(expect), "boots: %llu", (unsigned long long)nobody_boot);
	assert_string_equal(seen, expect);
	assert_int_equal(as_nobody(child_status, NULL, &admin_gid, 1, seen, sizeof(seen)), 0);
	snprintf(expect, sizeof(expect), "boots: %llu %llu", (unsigned long long)nobody_boot,
		 (unsigned long long)root_boot);
	assert_string_equal(seen, expect);	/* newest first */
	f = harness_status(&h);
	assert_non_null(f);
	assert_int_equal(f->reply->status->n_boots, 2);
	frame_free(f);

	/* nobody may not change the live policy (it answers root's boot too) */
	assert_int_equal(as_nobody(child_policy_set, NULL, NULL, 0, seen, sizeof(seen)), 0);
	assert_string_equal(seen, "refused: permission denied: the live policy answers every user's boots;"
			    " only root, idsrd's user or the admin group may change it");
	a.key = HID2;
	assert_true(idsr_access(c, &a, &v) == 0 && v.undef);
	/* nor resume root's boot, even knowing its instance */
	assert_int_equal(as_nobody(child_resume, &root_boot, NULL, 0, seen, sizeof(seen)), 0);
	snprintf(expect, sizeof(expect), "cannot start a boot: cannot resume boot %llu: it belongs to uid 0,"
		 " not %d", (unsigned long long)root_boot, NOBODY);
	assert_string_equal(seen, expect);
	/* the admin group may; root's change is recorded with its peer */
	assert_int_equal(as_nobody(child_policy_set, NULL, &admin_gid, 1, seen, sizeof(seen)), 0);
	assert_int_equal(strncmp(seen, "ok", 2), 0);
	a.key = HID2;
	assert_true(idsr_access(c, &a, &v) == 0 && !v.undef && v.value == 0x6666);
	pr.op = IDSR__V1__POLICY_REQUEST__OP__SET;
	pr.text = "HID3 read value 0x7777";
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_POLICY;
	req.policy = &pr;
	f = control_call(&req);
	assert_non_null(f);
	assert_true(f->reply->ok);
	frame_free(f);
	a.key = HID3;
	assert_true(idsr_access(c, &a, &v) == 0 && !v.undef && v.value == 0x7777);
	harness_wait_until(harness_queryf(&h, "SELECT count(*) FROM policy_changes WHERE how = 'set'") >= 2);
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM policy_changes WHERE how = 'set' AND"
					" peer_uid = %d AND peer_gid = %d AND peer_pid > 0", NOBODY, NOBODY), 1);
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM policy_changes WHERE how = 'set' AND"
					" peer_uid = 0 AND peer_gid = 0 AND peer_pid = %d", (int)getpid()), 1);
	assert_int_equal(harness_queryf(&h, "SELECT count(*) FROM policy_changes WHERE how = 'start' AND"
					" peer_uid = 0 AND peer_gid = 0 AND peer_pid = %d", (int)h.pid), 1);
	/* a subscriber of another uid sees its own boot's events, not root's
	 * (unless it is in the admin group) */
	for (int admin = 0; admin < 2; admin++) {
		int ready[2], from, status;
		char b;
		pid_t sub;

		/* both ways: the child says it subscribed, the parent when its accesses are done */
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ready), 0);
		sub = spawn_nobody(child_subscribe, ready, &admin_gid, (size_t)admin, &from);
		close(ready[1]);
		assert_int_equal(read(ready[0], &b, 1), 1);
		a.key = HID1;
		for (int i = 0; i < 5; i++)
			assert_int_equal(idsr_access(c, &a, &v), 0);
		/* The fast path answered those: they are published when idsrd
		 * takes the ring (within 10 ms). An EL0 access is always a round
		 * trip, and idsrd takes the ring before it: all six published. */
		a.el = 0;
		assert_int_equal(idsr_access(c, &a, &v), 0);
		a.el = 1;
		assert_int_equal(write(ready[0], "g", 1), 1);
		close(ready[0]);
		read_all(from, seen, sizeof(seen));
		waitpid(sub, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fprintf(stderr, "# the subscriber (admin %d) exited %d: %s\n", admin,
				WIFEXITED(status) ? WEXITSTATUS(status) : -1, seen);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_non_null(strstr(seen, admin ? " events=9 other=6" : " events=3 other=0"));
	}
	idsr_close(c, NULL);
	/* the refusals were logged with the peer */
	assert_true(harness_log_has(&h, "refused a policy change to uid 65534 (pid "));
	assert_true(harness_log_has(&h, "refused a resume from pid "));
	close(hold[1]);
	waitpid(child, &rc, 0);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_modes, teardown),
		cmocka_unit_test_teardown(test_two_users, teardown),
	};
	struct group *g = getgrnam("staff");

	if (g)
		admin_gid = g->gr_gid;	/* (getgrnam's storage is reused by the next call) */
	if (geteuid() != 0 || !g || !getgrnam("nogroup")) {
		printf("1..0 # SKIP needs root, and the groups staff and nogroup\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
