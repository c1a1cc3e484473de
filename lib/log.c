/* SPDX-License-Identifier: MIT */
/* Logging to stderr, with syslog priority prefixes under systemd. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static const char *log_prog = "idsrd";
static bool log_journal;
static enum log_level log_max = LOG_LVL_INFO;

void log_init(const char *prog, bool journal, enum log_level max)
{
	log_prog = prog;
	log_journal = journal;
	log_max = max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	int saved_errno = errno;	/* callers often log, then return -errno */
	char line[1024];
	va_list ap;

	if (lvl > log_max)
		goto out;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
	else
		fprintf(stderr, "%s: %s\n", log_prog, line);
out:
	errno = saved_errno;
}
