/* Fake xenstored for the xenstored-introduction tests (xs wire protocol, socket side). */
#include "sim/hv/test/fake_xenstored.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "sim/hv/test/hvt.h"

#define MAX_CONNS 16

static const char *sock_path;

static void on_term(int sig)
{
	(void)sig;
	unlink(sock_path);
	_exit(0);
}

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case XS_INTRODUCE: return "INTRODUCE";
	case XS_RELEASE: return "RELEASE";
	default: return "OTHER";
	}
}

/* One request in, one reply out; -1 when the client is gone. */
static int serve(int fd, int report, uint32_t refuse)
{
	struct xsd_sockmsg h;
	char body[XENSTORE_PAYLOAD_MAX + 1], line[128];
	const char *reply = "OK";

	if (read_full(fd, &h, sizeof(h)) < 0 || h.len > XENSTORE_PAYLOAD_MAX || read_full(fd, body, h.len) < 0)
		return -1;
	body[h.len] = 0;
	/* Report every argument: "INTRODUCE 30 0 1". */
	for (uint32_t i = 0; h.len && i < h.len - 1; i++)
		if (!body[i])
			body[i] = ' ';
	snprintf(line, sizeof(line), "%s %.64s\n", type_name(h.type), body);
	if (write(report, line, strlen(line)) < 0)
		return -1;
	if ((h.type == XS_INTRODUCE || h.type == XS_RELEASE) && strtoul(body, NULL, 10) == refuse) {
		h.type = XS_ERROR;
		reply = "EACCES";
	}
	h.len = (uint32_t)strlen(reply) + 1;
	if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || write(fd, reply, h.len) != (ssize_t)h.len)
		return -1;
	return 0;
}

static _Noreturn void run(int lfd, int report, uint32_t refuse)
{
	struct pollfd p[MAX_CONNS + 1];
	int n = 1;

	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		if ((p[0].revents & POLLIN) && n <= MAX_CONNS) {
			int fd = accept(lfd, NULL, NULL);
			if (fd >= 0)
				p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		for (int i = 1; i < n; i++) {
			if (p[i].revents && serve(p[i].fd, report, refuse) < 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
}

void fake_xs_start(struct fake_xs *f, uint32_t refuse_domid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	static unsigned seq;
	int lfd, pipefd[2];

	snprintf(f->path, sizeof(f->path), "/tmp/xensim-fake-xs.%d.%u.sock", (int)getpid(), seq++);
	strcpy(addr.sun_path, f->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(lfd, 16) == 0);
	CHECK(pipe(pipefd) == 0);
	f->pid = hvt_fork();
	if (f->pid == 0) {
		/* Unlike other children, it has a socket to remove when we die. */
		sock_path = f->path;
		signal(SIGTERM, on_term);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(pipefd[0]);
		run(lfd, pipefd[1], refuse_domid);
	}
	close(lfd);
	close(pipefd[1]);
	f->report = pipefd[0];
}

static int read_line(struct fake_xs *f, char *line, size_t len, int ms)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = f->report, .events = POLLIN };
		char c;
		if (poll(&p, 1, ms) != 1 || read(f->report, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = 0;
	return 0;
}

void fake_xs_next(struct fake_xs *f, char *line, size_t len)
{
	CHECK(read_line(f, line, len, 10000) == 0);
}

bool fake_xs_quiet(struct fake_xs *f, int ms)
{
	char line[128];
	return read_line(f, line, sizeof(line), ms) < 0;
}

void fake_xs_stop(struct fake_xs *f)
{
	kill(f->pid, SIGTERM);
	CHECK(hvt_wait(f->pid) == 0);
	CHECK(access(f->path, F_OK) < 0);
	close(f->report);
}
