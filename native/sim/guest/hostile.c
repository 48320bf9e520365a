/* The hostile modes: malformed requests, ring abuse and requests after close. */
#include "sim/guest/hostile.h"

#include <stdio.h>
#include <string.h>

#define OTHER_DOMID_OFFSET 1000u /* a domain that is not the backend */
#define NO_ANSWER_WAIT_MS 2000

const char *hexpect_name(enum hexpect e)
{
	static const char *const n[] = { "okay", "error", "eopnotsupp", "error-or-eopnotsupp", "no-response" };
	return n[e];
}

void hostile_detail(struct hostile_result *r, const char *key, double val)
{
	for (unsigned i = 0; i < r->ndet; i++)
		if (strcmp(r->det[i].key, key) == 0) {
			r->det[i].val = val;
			return;
		}
	if (r->ndet < HOSTILE_MAX_DETAILS)
		r->det[r->ndet++] = (struct hdetail){ key, val, false };
}

void hostile_flag(struct hostile_result *r, const char *key, bool val)
{
	hostile_detail(r, key, val);
	for (unsigned i = 0; i < r->ndet; i++)
		if (strcmp(r->det[i].key, key) == 0)
			r->det[i].flag = true;
}

struct hctx {
	struct bf_dev *d;
	const struct guest_opts *o;
	struct hostile_result *r;
	int timeout_ms;
	uint32_t page_rw, page_ro, page_other, page_sane, page_ind, page_ind_badref, page_ind_badsect;
	uint32_t g_rw, g_ro, g_other, g_never[2], g_ind[WIRE_INDIRECT_PAGES], g_ind_badref, g_ind_badsect,
		g_ind_other;
	uint32_t granted[24];
	unsigned ngranted;
	uint32_t borrowed[4];
	unsigned nborrowed;
};

/* ---- resources ---- */

static int grant_to(struct hctx *h, uint32_t page, bool ro, uint16_t domid, uint32_t *gref)
{
	struct gmem *m = &h->d->mem;

	if (gmem_gref_get(m, gref) < 0 || hv_grant_access(&m->dom, *gref, domid, page, ro) < 0)
		return -1;
	h->granted[h->ngranted++] = *gref;
	return 0;
}

static void fill_segs(uint8_t *page, uint32_t gref, uint8_t first, uint8_t last)
{
	struct wire_seg s = { gref, first, last };
	for (unsigned i = 0; i < WIRE_SEGS_PER_INDIRECT_PAGE; i++)
		wire_put_seg(page + i * WIRE_SEG_SIZE, &s);
}

static int setup(struct hctx *h)
{
	struct gmem *m = &h->d->mem;
	uint16_t be = (uint16_t)h->d->xb.be_domid, other = (uint16_t)(be + OTHER_DOMID_OFFSET);
	uint32_t first;

	/* rw, ro, other, sane, ind_badref, ind_badsect, then 8 indirect pages. */
	if (gmem_alloc_pages(m, 6 + WIRE_INDIRECT_PAGES, &first) < 0)
		return -1;
	h->page_rw = first;
	h->page_ro = first + 1;
	h->page_other = first + 2;
	h->page_sane = first + 3;
	h->page_ind_badref = first + 4;
	h->page_ind_badsect = first + 5;
	h->page_ind = first + 6;
	if (grant_to(h, h->page_rw, false, be, &h->g_rw) < 0 || grant_to(h, h->page_ro, true, be, &h->g_ro) < 0 ||
	    grant_to(h, h->page_other, false, other, &h->g_other) < 0)
		return -1;
	/* References from our window that nobody granted. */
	for (unsigned i = 0; i < 2; i++) {
		if (gmem_gref_get(m, &h->g_never[i]) < 0)
			return -1;
		hv_grant_revoke(&m->dom, h->g_never[i]);
		h->borrowed[h->nborrowed++] = h->g_never[i];
	}
	for (unsigned i = 0; i < WIRE_INDIRECT_PAGES; i++) {
		fill_segs(gmem_page(m, h->page_ind + i), h->g_rw, 0, 7);
		if (grant_to(h, h->page_ind + i, true, be, &h->g_ind[i]) < 0)
			return -1;
	}
	fill_segs(gmem_page(m, h->page_ind_badref), h->g_never[0], 0, 7);
	fill_segs(gmem_page(m, h->page_ind_badsect), h->g_rw, 0, 7);
	{
		struct wire_seg bad = { h->g_rw, 0, 9 };
		wire_put_seg(gmem_page(m, h->page_ind_badsect) + 14 * WIRE_SEG_SIZE, &bad);
		bad = (struct wire_seg){ h->g_rw, 6, 2 };
		wire_put_seg(gmem_page(m, h->page_ind_badsect) + 15 * WIRE_SEG_SIZE, &bad);
	}
	if (grant_to(h, h->page_ind_badref, true, be, &h->g_ind_badref) < 0 ||
	    grant_to(h, h->page_ind_badsect, true, be, &h->g_ind_badsect) < 0 ||
	    grant_to(h, h->page_ind, true, other, &h->g_ind_other) < 0)
		return -1;
	return 0;
}

static void teardown(struct hctx *h)
{
	for (unsigned i = 0; i < h->ngranted; i++)
		gmem_revoke_put(&h->d->mem, h->granted[i]);
	for (unsigned i = 0; i < h->nborrowed; i++)
		gmem_gref_put(&h->d->mem, h->borrowed[i]);
	h->ngranted = h->nborrowed = 0;
}

/* ---- sending and waiting ---- */

static void on_answer(struct bf_dev *d, unsigned q, uint32_t id, const struct wire_rsp *rsp, void *arg)
{
	struct hcase *c = arg;

	(void)d;
	(void)q;
	(void)id;
	c->answered = true;
	c->status = rsp->status;
	c->rsp_got = rsp->op;
}

/* Waits until every case is answered, the device breaks, or `ms` passes. */
static void wait_answers(struct hctx *h, int ms)
{
	uint64_t deadline = bf_now_ns() + (uint64_t)ms * 1000000ull;

	while (bf_now_ns() < deadline && !h->d->broken) {
		unsigned open = 0;
		for (unsigned i = 0; i < h->r->ncases; i++)
			open += !h->r->cases[i].answered && h->r->cases[i].expect != H_NONE;
		if (!open)
			return;
		if (bf_poll(h->d, 20) < 0)
			return;
	}
}

/* A slot for a new case on queue `q`, waiting for answers if the ring is full. */
static uint8_t *begin(struct hctx *h, unsigned q, uint32_t *id, const char *name, enum hexpect e)
{
	uint8_t *slot;
	struct hcase *c;

	if (h->r->ncases >= HOSTILE_MAX_CASES)
		return NULL;
	slot = bf_raw_begin(h->d, q, id);
	if (!slot) {
		bf_push(h->d, q);
		wait_answers(h, h->timeout_ms);
		slot = bf_raw_begin(h->d, q, id);
		if (!slot)
			return NULL;
	}
	c = &h->r->cases[h->r->ncases];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->expect = e;
	return slot;
}

static void commit(struct hctx *h, unsigned q, uint32_t id, uint8_t op, uint8_t rsp_op, int alt, uint16_t nsegs)
{
	struct hcase *c = &h->r->cases[h->r->ncases++];

	c->op = op;
	c->rsp_op = rsp_op;
	c->alt_rsp_op = alt;
	h->r->sent++;
	bf_raw_commit(h->d, q, id, op, rsp_op, alt, nsegs, on_answer, c);
}

static void send_rw(struct hctx *h, const char *name, enum hexpect e, uint8_t op, uint8_t wire_nsegs,
		    uint64_t sector, const struct wire_seg *segs, unsigned nsegs)
{
	uint32_t id;
	uint8_t *slot = begin(h, 0, &id, name, e);

	if (!slot)
		return;
	wire_put_rw(h->d->cfg.layout, slot, op, wire_nsegs, h->d->handle, id, sector, segs, nsegs);
	commit(h, 0, id, op, op, -1, wire_nsegs);
}

static void send_discard(struct hctx *h, const char *name, enum hexpect e, uint8_t flag, uint64_t sector,
			 uint64_t nr)
{
	uint32_t id;
	uint8_t *slot = begin(h, 0, &id, name, e);

	if (!slot)
		return;
	wire_put_discard(h->d->cfg.layout, slot, flag, h->d->handle, id, sector, nr);
	commit(h, 0, id, WIRE_OP_DISCARD, WIRE_OP_DISCARD, -1, 0);
}

static void send_indirect(struct hctx *h, const char *name, enum hexpect e, uint8_t iop, uint16_t nsegs,
			  uint64_t sector, const uint32_t *grefs, unsigned ngrefs)
{
	uint32_t id;
	uint8_t *slot = begin(h, 0, &id, name, e);

	if (!slot)
		return;
	wire_put_indirect(h->d->cfg.layout, slot, iop, nsegs, h->d->handle, id, sector, grefs, ngrefs);
	/* The answer carries indirect_op; one that cannot be valid (bad indirect_op, INDIRECT not
	 * advertised) may come back as INDIRECT from a backend treating it as an unknown operation. */
	commit(h, 0, id, WIRE_OP_INDIRECT, iop, e == H_FAIL ? WIRE_OP_INDIRECT : -1, nsegs);
}

/* A well-formed indirect read of n whole pages (all into the same page) at `sector`. */
static void send_good_indirect(struct hctx *h, const char *name, enum hexpect e, uint16_t n, uint64_t sector)
{
	unsigned pages = (n + WIRE_SEGS_PER_INDIRECT_PAGE - 1) / WIRE_SEGS_PER_INDIRECT_PAGE;
	send_indirect(h, name, e, WIRE_OP_READ, n, sector, h->g_ind, pages > 8 ? 8 : pages);
}

static struct wire_seg seg(uint32_t gref, uint8_t first, uint8_t last)
{
	return (struct wire_seg){ gref, first, last };
}

/* A plain read through the normal path: does the device still work? */
static int sanity_read(struct hctx *h, unsigned q)
{
	struct bf_io io;
	uint64_t deadline = bf_now_ns() + (uint64_t)h->timeout_ms * 1000000ull;

	if (h->d->broken)
		return 0;
	memset(&io, 0, sizeof(io));
	io.kind = BF_READ;
	io.sector = 0;
	io.nr_sectors = 8;
	io.buf_page = h->page_sane;
	io.queue = q;
	bf_submit(h->d, &io);
	bf_kick(h->d);
	while (io.done_ns == 0 && bf_now_ns() < deadline)
		if (bf_poll(h->d, 20) < 0)
			break;
	if (io.done_ns == 0) {
		bf_abort_pending(h->d);
		bf_abort_inflight(h->d);
		return 0;
	}
	return io.status == WIRE_RSP_OKAY && !io.aborted;
}

/* ---- the modes ---- */

static void mode_bad_gref(struct hctx *h)
{
	uint32_t past = h->d->mem.dom.nr_grants;
	struct wire_seg two[2] = { seg(h->g_rw, 0, 7), seg(h->g_never[0], 0, 7) };
	struct wire_seg three[3] = { seg(h->g_rw, 0, 7), seg(h->g_ro, 0, 7), seg(past + 5, 0, 7) };
	struct wire_seg s;

	s = seg(h->g_never[0], 0, 7);
	send_rw(h, "read-never-granted", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_never[1], 0, 7);
	send_rw(h, "write-never-granted", H_ERROR, WIRE_OP_WRITE, 1, 0, &s, 1);
	s = seg(past, 0, 7);
	send_rw(h, "read-gref-past-table", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(0xffffffffu, 0, 7);
	send_rw(h, "read-gref-0xffffffff", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_other, 0, 7);
	send_rw(h, "read-granted-to-other-domain", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_ro, 0, 7);
	send_rw(h, "read-into-readonly-grant", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	send_rw(h, "read-second-segment-never-granted", H_ERROR, WIRE_OP_READ, 2, 0, two, 2);
	send_rw(h, "write-third-segment-past-table", H_ERROR, WIRE_OP_WRITE, 3, 0, three, 3);
	if (h->d->f.be_max_indirect >= 16) {
		/* 16 segments through an indirect page whose segments name a never-granted ref. */
		send_indirect(h, "indirect-segments-never-granted", H_ERROR, WIRE_OP_READ, 16, 0, &h->g_ind_badref, 1);
	}
	s = seg(h->g_rw, 0, 7);
	send_rw(h, "control-valid-read", H_OK, WIRE_OP_READ, 1, 0, &s, 1);
}

static void mode_past_end(struct hctx *h)
{
	uint64_t S = h->d->f.sectors;
	struct wire_seg s1 = seg(h->g_rw, 0, 0), s2 = seg(h->g_rw, 0, 1), s8 = seg(h->g_rw, 0, 7);
	struct wire_seg many[WIRE_DIRECT_SEGS];

	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		many[i] = seg(h->g_rw, 0, 7);
	send_rw(h, "read-at-end", H_ERROR, WIRE_OP_READ, 1, S, &s1, 1);
	if (S >= 1) {
		send_rw(h, "read-straddling-end", H_ERROR, WIRE_OP_READ, 1, S - 1, &s2, 1);
		send_rw(h, "control-read-last-sector", H_OK, WIRE_OP_READ, 1, S - 1, &s1, 1);
	}
	if (S >= 8) {
		struct wire_seg w8 = seg(h->g_ro, 0, 7);
		send_rw(h, "write-straddling-end", H_ERROR, WIRE_OP_WRITE, 1, S - 4, &w8, 1);
		send_rw(h, "read-11-segments-straddling-end", H_ERROR, WIRE_OP_READ, 11, S - 8, many, 11);
	}
	send_rw(h, "read-sector-overflow", H_ERROR, WIRE_OP_READ, 1, UINT64_MAX - 3, &s8, 1);
	send_rw(h, "read-sector-2^63", H_ERROR, WIRE_OP_READ, 1, 1ull << 63, &s8, 1);
	send_rw(h, "read-sector-2^55", H_ERROR, WIRE_OP_READ, 1, 1ull << 55, &s8, 1);
	if (h->d->f.discard) {
		send_discard(h, "discard-at-end", H_ERROR, 0, S, 8);
		send_discard(h, "discard-whole-disk-plus-one", H_ERROR, 0, 0, S + 1);
		send_discard(h, "discard-sector-overflow", H_ERROR, 0, UINT64_MAX - 1, 4);
		send_discard(h, "discard-length-overflow", H_ERROR, 0, 8, UINT64_MAX);
	}
	if (h->d->f.be_max_indirect >= 16 && S >= 8)
		send_good_indirect(h, "indirect-read-straddling-end", H_ERROR, 16, S - 8);
}

static void mode_bad_segment(struct hctx *h)
{
	struct wire_seg s;
	struct wire_seg three[3] = { seg(h->g_rw, 0, 7), seg(h->g_rw, 0, 7), seg(h->g_rw, 5, 4) };

	s = seg(h->g_rw, 3, 2);
	send_rw(h, "read-first-after-last", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_rw, 0, 8);
	send_rw(h, "read-last-sect-8", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_rw, 8, 8);
	send_rw(h, "read-first-sect-8", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_rw, 0, 255);
	send_rw(h, "read-last-sect-255", H_ERROR, WIRE_OP_READ, 1, 0, &s, 1);
	s = seg(h->g_ro, 7, 0);
	send_rw(h, "write-first-after-last", H_ERROR, WIRE_OP_WRITE, 1, 0, &s, 1);
	send_rw(h, "read-third-segment-bad", H_ERROR, WIRE_OP_READ, 3, 0, three, 3);
	if (h->d->f.be_max_indirect >= 16)
		send_indirect(h, "indirect-segment-bad-bounds", H_ERROR, WIRE_OP_READ, 16, 0, &h->g_ind_badsect, 1);
	s = seg(h->g_rw, 7, 7);
	send_rw(h, "control-read-sector-7-of-page", H_OK, WIRE_OP_READ, 1, 0, &s, 1);
}

static void mode_too_many_segments(struct hctx *h)
{
	static const uint8_t counts[] = { 12, 16, 64, 128, 255 };
	unsigned max = h->d->f.be_max_indirect;
	struct wire_seg segs[WIRE_DIRECT_SEGS];
	char name[48];

	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		segs[i] = seg(h->g_rw, 0, 7);
	send_rw(h, "read-0-segments", H_ERROR, WIRE_OP_READ, 0, 0, NULL, 0);
	send_rw(h, "write-0-segments", H_ERROR, WIRE_OP_WRITE, 0, 0, NULL, 0);
	for (unsigned i = 0; i < sizeof(counts); i++) {
		snprintf(name, sizeof(name), "read-%u-direct-segments", counts[i]);
		send_rw(h, name, H_ERROR, WIRE_OP_READ, counts[i], 0, segs, WIRE_DIRECT_SEGS);
	}
	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		segs[i] = seg(h->g_ro, 0, 7);
	send_rw(h, "write-12-direct-segments", H_ERROR, WIRE_OP_WRITE, 12, 0, segs, WIRE_DIRECT_SEGS);
	send_rw(h, "write-255-direct-segments", H_ERROR, WIRE_OP_WRITE, 255, 0, segs, WIRE_DIRECT_SEGS);
	if (max > WIRE_DIRECT_SEGS) {
		send_good_indirect(h, "indirect-0-segments", H_ERROR, 0, 0);
		if (max < WIRE_INDIRECT_PAGES * WIRE_SEGS_PER_INDIRECT_PAGE) {
			snprintf(name, sizeof(name), "indirect-%u-segments-max+1", max + 1);
			send_good_indirect(h, name, H_ERROR, (uint16_t)(max + 1), 0);
		}
		send_good_indirect(h, "indirect-4097-segments", H_ERROR, 4097, 0);
		send_good_indirect(h, "indirect-65535-segments", H_ERROR, 65535, 0);
		if ((uint64_t)max * 8 <= h->d->f.sectors && max <= 4096) {
			snprintf(name, sizeof(name), "control-indirect-%u-segments", max);
			send_good_indirect(h, name, H_OK, (uint16_t)max, 0);
		}
	} else {
		/* No INDIRECT advertised: using it anyway must fail. */
		send_good_indirect(h, "indirect-not-advertised", H_FAIL, 16, 0);
	}
}

static void mode_bad_indirect(struct hctx *h)
{
	uint32_t g[WIRE_INDIRECT_PAGES];
	bool adv = h->d->f.be_max_indirect > WIRE_DIRECT_SEGS;
	enum hexpect e = adv ? H_ERROR : H_FAIL;

	g[0] = h->g_never[0];
	send_indirect(h, "indirect-page-never-granted", e, WIRE_OP_READ, 16, 0, g, 1);
	g[0] = 0xffffffffu;
	send_indirect(h, "indirect-gref-0xffffffff", e, WIRE_OP_READ, 16, 0, g, 1);
	g[0] = h->d->mem.dom.nr_grants;
	send_indirect(h, "indirect-gref-past-table", e, WIRE_OP_READ, 16, 0, g, 1);
	g[0] = h->g_ind_other;
	send_indirect(h, "indirect-page-granted-to-other-domain", e, WIRE_OP_READ, 16, 0, g, 1);
	g[0] = h->g_ind[0];
	g[1] = h->g_never[1];
	send_indirect(h, "indirect-second-page-never-granted", e, WIRE_OP_READ, 600, 0, g, 2);
	g[0] = h->g_ind_badref;
	send_indirect(h, "indirect-segments-never-granted", e, WIRE_OP_READ, 16, 0, g, 1);
	g[0] = h->g_ind_badsect;
	send_indirect(h, "indirect-segment-bad-bounds", e, WIRE_OP_READ, 16, 0, g, 1);
	send_indirect(h, "indirect-op-flush", H_FAIL, WIRE_OP_FLUSH, 16, 0, h->g_ind, 1);
	send_indirect(h, "indirect-op-discard", H_FAIL, WIRE_OP_DISCARD, 16, 0, h->g_ind, 1);
	send_indirect(h, "indirect-op-indirect", H_FAIL, WIRE_OP_INDIRECT, 16, 0, h->g_ind, 1);
	send_indirect(h, "indirect-op-255", H_FAIL, 255, 16, 0, h->g_ind, 1);
	if (adv && h->d->f.be_max_indirect >= 16 && h->d->f.sectors >= 128)
		send_good_indirect(h, "control-indirect-16-segments", H_OK, 16, 0);
}

static void mode_bad_op(struct hctx *h)
{
	static const uint8_t unknown[] = { 4, 7, 8, 9, 42, 127, 200, 255 };
	char name[48];

	for (unsigned i = 0; i < sizeof(unknown); i++) {
		snprintf(name, sizeof(name), "op-%u", unknown[i]);
		send_rw(h, name, H_NOTSUPP, unknown[i], 0, 0, NULL, 0);
	}
	if (!h->d->f.barrier)
		send_rw(h, "barrier-not-advertised", H_FAIL, WIRE_OP_WRITE_BARRIER, 0, 0, NULL, 0);
	if (!h->d->f.flush)
		send_rw(h, "flush-not-advertised", H_FAIL, WIRE_OP_FLUSH, 0, 0, NULL, 0);
	if (!h->d->f.discard)
		send_discard(h, "discard-not-advertised", H_FAIL, 0, 0, 8);
}

static void mode_ro_write(struct hctx *h)
{
	struct wire_seg s = seg(h->g_ro, 0, 7);

	send_rw(h, "write-readonly-vbd", H_ERROR, WIRE_OP_WRITE, 1, 0, &s, 1);
	if (h->d->f.discard)
		send_discard(h, "discard-readonly-vbd", H_FAIL, 0, 0, 8);
	if (h->d->f.be_max_indirect >= 16)
		send_indirect(h, "indirect-write-readonly-vbd", H_ERROR, WIRE_OP_WRITE, 16, 0, h->g_ind, 1);
	s = seg(h->g_rw, 0, 7);
	send_rw(h, "control-read-readonly-vbd", H_OK, WIRE_OP_READ, 1, 0, &s, 1);
}

/*
 * req_prod far beyond what the ring can hold: the backend must neither serve the stale slots nor
 * answer anything, and must drop the device (leave Connected).
 */
static void mode_ring_overflow(struct hctx *h)
{
	struct bf_queue *q = &h->d->q[0];
	struct wire_seg s = seg(h->g_rw, 0, 7);
	uint64_t deadline, dropped_at = 0;
	uint32_t rsp_before;

	send_rw(h, "control-read-before", H_OK, WIRE_OP_READ, 1, 0, &s, 1);
	send_rw(h, "control-read-before-2", H_OK, WIRE_OP_READ, 1, 8, &s, 1);
	bf_push(h->d, 0);
	wait_answers(h, h->timeout_ms);

	rsp_before = fring_rsp_prod(&q->ring);
	q->stopped = true; /* from here on nothing on this ring is ours to interpret */
	fring_push_raw(&q->ring, q->ring.req_prod_pvt + q->ring.nr_ents * 2 + 1);
	hv_evtchn_notify(&q->ev);
	/* Up to 2 s; once the device is dropped, a little longer to catch stray responses. */
	deadline = bf_now_ns() + (uint64_t)NO_ANSWER_WAIT_MS * 1000000ull;
	while (bf_now_ns() < deadline) {
		int st;
		bf_poll(h->d, 50);
		st = xb_be_state(&h->d->xb);
		if (!dropped_at && st != XB_CONNECTED) {
			dropped_at = bf_now_ns();
			if (dropped_at + 200000000ull < deadline)
				deadline = dropped_at + 200000000ull;
		}
	}
	h->r->responses_after = fring_rsp_prod(&q->ring) - rsp_before;
	h->r->device_dropped = dropped_at != 0;
	/* A backend that only halts the ring (as Linux blkback does): do its other rings still work? */
	if (!h->r->device_dropped && h->d->nq > 1)
		h->r->other_queue = sanity_read(h, 1);
}

/* Requests after we closed: the backend has let the ring go and must not answer. */
static void mode_after_close(struct hctx *h)
{
	struct bf_queue *q = &h->d->q[0];
	struct wire_seg s = seg(h->g_rw, 0, 7);
	uint32_t rsp_before;

	if (bf_close(h->d, false) < 0)
		snprintf(h->r->note, sizeof(h->r->note), "close: %.180s", h->d->err);
	xb_wait_be_state(&h->d->xb, XB_STATE_BIT(XB_CLOSED), h->timeout_ms);
	rsp_before = fring_rsp_prod(&q->ring);
	send_rw(h, "read-after-closed", H_NONE, WIRE_OP_READ, 1, 0, &s, 1);
	send_rw(h, "read-after-closed-2", H_NONE, WIRE_OP_READ, 1, 8, &s, 1);
	bf_push(h->d, 0);
	hv_evtchn_notify(&q->ev);
	{
		uint64_t deadline = bf_now_ns() + (uint64_t)NO_ANSWER_WAIT_MS * 1000000ull;
		while (bf_now_ns() < deadline)
			bf_poll(h->d, 50);
	}
	h->r->responses_after = fring_rsp_prod(&q->ring) - rsp_before;
	q->stopped = true;
}

static bool case_pass(const struct hcase *c)
{
	switch (c->expect) {
	case H_OK: return c->answered && c->status == WIRE_RSP_OKAY;
	case H_ERROR: return c->answered && c->status == WIRE_RSP_ERROR;
	case H_NOTSUPP: return c->answered && c->status == WIRE_RSP_EOPNOTSUPP;
	case H_FAIL: return c->answered && (c->status == WIRE_RSP_ERROR || c->status == WIRE_RSP_EOPNOTSUPP);
	case H_NONE: return !c->answered;
	}
	return false;
}

int hostile_run(struct bf_dev *d, const struct guest_opts *o, struct hostile_result *r)
{
	struct hctx h = { .d = d, .o = o, .r = r, .timeout_ms = (int)(o->timeout * 1000) };
	const char *m = o->hostile;
	bool survive = true;

	memset(r, 0, sizeof(*r));
	r->mode = m;
	r->sanity = r->other_queue = -1;
	if (setup(&h) < 0) {
		snprintf(r->note, sizeof(r->note), "not enough guest memory or grants for the hostile requests");
		teardown(&h);
		return -1;
	}
	if (strcmp(m, "ro-write") == 0 && !d->f.readonly) {
		snprintf(r->note, sizeof(r->note), "ro-write needs a read-only vbd (info has no VDISK_READONLY)");
		teardown(&h);
		return -1;
	}
	if (strcmp(m, "bad-gref") == 0)
		mode_bad_gref(&h);
	else if (strcmp(m, "past-end") == 0)
		mode_past_end(&h);
	else if (strcmp(m, "bad-segment") == 0)
		mode_bad_segment(&h);
	else if (strcmp(m, "too-many-segments") == 0)
		mode_too_many_segments(&h);
	else if (strcmp(m, "bad-indirect") == 0)
		mode_bad_indirect(&h);
	else if (strcmp(m, "bad-op") == 0)
		mode_bad_op(&h);
	else if (strcmp(m, "ro-write") == 0)
		mode_ro_write(&h);
	else if (strcmp(m, "ring-overflow") == 0) {
		mode_ring_overflow(&h);
		survive = false;
	} else if (strcmp(m, "after-close") == 0) {
		mode_after_close(&h);
		survive = false;
	}
	if (survive) {
		bf_push(d, 0);
		wait_answers(&h, h.timeout_ms);
		r->sanity = sanity_read(&h, 0);
	}

	r->pass = survive ? r->sanity == 1 : r->responses_after == 0;
	if (strcmp(m, "ring-overflow") == 0 && !r->device_dropped)
		r->pass = false;
	for (unsigned i = 0; i < r->ncases; i++) {
		struct hcase *c = &r->cases[i];
		c->pass = case_pass(c);
		r->pass &= c->pass;
		if (c->answered) {
			r->answered++;
			r->by_status[c->status == 0 ? 0 : c->status == -1 ? 1 : c->status == -2 ? 2 : 3]++;
		}
	}
	if (survive && d->broken)
		r->pass = false;
	r->backend_state_after = xb_be_state(&d->xb);
	/* Grants of unanswered requests may still be in the backend's hands; revoke what we can. */
	teardown(&h);
	if (strcmp(m, "after-close") == 0)
		bf_release(d);
	return r->pass ? 0 : 1;
}
