/*
 * The io_uring engine: a raw file or block device opened with O_DIRECT, one
 * ring per queue, batched submission. Flush is fdatasync; discard punches a
 * hole in a file and is BLKDISCARD on a device.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct uring_engine {
	struct engine base;
	int fd;
	bool is_blockdev;
	bool direct;
	uint32_t block; /* the device's logical block size, or what a file was opened with */
};

/* One I/O in the ring: what it must transfer, to tell a short read or write from a complete one. */
struct uring_slot {
	void *cookie;
	uint64_t expect; /* bytes (READ/WRITE), 0 for the others */
	struct uring_slot *next;
};

struct uring_channel {
	struct engine_channel base;
	struct io_uring ring;
	int efd;
	unsigned queued;
	struct uring_slot *slots, *free_slots; /* `depth` of them, preallocated */
	/* Device discards run synchronously (no ring op); their completions wait here. */
	struct eng_completion *sync_done;
	unsigned sync_count, depth;
};

static uint64_t uring_size(struct engine *base)
{
	struct uring_engine *e = (struct uring_engine *)base;
	if (e->is_blockdev) {
		uint64_t bytes = 0;
		return ioctl(e->fd, BLKGETSIZE64, &bytes) == 0 ? bytes : 0;
	}
	struct stat st;
	return fstat(e->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint32_t uring_block_size(struct engine *base)
{
	return ((struct uring_engine *)base)->block;
}

static bool uring_can_discard(struct engine *base)
{
	(void)base;
	return true;
}

static void uring_close(struct engine *base)
{
	struct uring_engine *e = (struct uring_engine *)base;
	close(e->fd);
	free(e);
}

static struct engine_channel *uring_channel_open(struct engine *base, unsigned depth)
{
	struct uring_channel *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.engine = base;
	c->depth = depth;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->sync_done = calloc(depth, sizeof(*c->sync_done));
	c->slots = calloc(depth, sizeof(*c->slots));
	if (c->efd < 0 || !c->sync_done || !c->slots || io_uring_queue_init(depth, &c->ring, 0) < 0)
		goto fail;
	for (unsigned i = 0; i < depth; i++) {
		c->slots[i].next = c->free_slots;
		c->free_slots = &c->slots[i];
	}
	if (io_uring_register_eventfd(&c->ring, c->efd) < 0) {
		io_uring_queue_exit(&c->ring);
		goto fail;
	}
	return &c->base;
fail:
	if (c->efd >= 0)
		close(c->efd);
	free(c->sync_done);
	free(c->slots);
	free(c);
	return NULL;
}

static void uring_channel_close(struct engine_channel *base)
{
	struct uring_channel *c = (struct uring_channel *)base;
	io_uring_queue_exit(&c->ring);
	close(c->efd);
	free(c->sync_done);
	free(c->slots);
	free(c);
}

static int discard_device(int fd, uint64_t offset, uint64_t len)
{
	uint64_t range[2] = { offset, len };
	return ioctl(fd, BLKDISCARD, range) == 0 ? 0 : -errno;
}

static int uring_queue(struct engine_channel *base, const struct eng_io *io)
{
	struct uring_channel *c = (struct uring_channel *)base;
	struct uring_engine *e = (struct uring_engine *)base->engine;
	if (io->op == ENG_DISCARD && e->is_blockdev) {
		if (c->sync_count == c->depth)
			return -EAGAIN;
		c->sync_done[c->sync_count++] = (struct eng_completion){ io->cookie, discard_device(e->fd, io->offset, io->len) };
		uint64_t one = 1;
		ssize_t w = write(c->efd, &one, sizeof(one));
		(void)w;
		return 0;
	}
	struct uring_slot *slot = c->free_slots;
	struct io_uring_sqe *sqe = slot ? io_uring_get_sqe(&c->ring) : NULL;
	if (!sqe)
		return -EAGAIN;
	c->free_slots = slot->next;
	slot->cookie = io->cookie;
	slot->expect = 0;
	for (unsigned i = 0; (io->op == ENG_READ || io->op == ENG_WRITE) && i < io->iovcnt; i++)
		slot->expect += io->iov[i].iov_len;
	switch (io->op) {
	case ENG_READ:
		io_uring_prep_readv(sqe, e->fd, io->iov, io->iovcnt, io->offset);
		break;
	case ENG_WRITE:
		io_uring_prep_writev(sqe, e->fd, io->iov, io->iovcnt, io->offset);
		break;
	case ENG_FLUSH:
		io_uring_prep_fsync(sqe, e->fd, IORING_FSYNC_DATASYNC);
		break;
	case ENG_DISCARD:
		io_uring_prep_fallocate(sqe, e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io->offset, io->len);
		break;
	}
	io_uring_sqe_set_data(sqe, slot);
	c->queued++;
	return 0;
}

static int uring_submit(struct engine_channel *base)
{
	struct uring_channel *c = (struct uring_channel *)base;
	if (!c->queued)
		return 0;
	int r = io_uring_submit(&c->ring);
	if (r >= 0)
		c->queued = 0;
	return r < 0 ? r : 0;
}

static int uring_reap(struct engine_channel *base, struct eng_completion *out, int max)
{
	struct uring_channel *c = (struct uring_channel *)base;
	int n = 0;
	while (n < max && c->sync_count)
		out[n++] = c->sync_done[--c->sync_count];
	struct io_uring_cqe *cqe;
	while (n < max && io_uring_peek_cqe(&c->ring, &cqe) == 0) {
		struct uring_slot *slot = io_uring_cqe_get_data(cqe);
		out[n].cookie = slot->cookie;
		/*
		 * A short transfer is a failure, not a success: a write that found
		 * the filesystem full part of the way (ENOSPC after the first
		 * blocks) completes with the bytes it did write.
		 */
		out[n].result = cqe->res < 0 ? cqe->res : (uint64_t)cqe->res < slot->expect ? -EIO : 0;
		slot->next = c->free_slots;
		c->free_slots = slot;
		n++;
		io_uring_cqe_seen(&c->ring, cqe);
	}
	return n;
}

static int uring_completion_fd(struct engine_channel *base)
{
	return ((struct uring_channel *)base)->efd;
}

static const struct engine_ops uring_ops = {
	.name = "uring",
	.size = uring_size,
	.block_size = uring_block_size,
	.can_discard = uring_can_discard,
	.close = uring_close,
	.channel_open = uring_channel_open,
	.channel_close = uring_channel_close,
	.queue = uring_queue,
	.submit = uring_submit,
	.reap = uring_reap,
	.completion_fd = uring_completion_fd,
};

struct engine *engine_uring_open(const struct engine_options *opt, const char **err);
struct engine *engine_uring_open(const struct engine_options *opt, const char **err)
{
	if (!opt->path) {
		*err = "the uring engine needs a path";
		return NULL;
	}
	int flags = (opt->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	bool direct = true;
	int fd = open(opt->path, flags | O_DIRECT);
	if (fd < 0 && errno == EINVAL) {
		/* tmpfs and some others refuse O_DIRECT: buffered I/O, flush still makes it durable. */
		direct = false;
		fd = open(opt->path, flags);
	}
	if (fd < 0) {
		*err = strerror(errno);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		*err = "not a regular file or block device";
		return NULL;
	}
	/* A file has no block size of its own: 512 unless asked to stand for a 4Kn disk. */
	uint32_t block = opt->block_size ? opt->block_size : 512;
	if (S_ISBLK(st.st_mode)) {
		int ssz = 0;
		if (ioctl(fd, BLKSSZGET, &ssz) != 0 || (ssz != 512 && ssz != 4096) ||
		    (opt->block_size && (uint32_t)ssz != opt->block_size)) {
			close(fd);
			*err = "the device's logical block size is not 512 or 4096, or not the one asked for";
			return NULL;
		}
		block = (uint32_t)ssz;
	} else if (block != 512 && block != 4096) {
		close(fd);
		*err = "block size must be 512 or 4096";
		return NULL;
	}
	struct uring_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		*err = "out of memory";
		return NULL;
	}
	e->base.ops = &uring_ops;
	e->fd = fd;
	e->is_blockdev = S_ISBLK(st.st_mode);
	e->direct = direct;
	e->block = block;
	return &e->base;
}
