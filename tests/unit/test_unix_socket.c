/* SPDX-License-Identifier: MIT */
/* unix_socket_connect: each way a connect fails has its own errno, and a live listener is reached. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/rmtree.h"
#include "unix_socket.h"

static char dir[64], path[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/idsr-unix.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	return rmtree(dir);
}

static void test_address(void **state)
{
	struct sockaddr_un sa;
	char longest[UNIX_SOCKET_PATH_MAX + 2];

	assert_int_equal(UNIX_SOCKET_PATH_MAX, 107);
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	/* 108 bytes: one too many */
	assert_int_equal(unix_socket_address(longest, &sa), -ENAMETOOLONG);
	assert_int_equal(unix_socket_connect(longest), -ENAMETOOLONG);
	longest[UNIX_SOCKET_PATH_MAX] = '\0';
	assert_int_equal(unix_socket_address(longest, &sa), 0);
	assert_int_equal(sa.sun_family, AF_UNIX);
	assert_string_equal(sa.sun_path, longest);
}

static void test_connect(void **state)
{
	struct sockaddr_un sa;
	int lfd, fd;

	/* nothing there */
	assert_int_equal(unix_socket_connect(path), -ENOENT);
	/* a socket file nobody listens on (a stale one): refused */
	assert_int_equal(unix_socket_address(path, &sa), 0);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(unix_socket_connect(path), -ECONNREFUSED);
	/* listening: connected, close-on-exec */
	assert_int_equal(listen(lfd, 1), 0);
	fd = unix_socket_connect(path);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
