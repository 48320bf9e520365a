/* The workload engine: generating I/Os, keeping them in flight, accounting their completions. */
#include "sim/guest/workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t wl_interrupted;

struct wl_slot {
	struct bf_io io;
	struct wl *w;
	uint32_t page0;
	uint32_t gen;
	bool busy;
	bool filled; /* the buffer holds our write filler, not data a read brought in */
	uint64_t lba, nsect; /* the range this I/O covers on disk (none for a flush) */
};

struct wl {
	struct bf_dev *d;
	const struct guest_opts *o;
	struct vmodel *vm;
	struct wl_slot *slots;
	unsigned nslots;
	uint64_t region_lba, region_nsect, nblocks;
	uint32_t bs_sect;
	uint32_t slot_pages; /* each slot's buffer */
	/* Per phase. */
	const struct wl_phase *ph;
	struct run_stats *st;
	uint64_t rng, seq_next, issued, completed, writes, since_flush, discard_tick;
	uint64_t last_done_ns;
};

/* xorshift64*: fast, decent, reproducible from --seed. */
static uint64_t rnd(struct wl *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dull;
}

struct wl *wl_create(struct bf_dev *d, const struct guest_opts *o, struct vmodel *vm, char *err, size_t errlen)
{
	uint64_t disk = bf_disk_sectors(d), first = o->offset / 512, nsect;
	uint32_t pages = (uint32_t)((7 * 512 + o->bs + WIRE_PAGE - 1) / WIRE_PAGE);
	struct wl *w;

	if (first >= disk) {
		snprintf(err, errlen, "--offset %llu is beyond the disk (%llu sectors)", (unsigned long long)o->offset,
			 (unsigned long long)disk);
		return NULL;
	}
	nsect = o->size ? o->size / 512 : disk - first;
	if (nsect > disk - first) {
		snprintf(err, errlen, "--offset + --size go beyond the disk (%llu sectors)", (unsigned long long)disk);
		return NULL;
	}
	if (nsect < o->bs / 512) {
		snprintf(err, errlen, "the region (%llu sectors) is smaller than one block", (unsigned long long)nsect);
		return NULL;
	}
	if (d->f.sector_size > 512 && (o->bs % d->f.sector_size || o->offset % d->f.sector_size)) {
		snprintf(err, errlen, "--bs and --offset must be multiples of the sector size %u", d->f.sector_size);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->d = d;
	w->o = o;
	w->vm = vm;
	w->bs_sect = (uint32_t)(o->bs / 512);
	w->slot_pages = pages;
	w->region_lba = first;
	w->nblocks = nsect / w->bs_sect;
	w->region_nsect = w->nblocks * w->bs_sect;
	w->nslots = o->iodepth * d->nq;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	if (!w->slots) {
		snprintf(err, errlen, "out of memory");
		free(w);
		return NULL;
	}
	for (unsigned i = 0; i < w->nslots; i++) {
		struct wl_slot *s = &w->slots[i];
		s->w = w;
		s->io.queue = i / o->iodepth;
		s->io.user = s;
		if (gmem_alloc_pages(&d->mem, pages, &s->page0) < 0) {
			snprintf(err, errlen,
				 "guest memory too small for %u I/O buffers of %u pages (%u pages left); "
				 "create the domain with more --pages",
				 w->nslots, pages, gmem_pages_free(&d->mem) + i * pages);
			wl_destroy(w);
			return NULL;
		}
	}
	return w;
}

void wl_destroy(struct wl *w)
{
	if (!w)
		return;
	free(w->slots);
	free(w);
}

void wl_set_model(struct wl *w, struct vmodel *vm)
{
	w->vm = vm;
}

uint64_t wl_region_lba(const struct wl *w)
{
	return w->region_lba;
}
uint64_t wl_region_sectors(const struct wl *w)
{
	return w->region_nsect;
}
uint64_t wl_blocks(const struct wl *w)
{
	return w->nblocks;
}

static uint8_t *slot_data(struct wl_slot *s)
{
	return gmem_page(&s->w->d->mem, s->io.buf_page) + s->io.buf_off;
}

/* An I/O may not run beside another touching its range if either changes data. */
static bool conflicts(const struct wl *w, uint64_t lba, uint64_t n, bool changes)
{
	for (unsigned i = 0; i < w->nslots; i++) {
		const struct wl_slot *s = &w->slots[i];
		if (!s->busy || s->nsect == 0)
			continue;
		if (!changes && s->io.kind == BF_READ)
			continue;
		if (lba < s->lba + s->nsect && s->lba < lba + n)
			return true;
	}
	return false;
}

/* Shrinks [lba, lba+n) to whole discard granules; false if none is left. */
static bool discard_range(const struct wl *w, uint64_t *lba, uint64_t *n)
{
	uint64_t g = w->d->f.discard_granularity / 512, a = (w->d->f.discard_alignment / 512), start, end;

	if (g <= 1)
		return true;
	a %= g;
	start = *lba < a ? a : ((*lba - a + g - 1) / g) * g + a;
	end = *lba + *n < a ? 0 : ((*lba + *n - a) / g) * g + a;
	if (end <= start)
		return false;
	*lba = start;
	*n = end - start;
	return true;
}

static void io_done(struct bf_dev *d, struct bf_io *io);

/* Fills one free slot with the next I/O. false: nothing can be issued right now. */
static bool generate(struct wl *w, struct wl_slot *s)
{
	const struct wl_phase *ph = w->ph;
	struct bf_io *io = &s->io;
	bool write;
	uint64_t lba = 0, n = w->bs_sect, block = 0;
	int tries;

	memset(io, 0, sizeof(*io));
	io->queue = (unsigned)(s - w->slots) / w->o->iodepth;
	io->user = s;
	io->done = io_done;
	s->nsect = 0;
	s->gen = 0;

	if (ph->flush_every && w->since_flush >= ph->flush_every) {
		w->since_flush = 0;
		io->kind = BF_FLUSH;
		return true;
	}
	write = ph->rw == RW_WRITE || ph->rw == RW_RANDWRITE ||
		((ph->rw == RW_RW || ph->rw == RW_RANDRW) && rnd(w) % 100 >= ph->rwmixread);
	io->kind = write ? BF_WRITE : BF_READ;
	if (ph->discard_every && w->d->f.discard && !w->d->discard_disabled &&
	    ++w->discard_tick % ph->discard_every == 0)
		io->kind = BF_DISCARD;

	for (tries = 0;; tries++) {
		block = rw_is_random(ph->rw) ? rnd(w) % w->nblocks : w->seq_next % w->nblocks;
		lba = w->region_lba + block * w->bs_sect;
		n = w->bs_sect;
		if (io->kind == BF_DISCARD && !discard_range(w, &lba, &n)) {
			/* Nothing whole to discard here: a normal I/O instead. */
			w->st->discards_skipped++;
			io->kind = write ? BF_WRITE : BF_READ;
			lba = w->region_lba + block * w->bs_sect;
			n = w->bs_sect;
		}
		if (!conflicts(w, lba, n, io->kind != BF_READ))
			break;
		if (!rw_is_random(ph->rw) || tries >= 8)
			return false; /* sequential: wait for the block ahead to finish */
	}
	if (!rw_is_random(ph->rw))
		w->seq_next++;
	s->lba = lba;
	s->nsect = n;
	io->sector = lba;
	io->nr_sectors = n;
	if (io->kind == BF_DISCARD) {
		/* Secure erase every other discard, when the backend offers it. */
		io->secure = w->d->f.discard_secure && (w->discard_tick / ph->discard_every) % 2 == 0;
		return true;
	}
	io->buf_page = s->page0;
	io->buf_off = (uint32_t)((lba & 7) << 9); /* like the page cache: sector i of a page at offset i*512 */
	if (io->kind == BF_READ) {
		s->filled = false;
		if (w->vm)
			memset(slot_data(s), 0xa5, n << 9); /* poison: an unanswered buffer must not look right */
	}
	if (io->kind == BF_WRITE) {
		w->writes++;
		w->since_flush++;
		if (ph->fua_every && w->writes % ph->fua_every == 0)
			io->fua = true;
		if (w->vm) {
			s->gen = vmodel_new_gen(w->vm);
			vmodel_fill(w->vm, slot_data(s), lba, n, s->gen);
			s->filled = false;
		} else if (!s->filled) {
			/* Not whatever an earlier read left in the buffer: no sector that looks verified.
			 * Once is enough, as fio fills its buffers once. */
			memset(gmem_page(&w->d->mem, s->page0), 0x5c, (size_t)w->slot_pages * WIRE_PAGE);
			s->filled = true;
		}
	}
	return true;
}

static int stat_kind(enum bf_kind k)
{
	return k == BF_READ ? ST_READ : k == BF_WRITE ? ST_WRITE : k == BF_FLUSH ? ST_FLUSH : ST_DISCARD;
}

static void io_done(struct bf_dev *d, struct bf_io *io)
{
	struct wl_slot *s = io->user;
	struct wl *w = s->w;
	bool ok = !io->aborted && io->status == WIRE_RSP_OKAY;

	(void)d;
	run_stats_add(w->st, stat_kind(io->kind), io->kind == BF_READ || io->kind == BF_WRITE ? s->nsect << 9 : 0,
		      io->status, io->aborted, io->done_ns - io->submit_ns);
	if (io->kind == BF_FLUSH && io->flush_dropped)
		w->st->flushes_dropped++;
	if (w->vm) {
		if (io->kind == BF_READ && ok)
			vmodel_check(w->vm, slot_data(s), s->lba, s->nsect);
		else if (io->kind == BF_WRITE)
			/* A failed write, or a FUA write the backend refused, may or may not have landed. */
			vmodel_set(w->vm, s->lba, s->nsect, ok && !io->flush_dropped ? s->gen : VGEN_UNKNOWN);
		else if (io->kind == BF_DISCARD)
			vmodel_set(w->vm, s->lba, s->nsect, ok ? VGEN_ZERO : VGEN_UNKNOWN);
	}
	s->busy = false;
	w->completed++;
	w->last_done_ns = io->done_ns;
}

static void progress_line(struct wl *w, uint64_t now, bool final)
{
	double secs = (double)(now - w->st->start_ns) / 1e9;
	uint64_t bytes = 0;

	for (int i = 0; i < ST_NKINDS; i++)
		bytes += w->st->k[i].bytes;
	fprintf(stderr, "\r%s: %llu ios, %.0f IOPS, %.1f MB/s, %llu errors, %.0fs%s", w->ph->name,
		(unsigned long long)w->completed, secs > 0 ? (double)w->completed / secs : 0,
		secs > 0 ? (double)bytes / secs / 1e6 : 0, (unsigned long long)run_stats_errors(w->st), secs,
		final ? "\n" : "   ");
	fflush(stderr);
}

int wl_run(struct wl *w, const struct wl_phase *ph, struct run_stats *st, bool progress)
{
	struct bf_dev *d = w->d;
	uint64_t timeout_ns = (uint64_t)(w->o->timeout * 1e9), deadline = 0, next_progress;
	bool stop = false;
	int rc = 0;

	w->ph = ph;
	w->st = st;
	w->rng = w->o->seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (!w->rng)
		w->rng = 1;
	w->seq_next = w->issued = w->completed = w->writes = w->since_flush = w->discard_tick = 0;
	st->start_ns = w->last_done_ns = bf_now_ns();
	next_progress = st->start_ns + 1000000000ull;
	if (ph->runtime > 0)
		deadline = st->start_ns + (uint64_t)(ph->runtime * 1e9);

	for (;;) {
		uint64_t now = bf_now_ns();
		int r;

		if (wl_interrupted || (deadline && now >= deadline) || (ph->ios && w->issued >= ph->ios))
			stop = true;
		if (d->broken || d->backend_closing)
			stop = true;
		if (!stop) {
			for (unsigned i = 0; i < w->nslots && !(ph->ios && w->issued >= ph->ios); i++) {
				struct wl_slot *s = &w->slots[i];
				if (s->busy)
					continue;
				if (!generate(w, s))
					break;
				s->busy = true;
				w->issued++;
				bf_submit(d, &s->io);
			}
			bf_kick(d);
		}
		if (bf_outstanding(d) == 0) {
			if (stop)
				break;
			if (!ph->ios && !deadline)
				break; /* nothing could be generated and no limit: avoid spinning */
		}
		r = bf_poll(d, 20);
		if (r < 0) {
			/* Protocol error: blkfront stops the device; what was in flight never completes. */
			bf_abort_pending(d);
			bf_abort_inflight(d);
			rc = -1;
			break;
		}
		now = bf_now_ns();
		if (bf_outstanding(d) && now - w->last_done_ns > timeout_ns) {
			st->timeouts += bf_outstanding(d);
			bf_abort_pending(d);
			bf_abort_inflight(d);
			rc = -1;
			break;
		}
		if (stop && (d->backend_closing || d->broken))
			bf_abort_pending(d); /* keep waiting for what the backend already has */
		if (progress && now >= next_progress) {
			progress_line(w, now, false);
			next_progress = now + 1000000000ull;
		}
	}
	st->end_ns = bf_now_ns();
	if (progress)
		progress_line(w, st->end_ns, true);
	if (d->backend_closing || d->broken)
		rc = -1;
	return rc;
}
