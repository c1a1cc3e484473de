/* SPDX-License-Identifier: MIT */
/* idsrd: logs and answers trapped IMPLEMENTATION DEFINED system register accesses for VMMs. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "options.h"
#include "paths.h"
#include "pusher.h"
#include "regnames.h"
#include "replayer.h"
#include "unix_socket.h"

/* Before anything is created: a path that cannot be a socket, or one a running
 * idsrd answers on, fails the start here (listen_unix checks again). */
static int socket_precheck(const char *path)
{
	int fd = unix_socket_connect(path);

	if (fd == -ENAMETOOLONG) {
		log_err("socket path `%s' is longer than %zu bytes; choose a shorter one", path,
			UNIX_SOCKET_PATH_MAX);
		return fd;
	}
	if (fd >= 0) {
		close(fd);
		log_err("%s is in use by a running idsrd; stop it or choose another --socket/--control", path);
		return -EADDRINUSE;
	}
	return 0;
}

/* Binds a unix socket at path; a stale socket (nobody answers) is replaced,
 * a live one is not. Returns the fd or -errno. */
static int listen_unix(const char *path, unsigned mode, const char *group)
{
	struct sockaddr_un sa;
	int fd, err;

	if (unix_socket_address(path, &sa) < 0) {
		log_err("socket path `%s' is longer than %zu bytes; choose a shorter one", path,
			UNIX_SOCKET_PATH_MAX);
		return -ENAMETOOLONG;
	}
	err = paths_make_parent(path, 0755);
	if (err < 0) {
		log_err("cannot create the directory of %s: %s", path, strerror(-err));
		return err;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		probe = unix_socket_connect(path);
		if (probe >= 0) {
			close(probe);
			close(fd);
			log_err("%s is in use by a running idsrd; stop it or choose another --socket/--control",
				path);
			return -EADDRINUSE;
		}
		err = -probe;
		if (err != ECONNREFUSED) {
			close(fd);
			log_err("%s exists and is not a socket idsrd can replace: %s", path, strerror(err));
			return -err;
		}
		unlink(path);	/* stale: left by an idsrd that died */
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	if (chmod(path, mode) < 0)
		goto fail;
	if (group) {
		struct group *gr = getgrnam(group);

		if (!gr || chown(path, (uid_t)-1, gr->gr_gid) < 0) {
			log_err("cannot give %s to group `%s': %s", path, group,
				gr ? strerror(errno) : "no such group");
			close(fd);
			return -EINVAL;
		}
	}
	if (listen(fd, 512) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	log_err("cannot listen on %s: %s", path, strerror(err));
	close(fd);
	return -err;
}

/* Sockets from systemd (idsrd.socket names them "vmm", idsrd-control.socket
 * "control"; an unnamed one is the VMM socket). 0, or -EINVAL when systemd
 * passed something idsrd cannot serve. */
static int activated_sockets(int *vmm_fd, int *control_fd)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), ret = 0;

	if (n < 0)
		log_err("ignoring the sockets from systemd ($LISTEN_FDS): %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] ? names[i] : "unknown";
		bool is_control = !strcmp(name, "control");

		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_err("socket %d (%s) from systemd is not a listening unix stream socket; "
				"fix ListenStream= in its socket unit", fd, name);
			ret = -EINVAL;
		} else if (is_control) {
			*control_fd = fd;
		} else if (*vmm_fd < 0) {
			*vmm_fd = fd;
		}
	}
	if (names)
		for (int i = 0; i < n; i++)
			free(names[i]);
	free(names);
	return ret;
}

/* ---- the main loop: accepting VMMs and signals ------------------------------ */

static uv_poll_t vmm_listener;
static uv_signal_t sig_hup, sig_term, sig_int;
static uv_timer_t watchdog;
static int vmm_listen_fd = -1;

static void refuse(int fd, const char *msg)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	Idsr__V1__Error err = IDSR__V1__ERROR__INIT;
	uint8_t buf[512];
	int n;

	err.code = IDSR__V1__ERROR_CODE__LIMIT;
	err.message = (char *)msg;
	f.body_case = IDSR__V1__FRAME__BODY_ERROR;
	f.error = &err;
	n = frame_pack(&f, buf, sizeof(buf));
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		log_debug("refusal not delivered: %s", strerror(errno));
	close(fd);
}

/* Kept open so that, out of descriptors, a connection can still be taken
 * and refused instead of staying in the backlog (a busy loop of EMFILE). */
static int spare_fd = -1;
static int64_t emfile_logged_ns;

/* Takes one waiting connection and drops it; false if there is no spare. */
static bool refuse_emfile(void)
{
	int fd;

	if (db_now_ns() - emfile_logged_ns > 1000000000) {
		log_err("refused a VMM connection: idsrd is out of file descriptors (%u connections);"
			" raise LimitNOFILE/ulimit -n or lower --max-connections",
			atomic_load(&idsrd->connections));
		emfile_logged_ns = db_now_ns();
	}
	if (spare_fd < 0)
		return false;
	close(spare_fd);
	fd = accept4(vmm_listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

/* Every connection is a descriptor: take what the hard limit allows. */
static void raise_nofile(unsigned max_connections)
{
	rlim_t want = (rlim_t)max_connections + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn("--max-connections %u needs %llu file descriptors, the limit is %llu: connections"
			 " past it are refused; raise LimitNOFILE (or ulimit -n)", max_connections,
			 (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

static void on_vmm_connect(uv_poll_t *h, int status, int events)
{
	for (;;) {
		int fd = accept4(vmm_listen_fd, NULL, NULL, SOCK_CLOEXEC);	/* blocking: see server.c */
		struct ucred cred = { .pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		socklen_t len = sizeof(cred);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    ((errno == EMFILE || errno == ENFILE) && refuse_emfile()))
				continue;
			if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
				log_err("accepting a VMM connection: %s", strerror(errno));
			return;
		}
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		if (atomic_load(&idsrd->connections) >= idsrd->cfg.max_connections) {
			log_warn("refused a VMM connection from pid %d uid %d: %u connections, the limit"
				 " (--max-connections)", (int)cred.pid, (int)cred.uid,
				 idsrd->cfg.max_connections);
			refuse(fd, "too many VMM connections (idsrd --max-connections)");
			continue;
		}
		atomic_fetch_add(&idsrd->connections, 1);
		server_dispatch(fd);
	}
}

/* The pings come from the main loop so that a wedged loop (signals, accepts,
 * control) stops them and systemd restarts idsrd. */
static void on_watchdog(uv_timer_t *t)
{
	sd_notify(0, "WATCHDOG=1");
}

/* Pings at half WatchdogSec= when systemd asks for it; 0 or -errno. */
static int watchdog_start(uv_loop_t *loop)
{
	uint64_t usec = 0, ms;
	int r = sd_watchdog_enabled(0, &usec);

	if (r <= 0) {
		if (r < 0)
			log_warn("ignoring the watchdog request ($WATCHDOG_USEC): %s", strerror(-r));
		return r;
	}
	ms = usec / 2000 ? usec / 2000 : 1;
	uv_timer_init(loop, &watchdog);
	uv_timer_start(&watchdog, on_watchdog, ms, ms);
	log_debug("watchdog: pinging systemd every %llu ms", (unsigned long long)ms);
	return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
	char why[512];

	if (signum == SIGHUP) {
		struct timespec now;

		/* MONOTONIC_USEC lets systemd tie this reload to the SIGHUP it sent. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			   (unsigned long long)now.tv_sec * 1000000ull + (unsigned long long)now.tv_nsec / 1000);
		if (daemon_policy_reload("sighup", why, sizeof(why)) < 0) {
			/* A refused file is logged where it is parsed; this is the other case. */
			if (!idsrd->cfg.policy_path)
				log_warn("SIGHUP: %s", why);
			sd_notifyf(0, "READY=1\nSTATUS=serving VMMs on %s; the last reload failed, "
				   "the old policy is in force", idsrd->cfg.socket_path);
		} else {
			sd_notifyf(0, "READY=1\nSTATUS=serving VMMs on %s; policy reloaded",
				   idsrd->cfg.socket_path);
		}
		return;
	}
	log_info("%s: draining VMM connections and flushing the trace", strsignal(signum));
	sd_notify(0, "STOPPING=1");
	uv_poll_stop(&vmm_listener);
	uv_close((uv_handle_t *)&vmm_listener, NULL);
	uv_close((uv_handle_t *)&sig_hup, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
	/* systemd stops watching once it has STOPPING=1; the timer would keep the loop alive. */
	if (uv_is_active((uv_handle_t *)&watchdog))
		uv_close((uv_handle_t *)&watchdog, NULL);
	control_stop();
	replayer_stop();
	server_drain();
}

/* idsrd --replay TRACE[:BOOT]: the first boot is answered from the recording. */
static int replay_at_start(const char *ref)
{
	char path[4096], why[512];
	uint64_t arm_id;
	int64_t boot_id;
	int rc;

	if (db_parse_boot_ref(ref, path, sizeof(path), &boot_id) < 0) {
		log_err("--replay: `%s' is not a boot reference (TRACE.db or TRACE.db:BOOT_ID)", ref);
		return -EINVAL;
	}
	rc = replayer_arm(path, boot_id, false, "", NULL, &arm_id, why, sizeof(why));
	if (rc < 0)
		log_err("--replay: %s", why);
	return rc;
}

/* The sockets idsrd serves: systemd's when it passed them, else made here and
 * removed by teardown. The VMM listener is vmm_listen_fd. */
struct listeners {
	int control_fd;
	bool made_vmm, made_control;
};

/* The sockets systemd passed, and a check of the paths of the others. */
static int check_listening(const struct daemon_config *cfg, struct listeners *l)
{
	if (activated_sockets(&vmm_listen_fd, &l->control_fd) < 0)
		return -1;
	if (vmm_listen_fd < 0 && socket_precheck(cfg->socket_path) < 0)
		return -1;
	if (l->control_fd < 0 && socket_precheck(cfg->control_path) < 0)
		return -1;
	return 0;
}

/* What systemd did not pass, idsrd makes (and removes when it stops); after
 * the store is open, so that a socket there means the database is ready. */
static int start_listening(const struct daemon_config *cfg, struct listeners *l)
{
	int fl;

	if (vmm_listen_fd < 0) {
		vmm_listen_fd = listen_unix(cfg->socket_path, cfg->socket_mode, cfg->socket_group);
		l->made_vmm = vmm_listen_fd >= 0;
	}
	if (l->control_fd < 0 && vmm_listen_fd >= 0) {
		l->control_fd = listen_unix(cfg->control_path, cfg->control_mode, cfg->control_group);
		l->made_control = l->control_fd >= 0;
	}
	if (vmm_listen_fd < 0 || l->control_fd < 0)
		return -1;
	/* We accept until EAGAIN: the listener must not block (systemd's may). */
	fl = fcntl(vmm_listen_fd, F_GETFL);
	if (fl >= 0)
		fcntl(vmm_listen_fd, F_SETFL, fl | O_NONBLOCK);
	return 0;
}

/* The register names, then the policy to start with (an empty one without
 * --policy); NULL if either has an error. */
static struct policy *load_start_policy(const struct daemon *d)
{
	struct policy *policy = NULL;
	struct policy_error perr;
	char why[512];

	/* names before the policy: its rules may use them. The system's service
	 * reads no home directory (ProtectHome= hides them anyway). */
	if (regnames_init(d->cfg.names_files, d->cfg.nnames_files,
			  REGNAMES_SYSTEM_DIR | (d->cfg.system ? 0 : REGNAMES_USER_DIR), why, sizeof(why)) < 0) {
		log_err("register names: %s", why);
		log_err("fix or remove that file and start again");
		return NULL;
	}
	if (d->cfg.policy_path) {
		if (policy_load_file(d->cfg.policy_path, &policy, &perr) < 0) {
			log_err("%s", policy_error_format(&perr, why, sizeof(why)));
			log_err("fix the policy (idsrctl policy check %s) and start again", d->cfg.policy_path);
			return NULL;
		}
	} else if (policy_parse("", 0, "(no policy)", &policy, &perr) < 0) {
		return NULL;
	}
	return policy;
}

/* The database's lock (db_lock_writer): held until the store is flushed. */
static int db_lock_fd = -1;
/* This start made the database file: a start that fails removes it. */
static bool db_created;

/*
 * The store, once the socket paths are checked (a start refused there leaves
 * no database behind). A start refused by the lock (another idsrd has the
 * database) changes nothing in it: store_open marks unfinished boots cut off.
 * Installs policy, or frees it on failure.
 */
static int open_store(struct daemon *d, struct policy *policy)
{
	char why[512], holder[1024];
	int err;

	err = paths_make_parent(d->cfg.db_path, 0750);
	if (err < 0) {
		log_err("cannot create the directory of %s: %s", d->cfg.db_path, strerror(-err));
		goto fail;
	}
	snprintf(holder, sizeof(holder), "idsrd pid %d (VMM socket %s, control socket %s)",
		 (int)getpid(), d->cfg.socket_path, d->cfg.control_path);
	if (db_lock_writer(d->cfg.db_path, holder, &db_lock_fd, why, sizeof(why)) < 0) {
		log_err("%s", why);
		goto fail;
	}
	db_created = access(d->cfg.db_path, F_OK) != 0;
	err = store_open(d->cfg.db_path, d->cfg.queue_cap, &d->store, why, sizeof(why));
	if (err < 0) {
		log_err("%s", why);
		goto fail;
	}
	daemon_policy_install(policy, "start", NULL);
	/* After the store: it has marked the boots a crash cut off, which may be queued. */
	if (d->cfg.push_url && pusher_start(d->cfg.push_url, d->cfg.push_credentials, d->cfg.db_path, why,
					    sizeof(why)) < 0) {
		log_err("--push: %s", why);
		return -1;
	}
	return 0;
fail:
	policy_free(policy);
	return -1;
}

/* With the VMM server started: the replayer, the control socket, the loop's
 * handles; then runs the loop until a signal stops it. -1 if something could
 * not start (the caller stops what did, as after a run). */
static int serve(struct daemon *d, int control_fd, const sigset_t *stop_signals)
{
	replayer_start(d->loop);
	if (d->cfg.replay_ref && replay_at_start(d->cfg.replay_ref) < 0)
		return -1;
	if (control_start(d->loop, control_fd) < 0) {
		log_err("cannot serve the control socket %s", d->cfg.control_path);
		return -1;
	}
	uv_poll_init(d->loop, &vmm_listener, vmm_listen_fd);
	uv_poll_start(&vmm_listener, UV_READABLE, on_vmm_connect);
	uv_signal_init(d->loop, &sig_hup);
	uv_signal_start(&sig_hup, on_signal, SIGHUP);
	uv_signal_init(d->loop, &sig_term);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_init(d->loop, &sig_int);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, stop_signals, NULL);
	watchdog_start(d->loop);

	log_info("listening for VMMs on %s, idsrctl on %s; logging to %s; policy %s",
		 d->cfg.socket_path, d->cfg.control_path, d->cfg.db_path,
		 d->cfg.policy_path ? d->cfg.policy_path : "(none: everything UNDEF)");
	sd_notifyf(0, "READY=1\nSTATUS=serving VMMs on %s", d->cfg.socket_path);
	uv_run(d->loop, UV_RUN_DEFAULT);
	return 0;
}

/* After the server stopped (or never started): flushes and closes the store,
 * removes the sockets idsrd made, and lets the policy go. */
static void teardown(struct daemon *d, const struct listeners *l, bool ran)
{
	struct live_policy *lp = d->policy;

	pusher_stop();		/* a push in flight is cut: the next start completes it */
	store_close(d->store);	/* flushes every queued row */
	if (!ran && db_created) {
		/* Nothing served: the file this start made holds nothing. (Still
		 * locked: no other writer can have opened it meanwhile.) */
		static const char *const suffixes[] = { "", "-wal", "-shm" };
		char p[4200];

		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			snprintf(p, sizeof(p), "%s%s", d->cfg.db_path, suffixes[i]);
			unlink(p);
		}
	}
	if (db_lock_fd >= 0)
		close(db_lock_fd);	/* the next idsrd may have the database */
	if (ran)
		log_info("stopped; every row is in %s", d->cfg.db_path);
	if (l->made_vmm)
		unlink(d->cfg.socket_path);
	if (l->made_control)
		unlink(d->cfg.control_path);
	uv_loop_close(uv_default_loop());
	d->policy = NULL;
	daemon_policy_put(lp);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct listeners l = { .control_fd = -1 };
	struct policy *policy;
	char bufs[3][4096];
	sigset_t stop_signals;
	int rc = 1, err;

	if (!options_parse(argc, argv, &d.cfg))
		return 2;
	options_defaults(&d.cfg);
	log_init("idsrd", d.cfg.journal, LOG_LVL_INFO);
	db_configure_process();
	if (!options_paths(&d.cfg, bufs))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* A SIGTERM before the loop handles it must not kill idsrd unflushed:
	 * held until then (threads started meanwhile keep them blocked). */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	idsrd = &d;
	d.start_ns = db_now_ns();
	pthread_mutex_init(&d.policy_lock, NULL);
	pthread_mutex_init(&d.boots_lock, NULL);
	raise_nofile(d.cfg.max_connections);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	policy = load_start_policy(&d);
	if (!policy)
		return 1;
	if (check_listening(&d.cfg, &l) < 0) {
		policy_free(policy);
		goto out;
	}
	if (open_store(&d, policy) < 0 || start_listening(&d.cfg, &l) < 0)
		goto out;
	d.loop = uv_default_loop();
	err = server_start();
	if (err < 0) {
		log_err("cannot serve VMM connections: %s", strerror(-err));
		goto out;
	}
	if (serve(&d, l.control_fd, &stop_signals) == 0)
		rc = 0;
	server_stop();
	replayer_stop();
	replayer_cleanup();
out:
	teardown(&d, &l, rc == 0);
	return rc;
}
