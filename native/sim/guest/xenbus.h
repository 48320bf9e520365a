/*
 * The frontend's side of the xenstore conversation, as Linux's xenbus does
 * it for blkfront: reading the backend's keys, switching our state only
 * while our node exists, publishing the transport in one transaction, and
 * following the backend through a watch on its `state` (and `sectors` once
 * connected, for online resize).
 */
#ifndef GUEST_XENBUS_H
#define GUEST_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { XB_UNKNOWN = 0, XB_INITIALISING = 1, XB_INITWAIT = 2, XB_INITIALISED = 3, XB_CONNECTED = 4,
       XB_CLOSING = 5, XB_CLOSED = 6 };
#define XB_STATE_BIT(s) (1u << (s))

struct xs_handle;

struct xb {
	struct xs_handle *xs;
	uint32_t domid, devid, be_domid;
	char fe[96];  /* /local/domain/<domid>/device/vbd/<devid> */
	char be[160]; /* from our `backend` key */
	int be_state;  /* last seen; -1 when the node is gone */
	bool be_changed;      /* a watch fired on the backend's state */
	bool sectors_changed; /* a watch fired on the backend's sectors */
	bool watching_sectors;
};

/* Connects to xenstore ($XENSTORED_PATH) and reads `backend`/`backend-id`. 0 or -1 with `err`. */
int xb_open(struct xb *x, uint32_t domid, uint32_t devid, char *err, size_t errlen);
void xb_close(struct xb *x);
int xb_fd(const struct xb *x);

/* malloc'd value of dir/key, or NULL. */
char *xb_read(struct xb *x, const char *dir, const char *key);
/* Unsigned decimal value: 0, -1 if absent, -2 if not a number. */
int xb_read_ull(struct xb *x, const char *dir, const char *key, unsigned long long *v);
/* xenbus_read_unsigned: the value, or `def` when absent or malformed. */
unsigned long long xb_read_ull_def(struct xb *x, const char *dir, const char *key, unsigned long long def);

int xb_fe_state(struct xb *x); /* -1 if absent */
int xb_be_state(struct xb *x); /* re-reads; -1 if absent */
/* xenbus_switch_state: writes our state in a transaction, only if our `state` node still exists. */
int xb_switch_state(struct xb *x, int state);
/* xenbus_dev_fatal: error/device/vbd/<devid>/error = "<err> <msg>", then Closing. */
void xb_fatal(struct xb *x, int err, const char *msg);

/*
 * Makes sure the xenstore connection is alive; after a xenstored restart
 * (live update: the store is kept, connections are not) opens a new one,
 * retrying for up to `timeout_ms`, and registers our watches again.
 * 0 alive, 1 reconnected, -1 unreachable.
 */
int xb_ensure(struct xb *x, int timeout_ms);
/* Registers the backend-state watch (fires once at once, as all watches do). */
int xb_watch_backend(struct xb *x);
int xb_watch_sectors(struct xb *x);
/* Drains pending watch events into the flags above; returns how many. */
int xb_process(struct xb *x);
/*
 * Waits up to `timeout_ms` for the backend state to be one of `mask`.
 * Returns the state, -1 on timeout (x->be_state is then the last seen), -2 if
 * the backend's state node disappeared.
 */
int xb_wait_be_state(struct xb *x, unsigned mask, int timeout_ms);

struct xb_ring {
	uint32_t grefs[16];
	uint32_t port;
};
/*
 * talk_to_blkback's transaction: ring-page-order (only for >1 page), the
 * per-ring keys at the top level (one queue) or under queue-N with
 * multi-queue-num-queues, protocol and feature-persistent, and (as Windows
 * PV drivers do) feature-large-sector-size=1 when large_sector. Retries on
 * EAGAIN.
 */
int xb_write_transport(struct xb *x, unsigned order, unsigned nqueues, const struct xb_ring *rings,
		       const char *protocol, bool persistent, bool large_sector, char *err, size_t errlen);

#endif
