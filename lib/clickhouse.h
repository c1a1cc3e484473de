/* SPDX-License-Identifier: MIT */
/* A ClickHouse server over its HTTP interface (libcurl): one query a call. */
#ifndef IDSR_CLI_CLICKHOUSE_H
#define IDSR_CLI_CLICKHOUSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* A server: http://HOST:PORT/DATABASE, with the credentials of a file. */
struct ch {
	char base[1024];	/* http://HOST:PORT/ */
	char database[128];
	char *user, *password;	/* NULL: ClickHouse's `default' user, no password */
	void *curl;
	/* Set by a long-lived caller (idsrd's pusher) after ch_open; 0 and NULL
	 * (idsrctl) wait as long as the server takes. */
	long stall_s;			/* a request that moves no byte for this long fails */
	const atomic_bool *cancel;	/* once true, the request in flight fails (idsrd stopping) */
};

/* Default credentials file (docs/fleet.md): $XDG_CONFIG_HOME/idsrd/clickhouse,
 * else ~/.config/idsrd/clickhouse; only read when it exists. */
#define CH_CREDENTIALS_USAGE \
	"  --credentials FILE  `user NAME' and `password SECRET' lines (mode 0600 or\n" \
	"              stricter); default $XDG_CONFIG_HOME/idsrd/clickhouse or\n" \
	"              ~/.config/idsrd/clickhouse when it exists\n"

/* Parses url and reads the credentials (path NULL: the default file if any).
 * 0, or -errno with why filled. */
int ch_open(const char *url, const char *credentials, struct ch *ch, char *why, size_t whylen);
void ch_close(struct ch *ch);

/*
 * POSTs sql (with body after it, FORMAT's data, when not NULL) and returns
 * what the server answered in *out (NUL-terminated, the caller's to free;
 * out may be NULL). 0, or -EIO with why filled: the server's own message
 * when it answered an error, else libcurl's.
 */
int ch_query(struct ch *ch, const char *sql, const char *body, size_t body_len, char **out,
	     char *why, size_t whylen);

/*
 * POSTs sql (a SELECT … FORMAT TabSeparated) and calls line for each line of
 * the answer as it arrives (NUL-terminated, without its newline; the callback
 * may change it), so an answer of any size takes no more memory than a line.
 * 0; the callback's negative return (it filled why itself); or -EIO with why
 * filled: libcurl's message, the server's (an error it answered), or an answer
 * cut in the middle of a line.
 */
int ch_query_lines(struct ch *ch, const char *sql, int (*line)(void *arg, char *line, size_t len), void *arg,
		   char *why, size_t whylen);

#endif
