/* Event channels: alloc/bind/notify across processes, bad binds, close, lifetimes. */
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sim/hv/test/hvt.h"

#define MAX_PORTS 4096 /* the server's per-domain cap (port 0 is never used) */

static struct hvt_server srv;
static struct hv_conn *hv;

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void child_backend(uint32_t fe_dom, uint32_t port, int rd, int wr)
{
	struct hv_conn *c = hvt_connect(&srv);
	struct hv_evtchn be;
	char x;

	CHECK(hv_evtchn_bind_interdomain(c, 0, fe_dom, port, &be) == 0);
	CHECK(be.local_port >= 1 && be.fd_in >= 0 && be.fd_out >= 0);
	CHECK(hv_evtchn_consume(&be) == 0);
	CHECK(write(wr, "b", 1) == 1);
	CHECK(readable(be.fd_in, 10000));
	CHECK(hv_evtchn_consume(&be) == 1);
	CHECK(hv_evtchn_consume(&be) == 0);
	CHECK(!readable(be.fd_in, 0));
	CHECK(hv_evtchn_notify(&be) == 0);
	CHECK(read(rd, &x, 1) == 1); /* the frontend notified three times */
	CHECK(readable(be.fd_in, 10000));
	CHECK(hv_evtchn_consume(&be) == 3);
	CHECK(hv_evtchn_close(c, 0, &be) == 0);
	hv_disconnect(c);
	_exit(0);
}

static void test_notify_both_ways(void)
{
	struct hv_evtchn fe;
	int p2c[2], c2p[2];
	pid_t pid;
	char x;

	CHECK(hv_domain_create(hv, 9, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 9, 0, &fe) == 0);
	CHECK(fe.local_port >= 1 && fe.fd_in >= 0 && fe.fd_out >= 0);
	CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
	pid = hvt_fork();
	if (pid == 0)
		child_backend(9, fe.local_port, p2c[0], c2p[1]);
	CHECK(read(c2p[0], &x, 1) == 1);
	CHECK(hv_evtchn_notify(&fe) == 0);
	CHECK(readable(fe.fd_in, 10000));
	CHECK(hv_evtchn_consume(&fe) == 1);
	for (int i = 0; i < 3; i++)
		CHECK(hv_evtchn_notify(&fe) == 0);
	CHECK(write(p2c[1], "n", 1) == 1);
	CHECK(hvt_wait(pid) == 0);
	CHECK(hv_evtchn_consume(&fe) == 0);
	CHECK(hv_evtchn_close(hv, 9, &fe) == 0);
	CHECK(fe.fd_in == -1 && fe.fd_out == -1);
	for (int i = 0; i < 2; i++) {
		close(p2c[i]);
		close(c2p[i]);
	}
	CHECK(hv_domain_destroy(hv, 9) == 0);
}

static void test_bad_binds(void)
{
	struct hv_evtchn fe, be, x;

	CHECK(hv_domain_create(hv, 10, 1, 1) == 0);
	CHECK(hv_domain_create(hv, 11, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 10, 0, &fe) == 0);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 10, fe.local_port + 100, &x), ENOENT);
	CHECK(x.fd_in == -1 && x.fd_out == -1);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 10, 0, &x), ENOENT);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 10, UINT32_MAX, &x), ENOENT);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 4343, fe.local_port, &x), ESRCH);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 4444, 10, fe.local_port, &x), ESRCH);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, UINT32_MAX, 10, fe.local_port, &x), ESRCH);
	/* Offered to dom0, not to dom11. */
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 11, 10, fe.local_port, &x), EPERM);
	CHECK(hv_evtchn_bind_interdomain(hv, 0, 10, fe.local_port, &be) == 0);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 10, fe.local_port, &x), ENOENT); /* already bound */
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 0, be.local_port, &x), ENOENT);  /* not unbound either */
	CHECK_ERR(hv_evtchn_alloc_unbound(hv, 4242, 0, &x), ESRCH);
	CHECK_ERR(hv_evtchn_alloc_unbound(hv, 10, DOMID_FIRST_RESERVED + 1, &x), EINVAL);
	/* The good binding still works after all that. */
	CHECK(hv_evtchn_notify(&be) == 0 && readable(fe.fd_in, 1000) && hv_evtchn_consume(&fe) == 1);
	CHECK(hv_evtchn_close(hv, 0, &be) == 0 && hv_evtchn_close(hv, 10, &fe) == 0);
	CHECK(hv_domain_destroy(hv, 10) == 0 && hv_domain_destroy(hv, 11) == 0);
}

/* Closing the backend's end makes the frontend's port unbound again (as in
 * Xen), so a restarted backend binds again; closing the frontend's end ends it. */
static void test_close_and_rebind(void)
{
	struct hv_evtchn fe, be, x;

	CHECK(hv_domain_create(hv, 12, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 12, 0, &fe) == 0);
	CHECK(hv_evtchn_bind_interdomain(hv, 0, 12, fe.local_port, &be) == 0);
	CHECK(hv_evtchn_close(hv, 0, &be) == 0);
	CHECK(be.fd_in == -1 && be.fd_out == -1);
	CHECK(hv_evtchn_bind_interdomain(hv, 0, 12, fe.local_port, &be) == 0);
	CHECK(hv_evtchn_notify(&fe) == 0 && readable(be.fd_in, 1000) && hv_evtchn_consume(&be) == 1);
	CHECK(hv_evtchn_notify(&be) == 0 && readable(fe.fd_in, 1000) && hv_evtchn_consume(&fe) == 1);

	uint32_t port = fe.local_port;
	CHECK(hv_evtchn_close(hv, 12, &fe) == 0);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 12, port, &x), ENOENT);
	fe.local_port = port;
	CHECK_ERR(hv_evtchn_close(hv, 12, &fe), ENOENT); /* closed already */
	CHECK_ERR(hv_evtchn_close(hv, 4242, &fe), ESRCH);
	/* Nobody listens any more; notifying is still harmless. */
	CHECK(hv_evtchn_notify(&be) == 0);
	CHECK(hv_evtchn_close(hv, 0, &be) == 0);
	CHECK(hv_domain_destroy(hv, 12) == 0);
}

static void child_bind_and_vanish(uint32_t fe_dom, uint32_t port)
{
	struct hv_conn *c = hvt_connect(&srv);
	struct hv_evtchn be;

	CHECK(hv_evtchn_bind_interdomain(c, 0, fe_dom, port, &be) == 0);
	_exit(0); /* no close, no disconnect: a crashed backend */
}

/* Ports belong to the connection that opened them, like libxenevtchn's. */
static void test_disconnect_closes_ports(void)
{
	struct hv_evtchn fe, be;
	pid_t pid;
	int rc = -1;

	CHECK(hv_domain_create(hv, 13, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 13, 0, &fe) == 0);
	pid = hvt_fork();
	if (pid == 0)
		child_bind_and_vanish(13, fe.local_port);
	CHECK(hvt_wait(pid) == 0);
	/* The server notices the hang-up in its own time. */
	for (int i = 0; i < 2000 && rc < 0; i++) {
		rc = hv_evtchn_bind_interdomain(hv, 0, 13, fe.local_port, &be);
		if (rc < 0) {
			CHECK(errno == ENOENT);
			usleep(1000);
		}
	}
	CHECK(rc == 0);
	CHECK(hv_evtchn_notify(&fe) == 0 && readable(be.fd_in, 1000) && hv_evtchn_consume(&be) == 1);

	/* And when the frontend's connection goes, its port goes. */
	struct hv_conn *c = hvt_connect(&srv);
	struct hv_evtchn fe2, x;
	CHECK(hv_evtchn_alloc_unbound(c, 13, 0, &fe2) == 0);
	hv_disconnect(c);
	rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++) {
		rc = hv_evtchn_bind_interdomain(hv, 0, 13, fe2.local_port, &x);
		if (rc == 0) {
			CHECK(hv_evtchn_close(hv, 0, &x) == 0);
			usleep(1000);
		}
	}
	CHECK(rc == -1 && errno == ENOENT);
	close(fe2.fd_in);
	close(fe2.fd_out);
	CHECK(hv_evtchn_close(hv, 0, &be) == 0 && hv_evtchn_close(hv, 13, &fe) == 0);
	CHECK(hv_domain_destroy(hv, 13) == 0);
}

static void test_destroy_closes_ports(void)
{
	struct hv_evtchn fe, be, x, y;

	CHECK(hv_domain_create(hv, 14, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 14, 0, &fe) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 14, 0, &x) == 0);
	CHECK(hv_evtchn_bind_interdomain(hv, 0, 14, fe.local_port, &be) == 0);
	CHECK(hv_domain_destroy(hv, 14) == 0);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 14, x.local_port, &y), ESRCH);
	CHECK(hv_domain_create(hv, 14, 1, 1) == 0);
	CHECK_ERR(hv_evtchn_bind_interdomain(hv, 0, 14, fe.local_port, &y), ENOENT); /* a new domain, no ports */
	CHECK(hv_evtchn_notify(&be) == 0);                  /* into the void, harmlessly */
	CHECK(hv_evtchn_close(hv, 0, &be) == 0);             /* our end is still ours to close */
	CHECK_ERR(hv_evtchn_close(hv, 14, &fe), ENOENT);
	close(x.fd_in);
	close(x.fd_out);
	CHECK(hv_domain_destroy(hv, 14) == 0);
}

static void test_loopback(void)
{
	struct hv_evtchn a, b;

	CHECK(hv_domain_create(hv, 15, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 15, DOMID_SELF, &a) == 0);
	CHECK(hv_evtchn_bind_interdomain(hv, 15, 15, a.local_port, &b) == 0);
	CHECK(a.local_port != b.local_port);
	CHECK(hv_evtchn_notify(&a) == 0 && hv_evtchn_consume(&b) == 1 && hv_evtchn_consume(&a) == 0);
	CHECK(hv_evtchn_notify(&b) == 0 && hv_evtchn_consume(&a) == 1 && hv_evtchn_consume(&b) == 0);
	CHECK(hv_evtchn_close(hv, 15, &a) == 0 && hv_evtchn_close(hv, 15, &b) == 0);
	CHECK(hv_domain_destroy(hv, 15) == 0);
}

/* Ports are numbered from 1, lowest free first, up to the cap. */
static void test_port_numbers_and_cap(void)
{
	struct hv_conn *c = hvt_connect(&srv);
	struct hv_evtchn ch, x;
	struct rlimit r;
	uint32_t n = 0;

	CHECK(hv_domain_create(hv, 16, 1, 1) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 16, 0, &ch) == 0 && ch.local_port == 1);
	CHECK(hv_evtchn_alloc_unbound(hv, 16, 0, &x) == 0 && x.local_port == 2);
	CHECK(hv_evtchn_close(hv, 16, &ch) == 0);
	CHECK(hv_evtchn_alloc_unbound(hv, 16, 0, &ch) == 0 && ch.local_port == 1);
	CHECK(hv_evtchn_close(hv, 16, &ch) == 0 && hv_evtchn_close(hv, 16, &x) == 0);

	/* The server holds two eventfds per port; skip where it could not. */
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_max >= 2 * MAX_PORTS + 256) {
		for (;;) {
			if (hv_evtchn_alloc_unbound(c, 16, 0, &ch) < 0)
				break;
			close(ch.fd_in); /* the port stays open in the server */
			close(ch.fd_out);
			n++;
		}
		CHECK(errno == ENOSPC && n == MAX_PORTS - 1);
	}
	hv_disconnect(c); /* closes all of them */
	CHECK(hv_evtchn_alloc_unbound(hv, 16, 0, &ch) == 0);
	CHECK(ch.local_port <= 2);
	CHECK(hv_evtchn_close(hv, 16, &ch) == 0);
	CHECK(hv_domain_destroy(hv, 16) == 0);
}

int main(void)
{
	hvt_init();
	hvt_start(&srv, NULL);
	hv = hvt_connect(&srv);
	RUN(test_notify_both_ways);
	RUN(test_bad_binds);
	RUN(test_close_and_rebind);
	RUN(test_disconnect_closes_ports);
	RUN(test_destroy_closes_ports);
	RUN(test_loopback);
	RUN(test_port_numbers_and_cap);
	hv_disconnect(hv);
	return hvt_finish();
}
