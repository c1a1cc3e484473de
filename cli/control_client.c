/* SPDX-License-Identifier: MIT */
/* idsrctl's side of the control socket, and opening trace files: shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "db.h"
#include "frame.h"
#include "unix_socket.h"

int cli_control_connect(const char *cmd, const char *path, int *out)
{
	int fd = unix_socket_connect(path);

	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	if (!cmd)
		return fd;
	if (fd == -ENAMETOOLONG)
		cli_error("%s: control socket path `%s' is too long (at most %zu bytes)", cmd, path,
			  UNIX_SOCKET_PATH_MAX);
	else if (fd == -ENOENT || fd == -ECONNREFUSED)
		cli_error("%s: idsrd is not running (nothing answers on %s): start idsrd, "
			  "or point at it with --control or $IDSRD_CONTROL", cmd, path);
	else
		cli_error("%s: cannot connect to idsrd at %s: %s", cmd, path, strerror(-fd));
	return fd;
}

int cli_control_call(const char *cmd, int fd, Idsr__V1__ControlRequest *req, Idsr__V1__Frame **reply)
{
	Idsr__V1__Frame f = IDSR__V1__FRAME__INIT;
	struct frame_reader r;
	int rc;

	req->protocol = IDSR_PROTOCOL_VERSION;
	f.body_case = IDSR__V1__FRAME__BODY_CONTROL;
	f.control = req;
	rc = frame_send(fd, &f);
	if (rc < 0) {
		if (cmd)
			cli_error("%s: sending the request to idsrd: %s", cmd, strerror(-rc));
		return rc;
	}
	if (frame_reader_init(&r) < 0)
		return -ENOMEM;
	rc = frame_recv(fd, &r, reply);
	frame_reader_free(&r);
	if (rc < 0) {
		if (cmd)
			cli_error("%s: no answer from idsrd: %s", cmd,
				  rc == -ECONNRESET ? "it closed the connection" : strerror(-rc));
		return rc;
	}
	if ((*reply)->body_case != IDSR__V1__FRAME__BODY_REPLY) {
		if (cmd)
			cli_error("%s: idsrd answered with %s, expected ControlReply", cmd,
				  frame_body_name(*reply));
		frame_free(*reply);
		return -EPROTO;
	}
	return 0;
}

static char *cli_ask_daemon_db(const char *control)
{
	Idsr__V1__ControlRequest req = IDSR__V1__CONTROL_REQUEST__INIT;
	Idsr__V1__StatusRequest sreq = IDSR__V1__STATUS_REQUEST__INIT;
	Idsr__V1__Frame *reply = NULL;
	char *db = NULL;
	int fd;

	if (cli_control_connect(NULL, cli_control_path(control), &fd) < 0)
		return NULL;
	req.req_case = IDSR__V1__CONTROL_REQUEST__REQ_STATUS;
	req.status = &sreq;
	if (cli_control_call(NULL, fd, &req, &reply) == 0) {
		if (reply->reply->ok && reply->reply->status && *reply->reply->status->db)
			db = strdup(reply->reply->status->db);
		frame_free(reply);
	}
	close(fd);
	return db;
}

const char *cli_daemon_db(const char *control)
{
	static char *db;
	static bool asked;

	if (!asked)
		db = cli_ask_daemon_db(control);
	asked = true;
	return db;
}
