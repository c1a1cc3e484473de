/* SPDX-License-Identifier: MIT */
/* What idsrctl's subcommands share: errors, default paths, --help, JSON output. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "number.h"
#include "paths.h"

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("idsrctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERROR;
}

/* idsrd's default for kind (proto/paths.c). None (a /tmp directory that
 * another user owns) ends idsrctl: nothing else could be trusted there. */
static const char *cli_default_path(enum path_kind kind, char *buf, size_t len)
{
	char why[512];

	if (paths_default(kind, PATHS_CLIENT, buf, len, why, sizeof(why)) < 0) {
		cli_error("%s", why);
		exit(CLI_ERROR);
	}
	return buf;
}

const char *cli_control_path(const char *opt)
{
	static char buf[4096];
	const char *env = getenv("IDSRD_CONTROL");

	if (opt)
		return opt;
	if (env && *env)
		return env;
	return cli_default_path(PATH_CONTROL_SOCKET, buf, sizeof(buf));
}

const char *cli_default_db(void)
{
	static char buf[4096];
	const char *env = getenv("IDSRD_DB");

	if (env && *env)
		return env;
	return cli_default_path(PATH_DB, buf, sizeof(buf));
}

bool cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t max, uint64_t *out)
{
	/* A digit first (as wg's config.c): strtoull would skip blanks and take
	 * a sign, so that ` -5' became 2^64 - 5. */
	int rc = num_parse_u64(text, strlen(text), out);

	if (rc == -EINVAL) {
		cli_error("%s: %s%s`%s' is not a number (decimal, or hexadecimal after 0x)",
			  cmd, opt ? opt : "", opt ? ": " : "", text);
		return false;
	}
	if (rc == -ERANGE || *out > max) {
		cli_error("%s: %s%s`%s' is out of range (at most %" PRIu64 ")",
			  cmd, opt ? opt : "", opt ? ": " : "", text, max);
		return false;
	}
	return true;
}

bool cli_parse_boot_id(const char *cmd, const char *opt, const char *text, int64_t *out)
{
	uint64_t v;

	if (!cli_parse_u64(cmd, opt, text, INT64_MAX, &v))
		return false;
	if (v == 0) {
		cli_error("%s: %s: `%s' is not a boot id (1 or more)", cmd, opt, text);
		return false;
	}
	*out = (int64_t)v;
	return true;
}

bool cli_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return true;
		}
	}
	return false;
}

/* html: also <, > and & as \u escapes, so that the string can sit inside an
 * HTML <script> element ("</script>" in a policy's text cannot end it). */
static void json_string_out(FILE *f, const char *s, bool html)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (html && (*p == '<' || *p == '>' || *p == '&')) {
			fprintf(f, "\\u%04x", *p);
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_write_string(FILE *f, const char *s)
{
	json_string_out(f, s, false);
}

void json_write_string_html(FILE *f, const char *s)
{
	json_string_out(f, s, true);
}

/* The open listing, if any: where, and how many elements so far. */
static struct {
	FILE *f;
	size_t n;
} json_list;

void json_list_begin(FILE *f)
{
	json_list.f = f;
	json_list.n = 0;
	fputc('[', f);
}

void json_list_end(void)
{
	if (!json_list.f)
		return;
	fputs(json_list.n ? "\n]\n" : "]\n", json_list.f);
	json_list.f = NULL;
}

void json_begin(struct json *j, FILE *f)
{
	j->f = f;
	j->first = true;
	j->in_list = f == json_list.f;
	if (j->in_list)
		fputs(json_list.n++ ? ",\n" : "\n", f);
	fputc('{', f);
}

static void json_key(struct json *j, const char *key)
{
	if (!j->first)
		fputs(", ", j->f);
	j->first = false;
	json_write_string(j->f, key);
	fputs(": ", j->f);
}

void json_str(struct json *j, const char *key, const char *val)
{
	json_key(j, key);
	if (val)
		json_write_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, int64_t val)
{
	json_key(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void json_uint(struct json *j, const char *key, uint64_t val)
{
	json_key(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json_bool(struct json *j, const char *key, bool val)
{
	json_key(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_double(struct json *j, const char *key, double val)
{
	json_key(j, key);
	fprintf(j->f, "%.6g", val);
}

void json_raw(struct json *j, const char *key, const char *raw)
{
	json_key(j, key);
	fputs(raw, j->f);
}

void json_end(struct json *j)
{
	fputs(j->in_list ? "}" : "}\n", j->f);
}

const char *cli_duration(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 1000000)
		snprintf(buf, len, "%lldus", (long long)(ns / 1000));
	else if (ns < 10000000000LL)
		snprintf(buf, len, "%.3fs", (double)ns / 1e9);
	else if (ns < 3600000000000LL)
		snprintf(buf, len, "%lldm%02llds", (long long)(ns / 60000000000LL),
			 (long long)(ns / 1000000000 % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(ns / 3600000000000LL),
			 (long long)(ns / 60000000000LL % 60));
	return buf;
}

int cli_output_open(const char *cmd, const char *path, struct cli_output *o)
{
	int fd;

	*o = (struct cli_output){ .f = stdout, .path = path };
	if (!path || !strcmp(path, "-"))
		return 0;
	if (asprintf(&o->tmp, "%s.XXXXXX", path) < 0) {
		o->tmp = NULL;
		return cli_error("%s: out of memory", cmd), -ENOMEM;
	}
	fd = mkstemp(o->tmp);
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		int err = errno;

		cli_error("%s: -o %s: cannot create it: %s", cmd, path, strerror(err));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		o->f = NULL;
		return -err;
	}
	{
		mode_t mask = umask(0);	/* mkstemp's 0600 would surprise: as fopen would create it */

		umask(mask);
		fchmod(fd, 0666 & ~mask);
	}
	return 0;
}

int cli_output_close(const char *cmd, struct cli_output *o, bool ok)
{
	int ret = 0;

	if (!o->f)
		return 0;
	if (fflush(o->f) || ferror(o->f)) {
		ret = -errno;
		if (ok)
			cli_error("%s: writing %s: %s", cmd, o->tmp ? o->path : "the output", strerror(errno));
	}
	if (o->tmp) {
		if (fclose(o->f) && !ret) {
			ret = -errno;
			if (ok)
				cli_error("%s: writing %s: %s", cmd, o->path, strerror(errno));
		}
		if (ok && !ret && rename(o->tmp, o->path) < 0) {
			ret = -errno;
			cli_error("%s: -o %s: %s", cmd, o->path, strerror(errno));
		}
		if (!ok || ret)
			unlink(o->tmp);
		free(o->tmp);
	}
	o->f = NULL;
	o->tmp = NULL;
	return ok ? ret : -ECANCELED;
}
