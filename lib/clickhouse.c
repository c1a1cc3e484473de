/* SPDX-License-Identifier: MIT */
/* ClickHouse's HTTP interface through libcurl: POST for everything (DDL and
 * INSERT need it), the query in the URL when a body carries data. */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clickhouse.h"

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Credentials live in a file only, so they are never in argv or a URL that
 * ps, shell history or a log would show; a file others can read is refused. */
static int ch_credentials(const char *path, struct ch *ch, char *why, size_t whylen)
{
	char dflt[4096], line[1024];
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct stat sb;
	FILE *f;
	int n = 0;

	if (!path) {
		if (xdg && *xdg)
			snprintf(dflt, sizeof(dflt), "%s/idsrd/clickhouse", xdg);
		else
			snprintf(dflt, sizeof(dflt), "%s/.config/idsrd/clickhouse", home ? home : "");
		if (stat(dflt, &sb) < 0)
			return 0;
		path = dflt;
	}
	if (!(f = fopen(path, "r"))) {
		snprintf(why, whylen, "credentials %s: %s", path, strerror(errno));
		return -EIO;
	}
	if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077)) {
		fclose(f);
		snprintf(why, whylen, "credentials %s: readable by others (mode %03o): chmod 600 it", path,
			 (unsigned)(sb.st_mode & 0777));
		return -EPERM;
	}
	while (fgets(line, sizeof(line), f)) {
		char *l = trim(line), **to = NULL;

		n++;
		if (!*l || *l == '#')
			continue;
		if (!strncmp(l, "user ", 5))
			to = &ch->user;
		else if (!strncmp(l, "password ", 9))
			to = &ch->password;
		if (!to) {
			fclose(f);
			snprintf(why, whylen, "credentials %s:%d: expected `user NAME' or `password SECRET'", path, n);
			return -EINVAL;
		}
		free(*to);
		*to = strdup(trim(strchr(l, ' ')));
	}
	fclose(f);
	return 0;
}

int ch_open(const char *url, const char *credentials, struct ch *ch, char *why, size_t whylen)
{
	const char *host, *slash;

	memset(ch, 0, sizeof(*ch));
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		snprintf(why, whylen, "`%s': expected http://HOST:PORT/DATABASE", url);
		return -EINVAL;
	}
	host = strstr(url, "//") + 2;
	slash = strchr(host, '/');
	if (!slash || slash == host || !slash[1] || strpbrk(slash + 1, "/?#@") || strchr(host, '@') ||
	    strlen(slash + 1) >= sizeof(ch->database) || (size_t)(slash - url) + 2 > sizeof(ch->base)) {
		snprintf(why, whylen, "`%s': expected http://HOST:PORT/DATABASE (no credentials in it: "
			 "use --credentials FILE)", url);
		return -EINVAL;
	}
	for (const char *p = slash + 1; *p; p++)
		if (!(*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
			snprintf(why, whylen, "`%s': the database name takes letters, digits and _", url);
			return -EINVAL;
		}
	snprintf(ch->base, sizeof(ch->base), "%.*s", (int)(slash - url + 1), url);
	snprintf(ch->database, sizeof(ch->database), "%s", slash + 1);
	if (ch_credentials(credentials, ch, why, whylen) < 0) {
		ch_close(ch);
		return -EINVAL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(ch->curl = curl_easy_init())) {
		ch_close(ch);
		snprintf(why, whylen, "libcurl could not start");
		return -ENOMEM;
	}
	return 0;
}

void ch_close(struct ch *ch)
{
	if (ch->curl)
		curl_easy_cleanup(ch->curl);
	free(ch->user);
	free(ch->password);
	ch->curl = NULL;
	ch->user = ch->password = NULL;
}

struct ch_buf {
	char *p;
	size_t len;
};

static size_t ch_write(char *data, size_t size, size_t n, void *arg)
{
	struct ch_buf *b = arg;
	char *more = realloc(b->p, b->len + size * n + 1);

	if (!more)
		return 0;
	memcpy(more + b->len, data, size * n);
	b->len += size * n;
	more[b->len] = '\0';
	b->p = more;
	return size * n;
}

/* libcurl's progress callback: non-zero ends the transfer. */
static int ch_cancelled(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return atomic_load((const atomic_bool *)arg) ? 1 : 0;
}

/* Sets c up for one POST of sql (the query in the URL when body carries data). */
static int ch_request(struct ch *ch, const char *sql, const char *body, size_t body_len, char **url,
		      char *why, size_t whylen)
{
	CURL *c = ch->curl;
	char *q = NULL;

	if (body)
		q = curl_easy_escape(c, sql, 0);
	if (asprintf(url, "%s?database=%s%s%s", ch->base, ch->database, q ? "&query=" : "", q ? q : "") < 0) {
		curl_free(q);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	curl_free(q);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, *url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : sql);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : strlen(sql)));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	if (ch->stall_s) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, ch->stall_s);
	}
	if (ch->cancel) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, ch_cancelled);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)ch->cancel);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (ch->user)
		curl_easy_setopt(c, CURLOPT_USERNAME, ch->user);
	if (ch->password)
		curl_easy_setopt(c, CURLOPT_PASSWORD, ch->password);
	return 0;
}

int ch_query(struct ch *ch, const char *sql, const char *body, size_t body_len, char **out,
	     char *why, size_t whylen)
{
	CURL *c = ch->curl;
	struct ch_buf b = { NULL, 0 };
	char *url;
	long status = 0;
	CURLcode rc;

	if (ch_request(ch, sql, body, body_len, &url, why, whylen) < 0)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(c);
	free(url);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		while (b.len && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r'))
			b.p[--b.len] = '\0';
		if (rc != CURLE_OK)
			snprintf(why, whylen, "%s%s: %s", ch->base, ch->database, curl_easy_strerror(rc));
		else
			snprintf(why, whylen, "%s%s: HTTP %ld: %.400s", ch->base, ch->database, status,
				 b.p ? b.p : "(no message)");
		free(b.p);
		return -EIO;
	}
	if (out)
		*out = b.p ? b.p : strdup("");
	else
		free(b.p);
	return 0;
}

/* ch_query_lines' state: the part of a line not yet ended, or the error text. */
struct ch_lines {
	CURL *curl;
	int (*line)(void *arg, char *line, size_t len);
	void *arg;
	struct ch_buf partial;
	bool http_error;		/* partial collects the server's message */
	int rc;				/* the callback's error */
};

static size_t ch_write_lines(char *data, size_t size, size_t n, void *arg)
{
	struct ch_lines *l = arg;
	size_t len = size * n, start = 0;
	long status = 0;

	curl_easy_getinfo(l->curl, CURLINFO_RESPONSE_CODE, &status);
	l->http_error = status != 200;
	if (l->http_error)
		return l->partial.len < 4096 ? ch_write(data, 1, len, &l->partial) : len;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (l->partial.len) {
			if (ch_write(data + start, 1, i - start, &l->partial) != i - start)
				return 0;
			l->rc = l->line(l->arg, l->partial.p, l->partial.len);
			l->partial.len = 0;
		} else {
			data[i] = '\0';	/* libcurl's buffer is ours until we return */
			l->rc = l->line(l->arg, data + start, i - start);
		}
		if (l->rc < 0)
			return 0;
		start = i + 1;
	}
	if (start < len && ch_write(data + start, 1, len - start, &l->partial) != len - start)
		return 0;
	return len;
}

int ch_query_lines(struct ch *ch, const char *sql, int (*line)(void *arg, char *line, size_t len), void *arg,
		   char *why, size_t whylen)
{
	struct ch_lines l = { .curl = ch->curl, .line = line, .arg = arg };
	CURLcode rc;
	char *url;

	if (ch_request(ch, sql, NULL, 0, &url, why, whylen) < 0)
		return -ENOMEM;
	curl_easy_setopt(ch->curl, CURLOPT_WRITEFUNCTION, ch_write_lines);
	curl_easy_setopt(ch->curl, CURLOPT_WRITEDATA, &l);
	rc = curl_easy_perform(ch->curl);
	free(url);
	if (l.rc < 0) {
		free(l.partial.p);
		return l.rc;	/* why: the callback's */
	}
	if (rc != CURLE_OK)
		snprintf(why, whylen, "%s%s: %s", ch->base, ch->database, curl_easy_strerror(rc));
	else if (l.http_error) {
		while (l.partial.len && (l.partial.p[l.partial.len - 1] == '\n' || l.partial.p[l.partial.len - 1] == '\r'))
			l.partial.p[--l.partial.len] = '\0';
		snprintf(why, whylen, "%s%s: %.400s", ch->base, ch->database, l.partial.p ? l.partial.p : "(no message)");
	} else if (l.partial.len)
		snprintf(why, whylen, "%s%s: the answer ends in the middle of a line", ch->base, ch->database);
	free(l.partial.p);
	return rc != CURLE_OK || l.http_error || l.partial.len ? -EIO : 0;
}
