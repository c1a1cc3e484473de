/* SPDX-License-Identifier: MIT */
/* idsrctl top: the running boots and their rates, and one boot's accesses per register, refreshed live. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "frame.h"
#include "regstats.h"

static const char top_usage[] =
	"Usage: idsrctl top [--boot ID] [--interval SECONDS] [--iterations N] [--limit N]\n"
	"                   [--json] [--db PATH] [--control PATH]\n"
	"\n"
	"Follows the running idsrd: its boots in progress with their accesses per second,\n"
	"UNDEFs and rows dropped, and for one boot (--boot, else the newest running one,\n"
	"else the last one in the database) each register's count, reads, writes, UNDEFs,\n"
	"distinct PCs and first/last seen. Refreshes every interval; `q' quits.\n"
	"\n"
	"  --boot ID          follow boot ID's registers\n"
	"  --interval SECONDS refresh period (default 1; fractions allowed)\n"
	"  --iterations N     stop after N refreshes (default: until `q' or Ctrl-C)\n"
	"  --limit N          at most N registers (default: what fits the terminal)\n"
	"  --json-lines, --json  a stream, so JSON lines: each refresh one JSON object per\n"
	"                     line per boot in progress (boot_id, vm_name, accesses, rate,\n"
	"                     undefs, rows_dropped), then one per register of the followed\n"
	"                     boot (as idsrctl stats --json-lines)\n"
	"  --db PATH          the trace database (default: the daemon's)\n"
	"  --control PATH     the daemon's control socket (default $IDSRD_CONTROL or idsrd's default)\n";

struct top_opts {
	int64_t boot_id;
	double interval;
	long iterations, limit;
	bool json;
	const char *db, *control;
};

/* Accesses of a boot at the previous refresh, for its rate. */
struct top_sample {
	uint64_t boot_id, accesses;
};

struct top {
	struct top_opts o;
	int fd;
	sqlite3 *db;
	struct regstats rs;
	bool have_rs;
	struct top_sample *prev;
	size_t nprev;
	int64_t prev_ns;
};

static struct termios top_saved_tty;
static bool top_tty_raw;

static void top_restore_tty(void)
{
	if (top_tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &top_saved_tty);
		top_tty_raw = false;
	}
}

static void top_on_signal(int sig)
{
	top_restore_tty();
	_exit(CLI_OK);
}

/* Keys without Enter and without echo, while top runs. */
static void top_raw_tty(void)
{
	struct termios t;
	struct sigaction sa = { .sa_handler = top_on_signal };

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &top_saved_tty) < 0)
		return;
	t = top_saved_tty;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		top_tty_raw = true;
		atexit(top_restore_tty);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Waits one interval; true if the user asked to quit. */
static bool top_wait(double seconds)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	int ms = (int)(seconds * 1000);
	char c;

	if (!top_tty_raw) {
		poll(NULL, 0, ms);
		return false;
	}
	/* Any other key refreshes at once. */
	if (poll(&p, 1, ms) > 0 && read(STDIN_FILENO, &c, 1) == 1)
		return c == 'q' || c == 'Q';
	return false;
}

static int top_parse_args(int argc, char **argv, struct top_opts *o)
{
	static const struct option opts[] = {
		{ "boot", required_argument, NULL, 'b' }, { "interval", required_argument, NULL, 'i' },
		{ "iterations", required_argument, NULL, 'n' }, { "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' }, { "json-lines", no_argument, NULL, 'j' },
		{ "db", required_argument, NULL, 'd' },
		{ "control", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' }, { 0 } };
	uint64_t v;
	char *end;
	int c;

	o->interval = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'b':
			if (!cli_parse_boot_id("top", "--boot", optarg, &o->boot_id))
				return -1;
			break;
		case 'i':
			o->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->interval >= 0.05 && o->interval <= 3600))
				return cli_error("top: --interval: `%s' is not a number of seconds from 0.05 to 3600",
						 optarg), -1;
			break;
		case 'n':
		case 'l':
			if (!cli_parse_u64("top", c == 'n' ? "--iterations" : "--limit", optarg, LONG_MAX, &v))
				return -1;
			*(c == 'n' ? &o->iterations : &o->limit) = (long)v;
			break;
		case 'j': o->json = true; break;
		case 'd': o->db = optarg; break;
		case 'c': o->control = optarg; break;
		default:
			fprintf(stderr, "Try `idsrctl top --help'.\n");
			return -1;
		}
	}
	if (optind < argc)
		return cli_error("top: unexpected argument `%s'", argv[optind]), -1;
	return 0;
}

/* Accesses per second since the previous refresh (the daemon's own figure the first time). */
static double top_rate(struct top *t, const Idsr__V1__BootStatus *b, int64_t now)
{
	for (size_t i = 0; i < t->nprev; i++)
		if (t->prev[i].boot_id == b->boot_id && now > t->prev_ns)
			return (double)(b->accesses - t->prev[i].accesses) * 1e9 / (double)(now - t->prev_ns);
	return b->rate;
}

static void top_remember(struct top *t, const Idsr__V1__Status *st, int64_t now)
{
	struct top_sample *p = realloc(t->prev, (st->n_boots ? st->n_boots : 1) * sizeof(*p));

	if (!p)
		return;
	t->prev = p;
	for (size_t i = 0; i < st->n_boots; i++)
		p[i] = (struct top_sample){ st->boots[i]->boot_id, st->boots[i]->accesses };
	t->nprev = st->n_boots;
	t->prev_ns = now;
}

/* The boot whose registers are shown. */
static int64_t top_pick_boot(struct top *t, const Idsr__V1__Status *st)
{
	int64_t newest = 0;
	char why[256];

	if (t->o.boot_id)
		return t->o.boot_id;
	for (size_t i = 0; i < st->n_boots; i++)
		if ((int64_t)st->boots[i]->boot_id > newest)
			newest = (int64_t)st->boots[i]->boot_id;
	if (newest)
		return newest;
	if (t->have_rs)
		return t->rs.boot_id;
	return db_resolve_boot(t->db, &newest, why, sizeof(why)) == 0 ? newest : 0;
}

static void top_render(struct top *t, const Idsr__V1__Status *st, const double *rates)
{
	char up[32];
	size_t limit = (size_t)t->o.limit;

	if (t->o.json) {
		for (size_t i = 0; i < st->n_boots; i++) {
			const Idsr__V1__BootStatus *b = st->boots[i];
			struct json j;

			json_begin(&j, stdout);
			json_uint(&j, "boot_id", b->boot_id);
			json_str(&j, "vm_name", b->vm_name);
			json_uint(&j, "accesses", b->accesses);
			json_double(&j, "rate", rates[i]);
			json_uint(&j, "undefs", b->undefs);
			json_uint(&j, "rows_dropped", b->rows_dropped);
			json_end(&j);
		}
		if (t->have_rs)
			regstats_print(stdout, &t->rs, true, limit);
		fflush(stdout);
		return;
	}
	if (!limit && isatty(STDOUT_FILENO)) {
		struct winsize ws;

		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 12 + st->n_boots)
			limit = ws.ws_row - 12 - st->n_boots;
	}
	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[J", stdout);	/* home, clear: one screen per refresh */
	printf("idsrd %s up %s; %zu boot%s in progress; rows %" PRIu64 " written, %" PRIu64
	       " dropped; policy %s\n\n", st->version, cli_duration(st->uptime_ns, up, sizeof(up)),
	       st->n_boots, st->n_boots == 1 ? "" : "s", st->rows_written, st->rows_dropped, st->policy_hash);
	printf("%6s %-16s %-12s %5s %12s %10s %10s %8s\n", "boot", "vm", "vmm", "vcpus", "accesses",
	       "rate/s", "undefs", "dropped");
	for (size_t i = 0; i < st->n_boots; i++) {
		const Idsr__V1__BootStatus *b = st->boots[i];

		printf("%6" PRIu64 " %-16.16s %-12.12s %5u %12" PRIu64 " %10.0f %10" PRIu64 " %8" PRIu64 "\n",
		       b->boot_id, b->vm_name, b->vmm, b->vcpus, b->accesses, rates[i], b->undefs,
		       b->rows_dropped);
	}
	if (t->have_rs) {
		printf("\nboot %" PRId64 " (vm `%s'): %" PRIu64 " accesses logged, %" PRIu64 " UNDEF\n",
		       t->rs.boot_id, t->rs.vm_name, t->rs.total, t->rs.undefs);
		regstats_print(stdout, &t->rs, false, limit);
	} else {
		printf("\n(no boot to show yet)\n");
	}
	if (top_tty_raw)
		printf("\n(q quits)\n");
	fflush(stdout);
}

/* One refresh; -errno when the daemon or the database fails (printed). */
static int top_refresh(struct top *t)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__StatusRequest sreq = IDSR__V1__STATUS_REQUEST__INIT;
	Idsr__V1__Frame *reply;
	const Idsr__V1__Status *st;
	double *rates;
	int64_t boot, now;
	char why[512];

	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_STATUS;
	req.status = &sreq;
	if (cli_control_call("top", t->fd, &req, &reply) < 0)
		return -EIO;
	st = reply->reply->status;
	if (!reply->reply->ok || !st) {
		cli_error("top: idsrd: %s", reply->reply->message);
		frame_free(reply);
		return -EIO;
	}
	now = db_now_ns();
	if (!t->db && db_open(t->o.db ? t->o.db : st->db, DB_READONLY, &t->db, why, sizeof(why)) < 0) {
		cli_error("top: %s", why);
		frame_free(reply);
		return -EIO;
	}
	boot = top_pick_boot(t, st);
	if (t->have_rs && t->rs.boot_id != boot) {
		regstats_free(&t->rs);
		t->have_rs = false;
	}
	/* A boot just started may not be committed yet: try again next time. */
	if (!t->have_rs && boot && regstats_init(&t->rs, t->db, boot, NULL) == 0)
		t->have_rs = true;
	if (t->have_rs && regstats_update(&t->rs, t->db, "top") < 0) {
		frame_free(reply);
		return -EIO;
	}
	rates = calloc(st->n_boots ? st->n_boots : 1, sizeof(*rates));
	for (size_t i = 0; rates && i < st->n_boots; i++)
		rates[i] = top_rate(t, st->boots[i], now);
	if (rates) {
		top_render(t, st, rates);
		top_remember(t, st, now);
	}
	free(rates);
	frame_free(reply);
	return 0;
}

int top_main(int argc, char **argv)
{
	struct top t = { 0 };
	int rc = CLI_OK;

	if (cli_wants_help(argc, argv, top_usage))
		return CLI_OK;
	if (top_parse_args(argc, argv, &t.o) < 0)
		return CLI_ERROR;
	if (cli_control_connect("top", cli_control_path(t.o.control), &t.fd) < 0)
		return CLI_ERROR;
	if (!t.o.json)
		top_raw_tty();
	for (long n = 0; !t.o.iterations || n < t.o.iterations; n++) {
		if (n && top_wait(t.o.interval))
			break;
		if (top_refresh(&t) < 0) {
			rc = CLI_ERROR;
			break;
		}
	}
	top_restore_tty();
	if (t.have_rs)
		regstats_free(&t.rs);
	free(t.prev);
	if (t.db)
		db_close(t.db);
	close(t.fd);
	return rc;
}
