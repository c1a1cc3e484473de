/* SPDX-License-Identifier: MIT */
/* What a reading command's trace argument names: the one parser every reading command uses. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"

static bool trace_all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* URL[#BOOT_UID]: the URL itself is checked when it is opened (ch_open). */
static int trace_url(const char *cmd, const char *arg, const char *db_opt, struct cli_trace_arg *out)
{
	const char *hash = strchr(arg, '#');
	size_t ulen = hash ? (size_t)(hash - arg) : strlen(arg);

	if (db_opt)
		return cli_error("%s: the database is named twice, `%s' and --db %s: give one", cmd, arg, db_opt),
		       -EINVAL;
	if (hash && (strlen(hash + 1) < 8 || strlen(hash + 1) > 36 ||
		     strspn(hash + 1, "0123456789abcdef-") != strlen(hash + 1)))
		return cli_error("%s: `%s': #BOOT_UID takes a boot's boot_uid, or 8 or more of its first "
				 "characters (lower-case hex and -, as idsrctl boots URL lists them)", cmd, hash),
		       -EINVAL;
	if (ulen >= sizeof(out->url) || strlen(arg) >= sizeof(out->path))
		return cli_error("%s: the URL `%.64s…' is too long", cmd, arg), -ENAMETOOLONG;
	memcpy(out->url, arg, ulen);
	out->url[ulen] = '\0';
	snprintf(out->uid, sizeof(out->uid), "%s", hash ? hash + 1 : "");
	snprintf(out->path, sizeof(out->path), "%s", arg);
	out->source = CLI_TRACE_FROM_URL;
	return 0;
}

bool cli_fleet_option(int c, const char *arg, struct cli_fleet *f)
{
	switch (c) {
	case CLI_OPT_VM: f->vm = arg; return true;
	case CLI_OPT_KERNEL: f->kernel = arg; return true;
	case CLI_OPT_LATEST: f->latest = true; return true;
	case CLI_OPT_CREDENTIALS: f->credentials = arg; return true;
	default: return false;
	}
}

int cli_trace_fleet(const char *cmd, struct cli_trace_arg *t, const struct cli_fleet *f)
{
	const char *opt = f->vm ? "--vm" : f->kernel ? "--kernel" : f->latest ? "--latest" :
			  f->credentials ? "--credentials" : NULL;

	t->fleet = f;
	if (opt && t->source != CLI_TRACE_FROM_URL)
		return cli_error("%s: %s is for a boot in ClickHouse: give its URL (http://HOST:PORT/DATABASE)",
				 cmd, opt), -EINVAL;
	return 0;
}

int cli_trace_arg(const char *cmd, const char *arg, const char *db_opt, const char *control,
		  struct cli_trace_arg *out)
{
	const char *env = getenv("IDSRD_DB"), *path;

	memset(out, 0, sizeof(*out));
	out->control = control;
	if (arg && !*arg)
		return cli_error("%s: an empty trace argument (give FILE, FILE:BOOT, :BOOT or BOOT)", cmd), -EINVAL;
	if (arg && (!strncmp(arg, "http://", 7) || !strncmp(arg, "https://", 8)))
		return trace_url(cmd, arg, db_opt, out);
	if (arg && (trace_all_digits(arg) || arg[0] == ':')) {
		/* BOOT or :BOOT, of the default database (./3 is a file named 3) */
		if (!cli_parse_boot_id(cmd, "boot", arg + (arg[0] == ':'), &out->boot_id))
			return -EINVAL;
	} else if (arg) {
		if (db_parse_boot_ref(arg, out->path, sizeof(out->path), &out->boot_id) < 0)
			return cli_error("%s: `%s' is not a trace (FILE, FILE:BOOT, :BOOT or BOOT)", cmd, arg),
			       -EINVAL;
		if (db_opt)
			return cli_error("%s: the database is named twice, `%s' and --db %s: give one", cmd,
					 arg, db_opt), -EINVAL;
		out->source = CLI_TRACE_FROM_ARG;
		return 0;
	}
	if (db_opt) {
		path = db_opt;
		out->source = CLI_TRACE_FROM_DB_OPTION;
	} else if (env && *env) {
		path = env;
		out->source = CLI_TRACE_FROM_ENV;
	} else if ((path = cli_daemon_db(control))) {
		out->source = CLI_TRACE_FROM_DAEMON;
	} else {
		path = cli_default_db();
		out->source = CLI_TRACE_FROM_DEFAULT;
	}
	if (strlen(path) >= sizeof(out->path))
		return cli_error("%s: the database path `%.64s…' is too long", cmd, path), -ENAMETOOLONG;
	strcpy(out->path, path);
	return 0;
}

int cli_trace_open(const char *cmd, const struct cli_trace_arg *t, sqlite3 **db, int64_t *boot_id)
{
	char why[512];
	int64_t id = t->boot_id;
	const char *path = cli_trace_path(cmd, t, boot_id ? CLI_TRACE_ONE_BOOT : CLI_TRACE_BOOTS);
	int rc;

	if (!path)
		return -EACCES;
	rc = db_open(path, DB_READONLY, db, why, sizeof(why));
	if (rc < 0) {
		if (rc == -ENOENT && t->source == CLI_TRACE_FROM_DEFAULT)
			return cli_error("%s: %s: no database there, and no idsrd answers to name its own: "
					 "give FILE or --db FILE", cmd, t->path), rc;
		return cli_error("%s: %s", cmd, why), rc;
	}
	if (!boot_id)
		return 0;
	rc = db_resolve_boot(*db, &id, why, sizeof(why));
	if (rc < 0) {
		cli_error("%s: %s: %s", cmd, t->path, why);
		db_close(*db);
		return rc;
	}
	*boot_id = id;
	return 0;
}
