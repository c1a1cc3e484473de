/* SPDX-License-Identifier: MIT */
/* idsrctl status: what the running daemon is doing. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "frame.h"

static const char status_usage[] =
	"Usage: idsrctl status [--control PATH] [--json]\n"
	"\n"
	"Shows the running idsrd: version, uptime, sockets, database and its size, boots in\n"
	"progress with their rates, the store queue, rows written and rows dropped (0 unless\n"
	"the disk failed or the queue overflowed), the live policy's hash and, with\n"
	"idsrd --push, the boots queued for ClickHouse and the last failure to send them.\n"
	"\n"
	"  --control PATH   the daemon's control socket (default $IDSRD_CONTROL or idsrd's default)\n"
	"  --json           one JSON object\n";

/* "push": idsrd --push's queue and its last failure, or null without it. */
static void status_push_json(const Idsr__V1__PushStatus *p)
{
	struct json pj = { .f = stdout, .first = true };

	fputs(", \"push\": ", stdout);
	if (!p) {
		fputs("null", stdout);
		return;
	}
	fputc('{', stdout);
	json_str(&pj, "url", p->url);
	json_uint(&pj, "pending", p->pending);
	json_uint(&pj, "waiting", p->waiting);
	json_uint(&pj, "boots_pushed", p->boots_pushed);
	json_uint(&pj, "rows_pushed", p->rows_pushed);
	json_uint(&pj, "failures", p->failures);
	json_str(&pj, "last_error", p->last_error);
	json_int(&pj, "last_error_ns", p->last_error_ns);
	json_int(&pj, "next_try_ns", p->next_try_ns);
	json_uint(&pj, "backoff_ms", p->backoff_ms);
	json_uint(&pj, "boot_id", p->boot_id);
	json_uint(&pj, "skipped", p->skipped);
	fputc('}', stdout);
}

static void status_push_human(const Idsr__V1__PushStatus *p)
{
	struct timespec ts;
	int64_t now;
	char t[32];

	if (!p)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	printf("  push:         %s: %" PRIu64 " boots pending, %" PRIu64 " waiting for their VMM to exit;"
	       " %" PRIu64 " boots (%" PRIu64 " rows) pushed since start\n", p->url, p->pending, p->waiting,
	       p->boots_pushed, p->rows_pushed);
	if (p->boot_id)
		printf("                sending boot %" PRIu64 "\n", p->boot_id);
	if (p->failures)
		printf("                FAILING: %" PRIu64 " tries failed; next in %s (backoff %.0f s)\n", p->failures,
		       cli_duration(p->next_try_ns > now ? p->next_try_ns - now : 0, t, sizeof(t)),
		       (double)p->backoff_ms / 1000.0);
	if (*p->last_error)
		printf("                last error (%s ago): %s\n",
		       cli_duration(now > p->last_error_ns ? now - p->last_error_ns : 0, t, sizeof(t)), p->last_error);
	if (p->skipped)
		printf("                %" PRIu64 " boots not tried again until idsrd restarts: see its log\n", p->skipped);
}

static void status_print_json(const Idsr__V1__Status *st)
{
	struct json j;

	json_begin(&j, stdout);
	json_str(&j, "version", st->version);
	json_int(&j, "uptime_ns", st->uptime_ns);
	json_str(&j, "socket", st->socket);
	json_str(&j, "control", st->control);
	json_str(&j, "db", st->db);
	json_uint(&j, "db_bytes", st->db_bytes);
	json_uint(&j, "queue_depth", st->queue_depth);
	json_uint(&j, "queue_high_water", st->queue_high_water);
	json_uint(&j, "rows_written", st->rows_written);
	json_uint(&j, "rows_dropped", st->rows_dropped);
	json_str(&j, "policy_hash", st->policy_hash);
	json_str(&j, "policy_source", st->policy_source);
	json_uint(&j, "boots_total", st->boots_total);
	json_bool(&j, "replay_armed", st->replay_armed);
	json_uint(&j, "subscribers", st->subscribers);
	json_uint(&j, "connections", st->connections);
	json_uint(&j, "fast_path_connections", st->fast_path_connections);
	json_uint(&j, "fast_path_records", st->fast_path_records);
	json_uint(&j, "fast_path_ring_full", st->fast_path_ring_full);
	json_uint(&j, "fast_path_dropped", st->fast_path_dropped);
	status_push_json(st->push);
	fputs(", \"boots\": [", stdout);
	for (size_t i = 0; i < st->n_boots; i++) {
		const Idsr__V1__BootStatus *b = st->boots[i];
		struct json bj;

		if (i)
			fputs(", ", stdout);
		bj.f = stdout;
		bj.first = true;
		fputc('{', stdout);
		json_uint(&bj, "boot_id", b->boot_id);
		json_str(&bj, "vm_name", b->vm_name);
		json_str(&bj, "vmm", b->vmm);
		json_uint(&bj, "vcpus", b->vcpus);
		json_uint(&bj, "connections", b->connections);
		json_uint(&bj, "accesses", b->accesses);
		json_uint(&bj, "undefs", b->undefs);
		json_uint(&bj, "rows_dropped", b->rows_dropped);
		json_str(&bj, "mode", b->mode == IDSR__V1__MODE__REPLAY ? "replay" : "live");
		json_uint(&bj, "replay_of", b->replay_of);
		json_int(&bj, "start_ns", b->start_ns);
		json_double(&bj, "rate", b->rate);
		json_str(&bj, "impl", b->impl);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void status_print_human(const Idsr__V1__Status *st)
{
	char up[32];

	printf("idsrd %s, up %s\n", st->version, cli_duration(st->uptime_ns, up, sizeof(up)));
	printf("  VMM socket:   %s\n  control:      %s\n", st->socket, st->control);
	if (st->db_bytes < 1048576)
		printf("  database:     %s (%.1f KiB with its WAL)\n", st->db, (double)st->db_bytes / 1024.0);
	else
		printf("  database:     %s (%.1f MiB with its WAL)\n", st->db, (double)st->db_bytes / 1048576.0);
	printf("  policy:       %s (%s)\n", st->policy_hash, st->policy_source);
	printf("  rows:         %" PRIu64 " written, %" PRIu64 " dropped; queue %" PRIu64
	       " (high water %" PRIu64 ")\n", st->rows_written, st->rows_dropped, st->queue_depth,
	       st->queue_high_water);
	if (st->rows_dropped)
		printf("                rows were LOST: the disk failed or the queue overflowed; see idsrd's log\n");
	printf("  connections:  %u VMM, %u subscribers%s\n", st->connections, st->subscribers,
	       st->replay_armed ? "; replay armed" : "");
	printf("  fast path:    %u connections; %" PRIu64 " records taken, %" PRIu64 " full-ring waits, %"
	       PRIu64 " dropped\n", st->fast_path_connections, st->fast_path_records, st->fast_path_ring_full,
	       st->fast_path_dropped);
	status_push_human(st->push);
	printf("  boots:        %zu in progress, %" PRIu64 " since start\n", st->n_boots, st->boots_total);
	for (size_t i = 0; i < st->n_boots; i++) {
		const Idsr__V1__BootStatus *b = st->boots[i];

		printf("    boot %" PRIu64 ": vm `%s' (%s%s%s), %u vCPUs on %u connections, %s, %" PRIu64
		       " accesses (%.0f/s), %" PRIu64 " UNDEF, %" PRIu64 " dropped\n",
		       b->boot_id, b->vm_name, b->vmm, *b->impl ? ", names: " : "", b->impl, b->vcpus,
		       b->connections, b->mode == IDSR__V1__MODE__REPLAY ? "replay" : "live",
		       b->accesses, b->rate, b->undefs, b->rows_dropped);
	}
}

int status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { 0 } };
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__StatusRequest sreq = IDSR__V1__STATUS_REQUEST__INIT;
	const char *control = NULL;
	Idsr__V1__Frame *reply;
	bool json = false;
	int c, fd, rc = CLI_ERROR;

	if (cli_wants_help(argc, argv, status_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'c': control = optarg; break;
		default:
			fprintf(stderr, "%s", status_usage);
			return CLI_ERROR;
		}
	}
	if (optind < argc)
		return cli_error("status: unexpected argument `%s'", argv[optind]);
	if (cli_control_connect("status", cli_control_path(control), &fd) < 0)
		return CLI_ERROR;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_STATUS;
	req.status = &sreq;
	if (cli_control_call("status", fd, &req, &reply) == 0) {
		if (!reply->reply->ok || !reply->reply->status) {
			cli_error("status: idsrd: %s", reply->reply->message);
		} else {
			json ? status_print_json(reply->reply->status) : status_print_human(reply->reply->status);
			rc = CLI_OK;
		}
		frame_free(reply);
	}
	close(fd);
	return rc;
}
