/*
 * The block frontend: Linux xen-blkfront's connection and request path in one
 * process. A caller submits I/Os (read, write, flush, discard) on a queue; the
 * device turns each into one or more ring requests (direct up to 11
 * segments, INDIRECT above when negotiated), grants the pages or copies
 * through persistent grants, and completes the I/O when every request is
 * answered. Responses are validated as blkif_interrupt does: the id must name
 * an outstanding request and the operation must be the request's
 * (indirect_op for INDIRECT); anything else is a protocol error that, as in
 * Linux, stops the device.
 */
#ifndef GUEST_BLKFRONT_H
#define GUEST_BLKFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/guest/grants.h"
#include "sim/guest/mem.h"
#include "sim/guest/wire.h"
#include "sim/guest/xenbus.h"

enum bf_kind { BF_READ, BF_WRITE, BF_FLUSH, BF_DISCARD };

struct bf_dev;
struct bf_io;
typedef void (*bf_done_fn)(struct bf_dev *d, struct bf_io *io);

struct bf_io {
	/* Set by the submitter. */
	enum bf_kind kind;
	bool fua;             /* WRITE sent as FLUSH_DISKCACHE (or barrier) with data: direct requests only */
	bool secure;          /* DISCARD with BLKIF_DISCARD_SECURE */
	uint64_t sector;      /* 512-byte units */
	uint64_t nr_sectors;
	uint32_t buf_page;    /* data: first page in guest memory (contiguous) */
	uint32_t buf_off;     /* byte offset of the data in that page, multiple of 512 */
	unsigned queue;
	bf_done_fn done;
	void *user;
	/* Results. */
	int16_t status;       /* worst of the requests: OKAY, or the first failing status */
	bool aborted;         /* never answered: the device stopped */
	bool flush_dropped;   /* flush became a no-op after the backend refused flushes */
	uint64_t submit_ns, done_ns;
	/* Private. */
	uint32_t nsegs, next_seg, reqs_out;
	struct bf_io *next;
};

/* Raw requests (hostile mode): the caller encodes the slot and owns any grants it used. */
typedef void (*bf_raw_fn)(struct bf_dev *d, unsigned q, uint32_t id, const struct wire_rsp *rsp, void *arg);

struct bf_shadow {
	bool busy;
	uint8_t op, rsp_op;
	uint16_t wire_nsegs;
	struct bf_io *io;
	uint32_t seg0, nsegs;    /* segments of io carried by this request */
	uint32_t *grefs;         /* per segment, non-persistent */
	struct pgrant *pg;       /* per segment, persistent */
	uint32_t nind;
	uint32_t ind_gref[WIRE_INDIRECT_PAGES];
	uint32_t ind_page[WIRE_INDIRECT_PAGES];
	struct pgrant ind_pg[WIRE_INDIRECT_PAGES];
	bf_raw_fn raw_done;
	void *raw_arg;
	int alt_rsp_op;          /* raw: a second acceptable response operation, or -1 */
	uint32_t next_free;
};

struct bf_queue {
	unsigned idx;
	uint32_t ring_page;      /* first of 2^order pages */
	uint32_t ring_grefs[16];
	struct front_ring ring;
	struct hv_evtchn ev;
	bool ev_open;
	struct bf_shadow *shadow;
	uint32_t free_head;      /* shadow free list, LIFO as blkfront's */
	struct bf_io *pend_head, *pend_tail;
	uint32_t *ind_free;      /* indirect pages not in use (non-persistent) */
	uint32_t ind_nfree, ind_cap;
	struct ppool pool, ipool; /* persistent data and indirect grants */
	uint32_t ios_out;
	bool need_push;
	bool stopped;            /* hostile: this ring was deliberately broken */
};

struct bf_features {
	/* What the backend offered. */
	unsigned be_max_queues, be_max_ring_order, be_max_indirect;
	bool be_persistent;
	/* What we use. */
	unsigned queues, ring_order, ring_entries;
	unsigned indirect_segs;  /* 0 = direct only */
	unsigned max_segs;       /* per request */
	bool persistent;
	bool flush, barrier;     /* feature-flush-cache / feature-barrier */
	bool discard, discard_secure;
	uint32_t discard_granularity, discard_alignment;
	uint64_t sectors;        /* as published: in sector-size units with large sectors, else 512 */
	uint32_t sector_size, physical_sector_size, info;
	unsigned unit_shift;     /* wire sector unit = 512 << unit_shift (0 unless large sectors) */
	bool readonly;
};

struct bf_config {
	uint32_t domid, devid;
	const struct wire_layout *layout;
	unsigned want_queues, want_ring_order, want_indirect_segs;
	bool want_persistent;
	bool poison_reads;      /* verifying: persistent pages for reads start from poison (Linux does not) */
	bool large_sector;      /* write feature-large-sector-size=1: use the backend's sector-size units */
	int timeout_ms;
	/* Guest memory windows (0 = defaults). */
	uint32_t page_base, pages, gref_base, grefs;
	/* Persistent pool per queue; 0: derived from the ring size as blkfront does. */
	uint32_t pool_grants;
};

#define BF_MAX_PROTO_MSGS 8

struct bf_dev {
	struct bf_config cfg;
	struct hv_conn *hv;
	struct gmem mem;
	struct xb xb;
	uint16_t handle;
	struct bf_features f;
	struct bf_queue *q;
	unsigned nq;
	int state;                  /* our xenbus state as last written */
	bool connected;
	bool broken;                /* protocol error: no more requests (BLKIF_STATE_ERROR) */
	bool backend_closing;       /* the backend left Connected */
	bool domain_dead;           /* our own domain was destroyed under us */
	bool starved;               /* a request needs more pages/grants than our windows have */
	bool flush_disabled, discard_disabled;
	uint64_t resizes;           /* capacity changes seen while connected */
	/* Counters. */
	uint64_t protocol_errors, bad_status, revoke_failures, resource_stalls;
	char proto_msgs[BF_MAX_PROTO_MSGS][160];
	unsigned nproto_msgs;
	char err[256];              /* why connect/close failed */
};

uint64_t bf_now_ns(void);

/* The disk's size in 512-byte sectors, the unit of bf_io (whatever the wire's). */
static inline uint64_t bf_disk_sectors(const struct bf_dev *d)
{
	return d->f.sectors << d->f.unit_shift;
}

/* Maps our domain and performs the whole handshake up to Connected. 0, or -1 with d->err. */
int bf_connect(struct bf_dev *d, struct hv_conn *hv, const struct bf_config *cfg);
/* Only the first half: up to Initialised (used by tests and by connect). */
int bf_handshake_init(struct bf_dev *d, struct hv_conn *hv, const struct bf_config *cfg);
int bf_handshake_connect(struct bf_dev *d);

/* Queues an I/O; nothing reaches the ring before bf_kick. */
void bf_submit(struct bf_dev *d, struct bf_io *io);
/* Puts pending I/Os on the rings and notifies the backend as needed. */
void bf_kick(struct bf_dev *d);
/*
 * Waits up to `timeout_ms` for events and handles them: responses (completing
 * I/Os), watch events (resize, backend closing). Returns the number of
 * completions handled, or -1 once the device is broken.
 */
int bf_poll(struct bf_dev *d, int timeout_ms);
/* Requests on the rings and I/Os not yet on them. */
uint32_t bf_outstanding(const struct bf_dev *d);
/* Completes every I/O not yet on a ring as aborted. */
void bf_abort_pending(struct bf_dev *d);
/* Completes in-flight I/Os as aborted without waiting (their grants stay: we cannot revoke under the backend). */
void bf_abort_inflight(struct bf_dev *d);

/* Close handshake: Closing, wait for the backend, revoke grants, Closed. 0 or -1 with d->err. */
int bf_close(struct bf_dev *d, bool revoke);
/* Revokes ring and pool grants and closes event channels (after close, or at exit). */
void bf_release(struct bf_dev *d);
void bf_fini(struct bf_dev *d);

/* Raw access for hostile requests. */
uint8_t *bf_raw_begin(struct bf_dev *d, unsigned q, uint32_t *id);
void bf_raw_commit(struct bf_dev *d, unsigned q, uint32_t id, uint8_t op, uint8_t rsp_op, int alt_rsp_op,
		   uint16_t nsegs, bf_raw_fn done, void *arg);
void bf_push(struct bf_dev *d, unsigned q);
/* Records a protocol error (first few messages kept). */
void bf_proto_error(struct bf_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Keeps a message with the protocol errors without counting one. */
void bf_note(struct bf_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Re-reads `sectors` (resize) when a watch fired. */
void bf_check_resize(struct bf_dev *d);

#endif
