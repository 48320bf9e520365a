/* SCM_RIGHTS message transport shared by the server and the client library. */
#include "sim/hv/hv_msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim/hv/hv_proto.h"

/* Room for more fds than we accept, so a sender's extras are detected, not silently cut. */
#define CMSG_FDS (HV_PROTO_MAX_FDS + 4)

union cmsg_buf {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * CMSG_FDS)];
};

int hv_msg_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds, int nonblock)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union cmsg_buf cb;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > HV_PROTO_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&cb, 0, sizeof(cb));
		msg.msg_control = cb.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
		if (n >= 0)
			return (size_t)n == len ? 0 : (errno = EMSGSIZE, -1);
		if (errno != EINTR)
			return -1;
	}
}

void hv_msg_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

ssize_t hv_msg_recv(int sock, void *buf, size_t len, int *fds, unsigned maxfds, unsigned *nfds, int nonblock)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	union cmsg_buf cb;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cb.buf, .msg_controllen = sizeof(cb.buf),
	};
	int got[CMSG_FDS];
	unsigned ngot = 0;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;

	/* Collect every fd first: whatever happens next, none may leak. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (ngot < CMSG_FDS)
				got[ngot++] = fd;
			else
				close(fd);
		}
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || ngot > maxfds) {
		hv_msg_close_fds(got, ngot);
		errno = EMSGSIZE;
		return -1;
	}
	if (ngot)
		memcpy(fds, got, sizeof(int) * ngot);
	*nfds = ngot;
	return n;
}
