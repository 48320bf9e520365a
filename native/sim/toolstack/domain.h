/* Domain life cycle for the simulated toolstack. */
#ifndef TOOLSTACK_DOMAIN_H
#define TOOLSTACK_DOMAIN_H

#include <stdint.h>
#include <xenstore.h>

struct hv_conn;

int domain_create(struct hv_conn *hv, struct xs_handle *h, uint32_t domid, uint32_t pages, uint32_t grants);
/* Destroys the domain, then tears its devices down as after a crash; 0, or 1 if a backend lingered. */
int domain_destroy(struct hv_conn *hv, struct xs_handle *h, uint32_t domid);

#endif
