/* Introduced domains. Introducing domain N opens <dir>/socket.d<N>: whoever
 * connects there is domain N, unprivileged. Releasing it closes that socket
 * and N's connections. Also the permissions of the special watch paths
 * @introduceDomain and @releaseDomain. */
#ifndef XSD_DOMAIN_H
#define XSD_DOMAIN_H

#include <stdbool.h>

#include "conn.h"
#include "xsd.h"

struct domain {
    struct domain *next;
    unsigned domid;
    long target;                 /* XS_SET_TARGET, or -1 */
    struct listener *lis;
};

void domain_init(struct xsd *x);
void domain_fini(struct xsd *x);

struct domain *domain_find(struct xsd *x, unsigned domid);
/* The domain whose rights domid shares, or -1. */
long domain_target(struct xsd *x, unsigned domid);

/* 0 or an errno. A domain introduced again keeps its socket; its
 * connections lose their watches and transactions, as in xenstored. */
int domain_introduce(struct xsd *x, unsigned domid);
int domain_release(struct xsd *x, unsigned domid);
int domain_set_target(struct xsd *x, unsigned domid, unsigned target);

/* Permissions of "@introduceDomain"/"@releaseDomain", NULL for others. */
struct perms *domain_special_perms(struct xsd *x, const char *name);

#endif
