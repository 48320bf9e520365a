/* The real thing: grant copy and mapping through libxengnttab, event channels through libxenevtchn. */
#include "platform/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xenevtchn.h>
#include <xengnttab.h>

struct xen_gnt {
	struct gnt base;
	xengnttab_handle *xgt;
	uint16_t domid;
	/* Reused segment array for grant copy batches (no allocation per batch). */
	xengnttab_grant_copy_segment_t *segs;
	unsigned cap;
};

struct xen_evtchn {
	struct evtchn base;
	xenevtchn_handle *xce;
	evtchn_port_t local;
};

static void xen_close(struct platform *p)
{
	free(p);
}

static struct gnt *xen_gnt_open(struct platform *p, uint16_t domid)
{
	struct xen_gnt *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->xgt = xengnttab_open(NULL, 0);
	if (!g->xgt) {
		free(g);
		return NULL;
	}
	g->base.platform = p;
	g->domid = domid;
	return &g->base;
}

static void xen_gnt_close(struct gnt *base)
{
	struct xen_gnt *g = (struct xen_gnt *)base;
	xengnttab_close(g->xgt);
	free(g->segs);
	free(g);
}

static int xen_gnt_copy(struct gnt *base, struct gnt_copy_seg *segs, unsigned count)
{
	struct xen_gnt *g = (struct xen_gnt *)base;
	if (platform_reserve((void **)&g->segs, &g->cap, count, sizeof(*g->segs)) != 0)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &g->segs[i];
		memset(s, 0, sizeof(*s));
		s->len = segs[i].len;
		if (segs[i].to_guest) {
			s->source.virt = segs[i].local;
			s->dest.foreign.ref = segs[i].gref;
			s->dest.foreign.offset = segs[i].offset;
			s->dest.foreign.domid = g->domid;
			s->flags = GNTCOPY_dest_gref;
		} else {
			s->source.foreign.ref = segs[i].gref;
			s->source.foreign.offset = segs[i].offset;
			s->source.foreign.domid = g->domid;
			s->dest.virt = segs[i].local;
			s->flags = GNTCOPY_source_gref;
		}
	}
	if (xengnttab_grant_copy(g->xgt, count, g->segs) != 0)
		return -1;
	for (unsigned i = 0; i < count; i++)
		segs[i].status = g->segs[i].status;
	return 0;
}

static void *xen_gnt_map(struct gnt *base, unsigned count, const uint32_t *refs, bool writable)
{
	struct xen_gnt *g = (struct xen_gnt *)base;
	return xengnttab_map_domain_grant_refs(g->xgt, count, g->domid, (uint32_t *)refs,
					       PROT_READ | (writable ? PROT_WRITE : 0));
}

static void xen_gnt_unmap(struct gnt *base, void *addr, unsigned count)
{
	struct xen_gnt *g = (struct xen_gnt *)base;
	xengnttab_unmap(g->xgt, addr, count);
}

static struct evtchn *xen_evtchn_bind(struct platform *p, uint16_t domid, uint32_t remote_port)
{
	struct xen_evtchn *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->base.platform = p;
	/* One handle per channel: its fd then means exactly this port. */
	e->xce = xenevtchn_open(NULL, 0);
	if (!e->xce)
		goto fail;
	/*
	 * libxenevtchn opens /dev/xen/evtchn blocking, and xenevtchn_pending() is a read() on it:
	 * evtchn_ack's drain loop relies on EAGAIN once nothing is pending, or the worker would
	 * block in its second read until the frontend's next notification.
	 */
	int fd = xenevtchn_fd(e->xce), fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	xenevtchn_port_or_error_t local = xenevtchn_bind_interdomain(e->xce, domid, remote_port);
	if (local < 0)
		goto fail;
	e->local = (evtchn_port_t)local;
	return &e->base;
fail:
	if (e->xce)
		xenevtchn_close(e->xce);
	free(e);
	return NULL;
}

static int xen_evtchn_fd(struct evtchn *base)
{
	return xenevtchn_fd(((struct xen_evtchn *)base)->xce);
}

static int xen_evtchn_notify(struct evtchn *base)
{
	struct xen_evtchn *e = (struct xen_evtchn *)base;
	return xenevtchn_notify(e->xce, e->local);
}

static int xen_evtchn_ack(struct evtchn *base)
{
	struct xen_evtchn *e = (struct xen_evtchn *)base;
	int n = 0;
	for (;;) {
		/*
		 * pending() is a read() that blocks when nothing is pending, even with O_NONBLOCK
		 * on some kernels (xenevtchn.h): ask poll() first, as that header says to.
		 */
		struct pollfd pfd = { .fd = xenevtchn_fd(e->xce), .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
			break;
		xenevtchn_port_or_error_t port = xenevtchn_pending(e->xce);
		if (port < 0)
			break;
		xenevtchn_unmask(e->xce, (evtchn_port_t)port);
		n++;
	}
	return n;
}

static void xen_evtchn_close(struct evtchn *base)
{
	struct xen_evtchn *e = (struct xen_evtchn *)base;
	xenevtchn_unbind(e->xce, e->local);
	xenevtchn_close(e->xce);
	free(e);
}

static const struct platform_ops xen_ops = {
	.name = "xen",
	.close = xen_close,
	.gnt_open = xen_gnt_open,
	.gnt_close = xen_gnt_close,
	.gnt_copy = xen_gnt_copy,
	.gnt_map = xen_gnt_map,
	.gnt_unmap = xen_gnt_unmap,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_notify = xen_evtchn_notify,
	.evtchn_ack = xen_evtchn_ack,
	.evtchn_close = xen_evtchn_close,
};

struct platform *platform_xen_open(void);
struct platform *platform_xen_open(void)
{
	struct platform *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ops = &xen_ops;
	return p;
}
