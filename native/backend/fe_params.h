/*
 * The values the backend parses from xenstore (what the frontend wrote in
 * its directory, what the toolstack wrote in ours), parsed without xenstore:
 * every value comes through a getter, so that the parsing can be tested and
 * fuzzed alone; xenbus.c passes one that reads xenstore. Values are parsed
 * strictly and bounded: a bad one fails the device, never the daemon.
 */
#ifndef BACKEND_FE_PARAMS_H
#define BACKEND_FE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/vbd_ops.h"

/* dir/key's value, malloc'd (the caller frees it), or NULL if absent. */
typedef char *(*fe_getter)(void *ctx, const char *dir, const char *key);

struct fe_source {
	fe_getter get;
	void *ctx;
};

/* What we offered the frontend; also bounded by VBD_MAX_QUEUES and VBD_MAX_RING_ORDER. */
struct fe_limits {
	unsigned max_queues;
	unsigned max_ring_order;
};

/* What the toolstack wrote in a backend directory for us to serve it. */
struct fe_backend {
	char frontend[VBD_PATH_MAX]; /* absolute */
	uint16_t frontend_id;
	bool readonly; /* mode r */
};

/* A decimal unsigned value; false if absent or not a clean number within [0, max]. */
bool fe_read_uint(const struct fe_source *src, const char *dir, const char *key, unsigned long max, unsigned long *out,
		  bool *present);

/* A xenbus `state` key: its value (0 to 8), XB_UNKNOWN if it is not one, -1 if absent. */
long fe_read_state(const struct fe_source *src, const char *dir);

/* frontend, frontend-id and mode of a backend directory; -1 with a message in err if they are not valid. */
int fe_read_backend(const struct fe_source *src, const char *backend, struct fe_backend *out, char *err,
		    size_t errlen);

/*
 * The frontend's transport parameters (reference blkif.md 1.8, 1.9, 2.4):
 * multi-queue-num-queues, ring-page-order, protocol, feature-persistent,
 * feature-large-sector-size (1.5: only a clean 1 counts), then per queue
 * event-channel and ring-ref (ring-refN when paged). -1 with a message in
 * err if one is missing or bad.
 */
int fe_read_transport(const struct fe_source *src, const char *frontend, const struct fe_limits *lim,
		      struct vbd_transport *t, char *err, size_t errlen);

#endif
