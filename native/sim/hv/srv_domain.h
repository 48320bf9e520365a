/* xensim-hv: the domain table, each domain's memfds and status page. */
#ifndef XENSIM_SRV_DOMAIN_H
#define XENSIM_SRV_DOMAIN_H

#include <stdint.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_proto.h"

struct srv_port;

struct srv_domain {
	uint32_t domid;
	uint32_t nr_pages;
	uint32_t nr_grants;
	int fds[HV_NR_DOMAIN_FDS];  /* all -1 for dom0, which has no simulated memory */
	struct hv_status *status;   /* our writable mapping; NULL for dom0 */
	struct srv_port *ports;     /* indexed by port number; port 0 is never handed out */
	uint32_t nr_ports;
};

/* Sets up the table with dom0, which always exists (as in Xen) so backends can bind. */
void srv_domains_init(void);
/* Marks every domain dead and frees the table (the hypervisor is going away). */
void srv_domains_fini(void);

/* 0, or a negative errno: EINVAL (bad domid or sizes), EEXIST, ENOMEM, ... */
int srv_domain_create(uint32_t domid, uint32_t nr_pages, uint32_t nr_grants);
/* Closes its ports, clears `alive`, forgets it. 0, -ESRCH, or -EPERM for dom0. */
int srv_domain_destroy(uint32_t domid);
/* NULL if there is no such domain. */
struct srv_domain *srv_domain_get(uint32_t domid);

#endif
