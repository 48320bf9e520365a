/*
 * xensim-hv: per-domain event channel port tables.
 *
 * Every live port holds its own copies of the pair of eventfds, oriented for
 * its holder, so that a port whose peer closed can be bound again (as in Xen,
 * closing one end of an interdomain channel makes the other end unbound
 * again, bindable by the same remote domain). A port belongs to the client
 * connection that opened it and is closed when that connection goes away, as
 * ports opened through libxenevtchn are when the process exits.
 */
#ifndef XENSIM_SRV_EVTCHN_H
#define XENSIM_SRV_EVTCHN_H

#include <stdint.h>

#include "sim/hv/srv_domain.h"

/* As Xen's 2-level ABI on 64-bit guests. */
#define SRV_MAX_PORTS 4096u

enum srv_port_state { SRV_PORT_FREE, SRV_PORT_UNBOUND, SRV_PORT_INTERDOMAIN };

struct srv_port {
	uint8_t state;
	uint16_t remote_domid; /* UNBOUND: who may bind; INTERDOMAIN: the peer */
	uint32_t remote_port;  /* INTERDOMAIN */
	int fd_in, fd_out;     /* as the holder sees them */
	uint64_t owner;        /* client id; 0 = none */
};

/* Each returns 0 and the new port, or a negative errno. */
int srv_evtchn_alloc(struct srv_domain *d, uint32_t remote_domid, uint64_t owner, uint32_t *port);
/* -ENOENT: no such unbound port; -EPERM: it is not offered to d. */
int srv_evtchn_bind(struct srv_domain *d, struct srv_domain *rd, uint32_t rport, uint64_t owner, uint32_t *port);
int srv_evtchn_close(struct srv_domain *d, uint32_t port);

/* Domain destruction / client disconnection. */
void srv_evtchn_close_all(struct srv_domain *d);
void srv_evtchn_close_owned(uint64_t owner);

/* A live port, or NULL. */
const struct srv_port *srv_evtchn_get(const struct srv_domain *d, uint32_t port);

#endif
