/* The daemon's state, shared by its main loop (main.c) and its RPC methods (methods.c). */
#ifndef DAEMON_DAEMON_H
#define DAEMON_DAEMON_H

#include <stdbool.h>

#include "backend/vbd.h"
#include "backend/xenbus.h"
#include "control/rpc.h"

/* A kind whose backend directories claim disks wait for: one watch on CLAIM_ROOT/<kind>. */
struct claim_watch {
	struct claim_watch *next;
	char kind[CLAIM_KIND_MAX];
};

struct daemon {
	struct xenbus_ctx xb;
	struct claim_watch *claim_watches;
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

/* Claim disks (claims.c). The watches' token; events are routed by path. */
#define CLAIMS_TOKEN "xenblkd:claims"
/* Watches exactly the kinds some claim disk names; -1 if a new watch failed. */
int claims_sync_watches(struct daemon *d);
/* A claims watch event: marks the waiting disks whose kind and domain it touches. */
void claims_note(struct daemon *d, const char *path);
/* Looks again for every marked disk. */
void claims_run(struct daemon *d);
/* Claims a matching backend directory now if there is one; true if claimed. */
bool claims_try(struct daemon *d, struct vbd *v);
/* Runs the xenbus state machine and acts on the directory going away or being replaced. */
void daemon_reconcile(struct daemon *d, struct vbd *v);

#endif
