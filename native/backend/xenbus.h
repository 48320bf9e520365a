/*
 * The xenbus side of a device (control path): publish features, follow the
 * frontend's state, connect and disconnect, publish a new size. Called from
 * the daemon's main loop on xenstore watch events.
 */
#ifndef BACKEND_XENBUS_H
#define BACKEND_XENBUS_H

#include <xenstore.h>

#include "backend/vbd.h"

struct xenbus_ctx {
	struct xs_handle *xs;
	struct platform *plat;
};

/* Starts serving: sets watches on the backend directory and the frontend state, publishes features. */
int xenbus_attach(struct xenbus_ctx *x, struct vbd *v, char *err, size_t errlen);
/* Removes watches; the device must already be disconnected. */
void xenbus_detach(struct xenbus_ctx *x, struct vbd *v);
/* Re-reads the frontend and backend state and does what the state machine says. */
void xenbus_reconcile(struct xenbus_ctx *x, struct vbd *v);
/* A queue found the frontend broken: the frontend loses the device. */
void xenbus_fail(struct xenbus_ctx *x, struct vbd *v);
/* Publishes the current size so a running guest sees it (online resize). */
int xenbus_publish_size(struct xenbus_ctx *x, struct vbd *v);
/* Watch token of a device, to route events. */
void xenbus_token(const struct vbd *v, char *buf, size_t len);

#endif
