/* SPDX-License-Identifier: MIT */
/* idsrctl replay: arms idsrd to answer the next boot from a recorded one, and reports the outcome. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "encoding.h"
#include "frame.h"
#include "regnames.h"
#include "replay.h"
#include "replay/trace.h"

static const char replay_usage[] =
	"Usage: idsrctl replay [TRACE] [--db FILE] [--boot N] [--strict|--lenient] [--vm NAME]\n"
	"                      [--timeout S] [--json] [--control PATH]\n"
	"       idsrctl replay [TRACE] [--db FILE] --against POLICY [--json|--json-lines]\n"
	"       idsrctl replay URL[#BOOT_UID] [--vm NAME] [--kernel K] [--latest] [--credentials FILE] …\n"
	"       idsrctl replay --disarm [--control PATH]\n"
	"\n"
	"Arms the running idsrd so that the next new boot (or the next one of vm NAME) is\n"
	"answered from a recorded boot (default: the file's last): every read gets the\n"
	"recorded value and action. Shows progress while the boot runs, then either\n"
	"`reproduced: N accesses on V vCPUs matched' (exit 0) or where the boot departed\n"
	"from the recording, with both sides and the accesses before it (exit 1).\n"
	"\n"
	"  TRACE           FILE, FILE:BOOT, :BOOT or BOOT (a boot of the default database;\n"
	"                  ./3 is a file named 3); none: the default database\n"
	"  --db FILE       the default database (else $IDSRD_DB, else the running daemon's,\n"
	"                  else idsrd's default file)\n"
	"  --boot N        the recorded boot (same as FILE:N)\n"
	"  --strict        at the first divergence answer UNDEF from then on (default)\n"
	"  --lenient       answer what the recording cannot from the live policy; list every divergence\n"
	"  --vm NAME       wait for a boot of this vm name (with a URL, also: replay its\n"
	"                  boot of this vm name)\n"
	"  --timeout S     give up (exit 2) if the boot has not finished after S seconds (default: wait)\n"
	"  --json          the outcome as one JSON object; with --against, one JSON array\n"
	"                  of the accesses answered differently\n"
	"  --json-lines    with --against: one JSON object per line instead\n"
	"  --control PATH  idsrd's control socket\n"
	"  --against POLICY  no daemon: run the recorded accesses through POLICY and list\n"
	"                  where its answers differ from the recorded ones (exit 1 if any)\n"
	"  --disarm        drop an armed replay that no boot has taken yet\n"
	"  URL[#BOOT_UID]  a boot in ClickHouse (http://HOST:PORT/DATABASE): pulled first\n"
	"                  into $XDG_CACHE_HOME/idsrd/fleet/BOOT_UID.db (~/.cache/…), kept\n"
	"                  there, and replayed from it; idsrd must be able to read it\n"
	"  --kernel K, --latest, --credentials FILE  select a URL's boot as for show\n"
	"\n"
	"Exit: 0 reproduced (or the policy agrees), 1 diverged, 2 error.\n";

struct replay_opts {
	const char *ref, *db, *vm, *control, *against;
	struct cli_trace_arg trace;	/* TRACE, --db and --boot */
	struct cli_fleet fleet;		/* --vm, --kernel, --latest, --credentials of a URL */
	int64_t boot_id;
	double timeout;			/* seconds; 0 = wait */
	bool lenient, json, json_lines, disarm;
};

static bool replay_parse_args(int argc, char **argv, struct replay_opts *o)
{
	static const struct option opts[] = {
		{ "boot", required_argument, NULL, 'b' }, { "strict", no_argument, NULL, 's' },
		{ "lenient", no_argument, NULL, 'l' }, { "vm", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' },
		{ "json-lines", no_argument, NULL, 'J' },
		{ "control", required_argument, NULL, 'c' }, { "against", required_argument, NULL, 'a' },
		{ "disarm", no_argument, NULL, 'd' }, { "db", required_argument, NULL, 'D' },
		{ "kernel", required_argument, NULL, CLI_OPT_KERNEL }, { "latest", no_argument, NULL, CLI_OPT_LATEST },
		{ "credentials", required_argument, NULL, CLI_OPT_CREDENTIALS }, { 0 } };
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (!cli_parse_boot_id("replay", "--boot", optarg, &o->boot_id))
				return false;
			break;
		case 's': o->lenient = false; break;
		case 'l': o->lenient = true; break;
		case 'v': o->vm = o->fleet.vm = optarg; break;
		case 't':
			errno = 0;
			o->timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || o->timeout <= 0) {
				cli_error("replay: --timeout: `%s' is not a number of seconds above 0", optarg);
				return false;
			}
			break;
		case 'j': o->json = true; break;
		case 'J': o->json = o->json_lines = true; break;
		case 'c': o->control = optarg; break;
		case 'a': o->against = optarg; break;
		case 'd': o->disarm = true; break;
		case 'D': o->db = optarg; break;
		default:
			if (cli_fleet_option(c, optarg, &o->fleet))
				break;
			fputs("Try `idsrctl replay --help'.\n", stderr);
			return false;
		}
	}
	if (o->disarm && optind == argc)
		return true;
	if (argc - optind > 1) {
		cli_error("replay: one trace at most, got `%s' too (try idsrctl replay --help)", argv[optind + 1]);
		return false;
	}
	o->ref = optind < argc ? argv[optind] : NULL;
	if (cli_trace_arg("replay", o->ref, o->db, o->control, &o->trace) < 0)
		return false;
	if (o->trace.source == CLI_TRACE_FROM_URL) {
		if (o->boot_id)
			return cli_error("replay: --boot: not with a URL (name its boot as URL#BOOT_UID)"), false;
		o->trace.fleet = &o->fleet;
	} else if (o->fleet.kernel || o->fleet.latest || o->fleet.credentials) {
		cli_error("replay: %s is for a boot in ClickHouse: give its URL (http://HOST:PORT/DATABASE)",
			  o->fleet.kernel ? "--kernel" : o->fleet.latest ? "--latest" : "--credentials");
		return false;
	}
	if (o->boot_id && o->trace.boot_id && o->boot_id != o->trace.boot_id) {
		cli_error("replay: boot %lld and --boot %lld: give one", (long long)o->trace.boot_id,
			  (long long)o->boot_id);
		return false;
	}
	if (o->boot_id)
		o->trace.boot_id = o->boot_id;
	return true;
}

/* Opens the recording here first: a bad file is reported by idsrctl with
 * the exact reason, whatever the daemon may read. path becomes absolute
 * (the daemon's working directory is not ours). */
static int replay_open_trace(const struct cli_trace_arg *trace, char *path, struct replay_trace **t)
{
	const char *given = trace->path;
	char why[768];
	int rc;

	if (!realpath(given, path)) {
		return cli_error("replay: %s: %s: give the path of a trace database (idsrd --db, "
				 "idsrctl status shows it)", given, strerror(errno));
	}
	rc = replay_trace_open(path, trace->boot_id, t, why, sizeof(why));
	if (rc < 0)
		return cli_error("replay: %s", why);
	/* idsrd reads the rows one access at a time, mid-boot: a damaged one is
	 * found here, before the boot depends on it */
	rc = replay_trace_verify(*t, why, sizeof(why));
	if (rc < 0) {
		replay_trace_close(*t);
		*t = NULL;
		return cli_error("replay: %s", why);
	}
	return 0;
}

/* ---- showing accesses ---------------------------------------------------------- */

static void replay_access_from_event(const Idsr__V1__Event *e, const char *impl, struct cli_access *a)
{
	*a = (struct cli_access){
		.boot_id = (int64_t)e->boot_id, .vcpu = e->vcpu, .seq = e->seq, .ts_ns = e->ts_ns,
		.key = e->key, .pc = e->pc, .el = e->el, .is_write = e->is_write, .value = e->value,
		.undef = e->action == IDSR__V1__ACTION__UNDEF, .rule = e->rule, .impl = impl,
	};
}

static const char *replay_kind_text(const char *kind)
{
	static const struct { const char *kind, *text; } t[] = {
		{ "key", "a different register" }, { "direction", "a different direction" },
		{ "pc", "a different PC" }, { "value", "a different written value" },
		{ "extra", "an access past the end of the recording" },
		{ "missing", "recorded accesses never reached" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i].kind, kind))
			return t[i].text;
	return kind;
}

static void replay_print_side(const char *label, const Idsr__V1__Event *e, const char *impl, bool recorded)
{
	char reg[160];

	if (!e) {
		printf("  %-9s (nothing)\n", label);
		return;
	}
	printf("  %-9s seq %-6" PRIu64 " pc 0x%016" PRIx64 "  %-5s %-34s", label, e->seq, e->pc,
	       e->is_write ? "write" : "read", cli_register_text(e->key, impl, reg, sizeof(reg)));
	if (e->is_write)
		printf("  value 0x%016" PRIx64, e->value);
	if (recorded && e->action == IDSR__V1__ACTION__UNDEF)
		printf("  -> UNDEF");
	else if (recorded && !e->is_write)
		printf("  -> 0x%016" PRIx64, e->value);
	putchar('\n');
}

static void replay_print_divergence(const Idsr__V1__ReplayDivergence *d, const char *impl)
{
	struct cli_access a;

	printf("\nvCPU %u, seq %" PRIu64 ": %s (%s)", d->vcpu, d->seq, replay_kind_text(d->kind), d->kind);
	if (d->missing)
		printf(": %" PRIu64 " recorded access%s", d->missing, d->missing == 1 ? "" : "es");
	putchar('\n');
	replay_print_side("recorded:", d->expected, impl, true);
	replay_print_side("live:", d->actual, impl, false);
	if (!d->n_context)
		return;
	printf("  matched before it:\n");
	for (size_t i = 0; i < d->n_context; i++) {
		replay_access_from_event(d->context[i], impl, &a);
		fputs("   ", stdout);
		cli_print_access(stdout, &a, false);
	}
}

/* One access as a JSON object (no newline) into a string for json_raw. */
static char *replay_event_json(const Idsr__V1__Event *e, const char *impl)
{
	struct cli_access a;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	replay_access_from_event(e, impl, &a);
	cli_print_access(f, &a, true);
	fclose(f);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

static void replay_json_divergence(FILE *f, const Idsr__V1__ReplayDivergence *d, const char *impl)
{
	struct json j;
	char *s;

	json_begin(&j, f);
	json_uint(&j, "vcpu", d->vcpu);
	json_uint(&j, "seq", d->seq);
	json_str(&j, "kind", d->kind);
	if (d->missing)
		json_uint(&j, "missing", d->missing);
	s = d->expected ? replay_event_json(d->expected, impl) : NULL;
	json_raw(&j, "expected", s ? s : "null");
	free(s);
	s = d->actual ? replay_event_json(d->actual, impl) : NULL;
	json_raw(&j, "actual", s ? s : "null");
	free(s);
	fputs(", \"context\": [", f);
	for (size_t i = 0; i < d->n_context; i++) {
		s = replay_event_json(d->context[i], impl);
		fprintf(f, "%s%s", i ? ", " : "", s ? s : "null");
		free(s);
	}
	fputs("]}", f);
}

/* The line that says a recording without PCs was matched without them. */
void replay_no_pcs_note(FILE *f, int64_t boot_id, const char *path)
{
	fprintf(f, "note: boot %" PRId64 " of %s has no PCs (imported): accesses were matched on vCPU order,"
		" register, direction and value only\n", boot_id, path);
}

static void replay_print_json(const Idsr__V1__ReplayProgress *p, uint64_t arm_id, bool has_pcs)
{
	struct json j;
	uint64_t matched = 0, total = 0;
	uint32_t vcpus = 0;

	for (size_t i = 0; i < p->n_recorded; i++) {
		total += p->recorded[i];
		vcpus += p->recorded[i] > 0;
	}
	for (size_t i = 0; i < p->n_matched; i++)
		matched += p->matched[i];
	json_begin(&j, stdout);
	json_str(&j, "result", p->failed ? "diverged" : "reproduced");
	json_uint(&j, "arm_id", arm_id);
	json_uint(&j, "boot_id", p->boot_id);
	json_uint(&j, "replay_of", p->replay_of);
	json_str(&j, "replay_source", p->source);
	json_str(&j, "mode", p->lenient ? "lenient" : "strict");
	json_uint(&j, "recorded", total);
	json_uint(&j, "matched", matched);
	json_uint(&j, "vcpus", vcpus);
	json_uint(&j, "divergences", p->divergences);
	json_str(&j, "message", p->message);
	json_str(&j, "end_reason", p->end_reason);
	json_bool(&j, "pcs_compared", has_pcs);
	fputs(", \"per_vcpu\": [", stdout);
	for (size_t i = 0; i < p->n_recorded; i++)
		printf("%s{\"vcpu\": %zu, \"matched\": %" PRIu64 ", \"recorded\": %" PRIu64 "}", i ? ", " : "", i,
		       i < p->n_matched ? p->matched[i] : 0, p->recorded[i]);
	fputs("], \"details\": [", stdout);
	for (size_t i = 0; i < p->n_details; i++) {
		if (i)
			fputs(", ", stdout);
		replay_json_divergence(stdout, p->details[i], p->impl);
	}
	fputs("]}\n", stdout);
}

static int replay_report(const Idsr__V1__ReplayProgress *p, uint64_t arm_id, bool json, bool has_pcs)
{
	if (json) {
		replay_print_json(p, arm_id, has_pcs);
		return p->failed ? CLI_DIFFERENT : CLI_OK;
	}
	if (!has_pcs)
		replay_no_pcs_note(stdout, (int64_t)p->replay_of, p->source);
	if (!p->failed) {
		printf("%s\n", p->message);
		return CLI_OK;
	}
	printf("diverged: boot %" PRIu64 " replaying boot %" PRIu64 " of %s (%s): %" PRIu64 " divergence%s\n",
	       p->boot_id, p->replay_of, p->source, p->lenient ? "lenient" : "strict", p->divergences,
	       p->divergences == 1 ? "" : "s");
	if (!p->n_details)
		printf("%s\n", p->message);
	for (size_t i = 0; i < p->n_details; i++)
		replay_print_divergence(p->details[i], p->impl);
	if (p->divergences > p->n_details)
		printf("\n… and %" PRIu64 " more: sqlite3 DB 'select * from divergences where boot_id = %" PRIu64 "'\n",
		       p->divergences - p->n_details, p->boot_id);
	return CLI_DIFFERENT;
}

/* "replaying boot 3 as boot 9: vCPU0 10/20 vCPU1 3/20" on a terminal. */
static void replay_progress_line(const Idsr__V1__ReplayProgress *p)
{
	if (!isatty(STDERR_FILENO))
		return;
	if (!p->boot_id) {
		fprintf(stderr, "\r\033[Kwaiting for a new boot%s%s to replay boot %" PRIu64 "…",
			*p->vm_name ? " of vm " : "", p->vm_name, p->replay_of);
		return;
	}
	fprintf(stderr, "\r\033[Kboot %" PRIu64 " replays boot %" PRIu64 ":", p->boot_id, p->replay_of);
	for (size_t i = 0; i < p->n_recorded && i < 16; i++)
		fprintf(stderr, " vCPU%zu %" PRIu64 "/%" PRIu64, i, i < p->n_matched ? p->matched[i] : 0,
			p->recorded[i]);
	if (p->divergences)
		fprintf(stderr, "  %" PRIu64 " divergence%s", p->divergences, p->divergences == 1 ? "" : "s");
}

static int64_t replay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads progress replies until the replay is done or the deadline passes. */
static int replay_wait(int fd, uint64_t arm_id, const struct replay_opts *o, bool has_pcs)
{
	int64_t deadline = o->timeout > 0 ? replay_now_ms() + (int64_t)(o->timeout * 1000) : INT64_MAX;
	struct frame_reader r;
	uint64_t boot_id = 0;
	Frame *f = NULL;
	int ret = CLI_ERROR;

	if (frame_reader_init(&r) < 0)
		return cli_error("replay: out of memory");
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - replay_now_ms();
		int rc;

		if (left <= 0 || poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left) == 0) {
			if (isatty(STDERR_FILENO))
				fputc('\n', stderr);
			if (boot_id)
				cli_error("replay: boot %" PRIu64 " was still replaying after %g s: it goes on in "
					  "idsrd (see idsrctl status); raise --timeout to wait for it", boot_id,
					  o->timeout);
			else
				cli_error("replay: no boot came within %g s, so the replay is disarmed: start the "
					  "VM (its VMM must connect to idsrd), or raise --timeout", o->timeout);
			break;
		}
		rc = frame_recv(fd, &r, &f);
		if (rc < 0) {
			cli_error("replay: lost idsrd while waiting: %s (did it stop?)",
				  rc == -ECONNRESET ? "it closed the connection" : strerror(-rc));
			break;
		}
		if (f->body_case != IDSR__V1__FRAME__BODY_REPLY || !f->reply->ok || !f->reply->progress) {
			cli_error("replay: idsrd: %s", f->body_case == IDSR__V1__FRAME__BODY_REPLY &&
				  *f->reply->message ? f->reply->message : "an unexpected answer");
			break;
		}
		boot_id = f->reply->progress->boot_id;
		if (f->reply->progress->done) {
			if (isatty(STDERR_FILENO))
				fputs("\r\033[K", stderr);
			if (!boot_id)
				ret = cli_error("replay: %s", f->reply->progress->message);
			else
				ret = replay_report(f->reply->progress, arm_id, o->json, has_pcs);
			break;
		}
		replay_progress_line(f->reply->progress);
		frame_free(f);
		f = NULL;
	}
	frame_free(f);
	frame_reader_free(&r);
	return ret;
}

static int replay_simple_call(const struct replay_opts *o, Idsr__V1__ControlRequest *req, uint64_t *arm_id,
			      int *fdp)
{
	Frame *reply;
	int fd, rc;

	if (cli_control_connect("replay", cli_control_path(o->control), &fd) < 0)
		return CLI_ERROR;
	if (cli_control_call("replay", fd, req, &reply) < 0) {
		close(fd);
		return CLI_ERROR;
	}
	rc = reply->reply->ok ? CLI_OK : cli_error("replay: idsrd: %s", reply->reply->message);
	if (arm_id)
		*arm_id = reply->reply->arm_id;
	frame_free(reply);
	if (rc == CLI_OK && fdp)
		*fdp = fd;
	else
		close(fd);
	return rc;
}

static int replay_arm_and_wait(const struct replay_opts *o)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__ReplayArm arm = IDSR__V1__REPLAY_ARM__INIT;
	Idsr__V1__ReplayWatch watch = IDSR__V1__REPLAY_WATCH__INIT;
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	struct cli_trace_arg trace = o->trace;
	struct replay_trace *t;
	char path[PATH_MAX];
	uint64_t arm_id;
	bool has_pcs;
	int fd, rc;

	/* a boot in ClickHouse is replayed from a file of it, as any other */
	if (trace.source == CLI_TRACE_FROM_URL &&
	    cli_fleet_cached("replay", &o->trace, trace.path, sizeof(trace.path), &trace.boot_id) < 0)
		return CLI_ERROR;
	if (replay_open_trace(&trace, path, &t) != 0)
		return CLI_ERROR;
	has_pcs = replay_trace_info(t)->has_pcs;
	arm.trace_path = path;
	arm.boot_id = (uint64_t)replay_trace_info(t)->boot_id;
	arm.lenient = o->lenient;
	arm.vm_name = (char *)(o->vm ? o->vm : "");
	replay_trace_close(t);
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_ARM;
	req.replay_arm = &arm;
	rc = replay_simple_call(o, &req, &arm_id, &fd);
	if (rc != CLI_OK)
		return rc;
	/* The arm holds as long as this connection does: ^C or a timeout drops it. */
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_WATCH;
	req.replay_watch = &watch;
	req.protocol = IDSR_PROTOCOL_VERSION;
	watch.arm_id = arm_id;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = &req;
	if (frame_send(fd, &f) < 0)
		rc = cli_error("replay: asking idsrd for progress: %s", strerror(errno));
	else
		rc = replay_wait(fd, arm_id, o, has_pcs);
	close(fd);
	return rc;
}

int replay_main(int argc, char **argv)
{
	struct replay_opts o = { 0 };
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__ReplayDisarm disarm = IDSR__V1__REPLAY_DISARM__INIT;

	if (cli_wants_help(argc, argv, replay_usage))
		return CLI_OK;
	if (!replay_parse_args(argc, argv, &o))
		return CLI_ERROR;
	if (o.disarm) {
		req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_REPLAY_DISARM;
		req.replay_disarm = &disarm;
		if (replay_simple_call(&o, &req, NULL, NULL) != CLI_OK)
			return CLI_ERROR;
		printf("disarmed\n");
		return CLI_OK;
	}
	if (o.against) {
		int rc;

		if (o.json && !o.json_lines)
			json_list_begin(stdout);
		rc = replay_against(&o.trace, o.against, o.json);
		json_list_end();
		return rc;
	}
	return replay_arm_and_wait(&o);
}
