/*
 * The daemon's xenstore connection, and surviving a xenstored restart.
 *
 * libxenstore (4.17) reads the socket in a thread started by the first
 * xs_watch; when xenstored closes the connection that thread sets the fd to
 * -1 and ends, without a byte on the xs_fileno pipe: nothing wakes us. From
 * then on every call fails at once (EBADF writing to fd -1, or EINVAL from a
 * reply wait that sees the fd gone) and xs_check_watch returns NULL with
 * EINVAL instead of EAGAIN. So the loss is found by a heartbeat request every
 * XSCONN_HEARTBEAT_MS, or by a watch check failing so.
 *
 * While it is down the connected rings are served as before (the data path
 * never uses xenstore) and nothing is decided from a failed read
 * (xenbus_reconcile keeps the device unless a node is really absent). We
 * reconnect with backoff (100 ms doubling to 2 s), register every watch
 * again (the daemon's, each served disk's, the claim kinds'), then reconcile
 * every disk and look again for every waiting claim: a change made while we
 * were away is acted on as if its watch had fired.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void watch_fd(struct daemon *d)
{
	d->xs_fd = xs_fileno(d->xb.xs);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = XSCONN_TAG };
	if (d->xs_fd >= 0)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, d->xs_fd, &ev);
}

void xsconn_start(struct daemon *d)
{
	watch_fd(d);
	xs_watch(d->xb.xs, RELEASE_TOKEN, RELEASE_TOKEN);
	d->xs_down = false;
	d->xs_next_ms = now_ms() + XSCONN_HEARTBEAT_MS;
}

int xsconn_timeout_ms(const struct daemon *d)
{
	uint64_t now = now_ms();
	return d->xs_next_ms <= now ? 0 : (int)(d->xs_next_ms - now);
}

void xsconn_lost(struct daemon *d, int err)
{
	if (d->xs_down)
		return;
	log_error("xenstore connection lost (%s): connected rings are still served; reconnecting",
		  strerror(err ? err : EPIPE));
	if (d->xs_fd >= 0)
		epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, d->xs_fd, NULL);
	d->xs_fd = -1;
	d->xs_down = true;
	d->xs_attempts = 0;
	d->xs_backoff_ms = BACKOFF_FIRST_MS;
	d->xs_next_ms = now_ms() + d->xs_backoff_ms;
}

/* Every watch the daemon holds, on the new connection. */
static bool rewatch(struct daemon *d)
{
	bool ok = xs_watch(d->xb.xs, RELEASE_TOKEN, RELEASE_TOKEN);
	for (struct vbd *v = d->vbds; v && ok; v = v->next) {
		if (v->backend[0])
			ok = xenbus_watch(&d->xb, v) == 0;
	}
	/* The claim watches are made anew: forget the old list (its watches died with the connection). */
	while (d->claim_watches) {
		struct claim_watch *w = d->claim_watches;
		d->claim_watches = w->next;
		free(w);
	}
	return ok && claims_sync_watches(d) == 0;
}

static void reconnect(struct daemon *d)
{
	d->xs_attempts++;
	struct xs_handle *h = xs_open(0);
	if (!h) {
		d->xs_backoff_ms = d->xs_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->xs_backoff_ms * 2;
		d->xs_next_ms = now_ms() + d->xs_backoff_ms;
		return;
	}
	/* The old handle's reader is over and its fd closed: closing it only frees it. */
	xs_close(d->xb.xs);
	d->xb.xs = h;
	if (!rewatch(d)) {
		/* Gone again already: the old handle now is this one; keep backing off. */
		int err = errno;
		log_error("xenstore: reconnected but cannot register the watches again (%s); retrying", strerror(err));
		d->xs_backoff_ms = d->xs_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->xs_backoff_ms * 2;
		d->xs_next_ms = now_ms() + d->xs_backoff_ms;
		return;
	}
	watch_fd(d);
	d->xs_down = false;
	d->xs_next_ms = now_ms() + XSCONN_HEARTBEAT_MS;
	unsigned n = 0;
	for (struct vbd *v = d->vbds; v; v = v->next)
		n++;
	log_info("xenstore: reconnected after %u attempt(s); watches registered again, reconciling %u disk(s)",
		 d->xs_attempts, n);
	for (struct vbd *v = d->vbds; v && !d->xs_down; v = v->next) {
		if (v->backend[0])
			daemon_reconcile(d, v);
		else if (v->has_claim)
			v->claim_pending = true;
	}
	claims_run(d);
}

bool xsconn_alive(struct daemon *d)
{
	if (d->xs_down)
		return false;
	/* The cheapest request there is: xenstored answers it from the domid alone. */
	char *p = xs_get_domain_path(d->xb.xs, 0);
	if (!p) {
		xsconn_lost(d, errno);
		return false;
	}
	free(p);
	d->xs_next_ms = now_ms() + XSCONN_HEARTBEAT_MS;
	return true;
}

void xsconn_tick(struct daemon *d)
{
	if (now_ms() < d->xs_next_ms)
		return;
	if (d->xs_down)
		reconnect(d);
	else
		xsconn_alive(d);
}
