/* The daemon's state, shared by its main loop (main.c) and its RPC methods (methods.c). */
#ifndef DAEMON_DAEMON_H
#define DAEMON_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

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
	/* --allow-fault-injection: engines are wrapped and disk_inject_error is served (tests only). */
	bool allow_faults;
	/* The xenstore connection (xsconn.c). */
	int xs_fd;           /* xs_fileno of the current handle, in epoll; -1 while down */
	bool xs_down;        /* lost: calls on the old handle fail at once until reconnected */
	unsigned xs_backoff_ms, xs_attempts;
	uint64_t xs_next_ms; /* monotonic: next heartbeat (up) or reconnection attempt (down) */
	/* Defaults for disk_add, from the command line. */
	struct vbd_features defaults;
};

json_t *daemon_rpc(void *ctx, const char *method, json_t *params, int *code, char *msg, size_t msglen);
struct vbd *daemon_find(struct daemon *d, const char *name);
/* Adds a device and starts serving it; NULL with msg on failure. */
struct vbd *daemon_add(struct daemon *d, json_t *params, char *msg, size_t msglen);
/* Stops serving a device: disconnect, backend Closed, forget it. */
void daemon_remove(struct daemon *d, struct vbd *v);

/* The daemon-wide watch on domains going away. */
#define RELEASE_TOKEN "@releaseDomain"
/* epoll tag of the xenstore watch fd. */
#define XSCONN_TAG ((void *)2)

/*
 * The xenstore connection (xsconn.c): libxenstore does not report a closed
 * socket on xs_fileno (its read thread just ends), so a heartbeat request
 * every XSCONN_HEARTBEAT_MS, or any call failing so, finds the loss; then
 * reconnection with backoff, watches registered again, every disk reconciled.
 */
#define XSCONN_HEARTBEAT_MS 1000
/* The first connection is up: its watch fd in epoll, the daemon-wide watch. */
void xsconn_start(struct daemon *d);
/* How long the main loop may sleep before xsconn_tick has work. */
int xsconn_timeout_ms(const struct daemon *d);
/* Heartbeat when due; reconnection attempts while down. */
void xsconn_tick(struct daemon *d);
/* A heartbeat now: false (and the loss handled) if xenstored does not answer. */
bool xsconn_alive(struct daemon *d);
/* A xenstore call failed with `err` in a way that says the connection is gone. */
void xsconn_lost(struct daemon *d, int err);

/* disk_inject_error and disk_clear_errors (faults.c); NULL with *code and msg on error. */
json_t *daemon_fault_rpc(struct daemon *d, const char *method, json_t *params, int *code, char *msg, size_t msglen);
/* meta_slots.h through the control socket: meta_read {engine, path, flush_nvme} and meta_write {..., data}. */
json_t *daemon_meta_rpc(const char *method, json_t *params, int *code, char *msg, size_t msglen);
/* The fault-injection part of disk_stats, or NULL when the disk's engine is not wrapped. */
json_t *daemon_fault_stats(const struct vbd *v);

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

/* daemon/spdk.c: SPDK's environment, when built with SPDK and given --spdk-config. */
struct daemon_spdk_options {
	const char *config_file; /* SPDK's JSON configuration: the bdevs to create */
	const char *rpc_socket;  /* where SPDK's own RPC server listens, or NULL */
	int mem_mb;
	bool hugepages;
	const char *pci;  /* --spdk-pci: the one PCI device SPDK may probe (the SR's NVMe drive) */
	int reactors; /* --spdk-reactors: 0 a thread per queue; -1 the default (CPUs, at most 8) */
};
int daemon_spdk_start(const struct daemon_spdk_options *o, char *err, size_t errlen);
void daemon_spdk_poll(void);
void daemon_spdk_stop(void);
/* How long the main loop may sleep with SPDK running (-1: SPDK adds no limit). */
int daemon_spdk_timeout_ms(void);
/* reactor_stats: {"reactors": [{"threads", "passes", "sleeps"}, ...]} ([] without reactors). */
json_t *daemon_spdk_stats(void);

#endif
