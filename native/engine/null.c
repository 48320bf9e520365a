/*
 * The null engine: completes everything at once and reads zeroes. It
 * measures what the backend itself costs per request. Its block size can be
 * 4096 to stand for a 4Kn disk: then, like one, it fails I/O that is not in
 * whole blocks (-EINVAL).
 */
#include "engine/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct null_engine {
	struct engine base;
	uint64_t size;
	uint32_t block;
	uint32_t cpu_ns; /* spent on each request (engine_options.null_cpu_ns) */
};

struct null_channel {
	struct engine_channel base;
	int efd; /* never signalled: completions are reaped in the pass that queued them */
	unsigned depth, head, count;
	struct eng_completion *done; /* ring of `depth` completions */
};

static uint64_t null_size(struct engine *e)
{
	return ((struct null_engine *)e)->size;
}

static uint32_t null_block_size(struct engine *e)
{
	return ((struct null_engine *)e)->block;
}

/* Whole blocks: offset, length and every buffer. */
static bool null_aligned(const struct null_engine *e, const struct eng_io *io)
{
	uint64_t mask = e->block - 1, len = io->len;
	if (io->op == ENG_FLUSH)
		return true;
	if (io->op != ENG_DISCARD) {
		len = 0;
		for (unsigned i = 0; i < io->iovcnt; i++) {
			if (io->iov[i].iov_len & mask)
				return false;
			len += io->iov[i].iov_len;
		}
	}
	return !(io->offset & mask) && !(len & mask);
}

static bool null_can_discard(struct engine *e)
{
	(void)e;
	return true;
}

static void null_close(struct engine *e)
{
	free(e);
}

static struct engine_channel *null_channel_open(struct engine *e, unsigned depth)
{
	struct null_channel *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.engine = e;
	c->depth = depth;
	c->done = calloc(depth, sizeof(*c->done));
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!c->done || c->efd < 0) {
		free(c->done);
		if (c->efd >= 0)
			close(c->efd);
		free(c);
		return NULL;
	}
	return &c->base;
}

static void null_channel_close(struct engine_channel *base)
{
	struct null_channel *c = (struct null_channel *)base;
	close(c->efd);
	free(c->done);
	free(c);
}

/* Keeps the CPU busy for `ns`: a backend whose requests cost that much (checksums, encryption...). */
static void burn(uint32_t ns)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t.tv_nsec - (uint64_t)t0.tv_nsec < ns);
}

static int null_queue(struct engine_channel *base, const struct eng_io *io)
{
	struct null_channel *c = (struct null_channel *)base;
	const struct null_engine *e = (const struct null_engine *)base->engine;
	if (c->count == c->depth)
		return -EAGAIN;
	if (e->cpu_ns)
		burn(e->cpu_ns);
	int result = null_aligned(e, io) ? 0 : -EINVAL;
	if (io->op == ENG_READ && result == 0) {
		for (unsigned i = 0; i < io->iovcnt; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	}
	c->done[(c->head + c->count++) % c->depth] = (struct eng_completion){ .cookie = io->cookie, .result = result };
	return 0;
}

static int null_submit(struct engine_channel *base)
{
	/* Completions are ready at once and reaped in the same pass: nothing to signal. */
	(void)base;
	return 0;
}

static int null_reap(struct engine_channel *base, struct eng_completion *out, int max)
{
	struct null_channel *c = (struct null_channel *)base;
	int n = 0;
	while (n < max && c->count) {
		out[n++] = c->done[c->head];
		c->head = (c->head + 1) % c->depth;
		c->count--;
	}
	return n;
}

static int null_completion_fd(struct engine_channel *base)
{
	return ((struct null_channel *)base)->efd;
}

static const struct engine_ops null_ops = {
	.name = "null",
	.size = null_size,
	.block_size = null_block_size,
	.can_discard = null_can_discard,
	.close = null_close,
	.channel_open = null_channel_open,
	.channel_close = null_channel_close,
	.queue = null_queue,
	.submit = null_submit,
	.reap = null_reap,
	.completion_fd = null_completion_fd,
};

struct engine *engine_null_open(const struct engine_options *opt, const char **err);
struct engine *engine_null_open(const struct engine_options *opt, const char **err)
{
	if (opt->block_size && opt->block_size != 512 && opt->block_size != 4096) {
		*err = "block size must be 512 or 4096";
		return NULL;
	}
	uint32_t block = opt->block_size ? opt->block_size : 512;
	uint64_t size = opt->null_size ? opt->null_size : (1ull << 30);
	if (size % block) {
		*err = "the size must be a multiple of the block size";
		return NULL;
	}
	struct null_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		*err = "out of memory";
		return NULL;
	}
	e->base.ops = &null_ops;
	e->size = size;
	e->block = block;
	e->cpu_ns = opt->null_cpu_ns;
	return &e->base;
}
