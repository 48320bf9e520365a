/* xensim-hv: telling the (simulated) xenstored about domains, via libxenstore. */
#ifndef XENSIM_SRV_XS_H
#define XENSIM_SRV_XS_H

#include <stdint.h>

/* `path` of xenstored's socket, or NULL to run without one (every call then succeeds). */
void srv_xs_init(const char *path);
void srv_xs_fini(void);

/* XS_INTRODUCE / XS_RELEASE, so xenstored fires @introduceDomain / @releaseDomain.
 * 0 or a negative errno. They block until xenstored answers: xenstored must
 * not wait on xensim-hv meanwhile. */
int srv_xs_introduce(uint32_t domid);
int srv_xs_release(uint32_t domid);

#endif
