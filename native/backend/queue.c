/*
 * The data path of one queue, on its own thread or run by a queue driver
 * (queue.h: the SPDK reactors). A pass copies requests out
 * of the ring and validates them, fetches indirect descriptors and write data
 * with one batched grant copy each, submits everything to the engine in one
 * go, then reaps completions, copies read data back in one batch, and pushes
 * the responses, notifying the frontend only when the ring rules say so.
 * Everything is preallocated at start: no locks and no allocation per request.
 * When idle it polls briefly, then sleeps on the event channel, the engine's
 * completion fd and its wake fd.
 */
#include "backend/queue.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xen/grant_table.h>

#include "backend/pgrant.h"
#include "backend/spin.h"

#define PAGE 4096u
#define MAX_BATCH 32u /* requests taken per pass */
#define REAP_MAX 64

enum stage { STAGE_FREE, STAGE_IO, STAGE_FLUSH };

struct qreq {
	struct blkif_request_info info;
	struct blkif_segment *segs; /* info.seg, or the indirect segments */
	uint32_t *pages;            /* pool page index per segment; NO_PAGE: the guest's mapped page (zero copy) */
	struct iovec *iov;
	uint64_t start_ns;
	int16_t status;
	uint8_t stage;
	bool pages_held;
	unsigned nr_bounced; /* data segments in bounce pages: these need a grant copy */
	struct qreq *next; /* free list / pass lists */
};

struct queue_private {
	unsigned max_segs; /* per request: max(11, advertised indirect) */
	struct qreq *reqs;
	struct qreq *free_reqs;
	unsigned nr_reqs;
	unsigned inflight; /* consumed, not yet answered */

	uint8_t *pool;
	uint32_t *free_pages;
	unsigned nr_free, pool_pages;

	uint8_t *indirect_scratch; /* MAX_BATCH * 8 pages */
	struct gnt_copy_seg *copy;  /* reused grant-copy batch */
	struct qreq **copy_owner;   /* which request each copy segment belongs to */
	unsigned copy_cap;
	struct pgrant_cache *pgrants;
	bool dead;    /* ring broken: consume nothing more */
	bool starved; /* requests wait on the ring for free slots or pages: sleep until completions */
	int acked;    /* the command last acknowledged in q->state (only the data path writes it) */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void stat_add(_Atomic uint64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

/* ---- setup ---- */

static void *alloc_pages(size_t n)
{
	void *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* The engine's I/O memory (DMA-safe where it must be, engine.h); only the CPU touches the rest. */
static struct engine *pool_engine(struct queue *q)
{
	return q->chan->engine;
}

/*
 * Grants a queue keeps mapped. Blkback keeps 1056 (a 32-slot ring of 11
 * segments); with indirect requests a queue has up to a ring of max_segs pages
 * in flight, and 1 MiB requests at depth 8 already need 2048. A mapping costs
 * dom0 a maptrack entry, not memory, so up to 4096 (16 MiB of guest pages);
 * past that, and when Xen refuses a mapping, segments are grant-copied.
 */
static unsigned persistent_capacity(unsigned ring_entries, unsigned max_segs)
{
	unsigned want = ring_entries * max_segs;
	return want < 1056 ? 1056 : want > 4096 ? 4096 : want;
}

static int private_init(struct queue *q)
{
	const struct vbd_features *f = &q->vbd->features;
	struct queue_private *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	q->priv = p;
	p->max_segs = f->max_indirect_segments > BLKIF_DIRECT_SEGMENTS ? f->max_indirect_segments : BLKIF_DIRECT_SEGMENTS;
	p->nr_reqs = q->ring.nr_ents;
	p->reqs = calloc(p->nr_reqs, sizeof(*p->reqs));
	p->pool_pages = f->pool_pages > p->max_segs ? f->pool_pages : p->max_segs;
	p->pool = engine_buf_alloc(pool_engine(q), (size_t)p->pool_pages * PAGE);
	p->free_pages = calloc(p->pool_pages, sizeof(uint32_t));
	p->indirect_scratch = alloc_pages(MAX_BATCH * BLKIF_INDIRECT_PAGES);
	p->copy_cap = MAX_BATCH * (p->max_segs > BLKIF_INDIRECT_PAGES ? p->max_segs : BLKIF_INDIRECT_PAGES);
	if (p->copy_cap < REAP_MAX * p->max_segs)
		p->copy_cap = REAP_MAX * p->max_segs;
	p->copy = calloc(p->copy_cap, sizeof(*p->copy));
	p->copy_owner = calloc(p->copy_cap, sizeof(*p->copy_owner));
	if (!p->reqs || !p->pool || !p->free_pages || !p->indirect_scratch || !p->copy || !p->copy_owner)
		return -1;
	for (unsigned i = 0; i < p->pool_pages; i++)
		p->free_pages[p->nr_free++] = p->pool_pages - 1 - i;
	for (unsigned i = 0; i < p->nr_reqs; i++) {
		struct qreq *r = &p->reqs[i];
		r->segs = calloc(p->max_segs, sizeof(*r->segs));
		r->pages = calloc(p->max_segs, sizeof(*r->pages));
		r->iov = calloc(p->max_segs, sizeof(*r->iov));
		if (!r->segs || !r->pages || !r->iov)
			return -1;
		r->next = p->free_reqs;
		p->free_reqs = r;
	}
	if (q->vbd->persistent) {
		p->pgrants = pgrant_create(persistent_capacity(q->ring.nr_ents, p->max_segs));
		if (!p->pgrants)
			return -1;
	}
	return 0;
}

void queue_free_private(struct queue *q)
{
	struct queue_private *p = q->priv;
	if (!p)
		return;
	if (p->pgrants)
		pgrant_destroy(p->pgrants, q->gnt);
	for (unsigned i = 0; p->reqs && i < p->nr_reqs; i++) {
		free(p->reqs[i].segs);
		free(p->reqs[i].pages);
		free(p->reqs[i].iov);
	}
	free(p->reqs);
	engine_buf_free(pool_engine(q), p->pool, (size_t)p->pool_pages * PAGE);
	free(p->free_pages);
	if (p->indirect_scratch)
		munmap(p->indirect_scratch, (size_t)MAX_BATCH * BLKIF_INDIRECT_PAGES * PAGE);
	free(p->copy);
	free(p->copy_owner);
	free(p);
	q->priv = NULL;
}

/* ---- requests ---- */

static uint8_t *page_addr(struct queue_private *p, uint32_t page)
{
	return p->pool + (size_t)page * PAGE;
}

#define NO_PAGE UINT32_MAX

/* Bounce pages for every data segment the guest's mapped pages do not already serve. */
static void take_pages(struct queue_private *p, struct qreq *r)
{
	r->nr_bounced = 0;
	for (unsigned i = 0; i < r->info.nr_segments; i++) {
		if (r->pages[i] == NO_PAGE)
			continue;
		r->pages[i] = p->free_pages[--p->nr_free];
		r->nr_bounced++;
	}
	r->pages_held = true;
}

static void respond(struct queue *q, struct qreq *r)
{
	struct queue_private *p = q->priv;
	blkif_ring_put_response(&q->ring, r->info.id, r->info.rsp_op, r->status);
	if (r->pages_held) {
		for (unsigned i = 0; i < r->info.nr_segments; i++)
			if (r->pages[i] != NO_PAGE)
				p->free_pages[p->nr_free++] = r->pages[i];
		r->pages_held = false;
	}
	uint64_t lat = now_ns() - r->start_ns;
	struct queue_stats *s = &q->stats;
	if (r->status == BLKIF_STATUS_OKAY) {
		uint64_t bytes = r->info.nr_sectors << blkif_shift(&q->limits);
		switch (r->info.kind) {
		case BLKIF_KIND_READ:
			stat_add(&s->reads, 1);
			stat_add(&s->read_bytes, bytes);
			break;
		case BLKIF_KIND_WRITE:
			stat_add(&s->writes, 1);
			stat_add(&s->write_bytes, bytes);
			if (r->info.flush_after)
				stat_add(&s->flushes, 1);
			break;
		case BLKIF_KIND_FLUSH:
			stat_add(&s->flushes, 1);
			break;
		case BLKIF_KIND_DISCARD:
			stat_add(&s->discards, 1);
			break;
		}
	} else if (r->status == BLKIF_STATUS_EOPNOTSUPP) {
		stat_add(&s->unsupported, 1);
	} else {
		stat_add(&s->errors, 1);
		if (r->info.misaligned)
			stat_add(&s->misaligned, 1);
	}
	stat_add(&s->latency_sum_ns, lat);
	uint64_t us = lat / 1000, bucket = 0;
	while (bucket < 31 && (1ull << bucket) <= us)
		bucket++;
	stat_add(&s->latency_hist[bucket], 1);
	uint64_t max = atomic_load_explicit(&s->latency_max_ns, memory_order_relaxed);
	while (lat > max && !atomic_compare_exchange_weak(&s->latency_max_ns, &max, lat))
		;
	r->stage = STAGE_FREE;
	r->next = p->free_reqs;
	p->free_reqs = r;
	p->inflight--;
}

/* Persistent grant fast path: memcpy with the mapped page; false if this gref is not mapped. */
static bool persistent_copy(struct queue *q, const struct blkif_segment *s, uint8_t *local, bool to_guest)
{
	struct queue_private *p = q->priv;
	if (!p->pgrants)
		return false;
	uint8_t *page = pgrant_get(p->pgrants, q->gnt, s->gref);
	if (!page)
		return false;
	unsigned shift = blkif_shift(&q->limits);
	uint32_t off = blkif_seg_offset(s, shift), len = blkif_seg_bytes(s, shift);
	if (to_guest)
		memcpy(page + off, local + off, len);
	else
		memcpy(local + off, page + off, len);
	stat_add(&q->stats.persistent_hits, 1);
	return true;
}

/* Adds the data segments of `r` to the copy batch (or copies them at once through persistent grants). */
static unsigned add_data_copies(struct queue *q, struct qreq *r, unsigned n, bool to_guest)
{
	struct queue_private *p = q->priv;
	unsigned shift = blkif_shift(&q->limits);
	for (unsigned i = 0; i < r->info.nr_segments; i++) {
		const struct blkif_segment *s = &r->segs[i];
		if (r->pages[i] == NO_PAGE)
			continue; /* the engine moved this segment's data itself */
		uint8_t *local = page_addr(p, r->pages[i]);
		if (persistent_copy(q, s, local, to_guest))
			continue;
		p->copy[n] = (struct gnt_copy_seg){
			.gref = s->gref,
			.offset = (uint16_t)blkif_seg_offset(s, shift),
			.len = (uint16_t)blkif_seg_bytes(s, shift),
			.local = local + blkif_seg_offset(s, shift),
			.to_guest = to_guest,
		};
		p->copy_owner[n++] = r;
	}
	return n;
}

/* Runs the copy batch; a failed segment fails its request. */
static void run_copies(struct queue *q, unsigned n)
{
	struct queue_private *p = q->priv;
	if (n == 0)
		return;
	stat_add(&q->stats.grant_copy_calls, 1);
	stat_add(&q->stats.grant_copy_segments, n);
	if (q->gnt->platform->ops->gnt_copy(q->gnt, p->copy, n) != 0) {
		for (unsigned i = 0; i < n; i++)
			p->copy_owner[i]->status = BLKIF_STATUS_ERROR;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (p->copy[i].status != GNTST_okay)
			p->copy_owner[i]->status = BLKIF_STATUS_ERROR;
	}
}

/*
 * Zero copy: a segment whose grant is persistently mapped is read and written
 * by the engine in the guest's page itself (the frontend granted it
 * read-write for this); the others of the request go through bounce pages.
 * An engine with its own buffer allocator (SPDK: DMA-able memory a user-space
 * driver can translate) gets nothing but its buffers.
 */
static void map_direct(struct queue *q, struct qreq *r)
{
	struct queue_private *p = q->priv;
	bool may = p->pgrants && q->vbd->features.zero_copy && !pool_engine(q)->ops->buf_alloc;
	unsigned shift = blkif_shift(&q->limits), hits = 0;
	for (unsigned i = 0; i < r->info.nr_segments; i++) {
		uint8_t *page = may ? pgrant_get(p->pgrants, q->gnt, r->segs[i].gref) : NULL;
		r->pages[i] = page ? NO_PAGE : 0;
		if (!page)
			continue;
		r->iov[i].iov_base = page + blkif_seg_offset(&r->segs[i], shift);
		r->iov[i].iov_len = blkif_seg_bytes(&r->segs[i], shift);
		hits++;
	}
	stat_add(&q->stats.persistent_hits, hits);
}

static void submit_io(struct queue *q, struct qreq *r)
{
	struct queue_private *p = q->priv;
	struct eng_io io = { .cookie = r };
	/* Decoding bounded sector + count in bytes: these shifts cannot overflow. */
	unsigned shift = blkif_shift(&q->limits);
	switch (r->info.kind) {
	case BLKIF_KIND_READ:
	case BLKIF_KIND_WRITE:
		for (unsigned i = 0; i < r->info.nr_segments; i++) {
			if (r->pages[i] == NO_PAGE)
				continue; /* set by map_direct */
			r->iov[i].iov_base = page_addr(p, r->pages[i]) + blkif_seg_offset(&r->segs[i], shift);
			r->iov[i].iov_len = blkif_seg_bytes(&r->segs[i], shift);
		}
		io.op = r->info.kind == BLKIF_KIND_READ ? ENG_READ : ENG_WRITE;
		io.offset = r->info.sector << shift;
		io.iov = r->iov;
		io.iovcnt = r->info.nr_segments;
		break;
	case BLKIF_KIND_FLUSH:
		io.op = ENG_FLUSH;
		break;
	case BLKIF_KIND_DISCARD:
		if (r->info.nr_sectors == 0) {
			respond(q, r); /* nothing to discard */
			return;
		}
		io.op = ENG_DISCARD;
		io.offset = r->info.sector << shift;
		io.len = r->info.nr_sectors << shift;
		break;
	}
	r->stage = r->info.kind == BLKIF_KIND_FLUSH ? STAGE_FLUSH : STAGE_IO;
	if (q->chan->engine->ops->queue(q->chan, &io) != 0) {
		r->status = BLKIF_STATUS_ERROR;
		respond(q, r);
	}
}

/* Takes requests off the ring, validates them, fetches their data, submits them. Returns how many. */
static unsigned consume(struct queue *q)
{
	struct queue_private *p = q->priv;
	if (p->dead || atomic_load(&q->cmd) != QUEUE_RUN)
		return 0;
	int avail = blkif_ring_available(&q->ring);
	if (avail < 0) {
		p->dead = true;
		atomic_store(&q->failed, true);
		uint64_t one = 1;
		ssize_t w = write(q->vbd->event_fd, &one, sizeof(one));
		(void)w;
		return 0;
	}
	struct qreq *batch[MAX_BATCH];
	unsigned nb = 0, nind = 0, taken = 0;
	struct qreq *indirect[MAX_BATCH];
	uint64_t t = now_ns();
	/* Take a request only when the worst case fits: a free slot and a request's worth of pages. */
	/* Pages promised to this pass's requests: take_pages() hands them out below. */
	unsigned reserved = 0;
	while (taken < MAX_BATCH && (int)taken < avail && p->free_reqs && p->nr_free - reserved >= p->max_segs) {
		taken++;
		struct qreq *r = p->free_reqs;
		p->free_reqs = r->next;
		p->inflight++;
		uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
		blkif_ring_copy_request(&q->ring, raw);
		r->start_ns = t;
		r->status = blkif_decode(q->ring.abi, raw, &q->limits, &r->info);
		if (r->status != BLKIF_STATUS_OKAY) {
			respond(q, r);
			continue;
		}
		if (r->info.kind == BLKIF_KIND_READ || r->info.kind == BLKIF_KIND_WRITE)
			reserved += r->info.nr_segments;
		if (r->info.indirect) {
			indirect[nind++] = r;
			continue;
		}
		memcpy(r->segs, r->info.seg, sizeof(r->info.seg));
		batch[nb++] = r;
	}
	p->starved = (int)taken < avail && taken < MAX_BATCH;

	/* Indirect descriptors: one grant copy for every page of every indirect request. */
	if (nind) {
		unsigned n = 0;
		for (unsigned i = 0; i < nind; i++) {
			for (unsigned k = 0; k < indirect[i]->info.nr_indirect_pages; k++) {
				p->copy[n] = (struct gnt_copy_seg){
					.gref = indirect[i]->info.indirect_grefs[k],
					.len = PAGE,
					.local = p->indirect_scratch + ((size_t)i * BLKIF_INDIRECT_PAGES + k) * PAGE,
				};
				p->copy_owner[n++] = indirect[i];
			}
		}
		run_copies(q, n);
		for (unsigned i = 0; i < nind; i++) {
			struct qreq *r = indirect[i];
			if (r->status == BLKIF_STATUS_OKAY)
				r->status = blkif_decode_indirect(p->indirect_scratch + (size_t)i * BLKIF_INDIRECT_PAGES * PAGE,
								  &q->limits, &r->info, r->segs);
			if (r->status != BLKIF_STATUS_OKAY)
				respond(q, r);
			else
				batch[nb++] = r;
		}
	}

	/* Pages for the data, then the write data in one grant copy. */
	unsigned n = 0;
	for (unsigned i = 0; i < nb; i++) {
		struct qreq *r = batch[i];
		if (r->info.kind != BLKIF_KIND_READ && r->info.kind != BLKIF_KIND_WRITE)
			continue;
		map_direct(q, r);
		take_pages(p, r);
		if (r->info.kind == BLKIF_KIND_WRITE && r->nr_bounced)
			n = add_data_copies(q, r, n, false);
	}
	run_copies(q, n);
	for (unsigned i = 0; i < nb; i++) {
		if (batch[i]->status != BLKIF_STATUS_OKAY)
			respond(q, batch[i]);
		else
			submit_io(q, batch[i]);
	}
	q->chan->engine->ops->submit(q->chan);
	return taken;
}

/* Reaps engine completions, copies read data back, answers. Returns how many completed. */
static unsigned complete(struct queue *q)
{
	struct eng_completion done[REAP_MAX];
	int got = q->chan->engine->ops->reap(q->chan, done, REAP_MAX);
	if (got <= 0)
		return 0;
	struct qreq *reads[REAP_MAX], *finished[REAP_MAX];
	unsigned nr = 0, nf = 0;
	bool more_io = false;
	for (int i = 0; i < got; i++) {
		struct qreq *r = done[i].cookie;
		if (done[i].result < 0) {
			r->status = done[i].result == -EOPNOTSUPP ? BLKIF_STATUS_EOPNOTSUPP : BLKIF_STATUS_ERROR;
			finished[nf++] = r;
		} else if (r->stage == STAGE_IO && r->info.flush_after) {
			/* The data is written: now make it (and everything completed before) durable. */
			struct eng_io io = { .op = ENG_FLUSH, .cookie = r };
			r->stage = STAGE_FLUSH;
			if (q->chan->engine->ops->queue(q->chan, &io) != 0) {
				r->status = BLKIF_STATUS_ERROR;
				finished[nf++] = r;
			} else {
				more_io = true;
			}
		} else if (r->info.kind == BLKIF_KIND_READ && r->nr_bounced) {
			reads[nr++] = r;
		} else {
			finished[nf++] = r;
		}
	}
	unsigned n = 0;
	for (unsigned i = 0; i < nr; i++)
		n = add_data_copies(q, reads[i], n, true);
	run_copies(q, n);
	for (unsigned i = 0; i < nr; i++)
		respond(q, reads[i]);
	for (unsigned i = 0; i < nf; i++)
		respond(q, finished[i]);
	if (more_io)
		q->chan->engine->ops->submit(q->chan);
	return (unsigned)got;
}

static void publish(struct queue *q)
{
	if (blkif_ring_push_responses(&q->ring)) {
		q->evtchn->platform->ops->evtchn_notify(q->evtchn);
		stat_add(&q->stats.notifications, 1);
	}
}

enum queue_pass queue_poll(struct queue *q)
{
	struct queue_private *p = q->priv;
	int cmd = atomic_load(&q->cmd);
	unsigned work = consume(q);
	work += complete(q);
	publish(q);
	if (cmd != QUEUE_RUN && p->inflight == 0) {
		/* Drained: acknowledge the command once; until the next one there is nothing to do. */
		if (p->acked != cmd) {
			p->acked = cmd;
			atomic_store(&q->state, cmd);
		}
		return cmd == QUEUE_STOP ? QUEUE_STOPPED : QUEUE_IDLE;
	}
	if (cmd == QUEUE_RUN && p->acked != QUEUE_RUN) {
		p->acked = QUEUE_RUN;
		atomic_store(&q->state, QUEUE_RUN);
	}
	return work ? QUEUE_BUSY : QUEUE_IDLE;
}

bool queue_arm(struct queue *q)
{
	struct queue_private *p = q->priv;
	/* Paused, broken or starved: only the control path or a completion can change that. */
	if (atomic_load(&q->cmd) != QUEUE_RUN || p->dead || p->starved)
		return true;
	/* Arm req_event, then re-check: no request can slip in unnoticed. */
	return !blkif_ring_final_check(&q->ring);
}

void queue_wait_fds(const struct queue *q, struct pollfd fds[QUEUE_WAIT_FDS])
{
	fds[0] = (struct pollfd){ .fd = q->evtchn->platform->ops->evtchn_fd(q->evtchn), .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = q->chan->engine->ops->completion_fd(q->chan), .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = q->wake_fd, .events = POLLIN };
}

void queue_woken(struct queue *q, const struct pollfd fds[QUEUE_WAIT_FDS])
{
	stat_add(&q->stats.sleeps, 1);
	/* Drain what woke us here, not on every pass: no syscalls while busy. */
	if (fds[0].revents & POLLIN)
		q->evtchn->platform->ops->evtchn_ack(q->evtchn);
	uint64_t v;
	for (unsigned i = 1; i < QUEUE_WAIT_FDS; i++) {
		if (fds[i].revents & POLLIN) {
			ssize_t r = read(fds[i].fd, &v, sizeof(v));
			(void)r;
		}
	}
}

/* A queue on a thread of its own: poll while busy and, when idle, for as long as the adaptive
 * budget (backend/spin.h, at most poll_us) says, then sleep. */
static void *queue_main(void *arg)
{
	struct queue *q = arg;
	char name[16];
	snprintf(name, sizeof(name), "xenblkd-q%u", q->index);
	pthread_setname_np(pthread_self(), name); /* the reactor tests tell queue threads by it */
	struct spin_policy spin;
	spin_init(&spin, (uint64_t)q->vbd->features.poll_us * 1000);
	uint64_t last_work = now_ns(), last_pass = last_work;
	for (;;) {
		enum queue_pass r = queue_poll(q);
		if (r == QUEUE_STOPPED)
			break;
		uint64_t t = now_ns(), gap = t - last_pass;
		last_pass = t;
		if (r == QUEUE_BUSY) {
			last_work = t;
			continue;
		}
		if (spin_keep_polling(&spin, t - last_work, gap) || !queue_arm(q))
			continue;
		struct pollfd fds[QUEUE_WAIT_FDS];
		queue_wait_fds(q, fds);
		poll(fds, QUEUE_WAIT_FDS, 1000);
		last_pass = now_ns();
		spin_after_sleep(&spin, last_pass - t);
		queue_woken(q, fds);
	}
	return NULL;
}

static const struct queue_driver *driver;

void queue_set_driver(const struct queue_driver *d)
{
	driver = d;
}

int queue_start(struct queue *q, bool paused)
{
	if (private_init(q) != 0) {
		queue_free_private(q);
		return -1;
	}
	/* A paused worker takes nothing from the ring until it is told to run. */
	atomic_store(&q->cmd, paused ? QUEUE_PAUSE : QUEUE_RUN);
	atomic_store(&q->state, QUEUE_RUN);
	q->priv->acked = QUEUE_RUN;
	int rc = driver ? driver->attach(q) : 1;
	if (rc == 0)
		q->driven = true;
	else if (rc < 0 || pthread_create(&q->thread, NULL, queue_main, q) != 0) {
		queue_free_private(q);
		return -1;
	}
	q->started = true;
	return 0;
}

void queue_command(struct queue *q, enum queue_cmd cmd)
{
	if (!q->started)
		return;
	atomic_store(&q->cmd, cmd);
	uint64_t one = 1;
	ssize_t w = write(q->wake_fd, &one, sizeof(one));
	(void)w;
	/* In-flight requests finish first; the engine completes them (or fails them). */
	while (atomic_load(&q->state) != (int)cmd)
		usleep(200);
}

void queue_join(struct queue *q)
{
	if (!q->started)
		return;
	queue_command(q, QUEUE_STOP);
	if (q->driven)
		driver->detach(q);
	else
		pthread_join(q->thread, NULL);
	q->started = false;
	q->driven = false;
}
