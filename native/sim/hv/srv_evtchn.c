/* xensim-hv: event channel ports and their eventfd pairs. */
#include "sim/hv/srv_evtchn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void port_clear(struct srv_port *p)
{
	if (p->fd_in >= 0)
		close(p->fd_in);
	if (p->fd_out >= 0)
		close(p->fd_out);
	memset(p, 0, sizeof(*p));
	p->fd_in = p->fd_out = -1;
}

/* Lowest free port >= 1 (Xen never hands out port 0), growing the table.
 * Growing moves d->ports: callers re-fetch any port pointer afterwards. */
static int port_alloc(struct srv_domain *d, uint32_t *port)
{
	uint32_t n;
	struct srv_port *t;

	for (uint32_t i = 1; i < d->nr_ports; i++) {
		if (d->ports[i].state == SRV_PORT_FREE) {
			*port = i;
			return 0;
		}
	}
	if (d->nr_ports >= SRV_MAX_PORTS)
		return -ENOSPC;
	n = d->nr_ports ? d->nr_ports * 2 : 16;
	if (n > SRV_MAX_PORTS)
		n = SRV_MAX_PORTS;
	t = realloc(d->ports, n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (uint32_t i = d->nr_ports; i < n; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].fd_in = t[i].fd_out = -1;
	}
	*port = d->nr_ports ? d->nr_ports : 1;
	d->ports = t;
	d->nr_ports = n;
	return 0;
}

static struct srv_port *port_get(const struct srv_domain *d, uint32_t port)
{
	if (port == 0 || port >= d->nr_ports || d->ports[port].state == SRV_PORT_FREE)
		return NULL;
	return &d->ports[port];
}

const struct srv_port *srv_evtchn_get(const struct srv_domain *d, uint32_t port)
{
	return port_get(d, port);
}

int srv_evtchn_alloc(struct srv_domain *d, uint32_t remote_domid, uint64_t owner, uint32_t *port)
{
	struct srv_port *p;
	int in, out, rc;

	if (remote_domid == DOMID_SELF)
		remote_domid = d->domid;
	if (remote_domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	rc = port_alloc(d, port);
	if (rc < 0)
		return rc;
	in = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	out = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in < 0 || out < 0) {
		rc = -errno;
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return rc;
	}
	p = &d->ports[*port];
	p->state = SRV_PORT_UNBOUND;
	p->remote_domid = (uint16_t)remote_domid;
	p->remote_port = 0;
	p->fd_in = in;
	p->fd_out = out;
	p->owner = owner;
	return 0;
}

int srv_evtchn_bind(struct srv_domain *d, struct srv_domain *rd, uint32_t rport, uint64_t owner, uint32_t *port)
{
	struct srv_port *r = port_get(rd, rport), *l;
	int in, out, rc;

	if (!r || r->state != SRV_PORT_UNBOUND)
		return -ENOENT;
	if (r->remote_domid != d->domid)
		return -EPERM;
	/* Same eventfds, swapped: what the remote sends, we receive. */
	in = fcntl(r->fd_out, F_DUPFD_CLOEXEC, 0);
	out = fcntl(r->fd_in, F_DUPFD_CLOEXEC, 0);
	if (in < 0 || out < 0)
		goto fail_errno;
	rc = port_alloc(d, port);
	if (rc < 0)
		goto fail;
	r = &rd->ports[rport]; /* d may be rd: the table may have moved */
	l = &d->ports[*port];
	l->state = SRV_PORT_INTERDOMAIN;
	l->remote_domid = (uint16_t)rd->domid;
	l->remote_port = rport;
	l->fd_in = in;
	l->fd_out = out;
	l->owner = owner;
	r->state = SRV_PORT_INTERDOMAIN;
	r->remote_domid = (uint16_t)d->domid;
	r->remote_port = *port;
	return 0;
fail_errno:
	rc = -errno;
fail:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

int srv_evtchn_close(struct srv_domain *d, uint32_t port)
{
	struct srv_port *p = port_get(d, port), *peer;
	struct srv_domain *rd;

	if (!p)
		return -ENOENT;
	if (p->state == SRV_PORT_INTERDOMAIN) {
		/* The peer's end falls back to unbound, re-bindable by us (Xen's evtchn_close). */
		rd = srv_domain_get(p->remote_domid);
		peer = rd ? port_get(rd, p->remote_port) : NULL;
		if (peer && peer->state == SRV_PORT_INTERDOMAIN && peer->remote_domid == d->domid &&
		    peer->remote_port == port) {
			peer->state = SRV_PORT_UNBOUND;
			peer->remote_port = 0;
		}
	}
	port_clear(p);
	return 0;
}

void srv_evtchn_close_all(struct srv_domain *d)
{
	for (uint32_t i = 1; i < d->nr_ports; i++)
		if (d->ports[i].state != SRV_PORT_FREE)
			srv_evtchn_close(d, i);
}

void srv_evtchn_close_owned(uint64_t owner)
{
	for (uint32_t id = 0; id < DOMID_FIRST_RESERVED; id++) {
		struct srv_domain *d = srv_domain_get(id);
		for (uint32_t i = 1; d && i < d->nr_ports; i++)
			if (d->ports[i].state != SRV_PORT_FREE && d->ports[i].owner == owner)
				srv_evtchn_close(d, i);
	}
}
