/* SPDX-License-Identifier: MIT */
/* idsrd's command line (idsrd(8)). */
#ifndef IDSRD_OPTIONS_H
#define IDSRD_OPTIONS_H

#include <stdbool.h>

struct daemon_config;

/* Fills cfg from the options; --help and --version print and exit 0. False
 * (with the message on stderr) on misuse: exit 2. */
bool options_parse(int argc, char **argv, struct daemon_config *cfg);
/* What the options left unset, but the paths: the limits, modes, logging. */
void options_defaults(struct daemon_config *cfg);
/* The paths the options left unset, from proto/paths.c (the rule clients
 * follow too), in bufs, which must outlive cfg. False, logged, when there is
 * none (a /tmp directory that another user owns): a start-up failure. */
bool options_paths(struct daemon_config *cfg, char bufs[3][4096]);

#endif
