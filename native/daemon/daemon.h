/* The daemon's state, shared by its main loop (main.c) and its RPC methods (methods.c). */
#ifndef DAEMON_DAEMON_H
#define DAEMON_DAEMON_H

#include <stdbool.h>

#include "backend/vbd.h"
#include "backend/xenbus.h"
#include "control/rpc.h"

struct daemon {
	struct xenbus_ctx xb;
	struct rpc_server *rpc;
	int epoll_fd;
	struct vbd *vbds;
	bool stopping;
	/* Defaults for disk_add, from the command line. */
	struct vbd_features defaults;
};

json_t *daemon_rpc(void *ctx, const char *method, json_t *params, int *code, char *msg, size_t msglen);
struct vbd *daemon_find(struct daemon *d, const char *name);
/* Adds a device and starts serving it; NULL with msg on failure. */
struct vbd *daemon_add(struct daemon *d, json_t *params, char *msg, size_t msglen);
/* Stops serving a device: disconnect, backend Closed, forget it. */
void daemon_remove(struct daemon *d, struct vbd *v);

#endif
