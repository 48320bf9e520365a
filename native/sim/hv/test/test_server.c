/* The server itself: garbage, many clients, floods, xenstored, signals, sockets, arguments. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/hv/hv_proto.h"
#include "sim/hv/test/fake_xenstored.h"
#include "sim/hv/test/hvt.h"

static struct hvt_server srv;
static struct hv_conn *hv;

static int raw_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	strcpy(addr.sun_path, path);
	CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	return fd;
}

/* True once the server has hung up on fd (and sent nothing first). */
static bool dropped(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];

	if (poll(&p, 1, 10000) != 1)
		return false;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void server_still_serves(void)
{
	struct hv_domain d;

	CHECK(hv_domain_map(hv, 20, &d) == 0 && d.status->alive == 1);
	hv_domain_unmap(&d);
}

static void send_garbage(const void *buf, size_t len, int fd_to_pass)
{
	int fd = raw_connect(srv.path);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd_to_pass >= 0) {
		memset(&cb, 0, sizeof(cb));
		msg.msg_control = cb.b;
		msg.msg_controllen = sizeof(cb.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
	}
	CHECK(sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)len);
	CHECK(dropped(fd));
	close(fd);
	server_still_serves();
}

static void test_garbage_drops_only_that_client(void)
{
	struct hv_req req = { .magic = HV_PROTO_MAGIC, .op = HV_OP_DOMAIN_CREATE, .domid = 21, .arg = { 1, 1, 0 } };
	struct hv_resp resp;
	char big[sizeof(req) + 16];
	int efd = eventfd(0, EFD_CLOEXEC), fd;

	CHECK(hv_domain_create(hv, 20, 1, 1) == 0);
	/* A well-formed request over a raw socket is answered: the garbage below is what gets us dropped. */
	fd = raw_connect(srv.path);
	CHECK(send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req));
	CHECK(recv(fd, &resp, sizeof(resp), 0) == (ssize_t)sizeof(resp));
	CHECK(resp.magic == HV_PROTO_MAGIC && resp.op == req.op && resp.err == 0 && resp.nfds == 0);
	close(fd);
	CHECK(hv_domain_destroy(hv, 21) == 0);

	send_garbage("abc", 3, -1);
	memset(big, 0, sizeof(big));
	memcpy(big, &req, sizeof(req));
	send_garbage(big, sizeof(big), -1);
	send_garbage(&req, sizeof(req) - 1, -1);
	struct hv_req bad = req;
	bad.magic = 0xdeadbeef;
	send_garbage(&bad, sizeof(bad), -1);
	bad = req;
	bad.op = 0;
	send_garbage(&bad, sizeof(bad), -1);
	bad.op = 99;
	send_garbage(&bad, sizeof(bad), -1);
	bad.op = UINT32_MAX;
	send_garbage(&bad, sizeof(bad), -1);
	send_garbage(&req, sizeof(req), efd); /* requests carry no fds */
	memset(big, 0xff, sizeof(big));
	send_garbage(big, sizeof(req), -1);
	/* The garbage never reached the domain table. */
	struct hv_domain d;
	CHECK_ERR(hv_domain_map(hv, 21, &d), ESRCH);
	close(efd);
	CHECK(hv_domain_destroy(hv, 20) == 0);
}

static void test_many_clients(void)
{
	enum { N = 40 };
	struct hv_conn *c[N];
	struct hv_domain d[N];

	for (int i = 0; i < N; i++)
		c[i] = hvt_connect(&srv);
	for (int i = 0; i < N; i++)
		CHECK(hv_domain_create(c[i], 100 + (uint32_t)i, 2, 2) == 0);
	for (int i = 0; i < N; i++) {
		CHECK(hv_domain_map(c[(i + 1) % N], 100 + (uint32_t)i, &d[i]) == 0);
		d[i].memory[0] = (uint8_t)i;
	}
	for (int i = 0; i < N; i++) {
		CHECK(hv_domain_destroy(c[(i + 7) % N], 100 + (uint32_t)i) == 0);
		CHECK(d[i].status->alive == 0 && d[i].memory[0] == (uint8_t)i);
		hv_domain_unmap(&d[i]);
	}
	for (int i = 0; i < N; i++)
		hv_disconnect(c[i]);
}

/* A client that sends without ever reading cannot stall the server. */
static void test_flood_without_reading(void)
{
	struct hv_req req = { .magic = HV_PROTO_MAGIC, .op = HV_OP_DOMAIN_DESTROY, .domid = 4242 };
	int fd = raw_connect(srv.path);
	int sent = 0;

	CHECK(hv_domain_create(hv, 20, 1, 1) == 0);
	for (; sent < 200000; sent++)
		if (send(fd, &req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
	CHECK(sent > 0);
	server_still_serves();
	close(fd);
	server_still_serves();
	CHECK(hv_domain_destroy(hv, 20) == 0);
}

static void test_xenstored_introduce_release(void)
{
	struct fake_xs xs;
	struct hvt_server s2;
	struct hv_conn *c;
	struct hv_domain d;
	char line[128];

	fake_xs_start(&xs, 31);
	hvt_start(&s2, xs.path);
	c = hvt_connect(&s2);
	CHECK(hv_domain_create(c, 30, 1, 1) == 0);
	fake_xs_next(&xs, line, sizeof(line));
	CHECK(strcmp(line, "INTRODUCE 30 0 1") == 0);
	CHECK(hv_domain_destroy(c, 30) == 0);
	fake_xs_next(&xs, line, sizeof(line));
	CHECK(strcmp(line, "RELEASE 30") == 0);

	/* xenstored refuses: the domain is not created. */
	CHECK_ERR(hv_domain_create(c, 31, 1, 1), EACCES);
	fake_xs_next(&xs, line, sizeof(line));
	CHECK(strcmp(line, "INTRODUCE 31 0 1") == 0);
	CHECK_ERR(hv_domain_map(c, 31, &d), ESRCH);
	/* Bad requests never reach xenstored. */
	CHECK_ERR(hv_domain_create(c, 32, 0, 1), EINVAL);
	CHECK_ERR(hv_domain_destroy(c, 32), ESRCH);
	CHECK(fake_xs_quiet(&xs, 100));
	hv_disconnect(c);
	hvt_stop(&s2);
	fake_xs_stop(&xs);
}

static void test_xenstored_unreachable(void)
{
	struct hvt_server s2;
	struct hv_conn *c;
	struct hv_domain d;
	struct hv_evtchn ch;

	hvt_start(&s2, "/nonexistent/xenstored.sock");
	c = hvt_connect(&s2);
	errno = 0;
	CHECK(hv_domain_create(c, 33, 1, 1) == -1 && errno != 0);
	CHECK_ERR(hv_domain_map(c, 33, &d), ESRCH);
	CHECK(hv_evtchn_alloc_unbound(c, 0, 0, &ch) == 0); /* everything else still works */
	CHECK(hv_evtchn_close(c, 0, &ch) == 0);
	hv_disconnect(c);
	hvt_stop(&s2);
	setenv("XENSIM_HV_PATH", srv.path, 1);
}

static void test_sigint_exits_cleanly(void)
{
	struct hvt_server s2;
	struct hv_conn *c;
	int status;

	hvt_start(&s2, NULL);
	c = hvt_connect(&s2);
	CHECK(hv_domain_create(c, 34, 1, 1) == 0); /* exit with domains and clients about */
	kill(s2.pid, SIGINT);
	CHECK(waitpid(s2.pid, &status, 0) == s2.pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	hvt_forget(&s2);
	CHECK(access(s2.path, F_OK) < 0);
	CHECK_ERR(hv_domain_create(c, 35, 1, 1), ECONNRESET);
	hv_disconnect(c);
	setenv("XENSIM_HV_PATH", srv.path, 1);
}

/* A socket file left by a crashed server is taken over; a live one is not. */
static void test_socket_paths(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct hvt_server s2 = { 0 }, s3 = { 0 };
	const char *args[] = { NULL };
	int fd, status;

	snprintf(s2.path, sizeof(s2.path), "/tmp/xensim-hv-test.%d.stale.sock", (int)getpid());
	strcpy(addr.sun_path, s2.path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	close(fd); /* bound, never listened: stale */
	CHECK(hvt_spawn(&s2, args, &status) > 0);

	strcpy(s3.path, s2.path);
	CHECK(hvt_spawn(&s3, args, &status) == -1);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	struct hv_conn *c = hvt_connect(&s2); /* the first one is unharmed */
	CHECK(hv_domain_create(c, 36, 1, 1) == 0);
	hv_disconnect(c);
	hvt_stop(&s2);

	/* Not a socket: left alone. */
	fd = open(s2.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(hvt_spawn(&s3, args, &status) == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
	CHECK(access(s2.path, F_OK) == 0);
	unlink(s2.path);

	memset(&s3, 0, sizeof(s3));
	strcpy(s3.path, "/nonexistent/dir/hv.sock");
	CHECK(hvt_spawn(&s3, args, &status) == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

static void test_bad_arguments(void)
{
	struct hvt_server s2 = { 0 };
	const char *bogus[] = { "--bogus", NULL };
	const char *stray[] = { "stray", NULL };
	const char *noval[] = { "--xenstored", NULL };
	int status, saved = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	/* The usage messages are expected: keep them out of the test log. */
	CHECK(saved >= 0 && devnull >= 0 && dup2(devnull, 2) == 2);

	CHECK(hvt_spawn(&s2, bogus, &status) == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2);
	CHECK(hvt_spawn(&s2, stray, &status) == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2);
	CHECK(hvt_spawn(&s2, noval, &status) == -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	CHECK(access(s2.path, F_OK) < 0);
}

int main(void)
{
	hvt_init();
	hvt_start(&srv, NULL);
	hv = hvt_connect(&srv);
	RUN(test_garbage_drops_only_that_client);
	RUN(test_many_clients);
	RUN(test_flood_without_reading);
	RUN(test_xenstored_introduce_release);
	RUN(test_xenstored_unreachable);
	RUN(test_sigint_exits_cleanly);
	RUN(test_socket_paths);
	RUN(test_bad_arguments);
	hv_disconnect(hv);
	return hvt_finish();
}
