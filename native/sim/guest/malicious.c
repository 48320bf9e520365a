/*
 * The malicious modes. Except xenstore-flip, each drives queue 0's ring by
 * hand (no shadows: responses are counted and matched by slot id here, never
 * by blkfront's checks, since the attacks clobber what those rely on) and
 * hands it back consistent for a sanity write and read through the normal
 * path at the end.
 */
#include "sim/guest/malicious.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xenstore.h>

#define NCANARY 4
#define MAX_ENTS 1024         /* ring entries at order 4 are at most 512 */
#define SR_RSP_EVENT 12u      /* offset of rsp_event in the shared ring header */
#define DEFAULT_SECONDS 2.0
#define RV_POOL 512           /* revoke-in-flight: data pages taken in turn */
#define MAX_REFS 1200

static const char *const modes[] = { "rewrite-in-flight", "flood", "ro-grant-read", "revoke-in-flight",
				     "xenstore-flip", NULL };

bool malicious_mode(const char *mode)
{
	for (int i = 0; mode && modes[i]; i++)
		if (strcmp(mode, modes[i]) == 0)
			return true;
	return false;
}

struct mctx {
	struct bf_dev *d;
	const struct guest_opts *o;
	struct hostile_result *r;
	int timeout_ms;
	double seconds;
	uint64_t rng;
	uint32_t canary;        /* first of NCANARY pages, never granted */
	uint32_t san_page;      /* two pages for the sanity write and read */
	struct hv_audit a0;     /* the hypervisor's account when the mode began */
	uint32_t refs[MAX_REFS]; /* granted by setup, revoked at the end */
	unsigned nrefs;
	/* Queue 0 by hand. */
	struct bf_queue *q;
	uint64_t pushed, answered, extra, bad_ids, bad_status, notifies;
	uint64_t n_ok, n_err, n_notsupp;
	int16_t st[MAX_ENTS];
	uint8_t rop[MAX_ENTS];
	bool got[MAX_ENTS];
};

static uint64_t rnd(struct mctx *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static uint32_t pick(struct mctx *m, uint32_t n)
{
	return n ? (uint32_t)(rnd(m) % n) : 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool page_is(const uint8_t *p, uint8_t b)
{
	for (unsigned i = 0; i < HV_PAGE_SIZE; i++)
		if (p[i] != b)
			return false;
	return true;
}

/* ---- grants ---- */

static int grant(struct mctx *m, uint32_t page, bool ro, uint32_t *gref)
{
	if (m->nrefs >= MAX_REFS || gmem_gref_get(&m->d->mem, gref) < 0)
		return -1;
	if (gmem_grant(&m->d->mem, *gref, page, ro) < 0) {
		gmem_gref_put(&m->d->mem, *gref);
		return -1;
	}
	m->refs[m->nrefs++] = *gref;
	return 0;
}

/* A reference from our window with no grant behind it. */
static int never_granted(struct mctx *m, uint32_t *gref)
{
	if (gmem_gref_get(&m->d->mem, gref) < 0)
		return -1;
	hv_grant_revoke(&m->d->mem.dom, *gref);
	return 0;
}

static void revoke_setup_grants(struct mctx *m)
{
	for (unsigned i = 0; i < m->nrefs; i++)
		gmem_revoke_put(&m->d->mem, m->refs[i]);
	m->nrefs = 0;
}

/* ---- the ring by hand ---- */

static uint8_t *slot_next(struct mctx *m, uint32_t *id)
{
	struct front_ring *ring = &m->q->ring;

	if (fring_full(ring))
		return NULL;
	*id = ring->req_prod_pvt & (ring->nr_ents - 1);
	m->got[*id] = false;
	return fring_slot(ring, ring->req_prod_pvt);
}

static void slot_commit(struct mctx *m)
{
	m->q->ring.req_prod_pvt++;
	m->pushed++;
}

/* Publishes and notifies, wanted or not. */
static void push(struct mctx *m)
{
	fring_push(&m->q->ring);
	hv_evtchn_notify(&m->q->ev);
	m->notifies++;
}

/* Consumes the answers there are; never past what we sent. */
static unsigned reap(struct mctx *m)
{
	struct front_ring *ring = &m->q->ring;
	uint32_t rp = fring_rsp_prod(ring), n = 0;

	if (rp - ring->rsp_cons > ring->req_prod_pvt - ring->rsp_cons) {
		m->extra++;
		rp = ring->req_prod_pvt;
	}
	for (; ring->rsp_cons != rp; ring->rsp_cons++, n++) {
		struct wire_rsp rsp;

		wire_get_rsp(fring_slot(ring, ring->rsp_cons), &rsp);
		if (rsp.status == WIRE_RSP_OKAY)
			m->n_ok++;
		else if (rsp.status == WIRE_RSP_ERROR)
			m->n_err++;
		else if (rsp.status == WIRE_RSP_EOPNOTSUPP)
			m->n_notsupp++;
		else
			m->bad_status++;
		if (rsp.id < ring->nr_ents && !m->got[rsp.id]) {
			m->got[rsp.id] = true;
			m->st[rsp.id] = rsp.status;
			m->rop[rsp.id] = rsp.op;
		} else {
			m->bad_ids++;
		}
		m->answered++;
	}
	return n;
}

static void wait_event(struct mctx *m, int ms)
{
	struct pollfd p = { .fd = m->q->ev.fd_in, .events = POLLIN };

	poll(&p, 1, ms);
	hv_evtchn_consume(&m->q->ev);
}

/* Waits until every request sent is answered; false on timeout or extra answers. */
static bool wait_all(struct mctx *m, int ms)
{
	struct front_ring *ring = &m->q->ring;
	uint64_t deadline = bf_now_ns() + (uint64_t)ms * 1000000ull;

	while (ring->rsp_cons != ring->req_prod_pvt) {
		if (reap(m))
			continue;
		if (m->extra || bf_now_ns() >= deadline)
			return false;
		if (fring_final_check(ring))
			continue;
		wait_event(m, 10);
	}
	return !m->extra;
}

/* ---- common checks ---- */

static int setup_common(struct mctx *m)
{
	struct gmem *mem = &m->d->mem;

	if (gmem_alloc_pages(mem, NCANARY, &m->canary) < 0 || gmem_alloc_pages(mem, 2, &m->san_page) < 0)
		return -1;
	for (unsigned i = 0; i < NCANARY; i++)
		memset(gmem_page(mem, m->canary + i), 0xc3 ^ (int)i, HV_PAGE_SIZE);
	if (mem->dom.audit)
		for (int k = 0; k < HV_REF_NR; k++)
			m->a0.refused[k] = __atomic_load_n(&mem->dom.audit->refused[k], __ATOMIC_RELAXED);
	return 0;
}

static bool canaries_ok(struct mctx *m)
{
	for (unsigned i = 0; i < NCANARY; i++)
		if (!page_is(gmem_page(&m->d->mem, m->canary + i), (uint8_t)(0xc3 ^ i)))
			return false;
	return true;
}

static void audit_end(struct mctx *m)
{
	const struct hv_audit *a = m->d->mem.dom.audit;

	if (!a)
		return;
	m->r->audited = true;
	for (int k = 0; k < HV_REF_NR; k++)
		m->r->refused[k] = __atomic_load_n(&a->refused[k], __ATOMIC_RELAXED) - m->a0.refused[k];
	hostile_detail(m->r, "hv_maps_held", (double)__atomic_load_n(&a->maps_held, __ATOMIC_RELAXED));
}

static bool run_io(struct bf_dev *d, struct bf_io *io, int timeout_ms)
{
	uint64_t deadline = bf_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	bf_submit(d, io);
	bf_kick(d);
	while (io->done_ns == 0 && bf_now_ns() < deadline)
		if (bf_poll(d, 20) < 0)
			break;
	if (io->done_ns == 0) {
		bf_abort_pending(d);
		bf_abort_inflight(d);
		return false;
	}
	return io->status == WIRE_RSP_OKAY && !io->aborted;
}

/* The device still works through the normal path: a write then a read of the same page, compared. */
static bool sanity_io(struct mctx *m, uint64_t sector)
{
	struct bf_dev *d = m->d;
	uint8_t *a = gmem_page(&d->mem, m->san_page), *b = gmem_page(&d->mem, m->san_page + 1);
	struct bf_io io;

	if (d->broken || d->f.sectors < sector + 8)
		return false;
	for (unsigned i = 0; i < HV_PAGE_SIZE; i += 8)
		put_le(a + i, rnd(m), 8);
	memset(b, 0, HV_PAGE_SIZE);
	if (!d->f.readonly) {
		memset(&io, 0, sizeof(io));
		io = (struct bf_io){ .kind = BF_WRITE, .sector = sector, .nr_sectors = 8, .buf_page = m->san_page };
		if (!run_io(d, &io, m->timeout_ms))
			return false;
	}
	memset(&io, 0, sizeof(io));
	io = (struct bf_io){ .kind = BF_READ, .sector = sector, .nr_sectors = 8, .buf_page = m->san_page + 1 };
	if (!run_io(d, &io, m->timeout_ms))
		return false;
	return d->f.readonly || memcmp(a, b, HV_PAGE_SIZE) == 0;
}

static void ring_details(struct mctx *m)
{
	struct hostile_result *r = m->r;

	r->sent = (unsigned)(m->pushed > 0xffffffffu ? 0xffffffffu : m->pushed);
	r->answered = (unsigned)(m->answered > 0xffffffffu ? 0xffffffffu : m->answered);
	r->by_status[0] = m->n_ok;
	r->by_status[1] = m->n_err;
	r->by_status[2] = m->n_notsupp;
	r->by_status[3] = m->bad_status;
	hostile_detail(r, "requests", (double)m->pushed);
	hostile_detail(r, "extra_responses", (double)m->extra);
	hostile_detail(r, "notifications", (double)m->notifies);
}

/* ---- rewrite-in-flight ---- */

/* One field of a pushed slot, rewritten with a value from a menu of good and bad ones. */
static void flip_slot(struct mctx *m, uint8_t *slot, const uint32_t *grefs, unsigned ngrefs)
{
	const struct wire_layout *l = m->d->cfg.layout;
	uint64_t S = m->d->f.sectors;
	static const uint8_t ops[] = { WIRE_OP_READ, WIRE_OP_WRITE, WIRE_OP_INDIRECT, WIRE_OP_FLUSH,
				       WIRE_OP_DISCARD, WIRE_OP_WRITE_BARRIER, 0xaa };
	static const uint8_t counts[] = { 0, 1, 2, 11, 12, 255, WIRE_OP_READ, WIRE_OP_WRITE };
	static const uint8_t sects[] = { 0, 1, 3, 7, 8, 255 };
	static const uint16_t nsegs[] = { 0, 1, 16, 17, 512, 513, 1024, 4096, 65535 };
	uint64_t sectors[] = { 0, 8, S - 8, S - 1, S, S + 8, UINT64_MAX - 3, 1ull << 62, pick(m, (uint32_t)S) };

	switch (pick(m, 7)) {
	case 0: slot[0] = ops[pick(m, sizeof(ops))]; break;
	case 1: slot[1] = counts[pick(m, sizeof(counts))]; break;
	case 2:
		put_le(slot + (pick(m, 2) ? l->rw_sector : l->in_sector), sectors[pick(m, 9)], 8);
		break;
	case 3:
		put_le(slot + l->rw_seg + WIRE_SEG_SIZE * pick(m, WIRE_DIRECT_SEGS), grefs[pick(m, ngrefs)], 4);
		break;
	case 4:
		slot[l->rw_seg + WIRE_SEG_SIZE * pick(m, WIRE_DIRECT_SEGS) + 4 + pick(m, 2)] = sects[pick(m, sizeof(sects))];
		break;
	case 5: put_le(slot + l->in_nseg, nsegs[pick(m, 9)], 2); break;
	default:
		put_le(slot + l->in_grefs + 4 * pick(m, WIRE_INDIRECT_PAGES), grefs[pick(m, ngrefs)], 4);
		break;
	}
}

static void fill_indirect(uint8_t *page, const uint32_t *g_rw)
{
	for (unsigned i = 0; i < WIRE_SEGS_PER_INDIRECT_PAGE; i++) {
		struct wire_seg s = { g_rw[i % WIRE_DIRECT_SEGS], 0, 7 };
		wire_put_seg(page + i * WIRE_SEG_SIZE, &s);
	}
}

static void mode_rewrite(struct mctx *m)
{
	struct bf_dev *d = m->d;
	struct front_ring *ring = &m->q->ring;
	const struct wire_layout *l = d->cfg.layout;
	uint64_t S = d->f.sectors;
	unsigned nind = d->f.be_max_indirect >= 16 ? 2 : 0, maxind = d->f.be_max_indirect;
	uint32_t first, g_rw[WIRE_DIRECT_SEGS], g_ro, g_ind[2], g_never, bad[WIRE_DIRECT_SEGS + 8];
	unsigned nbad = 0, batch = ring->nr_ents < 32 ? ring->nr_ents : 32;
	uint64_t end = bf_now_ns() + (uint64_t)(m->seconds * 1e9), flips = 0, rounds = 0;
	bool stuck = false;

	if (S < 8192 || gmem_alloc_pages(&d->mem, WIRE_DIRECT_SEGS + 1 + 2, &first) < 0) {
		snprintf(m->r->note, sizeof(m->r->note), "needs a disk of 4 MiB and 14 guest pages");
		return;
	}
	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		if (grant(m, first + i, false, &g_rw[i]) < 0)
			return;
	memset(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS), 0x5a, HV_PAGE_SIZE);
	if (grant(m, first + WIRE_DIRECT_SEGS, true, &g_ro) < 0 || never_granted(m, &g_never) < 0)
		return;
	for (unsigned k = 0; k < 2; k++) {
		fill_indirect(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS + 1 + k), g_rw);
		if (grant(m, first + WIRE_DIRECT_SEGS + 1 + k, true, &g_ind[k]) < 0)
			return;
	}
	/* What a flipped reference becomes: ours, read-only, never granted, past the table, absurd. */
	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		bad[nbad++] = g_rw[i];
	bad[nbad++] = g_ro;
	bad[nbad++] = g_never;
	bad[nbad++] = d->mem.dom.nr_grants + 3;
	bad[nbad++] = 0xffffffffu;
	bad[nbad++] = g_ind[0];
	bad[nbad++] = 0;

	while (bf_now_ns() < end && !stuck && !m->extra) {
		uint64_t deadline;
		unsigned spins = 0;

		for (unsigned i = 0; i < batch; i++) {
			uint32_t id;
			uint8_t *s = slot_next(m, &id);
			uint8_t op = pick(m, 2) ? WIRE_OP_WRITE : WIRE_OP_READ;

			if (!s)
				break;
			if (nind && pick(m, 3) == 0) {
				unsigned top = maxind < 2 * WIRE_SEGS_PER_INDIRECT_PAGE ? maxind : 2 * WIRE_SEGS_PER_INDIRECT_PAGE;
				uint16_t n = (uint16_t)(16 + pick(m, top - 16 + 1));
				unsigned pages = (n + WIRE_SEGS_PER_INDIRECT_PAGE - 1) / WIRE_SEGS_PER_INDIRECT_PAGE;
				wire_put_indirect(l, s, op, n, d->handle, id, pick(m, (uint32_t)(S - (uint64_t)n * 8)), g_ind,
						  pages);
			} else {
				struct wire_seg segs[WIRE_DIRECT_SEGS];
				unsigned n = 1 + pick(m, WIRE_DIRECT_SEGS);
				for (unsigned k = 0; k < n; k++)
					segs[k] = (struct wire_seg){ g_rw[k], 0, 7 };
				wire_put_rw(l, s, op, (uint8_t)n, d->handle, id, pick(m, (uint32_t)(S - 88)), segs, n);
			}
			slot_commit(m);
		}
		push(m);
		/* Rewrite what the backend has not answered yet, and the descriptor pages, until it has. */
		deadline = bf_now_ns() + (uint64_t)m->timeout_ms * 1000000ull;
		while (ring->rsp_cons != ring->req_prod_pvt) {
			uint32_t rp = fring_rsp_prod(ring);
			for (uint32_t i = rp; i != ring->req_prod_pvt; i++, flips++)
				flip_slot(m, fring_slot(ring, i), bad, nbad);
			for (unsigned k = 0; k < nind; k++) {
				uint8_t *p = gmem_page(&d->mem, first + WIRE_DIRECT_SEGS + 1 + k);
				for (unsigned j = 0; j < 4; j++, flips++) {
					struct wire_seg sg = { bad[pick(m, nbad)], (uint8_t)pick(m, 10), (uint8_t)pick(m, 10) };
					wire_put_seg(p + WIRE_SEG_SIZE * pick(m, WIRE_SEGS_PER_INDIRECT_PAGE), &sg);
				}
			}
			if (reap(m))
				continue;
			if (m->extra)
				break;
			if (bf_now_ns() > deadline) {
				stuck = true;
				break;
			}
			if (++spins % 64 == 0)
				wait_event(m, 1);
		}
		for (unsigned k = 0; k < nind; k++)
			fill_indirect(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS + 1 + k), g_rw);
		rounds++;
	}
	hostile_detail(m->r, "rounds", (double)rounds);
	hostile_detail(m->r, "flips", (double)flips);
	hostile_detail(m->r, "ids_clobbered", (double)m->bad_ids); /* response ids share bytes with op/nr_segments */
	hostile_flag(m->r, "readonly_page_intact", page_is(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS), 0x5a));
	m->r->pass = !stuck && !m->extra && m->bad_status == 0 && m->answered == m->pushed && m->pushed > 0 &&
		     page_is(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS), 0x5a);
	if (stuck)
		snprintf(m->r->note, sizeof(m->r->note), "requests left unanswered for %d ms", m->timeout_ms);
}

/* ---- flood ---- */

static void mode_flood(struct mctx *m)
{
	struct bf_dev *d = m->d;
	struct front_ring *ring = &m->q->ring;
	const struct wire_layout *l = d->cfg.layout;
	static const int32_t evs[] = { 1, 0x7fffffff, -1, 0 };
	uint64_t S = d->f.sectors, start, secs_ns;
	uint32_t page, g, k = 0;
	unsigned ev = 0;
	bool drained;

	/* A guest's vCPU is not dom0's CPU: at the lowest priority our own spinning does not take the
	 * core from the daemon, so what the other disk sees is the daemon's fairness. */
	if (setpriority(PRIO_PROCESS, 0, 19) < 0)
		bf_note(d, "setpriority: %s", strerror(errno));
	if (S < 16 || gmem_alloc_pages(&d->mem, 1, &page) < 0 || grant(m, page, false, &g) < 0) {
		snprintf(m->r->note, sizeof(m->r->note), "no page or grant for the flood");
		return;
	}
	start = bf_now_ns();
	secs_ns = (uint64_t)(m->seconds * 1e9);
	while (bf_now_ns() - start < secs_ns) {
		uint32_t id;
		uint8_t *s;

		reap(m);
		if (m->extra)
			break;
		/* Refill every free slot, moving req_prod one request at a time, notifying each time. */
		while ((s = slot_next(m, &id))) {
			struct wire_seg sg = { g, 0, 7 };
			wire_put_rw(l, s, WIRE_OP_READ, 1, d->handle, id, (uint64_t)(k++ * 8u) % (S - 8), &sg, 1);
			slot_commit(m);
			push(m);
		}
		/* rsp_event anywhere: the next answer, half the index space ahead, already passed. */
		__atomic_store_n((uint32_t *)(void *)(ring->sring + SR_RSP_EVENT),
				 ring->rsp_cons + (uint32_t)evs[ev++ % 4], __ATOMIC_RELEASE);
		hv_evtchn_notify(&m->q->ev);
		m->notifies++;
	}
	hostile_detail(m->r, "runtime_s", (double)(bf_now_ns() - start) / 1e9);
	hostile_detail(m->r, "flood_iops", (double)m->answered * 1e9 / (double)(bf_now_ns() - start));
	drained = wait_all(m, m->timeout_ms);
	hostile_flag(m->r, "drained", drained);
	m->r->pass = drained && m->bad_status == 0 && m->bad_ids == 0 && m->n_err == 0 && m->n_notsupp == 0 &&
		     m->answered == m->pushed && m->pushed > 0;
}

/* ---- ro-grant-read ---- */

static bool expect_ok(enum hexpect e, bool answered, int16_t st)
{
	switch (e) {
	case H_OK: return answered && st == WIRE_RSP_OKAY;
	case H_ERROR: return answered && st == WIRE_RSP_ERROR;
	case H_NOTSUPP: return answered && st == WIRE_RSP_EOPNOTSUPP;
	case H_FAIL: return answered && (st == WIRE_RSP_ERROR || st == WIRE_RSP_EOPNOTSUPP);
	case H_NONE: return !answered;
	}
	return false;
}

/* One request, sent alone and waited for. */
static void one_case(struct mctx *m, const char *name, enum hexpect e, uint8_t op, uint64_t sector,
		     const struct wire_seg *segs, unsigned n, const uint32_t *ind, uint16_t ind_nsegs)
{
	struct hostile_result *r = m->r;
	struct hcase *c;
	uint32_t id;
	uint8_t *s;

	if (r->ncases >= HOSTILE_MAX_CASES || !(s = slot_next(m, &id)))
		return;
	c = &r->cases[r->ncases++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->expect = e;
	if (ind) {
		c->op = WIRE_OP_INDIRECT;
		wire_put_indirect(m->d->cfg.layout, s, op, ind_nsegs, m->d->handle, id, sector, ind, 1);
	} else {
		c->op = op;
		wire_put_rw(m->d->cfg.layout, s, op, (uint8_t)n, m->d->handle, id, sector, segs, n);
	}
	slot_commit(m);
	push(m);
	wait_all(m, m->timeout_ms);
	c->answered = m->got[id];
	c->status = m->st[id];
	c->rsp_got = m->rop[id];
	c->pass = expect_ok(e, c->answered, c->status) && (!c->answered || c->rsp_got == op);
}

static void mode_ro_read(struct mctx *m)
{
	struct bf_dev *d = m->d;
	uint32_t first, g_ro[WIRE_DIRECT_SEGS], g_rw, g_ind[2];
	struct wire_seg segs[WIRE_DIRECT_SEGS];
	bool intact = true;

	if (gmem_alloc_pages(&d->mem, WIRE_DIRECT_SEGS + 3, &first) < 0) {
		snprintf(m->r->note, sizeof(m->r->note), "not enough guest pages");
		return;
	}
	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++) {
		memset(gmem_page(&d->mem, first + i), 0xa5 ^ (int)i, HV_PAGE_SIZE);
		if (grant(m, first + i, true, &g_ro[i]) < 0)
			return;
	}
	if (grant(m, first + WIRE_DIRECT_SEGS, false, &g_rw) < 0)
		return;
	/* Indirect pages (read-only, as blkfront grants them): all segments read-only, or every other one. */
	for (unsigned k = 0; k < 2; k++) {
		uint8_t *p = gmem_page(&d->mem, first + WIRE_DIRECT_SEGS + 1 + k);
		for (unsigned i = 0; i < 16; i++) {
			struct wire_seg s = { k && i % 2 ? g_rw : g_ro[i % WIRE_DIRECT_SEGS], 0, 7 };
			wire_put_seg(p + i * WIRE_SEG_SIZE, &s);
		}
		if (grant(m, first + WIRE_DIRECT_SEGS + 1 + k, true, &g_ind[k]) < 0)
			return;
	}

	segs[0] = (struct wire_seg){ g_ro[0], 0, 7 };
	one_case(m, "read-into-readonly-grant", H_ERROR, WIRE_OP_READ, 0, segs, 1, NULL, 0);
	segs[0] = (struct wire_seg){ g_ro[1], 3, 4 };
	one_case(m, "read-sectors-3-4-into-readonly", H_ERROR, WIRE_OP_READ, 0, segs, 1, NULL, 0);
	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		segs[i] = (struct wire_seg){ g_ro[i], 0, 7 };
	one_case(m, "read-11-readonly-segments", H_ERROR, WIRE_OP_READ, 0, segs, WIRE_DIRECT_SEGS, NULL, 0);
	segs[0] = (struct wire_seg){ g_rw, 0, 7 };
	segs[1] = (struct wire_seg){ g_ro[2], 0, 7 };
	segs[2] = (struct wire_seg){ g_rw, 0, 7 };
	one_case(m, "read-rw-ro-rw", H_ERROR, WIRE_OP_READ, 0, segs, 3, NULL, 0);
	/* Again: a backend that remembered the failed map must still refuse through the copy. */
	segs[0] = (struct wire_seg){ g_ro[0], 0, 7 };
	one_case(m, "read-into-readonly-grant-again", H_ERROR, WIRE_OP_READ, 0, segs, 1, NULL, 0);
	if (d->f.be_max_indirect >= 16) {
		one_case(m, "indirect-read-into-readonly", H_ERROR, WIRE_OP_READ, 0, NULL, 0, &g_ind[0], 16);
		one_case(m, "indirect-read-half-readonly", H_ERROR, WIRE_OP_READ, 0, NULL, 0, &g_ind[1], 16);
	}
	/* Reading a read-only grant is what it is for: a write from it works. */
	segs[0] = (struct wire_seg){ g_ro[3], 0, 7 };
	one_case(m, "control-write-from-readonly", H_OK, WIRE_OP_WRITE, 4096, segs, 1, NULL, 0);
	segs[0] = (struct wire_seg){ g_rw, 0, 7 };
	one_case(m, "control-read-into-rw", H_OK, WIRE_OP_READ, 4096, segs, 1, NULL, 0);

	for (unsigned i = 0; i < WIRE_DIRECT_SEGS; i++)
		intact &= page_is(gmem_page(&d->mem, first + i), (uint8_t)(0xa5 ^ i));
	/* The control read brought back what the control write took from the read-only page. */
	hostile_flag(m->r, "readonly_pages_intact", intact);
	hostile_flag(m->r, "control_data_ok", page_is(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS), 0xa5 ^ 3));
	m->r->pass = intact && page_is(gmem_page(&d->mem, first + WIRE_DIRECT_SEGS), 0xa5 ^ 3) && !m->extra &&
		     m->bad_status == 0 && m->r->ncases > 0;
	for (unsigned i = 0; i < m->r->ncases; i++)
		m->r->pass &= m->r->cases[i].pass;
}

/* ---- revoke-in-flight ---- */

struct rvpage {
	bool retired;   /* the backend still has it mapped: never ours again */
	bool snapped;   /* revoked: must not change until we grant it again */
	uint8_t *snap;
};

static uint64_t check_snaps(struct mctx *m, struct rvpage *pg, uint32_t first)
{
	uint64_t bad = 0;
	for (unsigned i = 0; i < RV_POOL; i++)
		if (pg[i].snapped && memcmp(pg[i].snap, gmem_page(&m->d->mem, first + i), HV_PAGE_SIZE) != 0)
			bad++;
	return bad;
}

static void mode_revoke(struct mctx *m)
{
	struct bf_dev *d = m->d;
	const struct wire_layout *l = d->cfg.layout;
	struct rvpage *pg = calloc(RV_POOL, sizeof(*pg));
	uint8_t *snaps = malloc((size_t)RV_POOL * HV_PAGE_SIZE);
	uint64_t S = d->f.sectors, end = bf_now_ns() + (uint64_t)(m->seconds * 1e9);
	uint64_t rounds = 0, before = 0, after = 0, refused_mapped = 0, changed = 0, retired = 0;
	uint32_t first, next = 0;
	bool stuck = false, indirect = d->f.be_max_indirect >= 16;

	if (!pg || !snaps || S < 4096 || gmem_alloc_pages(&d->mem, RV_POOL, &first) < 0) {
		snprintf(m->r->note, sizeof(m->r->note), "not enough memory or guest pages");
		goto out;
	}
	for (unsigned i = 0; i < RV_POOL; i++)
		pg[i].snap = snaps + (size_t)i * HV_PAGE_SIZE;
	while (bf_now_ns() < end && !stuck && !m->extra) {
		unsigned kind = pick(m, indirect ? 3 : 2), n = kind == 2 ? 5 : 1 + pick(m, 4), got = 0;
		uint32_t idx[5], gref[5], id;
		bool revoked[5] = { false };
		uint64_t deadline, delay;
		uint8_t *s;

		/* The next pages not held by the backend; each must be as we left it when revoked. */
		for (unsigned tries = 0; got < n && tries < RV_POOL; tries++, next = (next + 1) % RV_POOL) {
			if (pg[next].retired)
				continue;
			if (pg[next].snapped && memcmp(pg[next].snap, gmem_page(&d->mem, first + next), HV_PAGE_SIZE))
				changed++;
			pg[next].snapped = false;
			idx[got++] = next;
		}
		if (got < n)
			break; /* every page is held by the backend's persistent maps */
		for (unsigned k = 0; k < n; k++) {
			memset(gmem_page(&d->mem, first + idx[k]), (int)(rounds * 5 + k) | 1, HV_PAGE_SIZE);
			/* The indirect page (the last one of kind 2) is granted read-only, as blkfront does. */
			if (gmem_gref_get(&d->mem, &gref[k]) < 0 ||
			    gmem_grant(&d->mem, gref[k], first + idx[k], kind == 2 && k == 4) < 0) {
				snprintf(m->r->note, sizeof(m->r->note), "out of grant references after %llu rounds",
					 (unsigned long long)rounds);
				stuck = true;
				break;
			}
		}
		if (stuck || !(s = slot_next(m, &id)))
			break;
		if (kind == 2) {
			/* 16 segments, two sectors each, over four data pages, through one indirect page. */
			uint8_t *ip = gmem_page(&d->mem, first + idx[4]);
			for (unsigned i = 0; i < 16; i++) {
				struct wire_seg sg = { gref[i % 4], (uint8_t)((i / 4) * 2), (uint8_t)((i / 4) * 2 + 1) };
				wire_put_seg(ip + i * WIRE_SEG_SIZE, &sg);
			}
			wire_put_indirect(l, s, WIRE_OP_READ, 16, d->handle, id, pick(m, (uint32_t)(S - 64)), &gref[4], 1);
		} else {
			struct wire_seg sg[4];
			for (unsigned k = 0; k < n; k++)
				sg[k] = (struct wire_seg){ gref[k], 0, 7 };
			wire_put_rw(l, s, kind ? WIRE_OP_WRITE : WIRE_OP_READ, (uint8_t)n, d->handle, id,
				    pick(m, (uint32_t)(S - 64)), sg, n);
		}
		slot_commit(m);
		push(m);
		/* A moment for the backend (sometimes none), then end access to everything, again and again. */
		delay = bf_now_ns() + pick(m, 4) * 50000ull;
		while (bf_now_ns() < delay)
			;
		deadline = bf_now_ns() + (uint64_t)m->timeout_ms * 1000000ull;
		while (!m->got[id] || m->q->ring.rsp_cons != m->q->ring.req_prod_pvt) {
			bool answered_now = fring_rsp_prod(&m->q->ring) != m->q->ring.rsp_cons;
			for (unsigned k = 0; k < n; k++) {
				if (revoked[k] || answered_now || hv_grant_revoke(&d->mem.dom, gref[k]) < 0)
					continue;
				revoked[k] = true;
				memcpy(pg[idx[k]].snap, gmem_page(&d->mem, first + idx[k]), HV_PAGE_SIZE);
				pg[idx[k]].snapped = true;
				before++;
			}
			if (reap(m))
				continue;
			if (m->extra)
				break;
			if (bf_now_ns() > deadline) {
				stuck = true;
				break;
			}
			sched_yield();
		}
		/* Answered: what is not revoked yet either comes back now or stays mapped by the backend. */
		for (unsigned k = 0; k < n && !stuck; k++) {
			if (revoked[k]) {
				gmem_gref_put(&d->mem, gref[k]);
			} else if (hv_grant_revoke(&d->mem.dom, gref[k]) == 0) {
				memcpy(pg[idx[k]].snap, gmem_page(&d->mem, first + idx[k]), HV_PAGE_SIZE);
				pg[idx[k]].snapped = true;
				gmem_gref_put(&d->mem, gref[k]);
				after++;
			} else {
				refused_mapped++;
				pg[idx[k]].retired = true;
				retired++;
			}
		}
		rounds++;
	}
	/* Late writes would show by now. */
	usleep(50000);
	changed += check_snaps(m, pg, first);
	hostile_detail(m->r, "rounds", (double)rounds);
	hostile_detail(m->r, "revoked_before_answer", (double)before);
	hostile_detail(m->r, "revoked_after_answer", (double)after);
	hostile_detail(m->r, "revoke_refused_while_mapped", (double)refused_mapped);
	hostile_detail(m->r, "pages_retired", (double)retired);
	hostile_detail(m->r, "pages_changed_after_revoke", (double)changed);
	m->r->pass = !stuck && !m->extra && m->bad_status == 0 && m->bad_ids == 0 && changed == 0 && rounds > 0 &&
		     m->answered == m->pushed;
	if (stuck && !m->r->note[0])
		snprintf(m->r->note, sizeof(m->r->note), "a request was not answered within %d ms", m->timeout_ms);
out:
	free(pg);
	free(snaps);
}

/* ---- xenstore-flip ---- */

static const char *const flip_keys[] = { "state", "ring-ref", "ring-ref0", "ring-ref1", "queue-0/ring-ref",
					 "queue-1/ring-ref", "event-channel", "queue-0/event-channel",
					 "queue-1/event-channel", "multi-queue-num-queues", "ring-page-order",
					 "protocol", "feature-persistent" };
#define NFLIP_KEYS (sizeof(flip_keys) / sizeof(flip_keys[0]))

static void xs_put(struct bf_dev *d, const char *key, const char *val, uint64_t *fails)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", d->xb.fe, key);
	if (!val ? !xs_rm(d->xb.xs, XBT_NULL, path) : !xs_write(d->xb.xs, XBT_NULL, path, val, (unsigned)strlen(val)))
		(*fails)++;
}

static void mode_xenstore_flip(struct mctx *m)
{
	struct bf_dev *d = m->d;
	struct hv_conn *hv = d->hv;
	struct bf_config cfg = d->cfg;
	static char huge[1500];
	char v[48];
	uint32_t page, g_ro = 0, g_other = 0, g_never = 0, ring = d->q[0].ring_grefs[0], port = d->q[0].ev.local_port;
	uint64_t end = bf_now_ns() + (uint64_t)(m->seconds * 1e9), writes = 0, fails = 0, errors_seen = 0, bursts = 0;
	uint64_t revoke_fail0, revoke_fails, maps_held = 0;
	unsigned states_seen = 0, bad_states = 0;
	char *last_err = NULL;
	bool reconnected, sane;

	memset(huge, '9', sizeof(huge) - 1);
	if (gmem_alloc_pages(&d->mem, 2, &page) < 0 || grant(m, page, true, &g_ro) < 0 || never_granted(m, &g_never) < 0 ||
	    gmem_gref_get(&d->mem, &g_other) < 0 ||
	    hv_grant_access(&d->mem.dom, g_other, (uint16_t)(d->xb.be_domid + 1000), page + 1, false) < 0) {
		snprintf(m->r->note, sizeof(m->r->note), "no pages or grants for the decoys");
		return;
	}
	while (bf_now_ns() < end) {
		unsigned k = pick(m, 4) == 0 ? 0 : pick(m, NFLIP_KEYS); /* state a quarter of the time */
		uint32_t cand[] = { ring, g_ro, g_other, g_never, 0, d->mem.dom.nr_grants, 0xffffffffu };

		/* Now and then a plausible set of keys, walked through Closed, Initialising, Initialised, so
		 * the backend gets as far as mapping whatever ring-ref it is given. */
		if (pick(m, 10) == 0) {
			bool two = pick(m, 2);
			xs_put(d, "state", "6", &fails);
			usleep(1000);
			xs_put(d, "state", "1", &fails);
			usleep(1000);
			xs_put(d, "multi-queue-num-queues", NULL, &fails);
			xs_put(d, "ring-page-order", two ? "1" : NULL, &fails);
			snprintf(v, sizeof(v), "%u", cand[pick(m, 7)]);
			xs_put(d, two ? "ring-ref0" : "ring-ref", v, &fails);
			snprintf(v, sizeof(v), "%u", cand[pick(m, 7)]);
			xs_put(d, "ring-ref1", v, &fails);
			snprintf(v, sizeof(v), "%u", port);
			xs_put(d, "event-channel", v, &fails);
			xs_put(d, "protocol", "x86_64-abi", &fails);
			xs_put(d, "state", pick(m, 2) ? "3" : "4", &fails);
			writes += 10;
			bursts++;
			usleep(2000);
			continue;
		}
		const char *key = flip_keys[k], *val = v;
		unsigned c = pick(m, 12);

		if (c == 0)
			val = NULL; /* deleted */
		else if (c == 1)
			val = huge;
		else if (c == 2)
			val = (const char *[]){ "", "abc", "-1", "18446744073709551616", " 4", "0x10" }[pick(m, 6)];
		else if (k == 0)
			snprintf(v, sizeof(v), "%u", (unsigned)pick(m, 8)); /* 0..7: Unknown..Reconfigured */
		else if (strstr(key, "ring-ref"))
			snprintf(v, sizeof(v), "%u", pick(m, 2) ? ring : cand[pick(m, 7)]);
		else if (strstr(key, "event-channel"))
			snprintf(v, sizeof(v), "%u", (uint32_t[]){ port, port, port + 7, 0, 4095, 4096 }[pick(m, 6)]);
		else if (strcmp(key, "protocol") == 0)
			val = (const char *[]){ "x86_64-abi", "x86_32-abi", "arm-abi", "x86_64-abi\n" }[pick(m, 4)];
		else
			snprintf(v, sizeof(v), "%u", (uint32_t[]){ 0, 1, 2, 4, 5, 31, 64, 65, 255 }[pick(m, 9)]);
		xs_put(d, key, val, &fails);
		writes++;
		if (writes % 8 == 0) {
			int st = xb_be_state(&d->xb);
			char *err = xb_read(&d->xb, d->xb.be, "error");
			if (st >= 0)
				states_seen |= 1u << (st & 31);
			if (st < XB_INITIALISING || st > XB_CLOSED)
				bad_states++;
			if (err && (!last_err || strcmp(err, last_err) != 0))
				errors_seen++;
			free(last_err);
			last_err = err;
			xb_process(&d->xb);
		}
		if (pick(m, 3) == 0)
			usleep(pick(m, 2000));
	}
	free(last_err);
	hostile_detail(m->r, "writes", (double)writes);
	hostile_detail(m->r, "plausible_bursts", (double)bursts);
	hostile_detail(m->r, "write_failures", (double)fails);
	hostile_detail(m->r, "backend_states_seen", (double)states_seen);
	hostile_detail(m->r, "backend_bad_states", (double)bad_states);
	hostile_detail(m->r, "backend_errors_published", (double)errors_seen);

	/* Close as blkfront would: the backend must let go of everything it mapped. */
	xs_put(d, "state", "4", &fails);
	revoke_fail0 = d->mem.revoke_failures;
	bf_close(d, true);
	if (d->mem.dom.audit)
		maps_held = __atomic_load_n(&d->mem.dom.audit->maps_held, __ATOMIC_RELAXED);
	hostile_detail(m->r, "maps_held_after_close", (double)maps_held);
	revoke_fails = d->mem.revoke_failures - revoke_fail0;
	hostile_detail(m->r, "revoke_failures_at_close", (double)revoke_fails);

	/* Start over cleanly, in fresh windows (our old grefs may still be in the backend's hands). */
	audit_end(m);
	revoke_setup_grants(m);
	for (unsigned k = 1; k < NFLIP_KEYS; k++)
		xs_put(d, flip_keys[k], NULL, &fails);
	cfg.page_base = d->mem.page_next;
	cfg.pages = 0;
	cfg.gref_base = d->mem.dom.nr_grants / 2;
	cfg.grefs = 0;
	bf_fini(d);
	reconnected = bf_connect(d, hv, &cfg) == 0;
	m->q = reconnected ? &d->q[0] : NULL;
	sane = false;
	if (reconnected && gmem_alloc_pages(&d->mem, 2, &m->san_page) == 0)
		sane = sanity_io(m, 64);
	hostile_flag(m->r, "reconnected", reconnected);
	hostile_detail(m->r, "reconnect_queues", reconnected ? d->f.queues : 0);
	hostile_detail(m->r, "reconnect_ring_order", reconnected ? d->f.ring_order : 0);
	m->r->sanity = sane;
	if (!reconnected)
		snprintf(m->r->note, sizeof(m->r->note), "reconnect: %.180s", d->err);
	m->r->pass = reconnected && sane && maps_held == 0 && revoke_fails == 0 && bad_states == 0;
}

int malicious_run(struct bf_dev *d, const struct guest_opts *o, struct hostile_result *r)
{
	struct mctx *m = calloc(1, sizeof(*m));
	const char *mode = o->hostile;
	bool flip = strcmp(mode, "xenstore-flip") == 0, canaries;
	int rc;

	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->sanity = r->other_queue = -1;
	if (!m) {
		snprintf(r->note, sizeof(r->note), "out of memory");
		return -1;
	}
	m->d = d;
	m->o = o;
	m->r = r;
	m->timeout_ms = (int)(o->timeout * 1000);
	m->seconds = o->runtime > 0 ? o->runtime : DEFAULT_SECONDS;
	m->rng = (o->seed ? o->seed : 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	m->q = &d->q[0];
	if (d->cfg.layout == NULL || m->q->ring.nr_ents > MAX_ENTS || setup_common(m) < 0) {
		snprintf(r->note, sizeof(r->note), "not enough guest memory");
		free(m);
		return -1;
	}
	if (strcmp(mode, "rewrite-in-flight") == 0)
		mode_rewrite(m);
	else if (strcmp(mode, "flood") == 0)
		mode_flood(m);
	else if (strcmp(mode, "ro-grant-read") == 0)
		mode_ro_read(m);
	else if (strcmp(mode, "revoke-in-flight") == 0)
		mode_revoke(m);
	else
		mode_xenstore_flip(m);
	if (!flip) {
		ring_details(m);
		audit_end(m);
		/* Only a ring we left consistent can go back to blkfront's normal path. */
		if (m->q->ring.rsp_cons == m->q->ring.req_prod_pvt && !m->extra)
			r->sanity = sanity_io(m, 32);
		else
			r->sanity = 0;
		r->pass &= r->sanity == 1;
	}
	canaries = d->mem.mapped && d->mem.dom.memory && canaries_ok(m);
	hostile_flag(r, "canaries_intact", canaries);
	r->pass &= canaries;
	r->backend_state_after = d->xb.xs ? xb_be_state(&d->xb) : -1; /* a failed reconnect may have no xenstore */
	if (!flip)
		r->pass &= r->backend_state_after == XB_CONNECTED;
	/* Our grants stay as they are: the backend may hold some mapped until the device closes. */
	rc = r->pass ? 0 : 1;
	free(m);
	return rc;
}
