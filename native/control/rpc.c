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

/*
 * A message JSON can carry: messages quote the client's strings (valid
 * UTF-8) and xenstore values (any bytes), and snprintf may cut a multibyte
 * character in half. Without this, json_pack fails and the request gets no
 * answer at all. Drops a cut character at the end, then, if still needed,
 * replaces every non-ASCII byte with '?'.
 */
static json_t *message(const char *msg)
{
	json_t *m = json_string(msg);
	if (m)
		return m;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", msg);
	size_t n = strlen(buf), i = n;
	while (i > 0 && n - i < 3 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)buf[i - 1] >= 0xC0) {
		unsigned char lead = (unsigned char)buf[i - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
		if (n - (i - 1) < need)
			buf[i - 1] = '\0';
	}
	if ((m = json_string(buf)))
		return m;
	for (char *p = buf; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	return json_string(buf);
}

static json_t *error_reply(json_t *id, int code, const char *msg)
{
	return json_pack("{s:s, s:O, s:{s:i, s:o}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code", code,
			 "message", message(msg));
}

/*
 * The answer to one request; NULL for a notification (a valid request
 * without id), which is run but gets none. An invalid request is answered
 * even without id (JSON-RPC 2.0: with id null): its client cannot know it
 * was refused otherwise.
 */
static json_t *answer(rpc_handler handler, void *hctx, json_t *req)
{
	json_t *id = json_object_get(req, "id");
	json_t *method = json_object_get(req, "method");
	json_t *params = json_object_get(req, "params");
	if (!json_is_object(req) || !json_is_string(method) || (params && !json_is_object(params) && !json_is_array(params)))
		return error_reply(id, -32600, "Invalid Request: an object with a string method and object params");
	int code = RPC_INTERNAL_ERROR;
	char msg[256] = "internal error";
	json_t *empty = NULL;
	if (!params)
		params = empty = json_object();
	json_t *result = handler(hctx, json_string_value(method), params, &code, msg, sizeof(msg));
	json_decref(empty);
	if (!id) { /* notifications get no answer */
		json_decref(result);
		return NULL;
	}
	if (result)
		return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
	return error_reply(id, code, msg);
}

/*
 * Where the value at buf[0] ends (one past its closing bracket), or 0 if
 * the buffer ends first. Only brackets and strings are followed, the rest is
 * jansson's to judge: a request the transport cut anywhere (in a literal, a
 * number, an escape, a UTF-8 sequence) waits for its rest, where jansson
 * fed the cut text would call it malformed.
 */
static size_t value_end(const char *buf, size_t len)
{
	if (buf[0] != '{' && buf[0] != '[')
		return 1; /* not an object or array: jansson refuses it at once */
	size_t depth = 0;
	bool in_string = false, escaped = false;
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (ch == '\\')
				escaped = true;
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if ((ch == '}' || ch == ']') && --depth == 0) {
			return i + 1;
		}
	}
	return 0;
}

size_t rpc_process(const char *buf, size_t len, rpc_handler handler, void *hctx, rpc_emit emit, void *ectx, bool *drop)
{
	size_t used = 0;
	*drop = false;
	/* Every complete JSON value at the start of the buffer. */
	for (;;) {
		size_t start = used;
		while (start < len && (buf[start] == ' ' || buf[start] == '\n' || buf[start] == '\r' || buf[start] == '\t'))
			start++;
		if (start == len)
			return len;
		size_t end = value_end(buf + start, len - start);
		if (!end && len - used < MAX_REQUEST)
			return used; /* incomplete: wait for more */
		json_error_t err;
		json_t *req = end ? json_loadb(buf + start, end, 0, &err) : NULL;
		if (!req) {
			/* Malformed, or past 1 MiB: say so and drop the client. */
			json_t *reply = error_reply(NULL, -32700, "Parse error");
			emit(ectx, NULL, reply);
			json_decref(reply);
			*drop = true;
			return used;
		}
		json_t *reply = answer(handler, hctx, req);
		emit(ectx, req, reply);
		json_decref(reply);
		json_decref(req);
		used = start + end;
	}
}

static void send_reply(void *ctx, json_t *req, json_t *reply)
{
	(void)req;
	if (reply)
		send_json(*(const int *)ctx, reply);
}

bool rpc_server_serve(struct rpc_server *s, int fd)
{
	struct rpc_client *c = client_of(s, fd);
	if (!c)
		return false;
	bool eof = false;
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
		if (r == 0) {
			eof = true;
			break;
		}
		if (r < 0)
			break;
		c->len += (size_t)r;
	}
	if (!eof && errno != EAGAIN && errno != EWOULDBLOCK)
		return false;
	/* Requests that came before the end of the stream are still answered (the client may only have shut down writing). */
	bool drop;
	size_t used = rpc_process(c->buf, c->len, s->handler, s->ctx, send_reply, &fd, &drop);
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	return !drop && !eof;
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
