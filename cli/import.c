/* SPDX-License-Identifier: MIT */
/* idsrctl import: makes a finished boot of a recording made elsewhere, in one transaction. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "import.h"
#include "regnames.h"

static const char import_usage[] =
	"Usage: idsrctl import --format m1n1|csv|jsonl FILE [--db FILE] [--impl NAME]\n"
	"                      [--vm-name NAME] [--timebase-hz HZ] [--all] [--lenient] [--json]\n"
	"\n"
	"Makes a finished boot of a recording made elsewhere and prints its boot id. It\n"
	"can then be replayed into a VM (idsrctl replay DB:BOOT), learnt into a policy\n"
	"(idsrctl policy learn DB:BOOT), shown and diffed like any boot.\n"
	"\n"
	"  --format m1n1   the log of m1n1's hypervisor: its sysreg trap lines (Pass:, Shadow:,\n"
	"                  Skip: mrs/msr) become accesses at EL1 without PCs; other lines are counted\n"
	"  --format csv    a header naming the contract columns (vcpu, seq, key or reg, pc, el,\n"
	"                  is_write or dir, value, action, rule, ts_ns), then one access a line\n"
	"  --format jsonl  one JSON object an access with those names (idsrctl show --json-lines)\n"
	"  --db FILE       the trace database to add the boot to (default: the default trace)\n"
	"  --impl NAME     the register names' implementation (m1n1: apple)\n"
	"  --vm-name NAME  the boot's vm name (default: the file's name)\n"
	"  --timebase-hz HZ  m1n1: the frequency of its [0x...] counter (default 24000000)\n"
	"  --all           m1n1: keep the registers outside the IDSR space it traps too\n"
	"                  (debug registers, MDSCR_EL1, cache maintenance)\n"
	"  --lenient       skip and count lines that look like accesses but do not parse\n"
	"  --json          the outcome as one JSON object\n"
	"\n"
	"Nothing is written unless the whole file reads: a bad line is an error naming\n"
	"FILE:LINE:COLUMN. A database that a running idsrd writes is refused (import into\n"
	"another file, which idsrctl replay reads as well).\n"
	"\n"
	"Exit: 0 imported, 2 error.\n";

static int import_cmp_vcpu_seq(const void *a, const void *b)
{
	const struct import_row *x = a, *y = b;

	if (x->vcpu != y->vcpu)
		return x->vcpu < y->vcpu ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Gives rows without seqs their per-vCPU order, rows without times their file
 * order (start_ns + 1 ns a row), and checks that each vCPU's seqs run 0, 1, 2
 * ... as idsrd records them: replay streams a vCPU by seq.
 */
static int import_check_rows(struct import_set *s, const struct import_opts *o, int64_t start_ns)
{
	uint64_t *next = NULL;
	uint32_t nv = 0;

	for (size_t i = 0; i < s->n; i++)	/* the readers keep vCPUs under 4096 */
		if (s->rows[i].vcpu >= nv)
			nv = s->rows[i].vcpu + 1;
	if (!s->has_seq && !(next = calloc(nv ? nv : 1, sizeof(*next))))
		return cli_error("import: out of memory"), -1;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->has_ts)
			s->rows[i].ts_ns = start_ns + (int64_t)i;
		else if (s->ts_relative)
			s->rows[i].ts_ns += start_ns;
		if (!s->has_seq)
			s->rows[i].seq = next[s->rows[i].vcpu]++;
	}
	free(next);
	/* PCs all 0 are none: what an export of a boot without PCs holds. */
	if (s->has_pcs) {
		size_t i = 0;

		while (i < s->n && !s->rows[i].pc)
			i++;
		s->has_pcs = i < s->n;
	}
	qsort(s->rows, s->n, sizeof(*s->rows), import_cmp_vcpu_seq);
	for (size_t i = 0; i < s->n; i++) {
		const struct import_row *r = &s->rows[i], *prev = i ? &s->rows[i - 1] : NULL;
		uint64_t want = prev && prev->vcpu == r->vcpu ? prev->seq + 1 : 0;

		if (prev && prev->vcpu == r->vcpu && prev->seq == r->seq)
			return cli_error("import: %s:%zu: vCPU %u seq %" PRIu64 " again (line %zu has it)",
					 o->file, r->line, r->vcpu, r->seq, prev->line), -1;
		if (r->seq != want)
			return cli_error("import: %s:%zu: vCPU %u seq %" PRIu64 " follows %s%" PRIu64 ": a vCPU's"
					 " seqs run 0, 1, 2, ... with none missing", o->file, r->line, r->vcpu,
					 r->seq, want ? "seq " : "nothing; expected ", want ? want - 1 : 0), -1;
	}
	return 0;
}

/* Writes the boot and its rows in one transaction; *boot_id is the new boot's. */
static int import_write(sqlite3 *db, const struct import_set *s, const struct import_opts *o,
			const char *source, int64_t start_ns, int64_t *boot_id)
{
	sqlite3_stmt *ins = NULL, *boot = NULL;
	uint64_t undefs = 0;
	int64_t end_ns = start_ns;
	uint32_t nv = 0;
	int rc;

	for (size_t i = 0; i < s->n; i++) {
		undefs += s->rows[i].undef;
		if (s->rows[i].vcpu >= nv)
			nv = s->rows[i].vcpu + 1;
		if (s->rows[i].ts_ns > end_ns)
			end_ns = s->rows[i].ts_ns;
	}
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(db, "INSERT INTO boots(id, start_ns, end_ns, vmm, vm_name, impl, vcpus, mode,"
				" end_reason, accesses, undefs, peer_uid, peer_gid, peer_pid, has_pcs, imported_from)"
				" VALUES ((SELECT coalesce(max(id), 0) + 1 FROM boots), ?, ?, ?, ?, ?, ?, 'imported',"
				" 'imported', ?, ?, ?, ?, ?, ?, ?)", -1, &boot, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(boot, 1, start_ns);
	sqlite3_bind_int64(boot, 2, end_ns);
	sqlite3_bind_text(boot, 3, s->recorder, -1, SQLITE_STATIC);
	sqlite3_bind_text(boot, 4, o->vm_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(boot, 5, o->impl, -1, SQLITE_STATIC);
	sqlite3_bind_int64(boot, 6, nv);
	sqlite3_bind_int64(boot, 7, (int64_t)s->n);
	sqlite3_bind_int64(boot, 8, (int64_t)undefs);
	sqlite3_bind_int64(boot, 9, getuid());
	sqlite3_bind_int64(boot, 10, getgid());
	sqlite3_bind_int64(boot, 11, getpid());
	sqlite3_bind_int(boot, 12, s->has_pcs);
	sqlite3_bind_text(boot, 13, source, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(boot)) != SQLITE_DONE)
		goto fail;
	*boot_id = sqlite3_last_insert_rowid(db);
	rc = sqlite3_prepare_v2(db, "INSERT INTO accesses(boot_id, vcpu, seq, ts_ns, key, pc, el, is_write, value,"
				" action, rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &ins, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < s->n; i++) {
		const struct import_row *r = &s->rows[i];

		sqlite3_bind_int64(ins, 1, *boot_id);
		sqlite3_bind_int64(ins, 2, r->vcpu);
		sqlite3_bind_int64(ins, 3, (int64_t)r->seq);
		sqlite3_bind_int64(ins, 4, r->ts_ns);
		sqlite3_bind_int64(ins, 5, r->key);
		sqlite3_bind_int64(ins, 6, (int64_t)r->pc);
		sqlite3_bind_int(ins, 7, r->el);
		sqlite3_bind_int(ins, 8, r->is_write);
		sqlite3_bind_int64(ins, 9, (int64_t)r->value);
		sqlite3_bind_text(ins, 10, r->undef ? "undef" : "emulate", -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 11, r->rule);
		if ((rc = sqlite3_step(ins)) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(boot);
	if ((rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) == SQLITE_OK)
		return 0;
	ins = boot = NULL;
fail:
	cli_error("import: writing to %s: %s (nothing was imported)", o->db, sqlite3_errmsg(db));
	sqlite3_finalize(ins);
	sqlite3_finalize(boot);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * A running idsrd hands out boot ids from its own count: a boot added behind
 * its back would collide with its next one. So the import takes the
 * database's writer lock (db_lock_writer, which idsrd holds while it runs)
 * for as long as it writes, and a database an idsrd has is refused.
 */
static int import_lock(const struct import_opts *o, int *fd)
{
	char holder[64], why[1024];

	snprintf(holder, sizeof(holder), "idsrctl import pid %d", (int)getpid());
	if (db_lock_writer(o->db, holder, fd, why, sizeof(why)) == 0)
		return 0;
	return cli_error("import: %s (idsrd hands out its boot ids itself: import into another file"
			 " with --db FILE, which idsrctl replay reads as well)", why), -1;
}

static bool import_parse_args(int argc, char **argv, struct import_opts *o)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "db", required_argument, NULL, 'd' },
		{ "impl", required_argument, NULL, 'i' }, { "vm-name", required_argument, NULL, 'n' },
		{ "timebase-hz", required_argument, NULL, 't' }, { "all", no_argument, NULL, 'a' },
		{ "lenient", no_argument, NULL, 'l' }, { "json", no_argument, NULL, 'j' }, { 0 } };
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->format = optarg; break;
		case 'd': o->db = optarg; break;
		case 'i': o->impl = optarg; break;
		case 'n': o->vm_name = optarg; break;
		case 't':
			errno = 0;
			o->timebase_hz = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->timebase_hz >= 1) || optarg[0] < '0' || optarg[0] > '9') {
				cli_error("import: --timebase-hz: `%s' is not a frequency in Hz (e.g. 24000000)", optarg);
				return false;
			}
			break;
		case 'a': o->all = true; break;
		case 'l': o->lenient = true; break;
		case 'j': o->json = true; break;
		default:
			fputs("Try `idsrctl import --help'.\n", stderr);
			return false;
		}
	}
	if (!o->format) {
		cli_error("import: which format? give --format m1n1, csv or jsonl");
		return false;
	}
	if (strcmp(o->format, "m1n1") && strcmp(o->format, "csv") && strcmp(o->format, "jsonl")) {
		cli_error("import: --format: `%s' is not a format (m1n1, csv, jsonl)", o->format);
		return false;
	}
	if (optind != argc - 1) {
		cli_error("import: %s (try idsrctl import --help)",
			  optind == argc ? "which file? give the recording to import" : "give one file");
		return false;
	}
	if (o->impl && !regnames_impl_known(o->impl)) {
		cli_error("import: --impl: `%s' is not an implementation of the register table"
			  " (idsrctl decode --help lists them)", o->impl);
		return false;
	}
	o->file = argv[optind];
	return true;
}

static void import_report(const struct import_opts *o, const struct import_set *s, int64_t boot_id)
{
	if (o->json) {
		struct json j;

		json_begin(&j, stdout);
		json_int(&j, "boot_id", boot_id);
		json_str(&j, "db", o->db);
		json_str(&j, "format", o->format);
		json_str(&j, "file", o->file);
		json_uint(&j, "accesses", s->n);
		json_bool(&j, "has_pcs", s->has_pcs);
		json_uint(&j, "lines", s->lines);
		json_uint(&j, "other_lines", s->other_lines);
		json_uint(&j, "outside_idsr", s->outside_idsr);
		json_uint(&j, "bad_lines", s->bad_lines);
		json_end(&j);
		return;
	}
	printf("%" PRId64 "\n", boot_id);
	fflush(stdout);		/* the id first, then the summary: scripts read the first line */
	fprintf(stderr, "idsrctl: import: boot %" PRId64 " in %s: %zu access%s from %" PRIu64 " lines of %s",
		boot_id, o->db, s->n, s->n == 1 ? "" : "es", s->lines, o->file);
	if (s->other_lines)
		fprintf(stderr, "; %" PRIu64 " other line%s skipped", s->other_lines, s->other_lines == 1 ? "" : "s");
	if (s->outside_idsr)
		fprintf(stderr, "; %" PRIu64 " access%s outside the IDSR space skipped (--all keeps them)",
			s->outside_idsr, s->outside_idsr == 1 ? "" : "es");
	if (!s->has_pcs)
		fprintf(stderr, "; no PCs recorded");
	fputc('\n', stderr);
	if (s->bad_lines)
		fprintf(stderr, "idsrctl: import: %" PRIu64 " line%s that did not parse skipped (--lenient);"
			" the first: %s\n", s->bad_lines, s->bad_lines == 1 ? "" : "s", s->first_bad);
}

int import_main(int argc, char **argv)
{
	struct import_opts o = { .timebase_hz = 24e6 };
	struct import_set s = { 0 };
	char source[PATH_MAX + 16], why[768], abs[PATH_MAX];
	int64_t start_ns = db_now_ns(), boot_id = 0;
	const char *slash;
	sqlite3 *db = NULL;
	int ret = CLI_ERROR, rc, lock_fd = -1;
	FILE *f;

	if (cli_wants_help(argc, argv, import_usage))
		return CLI_OK;
	if (!import_parse_args(argc, argv, &o))
		return CLI_ERROR;
	if (!o.db)
		o.db = cli_default_db();
	if (!o.impl && !strcmp(o.format, "m1n1"))
		o.impl = "apple";
	slash = strrchr(o.file, '/');
	if (!o.vm_name)
		o.vm_name = slash ? slash + 1 : o.file;
	if (!(f = fopen(o.file, "r")))
		return cli_error("import: %s: %s", o.file, strerror(errno));
	if (!strcmp(o.format, "m1n1"))
		rc = import_read_m1n1(f, &o, &s);
	else if (!strcmp(o.format, "csv"))
		rc = import_read_csv(f, &o, &s);
	else
		rc = import_read_jsonl(f, &o, &s);
	if (rc == 0 && ferror(f)) {
		cli_error("import: reading %s: %s", o.file, strerror(errno));
		rc = -1;
	}
	fclose(f);
	if (rc < 0)
		goto out;
	if (!s.n) {
		cli_error("import: %s: no accesses in its %" PRIu64 " lines (is it a %s file?); nothing was imported",
			  o.file, s.lines, o.format);
		goto out;
	}
	if (import_check_rows(&s, &o, start_ns) < 0 || import_lock(&o, &lock_fd) < 0)
		goto out;
	if (db_open(o.db, DB_CREATE, &db, why, sizeof(why)) < 0) {
		cli_error("import: %s", why);
		goto out;
	}
	snprintf(source, sizeof(source), "%s:%s", o.format, realpath(o.file, abs) ? abs : o.file);
	if (import_write(db, &s, &o, source, start_ns, &boot_id) < 0)
		goto out;
	import_report(&o, &s, boot_id);
	ret = CLI_OK;
out:
	db_close(db);
	if (lock_fd >= 0)
		close(lock_fd);
	free(s.rows);
	return ret;
}
