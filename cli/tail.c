/* SPDX-License-Identifier: MIT */
/* idsrctl tail: the last accesses from the database, then (-f) the live stream from idsrd, filtered in the daemon. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "filter.h"
#include "frame.h"
#include "replay/access_rows.h"
#include "replay/symbols.h"

static const char tail_usage[] =
	"Usage: idsrctl tail [TRACE] [-f] [-n N] [--boot ID|--vm NAME] [--vcpu N] [--reg REG]...\n"
	"                    [--read|--write] [--pc A[-B]] [--action undef|emulate]\n"
	"                    [--json|--json-lines] [--symbols FILE] [--db FILE] [--control PATH]\n"
	"\n"
	"Prints the last N accesses that match the filters from the trace database; with -f,\n"
	"then follows the running idsrd's live accesses (filtered in the daemon), with no gap\n"
	"and no repeat between the two. Lines: time, boot, vCPU, seq, PC, direction, register\n"
	"name and encoding, value, action and the policy rule that answered (file:line).\n"
	"A subscriber that cannot keep up is told how many accesses it missed.\n"
	"\n"
	"  -f, --follow        follow the live stream until interrupted\n"
	"  -n, --lines N       the last N accesses first (default 10; 0: none)\n"
	"  --boot ID           only boot ID\n"
	"  --vm NAME           only boots of the VM named NAME\n"
	"  --vcpu N            only vCPU N\n"
	"  --reg REG           only registers REG: a name (HID0), an encoding (s3_0_c15_c0_0,\n"
	"                      p15:0:c9:c0:0) or a pattern (s3_*_c15_*_*, p15:0:c9:c0-c2:*);\n"
	"                      repeat it or separate with commas for several\n"
	"  --read, --write     only reads, or only writes\n"
	"  --pc A[-B]          only accesses from PCs A to B\n"
	"  --action ACTION     only accesses answered with undef or emulate\n"
	"  --json              one JSON array of the accesses, an object each (contract column\n"
	"                      names, plus name, encoding and rule_source); with -f, a stream,\n"
	"                      JSON lines as --json-lines\n"
	"  --json-lines        one JSON object per line; a missed-count marker is {\"missed\": N}\n"
	"  --symbols FILE      print function+0xoffset of each PC, each boot's slide taken\n"
	"                      off: an ELF with a symbol table, or an nm / System.map listing\n"
	"  TRACE               FILE, FILE:BOOT, :BOOT or BOOT (a boot of the default database;\n"
	"                      ./3 is a file named 3), as --db FILE and --boot BOOT\n"
	"  --db FILE           the trace database (default $IDSRD_DB, else the running daemon's,\n"
	"                      else idsrd's default file)\n"
	"  --control PATH      the daemon's control socket (default $IDSRD_CONTROL or idsrd's default)\n";

struct tail_opts {
	struct filter_spec spec;
	char *regs;			/* --reg values joined with commas */
	long long lines;
	bool follow, json, json_lines;
	const char *db, *control;
	struct symbols *syms;		/* --symbols, or NULL */
	struct cli_trace_arg trace;	/* TRACE and --db */
};

/* (boot, vCPU) → the last seq the database held when the stream began. */
struct tail_seen {
	int64_t boot_id;
	uint32_t vcpu;
	uint64_t seq;
};

struct tail_rows {
	struct cli_access *a;
	size_t n, cap;
	char **strings;			/* impl names the rows point to */
	size_t nstrings;
};

static bool tail_parse_pc(const char *s, struct filter_spec *spec)
{
	char lo[64];
	const char *dash = strchr(s, '-');

	snprintf(lo, sizeof(lo), "%.*s", dash ? (int)(dash - s) : (int)strlen(s), s);
	if (!cli_parse_u64("tail", "--pc", lo, UINT64_MAX, &spec->pc_lo))
		return false;
	spec->pc_hi = spec->pc_lo;
	if (dash && !cli_parse_u64("tail", "--pc", dash + 1, UINT64_MAX, &spec->pc_hi))
		return false;
	if (spec->pc_lo > spec->pc_hi) {
		cli_error("tail: --pc: `%s': the low end is above the high end", s);
		return false;
	}
	spec->has_pc = true;
	return true;
}

static bool tail_add_reg(struct tail_opts *o, const char *reg)
{
	size_t old = o->regs ? strlen(o->regs) : 0;
	char *p = realloc(o->regs, old + strlen(reg) + 2);

	if (!p)
		return false;
	if (old)
		p[old++] = ',';
	strcpy(p + old, reg);
	o->regs = p;
	return true;
}

static int tail_parse_args(int argc, char **argv, struct tail_opts *o)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' }, { "lines", required_argument, NULL, 'n' },
		{ "boot", required_argument, NULL, 'b' }, { "vm", required_argument, NULL, 'm' },
		{ "vcpu", required_argument, NULL, 'v' }, { "reg", required_argument, NULL, 'r' },
		{ "read", no_argument, NULL, 'R' }, { "write", no_argument, NULL, 'W' },
		{ "pc", required_argument, NULL, 'p' }, { "action", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' }, { "json-lines", no_argument, NULL, 'J' },
		{ "db", required_argument, NULL, 'd' },
		{ "control", required_argument, NULL, 'c' }, { "symbols", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' }, { 0 } };
	uint64_t v;
	int c;

	o->spec.vcpu = -1;
	o->lines = 10;
	while ((c = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->follow = true; break;
		case 'n':
			if (!cli_parse_u64("tail", "-n", optarg, UINT64_MAX, &v))
				return -1;
			o->lines = v > INT32_MAX ? INT32_MAX : (long long)v;
			break;
		case 'b':
			if (!cli_parse_boot_id("tail", "--boot", optarg, &o->spec.boot_id))
				return -1;
			break;
		case 'm': o->spec.vm_name = optarg; break;
		case 'v':
			if (!cli_parse_u64("tail", "--vcpu", optarg, UINT32_MAX, &v))
				return -1;
			o->spec.vcpu = (int64_t)v;
			break;
		case 'r':
			if (!tail_add_reg(o, optarg))
				return cli_error("tail: out of memory"), -1;
			break;
		case 'R':
		case 'W':
			if (o->spec.direction && o->spec.direction != (c == 'R' ? FILTER_READS : FILTER_WRITES))
				return cli_error("tail: --read and --write exclude each other (give neither for both)"), -1;
			o->spec.direction = c == 'R' ? FILTER_READS : FILTER_WRITES;
			break;
		case 'p':
			if (!tail_parse_pc(optarg, &o->spec))
				return -1;
			break;
		case 'a':
			if (!strcmp(optarg, "undef"))
				o->spec.action = FILTER_UNDEF;
			else if (!strcmp(optarg, "emulate"))
				o->spec.action = FILTER_EMULATED;
			else
				return cli_error("tail: --action: `%s' is not undef or emulate", optarg), -1;
			break;
		case 'j': o->json = true; break;
		case 'J': o->json = o->json_lines = true; break;
		case 'd': o->db = optarg; break;
		case 'c': o->control = optarg; break;
		case 'S':
			symbols_free(o->syms);
			if (cli_symbols_load("tail", optarg, &o->syms))
				return -1;
			break;
		default:
			fprintf(stderr, "Try `idsrctl tail --help'.\n");
			return -1;
		}
	}
	if (argc - optind > 1)
		return cli_error("tail: unexpected argument `%s' (filters are options; try idsrctl tail --help)",
				 argv[optind + 1]), -1;
	if (cli_trace_arg("tail", optind < argc ? argv[optind] : NULL, o->db, o->control, &o->trace) < 0)
		return -1;
	if (o->trace.source == CLI_TRACE_FROM_URL)
		return cli_error("tail: `%s' is a boot in ClickHouse: tail watches a trace idsrd writes; "
				 "show prints a pushed boot (idsrctl show URL#BOOT_UID)", o->trace.path), -1;
	if (o->trace.boot_id && o->spec.boot_id && o->trace.boot_id != o->spec.boot_id)
		return cli_error("tail: boot %lld and --boot %lld: give one", (long long)o->trace.boot_id,
				 (long long)o->spec.boot_id), -1;
	if (o->trace.boot_id)
		o->spec.boot_id = o->trace.boot_id;
	if (o->trace.source == CLI_TRACE_FROM_ARG)
		o->db = o->trace.path;
	if (o->spec.boot_id && o->spec.vm_name)
		return cli_error("tail: --boot and --vm exclude each other"), -1;
	o->spec.regs = o->regs;
	return 0;
}

/* ---- the database part -------------------------------------------------------- */

static int tail_rows_push(struct tail_rows *r, const struct cli_access *a)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct cli_access *p = realloc(r->a, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->a = p;
		r->cap = cap;
	}
	r->a[r->n++] = *a;
	return 0;
}

static const char *tail_rows_keep(struct tail_rows *r, const unsigned char *s)
{
	char **p = realloc(r->strings, (r->nstrings + 1) * sizeof(*p));

	if (!p)
		return NULL;
	r->strings = p;
	p[r->nstrings] = s ? strdup((const char *)s) : NULL;
	return p[r->nstrings++];
}

static void tail_rows_free(struct tail_rows *r)
{
	for (size_t i = 0; i < r->nstrings; i++)
		free(r->strings[i]);
	free(r->strings);
	free(r->a);
}

static int tail_cmp_time(const void *x, const void *y)
{
	const struct cli_access *a = x, *b = y;

	if (a->boot_id != b->boot_id)
		return a->boot_id < b->boot_id ? -1 : 1;
	if (a->ts_ns != b->ts_ns)
		return a->ts_ns < b->ts_ns ? -1 : 1;
	if (a->vcpu != b->vcpu)
		return a->vcpu < b->vcpu ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The last `want' matching rows of one vCPU, walking its index backwards. */
static int tail_collect_vcpu(sqlite3 *db, const struct filter *f, int64_t boot_id, const char *vm,
			     const char *impl, uint32_t vcpu, size_t want, struct tail_rows *out)
{
	struct access_range range = { .boot_id = boot_id, .vcpu = vcpu, .limit = -1, .backwards = true };
	struct access_cursor *rows;
	struct access_row row;
	char why[512];
	size_t got = 0;
	int rc;

	if ((rc = access_cursor_open(db, cli_db_path(db), &range, &rows, why, sizeof(why))) < 0)
		return cli_error("tail: %s", why), rc;
	while (got < want && (rc = access_cursor_next(rows, &row, why, sizeof(why))) > 0) {
		struct cli_access a;
		struct filter_access fa = { .boot_id = row.boot_id, .vm_name = vm, .vcpu = row.vcpu,
					    .key = row.key, .pc = row.pc, .is_write = row.is_write,
					    .undef = row.undef };

		if (!filter_match(f, &fa))
			continue;
		cli_access_from(&a, &row);
		a.impl = impl;
		if (tail_rows_push(out, &a) < 0) {
			cli_error("tail: out of memory");
			rc = -ENOMEM;
			break;
		}
		got++;
	}
	if (rc < 0 && rc != -ENOMEM)
		cli_error("tail: %s", why);
	access_cursor_close(rows);
	return rc < 0 ? rc : 0;
}

/* The last `want' accesses that match f, oldest first, boot by boot from the newest. */
static int tail_collect(sqlite3 *db, const struct tail_opts *o, const struct filter *f,
			struct tail_rows *out)
{
	sqlite3_stmt *boots = NULL;
	size_t want = (size_t)o->lines;
	char why[512];
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, "SELECT id, vm_name, impl, slide FROM boots WHERE (?1 = 0 OR id = ?1)"
			       " AND (?2 IS NULL OR vm_name = ?2) ORDER BY id DESC", -1, &boots, NULL)) {
		cli_error("tail: reading the trace: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(boots, 1, o->spec.boot_id);
	if (o->spec.vm_name)
		sqlite3_bind_text(boots, 2, o->spec.vm_name, -1, SQLITE_STATIC);
	while (want && sqlite3_step(boots) == SQLITE_ROW) {
		int64_t boot_id = sqlite3_column_int64(boots, 0);
		const char *vm = tail_rows_keep(out, sqlite3_column_text(boots, 1));
		const char *impl = tail_rows_keep(out, sqlite3_column_text(boots, 2));
		size_t first = out->n, taken;
		uint32_t v;

		if (o->spec.vcpu >= 0) {
			if ((rc = tail_collect_vcpu(db, f, boot_id, vm, impl, (uint32_t)o->spec.vcpu, want, out)) < 0)
				goto out;
		} else {
			for (int64_t after = -1;
			     (rc = access_next_vcpu(db, cli_db_path(db), boot_id, after, &v, why, sizeof(why))) > 0;
			     after = v)
				if ((rc = tail_collect_vcpu(db, f, boot_id, vm, impl, v, want, out)) < 0)
					goto out;
			if (rc < 0) {
				cli_error("tail: %s", why);
				goto out;
			}
		}
		for (size_t i = first; i < out->n; i++)
			out->a[i].slide = (uint64_t)sqlite3_column_int64(boots, 3);
		/* This boot's newest `want' across its vCPUs, in time order. */
		if (out->n - first > 1)
			qsort(out->a + first, out->n - first, sizeof(*out->a), tail_cmp_time);
		taken = out->n - first < want ? out->n - first : want;
		if (taken)
			memmove(out->a + first, out->a + out->n - taken, taken * sizeof(*out->a));
		out->n = first + taken;
		want -= taken;
	}
	/* Boots were read newest first: the whole list in time order. */
	if (out->n > 1)
		qsort(out->a, out->n, sizeof(*out->a), tail_cmp_time);
	rc = 0;
out:
	sqlite3_finalize(boots);
	return rc;
}

static void tail_print_rows(sqlite3 *db, const struct tail_opts *o, struct tail_rows *rows)
{
	struct cli_rules *rules = cli_rules_new(db);
	char symbol[CLI_SYMBOL_MAX];

	if (!o->json)
		cli_print_access_header_cols(stdout, true, o->syms);
	else if (!o->json_lines && !o->follow)	/* a stream is JSON lines */
		json_list_begin(stdout);
	for (size_t i = 0; i < rows->n; i++) {
		struct cli_access *a = &rows->a[i];

		a->with_time = true;
		if (o->syms)
			a->symbol = cli_symbol_text(o->syms, a->pc, a->slide, symbol, sizeof(symbol));
		cli_rules_resolve(rules, a);
		cli_print_access(stdout, a, o->json);
	}
	cli_rules_free(rules);
	json_list_end();
}

static int tail_seen_cmp(const void *x, const void *y)
{
	const struct tail_seen *a = x, *b = y;

	if (a->boot_id != b->boot_id)
		return a->boot_id < b->boot_id ? -1 : 1;
	return a->vcpu < b->vcpu ? -1 : a->vcpu > b->vcpu;
}

/* What the database holds of every boot the stream may repeat: running, or
 * ended after the subscription began. Read in the same snapshot as the rows
 * printed, so the stream picks up exactly where they end. */
static int tail_seen_collect(sqlite3 *db, int64_t since_ns, struct tail_seen **out, size_t *n)
{
	sqlite3_stmt *boots = NULL;
	struct tail_seen *seen = NULL;
	size_t cap = 0;
	char why[512];
	int rc = -EIO;

	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT id FROM boots WHERE end_ns IS NULL OR end_ns >= ?1", -1, &boots, NULL)) {
		cli_error("tail: reading the trace: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(boots, 1, since_ns);
	while (sqlite3_step(boots) == SQLITE_ROW) {
		int64_t boot_id = sqlite3_column_int64(boots, 0);
		uint64_t last;
		uint32_t v;

		for (int64_t after = -1;
		     (rc = access_next_vcpu(db, cli_db_path(db), boot_id, after, &v, why, sizeof(why))) > 0;
		     after = v) {
			if (*n == cap) {
				struct tail_seen *p = realloc(seen, (cap = cap ? cap * 2 : 64) * sizeof(*p));

				if (!p) {
					cli_error("tail: out of memory");
					rc = -ENOMEM;
					goto out;
				}
				seen = p;
			}
			rc = access_last_seq(db, cli_db_path(db), boot_id, v, &last, why, sizeof(why));
			if (rc < 0)
				break;
			if (rc > 0)
				seen[(*n)++] = (struct tail_seen){ boot_id, v, last };
		}
		if (rc < 0) {
			cli_error("tail: %s", why);
			goto out;
		}
	}
	if (*n > 1)
		qsort(seen, *n, sizeof(*seen), tail_seen_cmp);
	rc = 0;
out:
	sqlite3_finalize(boots);
	if (rc < 0) {
		free(seen);
		seen = NULL;
		*n = 0;
	}
	*out = seen;
	return rc;
}

/* Where the database at path is read: itself, or through idsrd when this user
 * may not read it (cli_trace_path): the boot named, else all of theirs. */
static const char *tail_read_path(const char *path, const struct tail_opts *o)
{
	struct cli_trace_arg t = o->trace;
	const char *from;

	snprintf(t.path, sizeof(t.path), "%s", path);
	t.boot_id = o->spec.boot_id;
	/* Each vCPU's last N rows hold the last N that match, unless a filter
	 * passes some rows of a vCPU and not others; -f needs each one's last. */
	if (!o->regs && o->spec.direction == FILTER_ANY_DIRECTION && !o->spec.has_pc &&
	    o->spec.action == FILTER_ANY_ACTION)
		t.last_rows = o->lines ? (uint64_t)o->lines : 1;
	from = cli_trace_path("tail", &t, t.boot_id ? CLI_TRACE_ONE_BOOT : CLI_TRACE_ALL_BOOTS);
	return from == t.path ? path : from;	/* t is gone on return */
}

/* Prints the last rows (and, following, learns where the stream takes over). */
static int tail_database(const char *path, const struct tail_opts *o, const struct filter *f,
			 int64_t since_ns, struct tail_seen **seen, size_t *nseen)
{
	struct tail_rows rows = { 0 };
	char why[512];
	sqlite3 *db;
	int rc;

	rc = db_open(path, DB_READONLY, &db, why, sizeof(why));
	if (rc < 0)
		return cli_error("tail: %s", why), rc;
	sqlite3_busy_timeout(db, 5000);
	/* One read transaction: the rows and the stream's starting points agree. */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	rc = o->lines ? tail_collect(db, o, f, &rows) : 0;
	if (rc == 0 && seen)
		rc = tail_seen_collect(db, since_ns, seen, nseen);
	if (rc == 0)
		tail_print_rows(db, o, &rows);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	tail_rows_free(&rows);
	db_close(db);
	return rc;
}

/* ---- the live part ----------------------------------------------------------- */

static void tail_on_signal(int sig)
{
	/* stdout is line-buffered: every whole line is out already. */
	cli_trace_copies_unlink();
	_exit(CLI_OK);
}

static bool tail_repeat(const struct tail_seen *seen, size_t n, const Idsr__V1__Event *ev)
{
	struct tail_seen key = { (int64_t)ev->boot_id, ev->vcpu, 0 };
	const struct tail_seen *s = n ? bsearch(&key, seen, n, sizeof(*seen), tail_seen_cmp) : NULL;

	return s && ev->seq <= s->seq;
}

/* tail -f: names the rules of live events from the database's policy texts. */
static struct cli_rules *tail_live_rules;

static void tail_print_event(const struct tail_opts *o, const Idsr__V1__Event *ev)
{
	struct cli_access a = {
		.boot_id = (int64_t)ev->boot_id, .vcpu = ev->vcpu, .seq = ev->seq, .ts_ns = ev->ts_ns,
		.key = ev->key, .pc = ev->pc, .el = ev->el, .is_write = ev->is_write, .value = ev->value,
		.undef = ev->action == IDSR__V1__ACTION__UNDEF, .rule = ev->rule,
		.impl = ev->impl && *ev->impl ? ev->impl : NULL,
		.rule_source = ev->rule > 0 && ev->rule_source && *ev->rule_source ? ev->rule_source : NULL,
		.with_time = true,
	};
	char symbol[CLI_SYMBOL_MAX];

	if (ev->missed) {
		if (o->json)
			printf("{\"missed\": %" PRIu64 "}\n", ev->missed);
		else
			printf("-- missed %" PRIu64 " access%s: this tail fell behind idsrd --\n",
			       ev->missed, ev->missed == 1 ? "" : "es");
		return;
	}
	if (o->syms)
		a.symbol = cli_symbol_text(o->syms, a.pc, ev->slide, symbol, sizeof(symbol));
	if (a.rule > 0 && ev->policy_hash && *ev->policy_hash)
		cli_rules_name(tail_live_rules, ev->policy_hash, &a);
	cli_print_access(stdout, &a, o->json);
}

static int tail_follow(const struct tail_opts *o, const struct filter *f)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__StatusRequest sreq = IDSR__V1__STATUS_REQUEST__INIT;
	Idsr__V1__Filter filter = IDSR__V1__FILTER__INIT;
	Idsr__V1__Frame frame = IDSR__V1__FRAME__INIT, *reply;
	struct tail_seen *seen = NULL;
	struct frame_reader reader;
	sqlite3 *names_db = NULL;
	const char *from;
	char *db = NULL, why[512];
	size_t nseen = 0;
	int64_t since;
	int fd, rc = CLI_ERROR;

	if (cli_control_connect("tail", cli_control_path(o->control), &fd) < 0)
		return CLI_ERROR;
	/* The daemon's database holds the rows before the stream. */
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_STATUS;
	req.status = &sreq;
	if (cli_control_call("tail", fd, &req, &reply) < 0)
		goto out;
	if (reply->reply->ok && reply->reply->status)
		db = strdup(o->db ? o->db : reply->reply->status->db);
	frame_free(reply);
	if (!db) {
		cli_error("tail: idsrd did not say where its database is");
		goto out;
	}

	filter.boot_id = (uint64_t)o->spec.boot_id;
	filter.vm_name = (char *)(o->spec.vm_name ? o->spec.vm_name : "");
	filter.has_vcpu = o->spec.vcpu >= 0;
	filter.vcpu = filter.has_vcpu ? (uint32_t)o->spec.vcpu : 0;
	filter.key_pattern = o->regs ? o->regs : (char *)"";
	filter.direction = (uint32_t)o->spec.direction;
	filter.has_pc = o->spec.has_pc;
	filter.pc_lo = o->spec.pc_lo;
	filter.pc_hi = o->spec.pc_hi;
	filter.action = (uint32_t)o->spec.action;
	req = (Idsr__V1__ControlRequest)IDSR__V1__CONTROL_REQUEST__INIT;
	req.protocol = IDSR_PROTOCOL_VERSION;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_SUBSCRIBE;
	req.subscribe = &filter;
	frame.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	frame.control = &req;
	since = db_now_ns() - 1000000000;
	if (frame_reader_init(&reader) < 0 || frame_send(fd, &frame) < 0) {
		cli_error("tail: sending the subscription to idsrd: %s", strerror(errno));
		goto out;
	}
	/* One reader for the reply and the events behind it. */
	if (frame_recv(fd, &reader, &reply) < 0 || reply->body_case != IDSR__V1__FRAME__BODY_REPLY) {
		cli_error("tail: idsrd did not answer the subscription");
		goto out_reader;
	}
	if (!reply->reply->ok) {
		cli_error("tail: idsrd: %s", reply->reply->message);
		frame_free(reply);
		goto out_reader;
	}
	frame_free(reply);
	if (!(from = tail_read_path(db, o)))
		goto out_reader;
	/* A handle of its own for naming rules as events come (tail_database's is closed). */
	if (db_open(from, DB_READONLY, &names_db, why, sizeof(why)) == 0)
		tail_live_rules = cli_rules_new(names_db);
	if (tail_database(from, o, f, since, &seen, &nseen) < 0)
		goto out_reader;
	for (;;) {
		Frame *ev;
		int r = frame_recv(fd, &reader, &ev);

		if (r < 0) {
			cli_error("tail: idsrd closed the stream (%s): it stopped or restarted",
				  r == -ECONNRESET ? "end of connection" : strerror(-r));
			break;
		}
		if (ev->body_case == IDSR__V1__FRAME__BODY_EVENT && !tail_repeat(seen, nseen, ev->event))
			tail_print_event(o, ev->event);
		frame_free(ev);
	}
out_reader:
	frame_reader_free(&reader);
out:
	cli_rules_free(tail_live_rules);
	tail_live_rules = NULL;
	if (names_db)
		db_close(names_db);
	free(seen);
	free(db);
	close(fd);
	return rc;
}

int tail_main(int argc, char **argv)
{
	struct tail_opts o = { 0 };
	struct filter *f = NULL;
	char why[512];
	int rc = CLI_ERROR;

	if (cli_wants_help(argc, argv, tail_usage))
		return CLI_OK;
	if (tail_parse_args(argc, argv, &o) < 0)
		goto out;
	/* The same filter the daemon compiles: a bad --reg fails here, before any output. */
	if (filter_new(&o.spec, &f, why, sizeof(why)) < 0) {
		cli_error("tail: %s", why);
		goto out;
	}
	if (o.follow) {
		struct sigaction sa = { .sa_handler = tail_on_signal };

		setvbuf(stdout, NULL, _IOLBF, 0);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_DFL);
		rc = tail_follow(&o, f);
	} else {
		const char *from = tail_read_path(o.trace.path, &o);

		rc = from && tail_database(from, &o, f, 0, NULL, NULL) == 0 ? CLI_OK : CLI_ERROR;
	}
out:
	filter_free(f);
	symbols_free(o.syms);
	free(o.regs);
	return rc;
}
