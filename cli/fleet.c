/* SPDX-License-Identifier: MIT */
/* A reading command's boot in ClickHouse (URL[#BOOT_UID]): picked, then pulled into a private trace file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "fleet_pull.h"

/*
 * One reader, no second decoder: the boot's rows are pulled (lib/fleet_pull.c)
 * into a private file of this user's, as cli/trace_copy.c does with what idsrd
 * sends, and the command reads that file as it reads any trace, through
 * replay/access_rows.c. So `show URL#UID` prints what `show TRACE:ID` does of
 * the boot pushed from TRACE (its id, names, rules), and checks it the same way.
 */

#define FLEET_LIST_MAX 20	/* boots named in a "which one?" message */

static const char *fleet_credentials(const struct cli_trace_arg *t)
{
	return t->fleet ? t->fleet->credentials : NULL;
}

static int fleet_open(const char *cmd, const struct cli_trace_arg *t, struct pull *p)
{
	char why[1024];
	int rc = pull_open(p, t->url, fleet_credentials(t), why, sizeof(why));

	if (rc < 0)
		cli_error("%s: %s", cmd, why);
	return rc;
}

/* What selected the boots, for messages: "#0c5e1234, --vm a". */
static const char *fleet_selection(const struct cli_trace_arg *t, char *buf, size_t len)
{
	const struct cli_fleet *f = t->fleet;
	size_t n = 0;

	buf[0] = '\0';
	if (*t->uid)
		n += (size_t)snprintf(buf + n, len - n, "#%s", t->uid);
	if (f && f->vm && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%s--vm %s", n ? ", " : "", f->vm);
	if (f && f->kernel && n < len)
		snprintf(buf + n, len - n, "%s--kernel %s", n ? ", " : "", f->kernel);
	return buf;
}

static void fleet_free(struct push_boot *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		push_boot_free(&b[i]);
	free(b);
}

static int fleet_find(const char *cmd, const struct cli_trace_arg *t, struct pull *p, size_t max, bool latest,
		      struct push_boot **boots, size_t *n)
{
	struct pull_select sel = { .uid = *t->uid ? t->uid : NULL, .latest = latest };
	char why[1024];

	if (t->fleet) {
		sel.vm = t->fleet->vm;
		sel.kernel = t->fleet->kernel;
	}
	if (pull_find(p, &sel, max, boots, n, why, sizeof(why)) < 0)
		return cli_error("%s: %s", cmd, why), -EIO;
	return 0;
}

/* The one boot t names: its uid, or the selectors' one match, or their
 * newest with --latest; several are listed and refused (exit 2). */
static int fleet_pick(const char *cmd, const struct cli_trace_arg *t, struct pull *p, struct push_boot *out)
{
	struct push_boot *b;
	char sel[300];
	size_t n;

	if (fleet_find(cmd, t, p, FLEET_LIST_MAX + 1, t->fleet && t->fleet->latest, &b, &n) < 0)
		return -EIO;
	fleet_selection(t, sel, sizeof(sel));
	if (n == 0) {
		cli_error("%s: %s: no boot there matches %s (idsrctl boots %s lists them)", cmd, t->url,
			  *sel ? sel : "(none named)", t->url);
		free(b);
		return -ENOENT;
	}
	if (n > 1) {
		cli_error("%s: %s%zu boots in %s match %s: name one as URL#BOOT_UID, or add --latest for the "
			  "newest:", cmd, n > FLEET_LIST_MAX ? "more than " : "", n > FLEET_LIST_MAX ? n - 1 : n,
			  t->url, *sel ? sel : "(every boot: none named)");
		for (size_t i = 0; i < n && i < FLEET_LIST_MAX; i++) {
			char when[32];
			time_t s = (time_t)(b[i].start_ns / 1000000000);
			struct tm tm;

			localtime_r(&s, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			fprintf(stderr, "  %s  %s  host %s  boot %" PRId64 "  vm %s  kernel %s  %" PRId64 " accesses\n",
				b[i].uid, when, b[i].host ? b[i].host : "-", b[i].id,
				b[i].vm_name && *b[i].vm_name ? b[i].vm_name : "-",
				b[i].kernel && *b[i].kernel ? b[i].kernel : "-", b[i].accesses);
		}
		if (n > FLEET_LIST_MAX)
			fprintf(stderr, "  … and more: idsrctl boots %s lists them all\n", t->url);
		fleet_free(b, n);
		return -EEXIST;
	}
	*out = b[0];
	free(b);
	return 0;
}

/* Pulls b into the trace at path as boot id (one transaction). */
static int fleet_pull_into(const char *cmd, struct pull *p, const struct push_boot *b, sqlite3 *db, int64_t id,
			   int64_t *rows)
{
	char why[1024];
	int rc;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return cli_error("%s: %s: %s", cmd, cli_db_path(db), sqlite3_errmsg(db)), -EIO;
	rc = pull_boot(p, b, db, id, rows, why, sizeof(why));
	if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, sizeof(why), "%s: %s", cli_db_path(db), sqlite3_errmsg(db));
		rc = -EIO;
	}
	if (rc < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		/* the server's messages name it already */
		if (!strncmp(why, "http", 4))
			cli_error("%s: %s", cmd, why);
		else
			cli_error("%s: %s: %s", cmd, p->url, why);
	}
	return rc;
}

/* A new private trace file: created, one file (no -wal beside it). */
static const char *fleet_new_copy(const char *cmd, const char *name, sqlite3 **db)
{
	char why[512];
	const char *path = cli_trace_copy_file(cmd, name);

	if (!path)
		return NULL;
	if (db_open(path, DB_CREATE | DB_PRIVATE, db, why, sizeof(why)) < 0)
		return cli_error("%s: %s", cmd, why), NULL;
	sqlite3_exec(*db, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF", NULL, NULL, NULL);
	return path;
}

/* A listing's copy: the boots rows only, oldest first, each boot's own id kept aside. */
static const char *fleet_copy_list(const char *cmd, const struct cli_trace_arg *t, struct pull *p)
{
	struct push_boot *b;
	const char *path;
	char why[1024];
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	size_t n;
	int rc = -EIO;

	if (fleet_find(cmd, t, p, 0, t->fleet && t->fleet->latest, &b, &n) < 0)
		return NULL;
	if (!(path = fleet_new_copy(cmd, NULL, &db))) {
		fleet_free(b, n);
		return NULL;
	}
	if (sqlite3_exec(db, "ALTER TABLE boots ADD COLUMN trace_boot_id INTEGER; BEGIN", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db, "UPDATE boots SET trace_boot_id = ? WHERE id = ?", -1, &st, NULL)) {
		snprintf(why, sizeof(why), "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t id = (int64_t)(n - i);

		if (pull_boot_row(db, &b[i], id, why, sizeof(why)) < 0)
			goto out;
		sqlite3_bind_int64(st, 1, b[i].id);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, sizeof(why), "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		cli_error("%s: %s: %s", cmd, t->url, why);
	sqlite3_finalize(st);
	db_close(db);
	fleet_free(b, n);
	return rc < 0 ? NULL : path;
}

const char *cli_fleet_copy(const char *cmd, const struct cli_trace_arg *t, enum cli_trace_need need)
{
	struct push_boot b;
	struct pull p;
	const char *path = NULL;
	sqlite3 *db;
	int64_t rows;

	if (fleet_open(cmd, t, &p) < 0)
		return NULL;
	if (need == CLI_TRACE_BOOTS) {
		path = fleet_copy_list(cmd, t, &p);
	} else if (fleet_pick(cmd, t, &p, &b) == 0) {
		if ((path = fleet_new_copy(cmd, b.uid, &db))) {
			char label[1100];

			snprintf(label, sizeof(label), "%s#%s", t->url, b.uid);
			cli_trace_copy_label(path, label);
			if (fleet_pull_into(cmd, &p, &b, db, b.id, &rows) < 0)
				path = NULL;
			db_close(db);
		}
		push_boot_free(&b);
	}
	pull_close(&p);
	return path;
}

/* ---- a boot kept for replay, and idsrctl pull ---------------------------- */

/* The boot with boot_uid uid in the trace at path: its id, 0 if none, <0 if unreadable. */
static int64_t fleet_local_id(sqlite3 *db, const char *uid)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (sqlite3_prepare_v2(db, "SELECT id FROM boots WHERE boot_uid = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

static int fleet_mkdirs(const char *cmd, char *dir)
{
	for (char *s = dir + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			cli_error("%s: cannot make %s: %s", cmd, dir, strerror(errno));
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cli_error("%s: cannot make %s: %s", cmd, dir, strerror(errno)), -EIO;
	return 0;
}

int cli_fleet_cached(const char *cmd, const struct cli_trace_arg *t, char *path, size_t len, int64_t *boot_id)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[4096], tmp[4200], why[512];
	struct push_boot b;
	struct pull p;
	sqlite3 *db;
	int64_t rows;
	int rc;

	if (xdg && *xdg)
		snprintf(dir, sizeof(dir), "%s/idsrd/fleet", xdg);
	else
		snprintf(dir, sizeof(dir), "%s/.cache/idsrd/fleet", home && *home ? home : "/tmp");
	/* a whole boot_uid names a boot for good: kept, it needs no server */
	if (strlen(t->uid) == 36) {
		snprintf(path, len, "%s/%s.db", dir, t->uid);
		if (db_open(path, DB_READONLY, &db, why, sizeof(why)) == 0) {
			*boot_id = fleet_local_id(db, t->uid);
			db_close(db);
			if (*boot_id > 0)
				return 0;
		}
	}
	if (fleet_open(cmd, t, &p) < 0)
		return -EIO;
	rc = fleet_pick(cmd, t, &p, &b);
	if (rc < 0)
		goto out_pull;
	snprintf(path, len, "%s/%s.db", dir, b.uid);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if ((rc = fleet_mkdirs(cmd, dir)) < 0)
		goto out_boot;
	unlink(tmp);
	if (db_open(tmp, DB_CREATE, &db, why, sizeof(why)) < 0) {
		cli_error("%s: %s", cmd, why);
		rc = -EIO;
		goto out_boot;
	}
	sqlite3_exec(db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	rc = fleet_pull_into(cmd, &p, &b, db, b.id, &rows);
	db_close(db);
	/* whole or not at all: another replay of it may read the name at any time */
	if (rc == 0 && rename(tmp, path) < 0) {
		cli_error("%s: %s: %s", cmd, path, strerror(errno));
		rc = -EIO;
	}
	if (rc < 0)
		unlink(tmp);
	*boot_id = b.id;
out_boot:
	push_boot_free(&b);
out_pull:
	pull_close(&p);
	return rc;
}

/* ---- idsrctl pull -------------------------------------------------------- */

static const char pull_usage[] =
	"Usage: idsrctl pull URL[#BOOT_UID] -o FILE [--vm NAME] [--kernel K] [--latest]\n"
	"                    [--credentials FILE]\n"
	"\n"
	"Writes a boot pushed to ClickHouse into the trace database FILE (made if missing):\n"
	"its boots row with its boot_uid and host, every access, the policy versions it\n"
	"ran under. It keeps its id when FILE has no boot of that id, else takes the next\n"
	"free one; a boot FILE holds already is not written again. idsrctl push sends it\n"
	"back as `already there'. Prints FILE:ID.\n"
	"\n"
	CLI_FLEET_USAGE
	"  -o, --output FILE  the trace database to write (not one a running idsrd writes)\n";

int pull_main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_FLEET_OPTIONS, { "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ 0 } };
	struct cli_fleet fleet = { 0 };
	struct cli_trace_arg t;
	const char *out = NULL;
	char why[1024], holder[64];
	struct push_boot b;
	struct pull p;
	int64_t id, rows;
	sqlite3 *db;
	int c, fd, rc = CLI_ERROR;

	if (cli_wants_help(argc, argv, pull_usage))
		return CLI_OK;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (!cli_fleet_option(c, optarg, &fleet))
			return fputs("Try `idsrctl pull --help'.\n", stderr), CLI_ERROR;
	}
	if (argc - optind != 1)
		return cli_error("pull: expected one URL[#BOOT_UID], got %d (try idsrctl pull --help)", argc - optind);
	if (!out)
		return cli_error("pull: no -o FILE: name the trace database to write the boot into");
	if (cli_trace_arg("pull", argv[optind], NULL, NULL, &t) < 0)
		return CLI_ERROR;
	if (t.source != CLI_TRACE_FROM_URL)
		return cli_error("pull: `%s' is not a URL: give http://HOST:PORT/DATABASE[#BOOT_UID]", argv[optind]);
	cli_trace_fleet("pull", &t, &fleet);
	snprintf(holder, sizeof(holder), "idsrctl pull pid %d", (int)getpid());
	if (db_lock_writer(out, holder, &fd, why, sizeof(why)) < 0)
		return cli_error("pull: %s (pull into another file: idsrd hands out its boot ids itself)", why);
	if (fleet_open("pull", &t, &p) < 0)
		goto out_lock;
	if (fleet_pick("pull", &t, &p, &b) < 0)
		goto out_pull;
	if (db_open(out, DB_CREATE, &db, why, sizeof(why)) < 0) {
		cli_error("pull: %s", why);
		goto out_boot;
	}
	id = fleet_local_id(db, b.uid);
	if (id > 0) {
		printf("%s:%" PRId64 "\n", out, id);
		fprintf(stderr, "%s already holds boot %s as boot %" PRId64 ": nothing written\n", out, b.uid, id);
		rc = CLI_OK;
		goto out_db;
	}
	id = b.id;
	{
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM boots WHERE id = ?1),"
				       " coalesce(max(id), 0) + 1 FROM boots", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, b.id);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0))
				id = sqlite3_column_int64(st, 1);
			sqlite3_finalize(st);
		}
	}
	if (fleet_pull_into("pull", &p, &b, db, id, &rows) == 0) {
		printf("%s:%" PRId64 "\n", out, id);
		fprintf(stderr, "%s#%s -> %s:%" PRId64 ": %" PRId64 " rows (boot %" PRId64 " of host %s)\n", t.url,
			b.uid, out, id, rows, b.id, b.host ? b.host : "-");
		rc = CLI_OK;
	}
out_db:
	db_close(db);
out_boot:
	push_boot_free(&b);
out_pull:
	pull_close(&p);
out_lock:
	close(fd);
	return rc;
}
