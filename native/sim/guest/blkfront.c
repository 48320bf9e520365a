/*
 * The request path (blkif_queue_rw_req, blkif_queue_discard_req,
 * blkif_interrupt, blkif_completion): I/Os become ring requests with their
 * grants, responses are validated and complete them.
 */
#include "sim/guest/blkfront.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void vnote(struct bf_dev *d, const char *fmt, va_list ap)
{
	if (d->nproto_msgs < BF_MAX_PROTO_MSGS)
		vsnprintf(d->proto_msgs[d->nproto_msgs++], sizeof(d->proto_msgs[0]), fmt, ap);
}

void bf_note(struct bf_dev *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(d, fmt, ap);
	va_end(ap);
}

void bf_proto_error(struct bf_dev *d, const char *fmt, ...)
{
	va_list ap;

	d->protocol_errors++;
	va_start(ap, fmt);
	vnote(d, fmt, ap);
	va_end(ap);
}

/* ---- shadows ---- */

static struct bf_shadow *shadow_get(struct bf_queue *q, uint32_t *id)
{
	struct bf_shadow *s;

	if (q->free_head >= q->ring.nr_ents)
		return NULL;
	*id = q->free_head;
	s = &q->shadow[*id];
	q->free_head = s->next_free;
	s->busy = true;
	s->io = NULL;
	s->raw_done = NULL;
	s->alt_rsp_op = -1;
	s->nsegs = s->nind = 0;
	return s;
}

static void shadow_put(struct bf_queue *q, uint32_t id)
{
	q->shadow[id].busy = false;
	q->shadow[id].next_free = q->free_head;
	q->free_head = id;
}

/* ---- segments of an I/O buffer ---- */

static uint64_t io_bytes(const struct bf_io *io)
{
	return io->nr_sectors << 9;
}

static uint32_t io_nsegs(const struct bf_io *io)
{
	return (uint32_t)((io->buf_off + io_bytes(io) + WIRE_PAGE - 1) / WIRE_PAGE);
}

/* Segment k of the buffer: page, byte range in it, and its sector on disk. */
static void io_seg(const struct bf_io *io, uint32_t k, uint32_t *page, uint32_t *first, uint32_t *end,
		   uint64_t *sector)
{
	uint64_t before = k == 0 ? 0 : (uint64_t)k * WIRE_PAGE - io->buf_off;
	uint64_t left = io_bytes(io) - before;

	*page = io->buf_page + k;
	*first = k == 0 ? io->buf_off : 0;
	*end = (uint64_t)(WIRE_PAGE - *first) < left ? WIRE_PAGE : *first + (uint32_t)left;
	*sector = io->sector + (before >> 9);
}

/* ---- grants for one request ---- */

/* Gives back what a request holds: revoke (non-persistent) or return to the pools. */
static void release_grants(struct bf_dev *d, struct bf_queue *q, struct bf_shadow *s)
{
	for (uint32_t i = 0; i < s->nsegs; i++) {
		if (d->f.persistent) {
			ppool_put(&q->pool, s->pg[i]);
		} else if (gmem_revoke_put(&d->mem, s->grefs[i]) < 0) {
			d->revoke_failures++;
			bf_note(d, "backend has not unmapped grant %u", s->grefs[i]);
		}
	}
	for (uint32_t i = 0; i < s->nind; i++) {
		if (d->f.persistent) {
			ppool_put(&q->ipool, s->ind_pg[i]);
			continue;
		}
		if (gmem_revoke_put(&d->mem, s->ind_gref[i]) < 0) {
			d->revoke_failures++;
			bf_note(d, "backend has not unmapped indirect grant %u", s->ind_gref[i]);
		}
		q->ind_free[q->ind_nfree++] = s->ind_page[i];
	}
	s->nsegs = s->nind = 0;
}

/* One data segment: a grant of our buffer page, or a persistent page with the data copied in. */
static int grant_segment(struct bf_dev *d, struct bf_queue *q, struct bf_shadow *s, const struct bf_io *io,
			 uint32_t page, uint32_t first, uint32_t end, struct wire_seg *ws)
{
	bool to_backend = io->kind == BF_WRITE;

	if (d->f.persistent) {
		struct pgrant g;
		if (ppool_get(&q->pool, &d->mem, &g) < 0)
			return -1;
		/* Writes carry our data. When verifying, reads start from poison, so data a backend
		 * failed to deliver cannot pass for the right data left over from an earlier request. */
		if (to_backend)
			memcpy(gmem_page(&d->mem, g.page) + first, gmem_page(&d->mem, page) + first, end - first);
		else if (d->cfg.poison_reads)
			memset(gmem_page(&d->mem, g.page) + first, 0xa5, end - first);
		s->pg[s->nsegs++] = g;
		ws->gref = g.gref;
	} else {
		uint32_t gref;
		if (gmem_gref_get(&d->mem, &gref) < 0)
			return -1;
		/* The backend only reads what we write, and only writes what we read. */
		if (gmem_grant(&d->mem, gref, page, to_backend) < 0) {
			gmem_gref_put(&d->mem, gref);
			return -1;
		}
		s->grefs[s->nsegs++] = gref;
		ws->gref = gref;
	}
	/* In wire units: whole sectors of the negotiated size (the workload keeps to them). */
	ws->first_sect = (uint8_t)(first >> (9 + d->f.unit_shift));
	ws->last_sect = (uint8_t)((end >> (9 + d->f.unit_shift)) - 1);
	return 0;
}

/* Indirect descriptor page i of a request: filled by us, granted read-only. */
static uint8_t *indirect_page(struct bf_dev *d, struct bf_queue *q, struct bf_shadow *s)
{
	uint32_t i = s->nind;

	if (d->f.persistent) {
		if (ppool_get(&q->ipool, &d->mem, &s->ind_pg[i]) < 0)
			return NULL;
		s->ind_gref[i] = s->ind_pg[i].gref;
		s->nind++;
		return gmem_page(&d->mem, s->ind_pg[i].page);
	}
	if (q->ind_nfree == 0) {
		uint32_t page;
		if (gmem_alloc_pages(&d->mem, 1, &page) < 0)
			return NULL;
		q->ind_free[q->ind_nfree++] = page;
	}
	if (gmem_gref_get(&d->mem, &s->ind_gref[i]) < 0)
		return NULL;
	s->ind_page[i] = q->ind_free[--q->ind_nfree];
	s->nind++;
	return gmem_page(&d->mem, s->ind_page[i]);
}

/* ---- queueing ---- */

static uint8_t flush_op(const struct bf_dev *d)
{
	/* feature-flush-cache wins over feature-barrier (blkfront_gather_backend_features). */
	return d->f.flush ? WIRE_OP_FLUSH : WIRE_OP_WRITE_BARRIER;
}

static bool flush_on(const struct bf_dev *d)
{
	return (d->f.flush || d->f.barrier) && !d->flush_disabled;
}

/* Puts the next request of `io` on the ring. 1 = queued, 0 = no resources now, -1 = io finished early. */
static int queue_one(struct bf_dev *d, struct bf_queue *q, struct bf_io *io)
{
	const struct wire_layout *l = d->cfg.layout;
	struct wire_seg ws[WIRE_DIRECT_SEGS];
	struct bf_shadow *s;
	uint32_t id, n, max;
	uint8_t *slot;
	bool fua = io->kind == BF_WRITE && io->fua && flush_on(d);

	if (fring_full(&q->ring))
		return 0;
	s = shadow_get(q, &id);
	if (!s)
		return 0;
	slot = fring_slot(&q->ring, q->ring.req_prod_pvt);
	s->io = io;

	if (io->kind == BF_DISCARD) {
		s->op = s->rsp_op = WIRE_OP_DISCARD;
		s->wire_nsegs = 0;
		wire_put_discard(l, slot, io->secure && d->f.discard_secure ? WIRE_DISCARD_SECURE : 0, d->handle, id,
				 io->sector >> d->f.unit_shift, io->nr_sectors >> d->f.unit_shift);
		io->next_seg = io->nsegs;
		goto queued;
	}
	if (io->kind == BF_FLUSH) {
		s->op = s->rsp_op = flush_op(d);
		s->wire_nsegs = 0;
		wire_put_rw(l, slot, s->op, 0, d->handle, id, 0, NULL, 0);
		io->next_seg = io->nsegs;
		goto queued;
	}

	/* READ / WRITE: as many segments as one request may carry; FUA writes stay direct. */
	max = fua ? WIRE_DIRECT_SEGS : d->f.max_segs;
	n = io->nsegs - io->next_seg;
	if (n > max)
		n = max;
	s->seg0 = io->next_seg;
	{
		uint64_t sector0 = 0;
		uint8_t *ipage = NULL;
		for (uint32_t k = 0; k < n; k++) {
			uint32_t page, first, end;
			uint64_t sector;
			struct wire_seg seg;

			io_seg(io, s->seg0 + k, &page, &first, &end, &sector);
			if (k == 0)
				sector0 = sector;
			if (grant_segment(d, q, s, io, page, first, end, &seg) < 0)
				goto no_resources;
			if (n <= WIRE_DIRECT_SEGS) {
				ws[k] = seg;
				continue;
			}
			if (k % WIRE_SEGS_PER_INDIRECT_PAGE == 0 && !(ipage = indirect_page(d, q, s)))
				goto no_resources;
			wire_put_seg(ipage + (k % WIRE_SEGS_PER_INDIRECT_PAGE) * WIRE_SEG_SIZE, &seg);
		}
		if (n <= WIRE_DIRECT_SEGS) {
			s->op = fua ? flush_op(d) : io->kind == BF_WRITE ? WIRE_OP_WRITE : WIRE_OP_READ;
			s->rsp_op = s->op;
			wire_put_rw(l, slot, s->op, (uint8_t)n, d->handle, id, sector0 >> d->f.unit_shift, ws, n);
		} else {
			/* Grant the descriptor pages only once they are complete. */
			if (!d->f.persistent)
				for (uint32_t i = 0; i < s->nind; i++)
					gmem_grant(&d->mem, s->ind_gref[i], s->ind_page[i], true);
			s->op = WIRE_OP_INDIRECT;
			s->rsp_op = io->kind == BF_WRITE ? WIRE_OP_WRITE : WIRE_OP_READ;
			wire_put_indirect(l, slot, s->rsp_op, (uint16_t)n, d->handle, id, sector0 >> d->f.unit_shift,
					  s->ind_gref, s->nind);
		}
		s->wire_nsegs = (uint16_t)n;
		io->next_seg += n;
	}
queued:
	q->ring.req_prod_pvt++;
	q->need_push = true;
	io->reqs_out++;
	return 1;

no_resources:
	/* Undo this request: nothing was published. Ungranted indirect refs go back unrevoked. */
	for (uint32_t i = 0; i < s->nsegs; i++) {
		if (d->f.persistent)
			ppool_put(&q->pool, s->pg[i]);
		else
			gmem_revoke_put(&d->mem, s->grefs[i]);
	}
	for (uint32_t i = 0; i < s->nind; i++) {
		if (d->f.persistent) {
			ppool_put(&q->ipool, s->ind_pg[i]);
		} else {
			gmem_gref_put(&d->mem, s->ind_gref[i]);
			q->ind_free[q->ind_nfree++] = s->ind_page[i];
		}
	}
	s->nsegs = s->nind = 0;
	shadow_put(q, id);
	d->resource_stalls++;
	return 0;
}

static void complete_io(struct bf_dev *d, struct bf_queue *q, struct bf_io *io)
{
	io->done_ns = bf_now_ns();
	q->ios_out--;
	if (io->done)
		io->done(d, io);
}

void bf_submit(struct bf_dev *d, struct bf_io *io)
{
	struct bf_queue *q = &d->q[io->queue % d->nq];

	io->queue = q->idx;
	io->status = WIRE_RSP_OKAY;
	io->aborted = io->flush_dropped = false;
	io->next_seg = 0;
	io->reqs_out = 0;
	io->nsegs = io->kind == BF_READ || io->kind == BF_WRITE ? io_nsegs(io) : 0;
	io->submit_ns = bf_now_ns();
	io->next = NULL;
	q->ios_out++;
	if (q->pend_tail)
		q->pend_tail->next = io;
	else
		q->pend_head = io;
	q->pend_tail = io;
}

void bf_push(struct bf_dev *d, unsigned qi)
{
	struct bf_queue *q = &d->q[qi];

	if (q->need_push && fring_push(&q->ring))
		hv_evtchn_notify(&q->ev);
	q->need_push = false;
}

static void kick_queue(struct bf_dev *d, struct bf_queue *q)
{
	while (q->pend_head && !d->broken && !q->stopped) {
		struct bf_io *io = q->pend_head;

		/* The backend withdrew flushes: an empty flush completes at once (blkif_queue_rq). */
		if (io->kind == BF_FLUSH && !flush_on(d)) {
			q->pend_head = io->next;
			if (!q->pend_head)
				q->pend_tail = NULL;
			io->flush_dropped = true;
			complete_io(d, q, io);
			continue;
		}
		if (io->next_seg < io->nsegs || (io->nsegs == 0 && io->reqs_out == 0)) {
			if (queue_one(d, q, io) > 0)
				continue;
			/* Nothing in flight will ever give back pages or grants: this request cannot go. */
			if (fring_outstanding(&q->ring) == 0) {
				bf_note(d, "queue %u: not enough guest pages or grant references for one request "
					   "(give the domain more --pages/--grants)", q->idx);
				d->starved = d->broken = true;
			}
			break;
		}
		if (io->next_seg >= io->nsegs) {
			q->pend_head = io->next;
			if (!q->pend_head)
				q->pend_tail = NULL;
		}
	}
	bf_push(d, q->idx);
}

void bf_kick(struct bf_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++)
		kick_queue(d, &d->q[i]);
}

/* ---- responses ---- */

static void finish_request(struct bf_dev *d, struct bf_queue *q, uint32_t id, const struct wire_rsp *rsp)
{
	struct bf_shadow *s = &q->shadow[id];
	struct bf_io *io = s->io;
	int16_t st = rsp->status;

	if (s->raw_done) {
		bf_raw_fn fn = s->raw_done;
		void *arg = s->raw_arg;
		shadow_put(q, id);
		fn(d, q->idx, id, rsp, arg);
		return;
	}
	if (!io) {
		/* A late answer to a request we gave up on: only its grants are left to return. */
		release_grants(d, q, s);
		shadow_put(q, id);
		return;
	}
	/* Persistent reads: the data is in the pool pages; copy it home before they are reused. */
	if (d->f.persistent && rsp->op == WIRE_OP_READ && st == WIRE_RSP_OKAY) {
		for (uint32_t k = 0; k < s->nsegs; k++) {
			uint32_t page, first, end;
			uint64_t sector;
			io_seg(io, s->seg0 + k, &page, &first, &end, &sector);
			memcpy(gmem_page(&d->mem, page) + first, gmem_page(&d->mem, s->pg[k].page) + first, end - first);
		}
	}
	release_grants(d, q, s);

	if (s->op == WIRE_OP_FLUSH || s->op == WIRE_OP_WRITE_BARRIER) {
		/* blkif_interrupt: EOPNOTSUPP, or ERROR on an empty flush, turns flushing off and is not an error. */
		if (st == WIRE_RSP_EOPNOTSUPP || (st == WIRE_RSP_ERROR && s->wire_nsegs == 0)) {
			d->flush_disabled = true;
			io->flush_dropped = true;
			st = WIRE_RSP_OKAY;
		}
	} else if (s->op == WIRE_OP_DISCARD && st == WIRE_RSP_EOPNOTSUPP) {
		d->discard_disabled = true;
	}
	if (st != WIRE_RSP_OKAY && st != WIRE_RSP_ERROR && st != WIRE_RSP_EOPNOTSUPP)
		d->bad_status++;
	if (io->status == WIRE_RSP_OKAY)
		io->status = st;
	shadow_put(q, id);
	io->reqs_out--;
	if (io->reqs_out == 0 && io->next_seg >= io->nsegs && q->pend_head != io)
		complete_io(d, q, io);
}

/* blkif_interrupt for one ring. Returns completions, or -1 on a protocol error. */
static int ring_responses(struct bf_dev *d, struct bf_queue *q)
{
	int done = 0;

	if (q->stopped)
		return 0;
	do {
		uint32_t rp = fring_rsp_prod(&q->ring), i;

		if (fring_rsp_overflow(&q->ring, rp)) {
			bf_proto_error(d, "queue %u: illegal number of responses %u", q->idx, rp - q->ring.rsp_cons);
			d->broken = true;
			return -1;
		}
		for (i = q->ring.rsp_cons; i != rp; i++) {
			struct wire_rsp rsp;
			struct bf_shadow *s;

			wire_get_rsp(fring_slot(&q->ring, i), &rsp);
			if (rsp.id >= q->ring.nr_ents) {
				bf_proto_error(d, "queue %u: response has incorrect id (%llu)", q->idx,
					       (unsigned long long)rsp.id);
				d->broken = true;
				return -1;
			}
			s = &q->shadow[rsp.id];
			if (!s->busy) {
				bf_proto_error(d, "queue %u: response id %llu references no pending request", q->idx,
					       (unsigned long long)rsp.id);
				d->broken = true;
				return -1;
			}
			if (rsp.op != s->rsp_op && (s->alt_rsp_op < 0 || rsp.op != s->alt_rsp_op)) {
				bf_proto_error(d, "queue %u: response has wrong operation (%u instead of %u)", q->idx,
					       rsp.op, s->rsp_op);
				d->broken = true;
				return -1;
			}
			q->ring.rsp_cons = i + 1;
			finish_request(d, q, (uint32_t)rsp.id, &rsp);
			done++;
		}
	} while (fring_final_check(&q->ring));
	return done;
}

uint32_t bf_outstanding(const struct bf_dev *d)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < d->nq; i++)
		n += d->q[i].ios_out;
	return n;
}

int bf_poll(struct bf_dev *d, int timeout_ms)
{
	struct pollfd pfd[65];
	unsigned n = 0;
	int done = 0;

	/* Destroyed: xenstored dropped our connection and the backend let go; nothing will answer. */
	if (d->mem.mapped && d->mem.dom.status && d->mem.dom.status->alive == 0) {
		if (!d->domain_dead)
			bf_note(d, "domain %u was destroyed", d->cfg.domid);
		d->domain_dead = d->broken = true;
		return -1;
	}

	pfd[n++] = (struct pollfd){ .fd = xb_fd(&d->xb), .events = POLLIN };
	for (unsigned i = 0; i < d->nq && n < 65; i++)
		pfd[n++] = (struct pollfd){ .fd = d->q[i].ev_open ? d->q[i].ev.fd_in : -1, .events = POLLIN };
	if (poll(pfd, n, timeout_ms) < 0 && errno != EINTR)
		return d->broken ? -1 : 0;

	if (pfd[0].revents) {
		xb_process(&d->xb);
		if (d->xb.be_changed || d->xb.sectors_changed) {
			int s;
			d->xb.be_changed = false;
			d->xb.sectors_changed = false;
			s = xb_be_state(&d->xb);
			if (s == XB_CONNECTED)
				bf_check_resize(d);
			else if (d->connected && (s == XB_CLOSING || s == XB_CLOSED || s < 0))
				d->backend_closing = true;
		}
	}
	/* Every ring is checked, not only those notified: responses may precede their event. */
	for (unsigned i = 0; i < d->nq; i++) {
		int r;
		if (d->q[i].ev_open)
			hv_evtchn_consume(&d->q[i].ev);
		r = ring_responses(d, &d->q[i]);
		if (r < 0)
			return -1;
		done += r;
	}
	if (d->broken)
		return -1;
	return done;
}

static void abort_io(struct bf_dev *d, struct bf_queue *q, struct bf_io *io)
{
	io->aborted = true;
	if (io->status == WIRE_RSP_OKAY)
		io->status = WIRE_RSP_ERROR;
	complete_io(d, q, io);
}

void bf_abort_pending(struct bf_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct bf_queue *q = &d->q[i];
		while (q->pend_head) {
			struct bf_io *io = q->pend_head;
			q->pend_head = io->next;
			/* Partly queued I/Os complete when their requests do (or are aborted in flight). */
			if (io->reqs_out == 0) {
				abort_io(d, q, io);
			} else {
				io->aborted = true;
				io->status = WIRE_RSP_ERROR;
				io->next_seg = io->nsegs;
			}
		}
		q->pend_tail = NULL;
	}
}

void bf_abort_inflight(struct bf_dev *d)
{
	for (unsigned i = 0; i < d->nq; i++) {
		struct bf_queue *q = &d->q[i];
		for (uint32_t id = 0; id < q->ring.nr_ents && q->shadow; id++) {
			struct bf_shadow *s = &q->shadow[id];
			struct bf_io *io = s->io;
			if (!s->busy || !io || s->raw_done)
				continue;
			/* Grants stay with the shadow: bf_release tries to revoke them. */
			s->io = NULL;
			io->reqs_out--;
			if (io->reqs_out == 0)
				abort_io(d, q, io);
		}
	}
}

/* ---- raw requests ---- */

uint8_t *bf_raw_begin(struct bf_dev *d, unsigned qi, uint32_t *id)
{
	struct bf_queue *q = &d->q[qi];

	if (fring_full(&q->ring) || q->free_head >= q->ring.nr_ents)
		return NULL;
	*id = q->free_head;
	return fring_slot(&q->ring, q->ring.req_prod_pvt);
}

void bf_raw_commit(struct bf_dev *d, unsigned qi, uint32_t id, uint8_t op, uint8_t rsp_op, int alt_rsp_op,
		   uint16_t nsegs, bf_raw_fn done, void *arg)
{
	struct bf_queue *q = &d->q[qi];
	uint32_t got;
	struct bf_shadow *s = shadow_get(q, &got);

	(void)id; /* bf_raw_begin promised this very id: the free list has not moved since */
	s->op = op;
	s->rsp_op = rsp_op;
	s->alt_rsp_op = alt_rsp_op;
	s->wire_nsegs = nsegs;
	s->raw_done = done;
	s->raw_arg = arg;
	q->ring.req_prod_pvt++;
	q->need_push = true;
}
