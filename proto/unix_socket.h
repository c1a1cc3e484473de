/* SPDX-License-Identifier: MIT */
/* Unix stream sockets by path: the one place a sockaddr_un is filled (its
 * length checked) and a connection made, for idsrd, idsrctl, the client
 * library, the tests and the benchmarks. */
#ifndef IDSR_UNIX_SOCKET_H
#define IDSR_UNIX_SOCKET_H

#include <sys/socket.h>
#include <sys/un.h>

/* The longest path a unix socket may have (sun_path less its NUL): 107. */
#define UNIX_SOCKET_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* Fills sa with path: 0, or -ENAMETOOLONG when it is longer than
 * UNIX_SOCKET_PATH_MAX. */
int unix_socket_address(const char *path, struct sockaddr_un *sa);
/* A blocking, close-on-exec stream socket connected to path: the fd, or
 * -errno (-ENAMETOOLONG, -ENOENT and -ECONNREFUSED: nobody listens there). */
int unix_socket_connect(const char *path);

#endif
