/*
 * A virtual block device served to one guest: its configuration, what was
 * negotiated with the frontend, and its queues. Like xen-blkback, the
 * control path (xenbus.c, vbd.c: main thread) is kept apart from the data
 * path (queue.c: one thread per queue, or a queue driver's poller). They meet only at connect and
 * disconnect, and through the queue's command word and event fd.
 */
#ifndef BACKEND_VBD_H
#define BACKEND_VBD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/claim.h"
#include "blkif/abi.h"
#include "blkif/request.h"
#include "blkif/ring.h"
#include "engine/engine.h"
#include "platform/platform.h"

#define VBD_MAX_QUEUES 16
#define VBD_MAX_RING_ORDER 4
#define VBD_NAME_MAX 64
#define VBD_PATH_MAX 256

/* What we offer the frontend (set at disk_add). */
struct vbd_features {
	unsigned max_queues;
	unsigned max_ring_order;
	unsigned max_indirect_segments; /* 0: no INDIRECT */
	bool persistent;
	bool discard;
	bool flush;
	bool zero_copy;      /* with persistent grants, I/O straight into the guest's mapped pages */
	unsigned pool_pages; /* bounce pages per queue */
	unsigned poll_us;    /* busy-poll this long before sleeping */
};

enum queue_cmd { QUEUE_RUN = 0, QUEUE_PAUSE = 1, QUEUE_STOP = 2 };

struct queue_stats {
	_Atomic uint64_t reads, writes, flushes, discards, errors, unsupported;
	_Atomic uint64_t misaligned; /* of the errors: not in whole blocks of the store */
	_Atomic uint64_t read_bytes, write_bytes;
	_Atomic uint64_t latency_sum_ns, latency_max_ns;
	_Atomic uint64_t latency_hist[32]; /* bucket i: latency < 2^i microseconds */
	_Atomic uint64_t notifications, sleeps, grant_copy_calls, grant_copy_segments, persistent_hits;
};

struct queue;
struct vbd;
struct nbd_server;

/* A queue: one ring, one event channel, one engine channel, one thread (or a driver's poller). */
struct queue {
	struct vbd *vbd;
	unsigned index;
	pthread_t thread;
	bool started;
	bool driven;      /* run by the queue driver (queue.h), not by `thread` */
	void *driver_ctx; /* the driver's own */

	/* Set up by the control path before the thread starts. */
	void *ring_area;
	unsigned ring_pages;
	uint32_t ring_refs[1u << VBD_MAX_RING_ORDER];
	uint32_t remote_port;
	struct blk_back_ring ring;
	struct gnt *gnt;
	struct evtchn *evtchn;
	struct engine_channel *chan;
	struct blkif_limits limits; /* changed only while the queue is paused */

	/* Control: the main thread writes cmd and kicks wake_fd; the worker acknowledges. */
	_Atomic int cmd;
	_Atomic int state; /* the cmd the worker has reached (RUN, PAUSE, STOP) */
	int wake_fd;
	_Atomic bool failed; /* the frontend broke the protocol: the device must go */

	struct queue_stats stats;
	struct queue_private *priv; /* the data path's own state (queue.c) */
};

enum xenbus_state_value {
	XB_UNKNOWN = 0,
	XB_INITIALISING = 1,
	XB_INITWAIT = 2,
	XB_INITIALISED = 3,
	XB_CONNECTED = 4,
	XB_CLOSING = 5,
	XB_CLOSED = 6,
};

struct vbd {
	char name[VBD_NAME_MAX];
	char backend[VBD_PATH_MAX];  /* absolute xenstore path of our backend directory; "" while none */
	char frontend[VBD_PATH_MAX]; /* read from <backend>/frontend */
	uint16_t frontend_id;
	struct vbd_features features;
	bool readonly;      /* the disk's own setting (the engine is opened so) */
	bool mode_readonly; /* the served backend's `mode` is r: read-only for this frontend */

	/* A claim disk finds its backend directory itself (claim.h); claimed while backend[0]. */
	bool has_claim;
	bool claim_pending; /* a watch event touched its domain: look again */
	struct claim_spec claim;
	bool shutdown_done;       /* shutdown-done written for this backend directory */
	bool shutdown_bad_logged; /* an unknown shutdown-request was logged once */

	char engine_kind[16];
	char path[VBD_PATH_MAX];
	struct engine *engine;
	uint32_t block_size;  /* the engine's logical block, 512 or 4096 */
	uint64_t size;        /* bytes, whole blocks (the engine's size rounded down) */
	unsigned sector_shift; /* the unit published and decoded: 9, or 12 once negotiated (vbd_connect) */
	uint64_t sectors;     /* size in that unit, as published */

	/* Negotiated at connect. */
	const struct blkif_abi *abi;
	unsigned nr_queues;
	unsigned ring_order;
	bool persistent;
	struct queue queues[VBD_MAX_QUEUES];

	int state;          /* our xenbus state as last written */
	bool connected;     /* queues running */
	bool paused;        /* asked for, in any state: queues start paused while it holds */
	bool gone;          /* backend directory removed or frontend domain dead */
	int event_fd;       /* workers signal the control path (queue failed) */
	char last_error[160];
	struct nbd_server *nbd; /* the NBD export for dom0 tools, if asked for (nbd/server.h) */

	struct vbd *next;
};

/* Read-only for the connected frontend: the disk is, or the toolstack's `mode` says so. */
static inline bool vbd_readonly(const struct vbd *v)
{
	return v->readonly || v->mode_readonly;
}

/* Queue data path (queue.c). */
int queue_start(struct queue *q, bool paused);
void queue_command(struct queue *q, enum queue_cmd cmd); /* waits until the worker got there */
void queue_join(struct queue *q);
void queue_free_private(struct queue *q);

#endif
