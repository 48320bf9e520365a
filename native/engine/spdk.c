/*
 * The SPDK engine: a bdev (NVMe in production; malloc, aio, uring in tests)
 * behind the engine interface. Each channel is an SPDK thread of its own with
 * the bdev's I/O channel on it; the queue's worker drives it from reap() (SPDK
 * completes I/O only while its thread is polled), or a reactor polls the
 * thread with the queue running on it as a poller, so while I/O is in flight
 * the completion fd stays readable and the worker keeps polling instead of
 * sleeping. Offsets and lengths must be whole bdev blocks (4096 bytes on an
 * lvol): a misaligned request fails with -EINVAL rather than being widened.
 * Requests SPDK cannot take now (-ENOMEM: its bdev_io pool) stay queued and
 * are retried at the next pass. Needs spdk_host_start() on the calling thread.
 *
 * An lvol has no FLUSH and its blobstore never flushes the drive under it, so
 * with `flush_nvme` a flush becomes an NVMe Flush on that namespace, sent on
 * an I/O queue pair each channel owns (the namespace's bdev is claimed by the
 * lvol store; a read-only descriptor still reaches its namespace).
 */
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdk/bdev.h>
#include <spdk/env.h>
#include <spdk/nvme.h>
#include <spdk/thread.h>

/* The I/O queue pair of a channel carries flushes only: a few suffice; more wait (-ENOMEM). */
#define FLUSH_QUEUE_SIZE 16

struct spdk_engine {
	struct engine base;
	struct spdk_bdev_desc *desc;
	struct spdk_bdev *bdev;
	uint32_t block;
	bool readonly;
	unsigned channels; /* names the channels' SPDK threads */
	/* flush_nvme: held open so that the controller outlives our queue pairs. */
	struct spdk_bdev_desc *nvme_desc;
	struct spdk_nvme_ns *nvme_ns;
	bool nvme_cache; /* the controller has a volatile write cache: flushes must reach it */
};

struct spdk_channel;

/* One I/O handed to SPDK: what its completion callback needs (preallocated, `depth` of them). */
struct spdk_slot {
	struct spdk_channel *chan;
	void *cookie;
};

struct spdk_channel {
	struct engine_channel base;
	struct spdk_slot *slots;
	unsigned *free_slots; /* a stack of indices into slots */
	unsigned nfree;
	struct spdk_thread *thread;
	struct spdk_io_channel *io;
	struct spdk_nvme_qpair *qpair; /* flush_nvme's, with nvme_inflight flushes on it */
	unsigned nvme_inflight;
	int efd;
	unsigned depth;
	unsigned inflight;
	/* Queued, not yet accepted by SPDK (a ring of `depth`). */
	struct eng_io *waiting;
	unsigned wait_head, wait_count;
	/* Completed, not yet reaped (a ring of `depth`). */
	struct eng_completion *done;
	unsigned done_head, done_count;
};

static struct spdk_engine *se(struct engine *e)
{
	return (struct spdk_engine *)e;
}

static uint64_t spdk_size(struct engine *e)
{
	struct spdk_engine *s = se(e);
	return spdk_bdev_get_num_blocks(s->bdev) * (uint64_t)s->block;
}

static uint32_t spdk_block_size(struct engine *e)
{
	return se(e)->block;
}

/*
 * Bounce buffers from SPDK's env allocator: the user-space NVMe driver can
 * DMA only into memory it knows (reference blkif.md 6.4). The env allocator
 * needs no SPDK thread, so the control path may call this.
 */
static void *spdk_buf_alloc(struct engine *e, size_t bytes)
{
	(void)e;
	return spdk_dma_zmalloc(bytes, 4096, NULL);
}

static void spdk_buf_free(struct engine *e, void *p, size_t bytes)
{
	(void)e;
	(void)bytes;
	spdk_dma_free(p);
}

static bool spdk_can_discard(struct engine *e)
{
	return spdk_bdev_io_type_supported(se(e)->bdev, SPDK_BDEV_IO_TYPE_UNMAP);
}

static void spdk_close(struct engine *e)
{
	struct spdk_engine *s = se(e);
	if (s->nvme_desc)
		spdk_bdev_close(s->nvme_desc);
	spdk_bdev_close(s->desc);
	free(s);
}

/* The bdev's events: a resize is read through size(); removal fails I/O from then on. */
static void bdev_event(enum spdk_bdev_event_type type, struct spdk_bdev *bdev, void *ctx)
{
	(void)type;
	(void)bdev;
	(void)ctx;
}

static void complete(struct spdk_channel *c, void *cookie, int result)
{
	c->done[(c->done_head + c->done_count++) % c->depth] = (struct eng_completion){ .cookie = cookie, .result = result };
}

static void io_done(struct spdk_bdev_io *bio, bool ok, void *arg)
{
	struct spdk_slot *slot = arg;
	struct spdk_channel *c = slot->chan;
	spdk_bdev_free_io(bio);
	complete(c, slot->cookie, ok ? 0 : -EIO);
	c->free_slots[c->nfree++] = (unsigned)(slot - c->slots);
	c->inflight--;
}

static void nvme_flush_done(void *arg, const struct spdk_nvme_cpl *cpl)
{
	struct spdk_slot *slot = arg;
	struct spdk_channel *c = slot->chan;
	c->nvme_inflight--;
	complete(c, slot->cookie, spdk_nvme_cpl_is_error(cpl) ? -EIO : 0);
	c->free_slots[c->nfree++] = (unsigned)(slot - c->slots);
	c->inflight--;
}

/* Completes what the queue pair finished; a pair failed at the transport is reconnected (its flushes fail). */
static void poll_nvme(struct spdk_channel *c)
{
	if (c->nvme_inflight && spdk_nvme_qpair_process_completions(c->qpair, 0) == -ENXIO)
		spdk_nvme_ctrlr_reconnect_io_qpair(c->qpair);
}

/* Frees a channel, whole or half-made: its SPDK thread gives back the I/O channel and exits. */
static void channel_free(struct spdk_channel *c)
{
	if (c->thread) {
		struct spdk_thread *prev = spdk_get_thread();
		spdk_set_thread(c->thread);
		/* The queue waits for its I/O before closing; whatever SPDK still holds completes here. */
		while (c->inflight > c->nvme_inflight)
			spdk_thread_poll(c->thread, 0, 0);
		uint64_t give_up = spdk_get_ticks() + spdk_get_ticks_hz();
		while (c->nvme_inflight && spdk_get_ticks() < give_up)
			poll_nvme(c);
		/* Freeing the pair completes whatever it still held (aborted) through nvme_flush_done. */
		if (c->qpair)
			spdk_nvme_ctrlr_free_io_qpair(c->qpair);
		if (c->io)
			spdk_put_io_channel(c->io);
		spdk_thread_exit(c->thread);
		while (!spdk_thread_is_exited(c->thread))
			spdk_thread_poll(c->thread, 0, 0);
		spdk_thread_destroy(c->thread);
		spdk_set_thread(prev);
	}
	if (c->efd >= 0)
		close(c->efd);
	free(c->waiting);
	free(c->done);
	free(c->slots);
	free(c->free_slots);
	free(c);
}

static struct engine_channel *spdk_channel_open(struct engine *e, unsigned depth)
{
	struct spdk_engine *s = se(e);
	struct spdk_channel *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.engine = e;
	c->depth = depth;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->waiting = calloc(depth, sizeof(*c->waiting));
	c->done = calloc(depth, sizeof(*c->done));
	c->slots = calloc(depth, sizeof(*c->slots));
	c->free_slots = calloc(depth, sizeof(*c->free_slots));
	for (unsigned i = 0; c->slots && c->free_slots && i < depth; i++) {
		c->slots[i].chan = c;
		c->free_slots[c->nfree++] = depth - 1 - i;
	}
	char name[32];
	snprintf(name, sizeof(name), "xenblkd-q%u", s->channels++);
	struct spdk_thread *prev = spdk_get_thread();
	c->thread = spdk_thread_create(name, NULL);
	if (c->thread) {
		spdk_set_thread(c->thread);
		c->io = spdk_bdev_get_io_channel(s->desc);
		spdk_set_thread(prev);
	}
	if (s->nvme_cache && c->io) { /* only on a whole channel: channel_free gives it back with the thread */
		struct spdk_nvme_ctrlr *ctrlr = spdk_nvme_ns_get_ctrlr(s->nvme_ns);
		struct spdk_nvme_io_qpair_opts o;
		spdk_nvme_ctrlr_get_default_io_qpair_opts(ctrlr, &o, sizeof(o));
		o.io_queue_size = o.io_queue_requests = FLUSH_QUEUE_SIZE;
		c->qpair = spdk_nvme_ctrlr_alloc_io_qpair(ctrlr, &o, sizeof(o));
	}
	if (c->efd < 0 || !c->waiting || !c->done || !c->slots || !c->free_slots || !c->thread || !c->io ||
	    (s->nvme_cache && !c->qpair)) {
		channel_free(c);
		return NULL;
	}
	return &c->base;
}

static void spdk_channel_close(struct engine_channel *base)
{
	channel_free((struct spdk_channel *)base);
}

static int spdk_queue(struct engine_channel *base, const struct eng_io *io)
{
	struct spdk_channel *c = (struct spdk_channel *)base;
	/* Room for its completion is kept too: queued + in flight + completed never exceed depth. */
	if (c->wait_count + c->inflight + c->done_count >= c->depth)
		return -EAGAIN;
	c->waiting[(c->wait_head + c->wait_count++) % c->depth] = *io;
	return 0;
}

/* Hands one I/O to SPDK: 0, -ENOMEM (try again later) or a failure completed at once. */
static int start_io(struct spdk_channel *c, const struct eng_io *io)
{
	struct spdk_engine *s = se(c->base.engine);
	uint64_t len = io->len;
	if (io->op == ENG_READ || io->op == ENG_WRITE) {
		len = 0;
		for (unsigned i = 0; i < io->iovcnt; i++)
			len += io->iov[i].iov_len;
	}
	if (io->op != ENG_FLUSH && (io->offset % s->block || len % s->block)) {
		complete(c, io->cookie, -EINVAL);
		return 0;
	}
	if (s->readonly && io->op != ENG_READ && io->op != ENG_FLUSH) {
		complete(c, io->cookie, -EROFS);
		return 0;
	}
	struct spdk_slot *slot = &c->slots[c->free_slots[c->nfree - 1]];
	slot->cookie = io->cookie;
	uint64_t lba = io->offset / s->block, blocks = len / s->block;
	int rc;
	switch (io->op) {
	case ENG_READ:
		rc = spdk_bdev_readv_blocks(s->desc, c->io, (struct iovec *)io->iov, (int)io->iovcnt, lba, blocks, io_done, slot);
		break;
	case ENG_WRITE:
		rc = spdk_bdev_writev_blocks(s->desc, c->io, (struct iovec *)io->iov, (int)io->iovcnt, lba, blocks, io_done, slot);
		break;
	case ENG_FLUSH:
		if (s->nvme_ns) {
			/* Without a volatile write cache (or on a read-only disk) completed writes are durable already. */
			if (!s->nvme_cache) {
				complete(c, io->cookie, 0);
				return 0;
			}
			rc = spdk_nvme_ns_cmd_flush(s->nvme_ns, c->qpair, nvme_flush_done, slot);
			if (rc == 0)
				c->nvme_inflight++;
			break;
		}
		/* lvol and uring bdevs have no FLUSH: their writes are complete when acknowledged. */
		if (!spdk_bdev_io_type_supported(s->bdev, SPDK_BDEV_IO_TYPE_FLUSH)) {
			complete(c, io->cookie, 0);
			return 0;
		}
		rc = spdk_bdev_flush_blocks(s->desc, c->io, 0, spdk_bdev_get_num_blocks(s->bdev), io_done, slot);
		break;
	case ENG_DISCARD:
		rc = spdk_bdev_unmap_blocks(s->desc, c->io, lba, blocks, io_done, slot);
		break;
	default:
		rc = -EINVAL;
	}
	if (rc == -ENOMEM)
		return -ENOMEM;
	if (rc != 0) {
		complete(c, io->cookie, rc);
		return 0;
	}
	c->nfree--;
	c->inflight++;
	return 0;
}

/* Starts what waits, in order, until SPDK runs short of bdev_io. */
static void start_waiting(struct spdk_channel *c)
{
	while (c->wait_count) {
		if (start_io(c, &c->waiting[c->wait_head]) == -ENOMEM)
			break;
		c->wait_head = (c->wait_head + 1) % c->depth;
		c->wait_count--;
	}
}

static void keep_awake(struct spdk_channel *c)
{
	/* SPDK completes only while polled: a worker must not sleep with I/O in flight or waiting. */
	if (c->inflight || c->wait_count || c->done_count) {
		uint64_t one = 1;
		if (write(c->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is already non-zero, which is all we want */
		}
	}
}

static int spdk_submit(struct engine_channel *base)
{
	struct spdk_channel *c = (struct spdk_channel *)base;
	struct spdk_thread *prev = spdk_get_thread();
	spdk_set_thread(c->thread);
	start_waiting(c);
	spdk_set_thread(prev);
	keep_awake(c);
	return 0;
}

static int spdk_reap(struct engine_channel *base, struct eng_completion *out, int max)
{
	struct spdk_channel *c = (struct spdk_channel *)base;
	struct spdk_thread *prev = spdk_get_thread();
	if (prev != c->thread) {
		/* A worker of its own polls the thread here; a reactor polling it runs us inside. */
		spdk_set_thread(c->thread);
		spdk_thread_poll(c->thread, 0, 0);
	}
	poll_nvme(c);
	start_waiting(c);
	spdk_set_thread(prev);
	int n = 0;
	while (n < max && c->done_count) {
		out[n++] = c->done[c->done_head];
		c->done_head = (c->done_head + 1) % c->depth;
		c->done_count--;
	}
	keep_awake(c);
	return n;
}

static int spdk_completion_fd(struct engine_channel *base)
{
	return ((struct spdk_channel *)base)->efd;
}

static struct spdk_thread *spdk_channel_thread(struct engine_channel *base)
{
	return ((struct spdk_channel *)base)->thread;
}

static const struct engine_ops spdk_ops = {
	.name = "spdk",
	.size = spdk_size,
	.block_size = spdk_block_size,
	.buf_alloc = spdk_buf_alloc,
	.buf_free = spdk_buf_free,
	.can_discard = spdk_can_discard,
	.close = spdk_close,
	.channel_open = spdk_channel_open,
	.channel_close = spdk_channel_close,
	.queue = spdk_queue,
	.submit = spdk_submit,
	.reap = spdk_reap,
	.completion_fd = spdk_completion_fd,
	.spdk_thread = spdk_channel_thread,
};

static void nvme_bdev_event(enum spdk_bdev_event_type type, struct spdk_bdev *bdev, void *ctx)
{
	/* Closed with the engine: until then the namespace, and so our queue pairs' controller, stays. */
	(void)type;
	(void)bdev;
	(void)ctx;
}

/* Finds the namespace behind the NVMe bdev `name`; the engine sends it flushes when it has a write cache. */
static int open_flush_nvme(struct spdk_engine *s, const char *name, const char **err)
{
	if (spdk_bdev_open_ext(name, false, nvme_bdev_event, s, &s->nvme_desc) != 0) {
		*err = "flush_nvme: no such SPDK bdev";
		return -1;
	}
	struct spdk_bdev *nb = spdk_bdev_desc_get_bdev(s->nvme_desc);
	if (strcmp(spdk_bdev_get_module_name(nb), "nvme") != 0 || !(s->nvme_ns = spdk_bdev_get_module_ctx(s->nvme_desc))) {
		*err = "flush_nvme: not an NVMe namespace bdev";
		return -1;
	}
	/* A read-only disk wrote nothing a flush of its own would have to commit: no queue pairs for it. */
	s->nvme_cache = !s->readonly && spdk_nvme_ctrlr_get_data(spdk_nvme_ns_get_ctrlr(s->nvme_ns))->vwc.present;
	return 0;
}

/* Opens the bdev named by opt->path; the SPDK host must run on this thread (spdk_host_start). */
struct engine *engine_spdk_open(const struct engine_options *opt, const char **err);
struct engine *engine_spdk_open(const struct engine_options *opt, const char **err)
{
	if (!spdk_get_thread()) {
		*err = "the SPDK environment is not started";
		return NULL;
	}
	struct spdk_engine *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = "out of memory";
		return NULL;
	}
	s->base.ops = &spdk_ops;
	s->readonly = opt->readonly;
	if (spdk_bdev_open_ext(opt->path, !opt->readonly, bdev_event, s, &s->desc) != 0) {
		*err = "no such SPDK bdev";
		free(s);
		return NULL;
	}
	s->bdev = spdk_bdev_desc_get_bdev(s->desc);
	s->block = spdk_bdev_get_block_size(s->bdev);
	if (opt->flush_nvme && open_flush_nvme(s, opt->flush_nvme, err) != 0) {
		spdk_close(&s->base);
		return NULL;
	}
	return &s->base;
}
