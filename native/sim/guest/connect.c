/*
 * The frontend's xenbus state machine (Linux blkfront: talk_to_blkback,
 * blkfront_connect, blkback_changed, blkfront_closing): negotiate rings and
 * queues at the backend's InitWait, publish them, read the disk and its
 * features at Connected, and close in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/guest/blkfront.h"

/* XENBUS_MAX_RING_GRANT_ORDER: Linux never uses more than 16 ring pages. */
#define MAX_RING_ORDER 4u
#define VDISK_READONLY 0x4u

static int fail(struct bf_dev *d, const char *fmt, const char *detail)
{
	snprintf(d->err, sizeof(d->err), fmt, detail);
	return -1;
}

/*
 * A frontend found in any state but Initialising belongs to an earlier
 * incarnation (kexec, a guest process that died): walk the backend back to
 * InitWait as Linux's xenbus_reset_frontend does.
 */
static int reset_frontend(struct bf_dev *d)
{
	int be = xb_be_state(&d->xb), to = d->cfg.timeout_ms;

	if (be == XB_CONNECTED || be == XB_INITIALISED) {
		xb_switch_state(&d->xb, XB_CLOSING);
		xb_wait_be_state(&d->xb, XB_STATE_BIT(XB_CLOSING) | XB_STATE_BIT(XB_CLOSED), to);
		be = d->xb.be_state;
	}
	if (be == XB_CLOSING) {
		xb_switch_state(&d->xb, XB_CLOSED);
		xb_wait_be_state(&d->xb, XB_STATE_BIT(XB_CLOSED) | XB_STATE_BIT(XB_INITWAIT), to);
	}
	if (xb_fe_state(&d->xb) == XB_CLOSING && d->xb.be_state != XB_INITWAIT)
		xb_switch_state(&d->xb, XB_CLOSED);
	return xb_switch_state(&d->xb, XB_INITIALISING);
}

static int setup_queue(struct bf_dev *d, struct bf_queue *q, unsigned idx)
{
	unsigned npages = 1u << d->f.ring_order;
	size_t bytes = (size_t)npages * WIRE_PAGE;

	q->idx = idx;
	if (gmem_alloc_pages(&d->mem, npages, &q->ring_page) < 0)
		return fail(d, "no guest memory for the ring%s (see --pages)", npages > 1 ? "s" : "");
	fring_shared_init(gmem_page(&d->mem, q->ring_page), bytes);
	fring_attach(&q->ring, gmem_page(&d->mem, q->ring_page), bytes, d->cfg.layout);
	for (unsigned i = 0; i < npages; i++) {
		if (gmem_gref_get(&d->mem, &q->ring_grefs[i]) < 0 ||
		    gmem_grant(&d->mem, q->ring_grefs[i], q->ring_page + i, false) < 0)
			return fail(d, "cannot grant the ring%s", "");
	}
	if (hv_evtchn_alloc_unbound(d->hv, d->cfg.domid, d->xb.be_domid, &q->ev) < 0)
		return fail(d, "allocating an event channel: %s", strerror(errno));
	q->ev_open = true;
	q->shadow = calloc(q->ring.nr_ents, sizeof(*q->shadow));
	if (!q->shadow)
		return fail(d, "out of memory%s", "");
	/* blkfront chains the free shadows through their ids: 0 -> 1 -> ... */
	for (uint32_t i = 0; i < q->ring.nr_ents; i++)
		q->shadow[i].next_free = i + 1;
	q->free_head = 0;
	return 0;
}

int bf_handshake_init(struct bf_dev *d, struct hv_conn *hv, const struct bf_config *cfg)
{
	unsigned long long vdev;
	struct xb_ring rings[64];
	char err[200];
	int fe, be;

	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->hv = hv;
	d->state = -1;
	if (gmem_init(&d->mem, hv, cfg->domid, cfg->page_base, cfg->pages,
		      cfg->gref_base ? cfg->gref_base : GMEM_RESERVED_GREFS, cfg->grefs, err, sizeof(err)) < 0)
		return fail(d, "%s", err);
	if (xb_open(&d->xb, cfg->domid, cfg->devid, err, sizeof(err)) < 0)
		return fail(d, "%s", err);
	d->mem.backend_domid = (uint16_t)d->xb.be_domid;
	/* blkfront_probe: the handle is the device directory's number; virtual-device must exist. */
	d->handle = (uint16_t)cfg->devid;
	if (xb_read_ull(&d->xb, d->xb.fe, "virtual-device", &vdev) < 0)
		return fail(d, "%s/virtual-device missing", d->xb.fe);
	if (xb_watch_backend(&d->xb) < 0)
		return fail(d, "watching the backend state: %s", strerror(errno));

	fe = xb_fe_state(&d->xb);
	if (fe < 0)
		return fail(d, "%s/state missing: no device for us", d->xb.fe);
	if (fe != XB_INITIALISING && reset_frontend(d) < 0)
		return fail(d, "resetting the frontend state: %s", strerror(errno));
	d->state = XB_INITIALISING;

	/* blkback_changed acts on InitWait; Connected while we are Initialising means talk, then connect. */
	be = xb_wait_be_state(&d->xb, XB_STATE_BIT(XB_INITWAIT) | XB_STATE_BIT(XB_CONNECTED), cfg->timeout_ms);
	if (be == -2)
		return fail(d, "backend %s disappeared", d->xb.be);
	if (be < 0) {
		snprintf(d->err, sizeof(d->err), "timed out waiting for backend InitWait (backend state %d)",
			 d->xb.be_state);
		return -1;
	}

	d->f.be_max_ring_order = (unsigned)xb_read_ull_def(&d->xb, d->xb.be, "max-ring-page-order", 0);
	d->f.be_max_queues = (unsigned)xb_read_ull_def(&d->xb, d->xb.be, "multi-queue-max-queues", 1);
	d->f.be_max_indirect = (unsigned)xb_read_ull_def(&d->xb, d->xb.be, "feature-max-indirect-segments", 0);
	d->f.be_persistent = xb_read_ull_def(&d->xb, d->xb.be, "feature-persistent", 0) != 0;

	d->f.ring_order = cfg->want_ring_order;
	if (d->f.ring_order > d->f.be_max_ring_order)
		d->f.ring_order = d->f.be_max_ring_order;
	if (d->f.ring_order > MAX_RING_ORDER)
		d->f.ring_order = MAX_RING_ORDER;
	d->f.queues = cfg->want_queues < d->f.be_max_queues ? cfg->want_queues : d->f.be_max_queues;
	if (d->f.queues == 0)
		d->f.queues = 1;
	if (d->f.queues > sizeof(rings) / sizeof(rings[0]))
		d->f.queues = sizeof(rings) / sizeof(rings[0]);

	d->nq = d->f.queues;
	d->q = calloc(d->nq, sizeof(*d->q));
	if (!d->q)
		return fail(d, "out of memory%s", "");
	for (unsigned i = 0; i < d->nq; i++) {
		if (setup_queue(d, &d->q[i], i) < 0) {
			xb_fatal(&d->xb, -ENOMEM, "setting up the rings");
			return -1;
		}
		memcpy(rings[i].grefs, d->q[i].ring_grefs, sizeof(rings[i].grefs));
		rings[i].port = d->q[i].ev.local_port;
	}
	d->f.ring_entries = d->q[0].ring.nr_ents;

	if (xb_write_transport(&d->xb, d->f.ring_order, d->nq, rings, cfg->layout->protocol, cfg->want_persistent,
			       cfg->large_sector, err, sizeof(err)) < 0) {
		xb_fatal(&d->xb, -EIO, err);
		return fail(d, "%s", err);
	}
	if (xb_switch_state(&d->xb, XB_INITIALISED) < 0)
		return fail(d, "switching to Initialised: %s", strerror(errno));
	d->state = XB_INITIALISED;
	return 0;
}

/* blkfront_gather_backend_features, with our own limits applied. */
static void gather_features(struct bf_dev *d)
{
	struct xb *x = &d->xb;
	unsigned ind;

	d->f.barrier = xb_read_ull_def(x, x->be, "feature-barrier", 0) != 0;
	d->f.flush = xb_read_ull_def(x, x->be, "feature-flush-cache", 0) != 0;
	d->f.discard = xb_read_ull_def(x, x->be, "feature-discard", 0) != 0;
	if (d->f.discard) {
		d->f.discard_granularity = (uint32_t)xb_read_ull_def(x, x->be, "discard-granularity", 0);
		d->f.discard_alignment = (uint32_t)xb_read_ull_def(x, x->be, "discard-alignment", 0);
		d->f.discard_secure = xb_read_ull_def(x, x->be, "discard-secure", 0) != 0;
	}
	d->f.be_persistent = xb_read_ull_def(x, x->be, "feature-persistent", 0) != 0;
	d->f.persistent = d->cfg.want_persistent && d->f.be_persistent;
	d->f.be_max_indirect = (unsigned)xb_read_ull_def(x, x->be, "feature-max-indirect-segments", 0);
	ind = d->f.be_max_indirect;
	if (ind > d->cfg.want_indirect_segs)
		ind = d->cfg.want_indirect_segs;
	if (ind > WIRE_INDIRECT_PAGES * WIRE_SEGS_PER_INDIRECT_PAGE)
		ind = WIRE_INDIRECT_PAGES * WIRE_SEGS_PER_INDIRECT_PAGE;
	if (ind <= WIRE_DIRECT_SEGS)
		ind = 0;
	d->f.indirect_segs = ind;
	d->f.max_segs = ind ? ind : WIRE_DIRECT_SEGS;
}

static int setup_requests(struct bf_dev *d, struct bf_queue *q)
{
	uint32_t n = q->ring.nr_ents, iseg = (d->f.max_segs + WIRE_SEGS_PER_INDIRECT_PAGE - 1) / WIRE_SEGS_PER_INDIRECT_PAGE;
	uint32_t pool = d->cfg.pool_grants ? d->cfg.pool_grants : n * d->f.max_segs;

	for (uint32_t i = 0; i < n; i++) {
		struct bf_shadow *s = &q->shadow[i];
		if (d->f.persistent)
			s->pg = calloc(d->f.max_segs, sizeof(*s->pg));
		else
			s->grefs = calloc(d->f.max_segs, sizeof(*s->grefs));
		if (!s->pg && !s->grefs)
			return -1;
	}
	if (d->f.persistent) {
		/* fill_grant_buffer: (segments + indirect pages) per ring slot. */
		if (ppool_init(&q->pool, pool, false) < 0)
			return -1;
		if (d->f.indirect_segs && ppool_init(&q->ipool, n * iseg, true) < 0)
			return -1;
	} else if (d->f.indirect_segs) {
		q->ind_cap = n * iseg;
		q->ind_free = calloc(q->ind_cap, sizeof(uint32_t));
		if (!q->ind_free)
			return -1;
	}
	return 0;
}

int bf_handshake_connect(struct bf_dev *d)
{
	struct xb *x = &d->xb;
	unsigned long long sectors, info, ssize;
	int be;

	be = xb_wait_be_state(x, XB_STATE_BIT(XB_CONNECTED) | XB_STATE_BIT(XB_CLOSING) | XB_STATE_BIT(XB_CLOSED),
			      d->cfg.timeout_ms);
	if (be == -2)
		return fail(d, "backend %s disappeared", x->be);
	if (be < 0) {
		snprintf(d->err, sizeof(d->err), "timed out waiting for backend Connected (backend state %d)",
			 x->be_state);
		return -1;
	}
	if (be != XB_CONNECTED) {
		snprintf(d->err, sizeof(d->err), "backend went to state %d instead of Connected", be);
		return -1;
	}
	/* xenbus_gather: all three or nothing. */
	if (xb_read_ull(x, x->be, "sectors", &sectors) < 0 || xb_read_ull(x, x->be, "info", &info) < 0 ||
	    xb_read_ull(x, x->be, "sector-size", &ssize) < 0 || ssize == 0 || ssize > 0xffffffffull) {
		snprintf(d->err, sizeof(d->err), "reading backend fields at %s (sectors, info, sector-size)", x->be);
		xb_fatal(x, -EINVAL, d->err);
		return -1;
	}
	d->f.sectors = sectors;
	d->f.info = (uint32_t)info;
	d->f.sector_size = (uint32_t)ssize;
	/* feature-large-sector-size: every sector quantity is then in sector-size units (reference 1.5). */
	d->f.unit_shift = 0;
	if (d->cfg.large_sector) {
		while (d->f.unit_shift < 3 && (512u << d->f.unit_shift) < ssize)
			d->f.unit_shift++;
		if ((512u << d->f.unit_shift) != ssize) {
			snprintf(d->err, sizeof(d->err), "sector-size %llu: only 512, 1024, 2048 or 4096 are served", ssize);
			xb_fatal(x, -EINVAL, d->err);
			return -1;
		}
	}
	d->f.physical_sector_size = (uint32_t)xb_read_ull_def(x, x->be, "physical-sector-size", ssize);
	d->f.readonly = (info & VDISK_READONLY) != 0;
	gather_features(d);
	for (unsigned i = 0; i < d->nq; i++) {
		if (setup_requests(d, &d->q[i]) < 0) {
			xb_fatal(x, -ENOMEM, "setup_indirect");
			return fail(d, "out of memory setting up requests%s", "");
		}
	}
	if (xb_switch_state(x, XB_CONNECTED) < 0)
		return fail(d, "switching to Connected: %s", strerror(errno));
	d->state = XB_CONNECTED;
	d->connected = true;
	if (xb_watch_sectors(x) < 0)
		return fail(d, "watching the backend sectors: %s", strerror(errno));
	return 0;
}

int bf_connect(struct bf_dev *d, struct hv_conn *hv, const struct bf_config *cfg)
{
	if (bf_handshake_init(d, hv, cfg) < 0)
		return -1;
	return bf_handshake_connect(d);
}

void bf_check_resize(struct bf_dev *d)
{
	unsigned long long sectors;

	if (!d->connected)
		return;
	/* blkfront_connect in CONNECTED: the backend signals a capacity change through `sectors`. */
	if (xb_read_ull(&d->xb, d->xb.be, "sectors", &sectors) == 0 && sectors != d->f.sectors) {
		d->f.sectors = sectors;
		d->resizes++;
	}
}

int bf_close(struct bf_dev *d, bool revoke)
{
	int be, to = d->cfg.timeout_ms;

	d->connected = false;
	/* xenstored may have been restarted under us (the data path went on without it). */
	if (xb_ensure(&d->xb, to) > 0)
		bf_note(d, "xenstore connection lost; reconnected to close");
	if (xb_switch_state(&d->xb, XB_CLOSING) == 0)
		d->state = XB_CLOSING;
	be = xb_wait_be_state(&d->xb, XB_STATE_BIT(XB_CLOSING) | XB_STATE_BIT(XB_CLOSED), to);
	if (xb_switch_state(&d->xb, XB_CLOSED) == 0)
		d->state = XB_CLOSED;
	/* Give the backend a moment to finish its side (unmap the rings and persistent grants): as
	 * with Xen, a grant it still has mapped cannot be ended, so revoking waits for its Closed. */
	if (be != -1)
		xb_wait_be_state(&d->xb, XB_STATE_BIT(XB_CLOSED), to < 5000 ? to : 5000);
	if (revoke)
		bf_release(d);
	if (be == -1) {
		snprintf(d->err, sizeof(d->err), "backend did not acknowledge Closing (state %d)", d->xb.be_state);
		return -1;
	}
	return 0;
}

/* Requests never answered still hold grants: try to take them back (pool grants go with the pool). */
static void release_shadow(struct bf_dev *d, struct bf_shadow *s)
{
	if (!s->busy || s->raw_done || d->f.persistent)
		return;
	for (uint32_t i = 0; i < s->nsegs && s->grefs; i++)
		gmem_revoke_put(&d->mem, s->grefs[i]);
	for (uint32_t i = 0; i < s->nind; i++)
		gmem_revoke_put(&d->mem, s->ind_gref[i]);
	s->nsegs = s->nind = 0;
}

void bf_release(struct bf_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct bf_queue *q = &d->q[i];
		unsigned npages = 1u << d->f.ring_order;

		if (q->shadow)
			for (uint32_t j = 0; j < q->ring.nr_ents; j++)
				release_shadow(d, &q->shadow[j]);
		for (unsigned p = 0; p < npages && q->ring.sring; p++)
			gmem_revoke_put(&d->mem, q->ring_grefs[p]);
		ppool_revoke_all(&q->pool, &d->mem);
		ppool_revoke_all(&q->ipool, &d->mem);
		if (q->ev_open)
			hv_evtchn_close(d->hv, d->cfg.domid, &q->ev);
		q->ev_open = false;
		q->ring.sring = NULL;
	}
	/* What the backend still holds now that it has let the device go is a failure. */
	d->mem.revoke_failures += gmem_retry_leaked(&d->mem);
}

void bf_fini(struct bf_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct bf_queue *q = &d->q[i];
		if (q->ev_open)
			hv_evtchn_close(d->hv, d->cfg.domid, &q->ev);
		if (q->shadow)
			for (uint32_t j = 0; j < q->ring.nr_ents; j++) {
				free(q->shadow[j].grefs);
				free(q->shadow[j].pg);
			}
		free(q->shadow);
		free(q->ind_free);
		ppool_fini(&q->pool);
		ppool_fini(&q->ipool);
	}
	free(d->q);
	d->q = NULL;
	d->nq = 0;
	xb_close(&d->xb);
	gmem_fini(&d->mem);
}
