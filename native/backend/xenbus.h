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

/* What the state machine found about the backend directory itself. */
enum xenbus_outcome {
	XB_KEEP,    /* still ours */
	XB_GONE,    /* removed: the device went away (disconnected) */
	XB_RENEWED, /* removed and written anew by the toolstack (disconnected) */
};

/*
 * Starts serving v->backend: reads frontend, frontend-id and mode (r: this
 * frontend gets the device read-only; not r or w: refused), sets watches on
 * the backend directory and the frontend state, writes hotplug-status,
 * publishes features and InitWait. On failure nothing is left watched.
 */
int xenbus_attach(struct xenbus_ctx *x, struct vbd *v, char *err, size_t errlen);
/* Sets the watches on the backend directory and the frontend state (attach, and again after a reconnection). */
int xenbus_watch(struct xenbus_ctx *x, struct vbd *v);
/* Removes watches; the device must already be disconnected. */
void xenbus_detach(struct xenbus_ctx *x, struct vbd *v);
/* Re-reads the frontend and backend state and does what the state machine says. */
enum xenbus_outcome xenbus_reconcile(struct xenbus_ctx *x, struct vbd *v);
/* Tells the frontend the device is going (Closed), unless the directory is gone; disconnect first. */
void xenbus_closed(struct xenbus_ctx *x, struct vbd *v);
/* A queue found the frontend broken: the frontend loses the device. */
void xenbus_fail(struct xenbus_ctx *x, struct vbd *v);
/* Publishes the current size so a running guest sees it (online resize). */
int xenbus_publish_size(struct xenbus_ctx *x, struct vbd *v);
/* Watch token of a device, to route events. */
void xenbus_token(const struct vbd *v, char *buf, size_t len);

#endif
