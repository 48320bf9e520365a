/*
 * xensim-hv: the simulated hypervisor's server. One thread, one epoll loop:
 * the listening socket, a signalfd for SIGTERM/SIGINT, and the clients.
 *
 *   xensim-hv --socket PATH [--xenstored PATH]
 *
 * Prints "ready" once listening; on SIGTERM/SIGINT exits 0 and removes PATH.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim/hv/hv_msg.h"
#include "sim/hv/hv_proto.h"
#include "sim/hv/srv_dispatch.h"
#include "sim/hv/srv_domain.h"
#include "sim/hv/srv_evtchn.h"
#include "sim/hv/srv_xs.h"

struct client {
	int fd;
	uint64_t id;
	struct client *next;
};

static struct client *clients;
static uint64_t next_client_id = 1;
static int epfd = -1;
/* epoll tags for the two non-client fds. */
static char listen_tag, signal_tag;

static void usage(FILE *f)
{
	fprintf(f, "usage: xensim-hv --socket PATH [--xenstored PATH]\n");
}

/* Many ports hold two eventfds each: the default 1024 fds run out early. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* A socket file nobody accepts on is left over from a crash: reuse the path. */
static int is_stale_socket(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, stale;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	stale = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

static int listen_on(const char *path, struct stat *st)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "xensim-hv: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("xensim-hv: socket");
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && !(errno == EADDRINUSE &&
	    is_stale_socket(path, &addr) && unlink(path) == 0 &&
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)) {
		fprintf(stderr, "xensim-hv: bind %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 64) < 0 || stat(path, st) < 0) {
		fprintf(stderr, "xensim-hv: listen %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static int watch(int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void client_drop(struct client *c)
{
	struct client **pp = &clients;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	srv_evtchn_close_owned(c->id);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void accept_clients(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				perror("xensim-hv: accept");
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = next_client_id++;
		if (watch(fd, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = clients;
		clients = c;
	}
}

/* One request, one response. Anything malformed, or a client that does not
 * read its responses (socket full), costs that client its connection. */
static void serve(struct client *c)
{
	struct hv_req req;
	struct hv_resp resp;
	int fds[HV_PROTO_MAX_FDS];
	unsigned nfds;
	ssize_t n;

	n = hv_msg_recv(c->fd, &req, sizeof(req), fds, HV_PROTO_MAX_FDS, &nfds, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(req) || nfds != 0) {
		hv_msg_close_fds(fds, nfds);
		client_drop(c);
		return;
	}
	if (!srv_dispatch(&req, c->id, &resp, fds, &nfds) ||
	    hv_msg_send(c->fd, &resp, sizeof(resp), fds, nfds, 1) < 0)
		client_drop(c);
}

static int run(int lfd)
{
	struct epoll_event evs[32];

	for (;;) {
		int n = epoll_wait(epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("xensim-hv: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			if (tag == &signal_tag)
				return 0;
			if (tag == &listen_tag)
				accept_clients(lfd);
			else
				serve(tag);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "xenstored", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *xs_path = NULL;
	struct stat st, now;
	sigset_t sigs;
	int opt, lfd, sfd, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'x': xs_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Signals arrive as readable data in the loop, never in the middle of a request. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0) {
		perror("xensim-hv: signalfd/epoll");
		return 1;
	}
	lfd = listen_on(path, &st);
	if (lfd < 0)
		return 1;
	if (watch(lfd, &listen_tag) < 0 || watch(sfd, &signal_tag) < 0) {
		perror("xensim-hv: epoll_ctl");
		unlink(path);
		return 1;
	}
	srv_domains_init();
	srv_xs_init(xs_path);

	printf("ready\n");
	fflush(stdout);
	rc = run(lfd);

	while (clients)
		client_drop(clients);
	close(lfd);
	/* Only our own socket: someone may have replaced it meanwhile. */
	if (stat(path, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
		unlink(path);
	srv_domains_fini();
	srv_xs_fini();
	close(sfd);
	close(epfd);
	return rc;
}
