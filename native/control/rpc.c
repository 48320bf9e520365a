/* The JSON-RPC server: framing, parsing, error replies; methods live in the daemon. */
#include "control/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_REQUEST (1 << 20)

struct rpc_client {
	int fd;
	char *buf;
	size_t len, cap;
};

struct rpc_server {
	int listen_fd;
	char path[108];
	rpc_handler handler;
	void *ctx;
	struct rpc_client clients[MAX_CLIENTS];
};

struct rpc_server *rpc_server_open(const char *path, rpc_handler handler, void *ctx)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	struct rpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	s->handler = handler;
	s->ctx = ctx;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	unlink(path);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(s->listen_fd, 16) != 0) {
		int e = errno;
		if (s->listen_fd >= 0)
			close(s->listen_fd);
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

int rpc_server_listen_fd(const struct rpc_server *s)
{
	return s->listen_fd;
}

int rpc_server_accept(struct rpc_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -1;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (s->clients[i].fd < 0) {
			s->clients[i] = (struct rpc_client){ .fd = fd };
			return fd;
		}
	}
	close(fd); /* too many clients */
	return -1;
}

static struct rpc_client *client_of(struct rpc_server *s, int fd)
{
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (s->clients[i].fd == fd)
			return &s->clients[i];
	}
	return NULL;
}

void rpc_server_close_client(struct rpc_server *s, int fd)
{
	struct rpc_client *c = client_of(s, fd);
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	*c = (struct rpc_client){ .fd = -1 };
}

static void send_json(int fd, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	if (!text)
		return;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = send(fd, text + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			continue; /* replies are small; the client is reading */
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	send(fd, "\n", 1, MSG_NOSIGNAL);
	free(text);
}

static json_t *error_reply(json_t *id, int code, const char *msg)
{
	return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code", code,
			 "message", msg);
}

static void handle(struct rpc_server *s, int fd, json_t *req)
{
	json_t *id = json_object_get(req, "id");
	json_t *method = json_object_get(req, "method");
	json_t *params = json_object_get(req, "params");
	json_t *reply;
	if (!json_is_object(req) || !json_is_string(method) || (params && !json_is_object(params) && !json_is_array(params))) {
		reply = error_reply(id, -32600, "Invalid Request: an object with a string method and object params");
	} else {
		int code = RPC_INTERNAL_ERROR;
		char msg[256] = "internal error";
		json_t *empty = NULL;
		if (!params)
			params = empty = json_object();
		json_t *result = s->handler(s->ctx, json_string_value(method), params, &code, msg, sizeof(msg));
		json_decref(empty);
		if (result)
			reply = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result", result);
		else
			reply = error_reply(id, code, msg);
	}
	if (id && reply) /* notifications (no id) get no answer */
		send_json(fd, reply);
	json_decref(reply);
}

bool rpc_server_serve(struct rpc_server *s, int fd)
{
	struct rpc_client *c = client_of(s, fd);
	if (!c)
		return false;
	for (;;) {
		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 8192;
			if (cap > MAX_REQUEST + 4096)
				return false; /* a request past 1 MiB: drop the client */
			char *n = realloc(c->buf, cap);
			if (!n)
				return false;
			c->buf = n;
			c->cap = cap;
		}
		ssize_t r = recv(fd, c->buf + c->len, c->cap - c->len, 0);
		if (r == 0)
			return false;
		if (r < 0)
			break;
		c->len += (size_t)r;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return false;
	/* Parse every complete JSON value at the start of the buffer. */
	for (;;) {
		size_t start = 0;
		while (start < c->len && (c->buf[start] == ' ' || c->buf[start] == '\n' || c->buf[start] == '\r' || c->buf[start] == '\t'))
			start++;
		if (start == c->len) {
			c->len = 0;
			return true;
		}
		json_error_t err;
		json_t *req = json_loadb(c->buf + start, c->len - start, JSON_DISABLE_EOF_CHECK, &err);
		if (!req) {
			/* Incomplete: wait for more. Malformed: say so and drop the client. */
			if (json_error_code(&err) == json_error_premature_end_of_input && c->len < MAX_REQUEST)
				return true;
			json_t *reply = error_reply(NULL, -32700, "Parse error");
			send_json(fd, reply);
			json_decref(reply);
			return false;
		}
		size_t used = start + (size_t)err.position;
		handle(s, fd, req);
		json_decref(req);
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
}

void rpc_server_close(struct rpc_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (s->clients[i].fd >= 0)
			rpc_server_close_client(s, s->clients[i].fd);
	}
	close(s->listen_fd);
	unlink(s->path);
	free(s);
}
