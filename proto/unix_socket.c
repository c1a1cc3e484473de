/* SPDX-License-Identifier: MIT */
/* Unix stream sockets by path (unix_socket.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "unix_socket.h"

int unix_socket_address(const char *path, struct sockaddr_un *sa)
{
	size_t len = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

int unix_socket_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, err = unix_socket_address(path, &sa);

	if (err < 0)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}
