/* One JSON-RPC exchange with a daemon's control socket (see shim.h). */
#include "shim/shim.h"
#include "shim/util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Waits for `events` on fd until the deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - shim_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int xbs_call(const char *socket_path, const char *request, int timeout_ms, char *response, int response_len,
	     char *err, int err_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (!socket_path || !request || !response || response_len < 2 || timeout_ms <= 0) {
		shim_say(err, err_len, "bad arguments");
		return -1;
	}
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		shim_say(err, err_len, "socket path too long: %s", socket_path);
		return -1;
	}
	strcpy(addr.sun_path, socket_path);
	long long deadline = shim_now_ms() + timeout_ms;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		shim_say(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	/* A Unix connect either succeeds, fails, or (backlog full) says EAGAIN: retry until the deadline. */
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (errno != EAGAIN && errno != EINTR) {
			shim_say(err, err_len, "cannot reach %s: %s", socket_path, strerror(errno));
			close(fd);
			return -1;
		}
		if (shim_now_ms() >= deadline) {
			shim_say(err, err_len, "cannot reach %s: busy for %d ms", socket_path, timeout_ms);
			close(fd);
			return -1;
		}
		usleep(1000);
	}
	size_t len = strlen(request), off = 0;
	while (off < len) {
		ssize_t w = send(fd, request + off, len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		int r = w < 0 && (errno == EAGAIN || errno == EINTR) ? wait_fd(fd, POLLOUT, deadline) : -1;
		if (r <= 0) {
			shim_say(err, err_len, r == 0 ? "%s: no room to send for %d ms" : "%s: send failed", socket_path, timeout_ms);
			close(fd);
			return -1;
		}
	}
	/* The daemon answers with one JSON line. */
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, response + got, (size_t)response_len - 1 - got, 0);
		if (n > 0) {
			got += (size_t)n;
			response[got] = '\0';
			char *nl = memchr(response, '\n', got);
			if (nl) {
				*nl = '\0';
				close(fd);
				return (int)(nl - response);
			}
			if (got == (size_t)response_len - 1) {
				shim_say(err, err_len, "%s: answer longer than %d bytes", socket_path, response_len - 1);
				close(fd);
				return -1;
			}
			continue;
		}
		if (n == 0) {
			shim_say(err, err_len, "%s closed the connection without an answer", socket_path);
			close(fd);
			return -1;
		}
		int r = errno == EAGAIN || errno == EINTR ? wait_fd(fd, POLLIN, deadline) : -1;
		if (r <= 0) {
			shim_say(err, err_len, r == 0 ? "%s: no answer after %d ms" : "%s: receive failed", socket_path, timeout_ms);
			close(fd);
			return -1;
		}
	}
}
