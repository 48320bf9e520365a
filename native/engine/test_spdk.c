/*
 * The SPDK engine (engine/spdk.c) over malloc bdevs that SPDK creates from a
 * JSON configuration, without hugepages: data written through iovecs reads
 * back, flush and unmap reach the bdev, a 4096-byte-block bdev refuses
 * misaligned I/O, a read-only open refuses writes, the depth is a hard limit,
 * the completion fd keeps the worker awake while I/O is in flight, a
 * channel's SPDK thread is torn down cleanly, the block size is the bdev's,
 * and I/O buffers from the engine's buf_alloc are SPDK DMA memory that I/O
 * goes through. Built and run only where an
 * installed SPDK is found (native/engine/build.mk).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <spdk/env.h>

#include "engine/engine.h"
#include "engine/spdk_host.h"
#include "testing/check.h"

struct engine *engine_spdk_open(const struct engine_options *opt, const char **err);

static const char CONFIG[] =
	"{\"subsystems\":[{\"subsystem\":\"bdev\",\"config\":["
	"{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"m512\",\"num_blocks\":32768,\"block_size\":512}},"
	"{\"method\":\"bdev_malloc_create\",\"params\":{\"name\":\"m4k\",\"num_blocks\":4096,\"block_size\":4096}}]}]}";

/* Queues `io`, submits and polls until it completes; its result (or 1000 if it never does). */
static int run(struct engine_channel *c, struct eng_io io)
{
	const struct engine_ops *ops = c->engine->ops;
	int rc = ops->queue(c, &io);
	if (rc)
		return rc;
	ops->submit(c);
	struct eng_completion done;
	for (int i = 0; i < 1000000; i++) {
		if (ops->reap(c, &done, 1) == 1)
			return done.cookie == io.cookie ? done.result : 2000;
	}
	return 1000;
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

static void test_512(void)
{
	const char *err = NULL;
	struct engine *e = engine_spdk_open(&(struct engine_options){ .path = "m512" }, &err);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(e->ops->size(e) == 32768ull * 512 && e->ops->block_size(e) == 512);
	CHECK(e->ops->can_discard(e));
	struct engine_channel *c = e->ops->channel_open(e, 4);
	CHECK(c != NULL);

	/* Two iovecs, 12 KiB at sector 8, read back through three others. */
	static char a[8192], b[4096], r1[4096], r2[4096], r3[4096];
	memset(a, 0xa5, sizeof(a));
	memset(b, 0x3c, sizeof(b));
	struct iovec w[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	CHECK(run(c, (struct eng_io){ .op = ENG_WRITE, .offset = 8 * 512, .iov = w, .iovcnt = 2, .cookie = w }) == 0);
	CHECK(run(c, (struct eng_io){ .op = ENG_FLUSH, .cookie = c }) == 0);
	struct iovec rd[3] = { { r1, 4096 }, { r2, 4096 }, { r3, 4096 } };
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 8 * 512, .iov = rd, .iovcnt = 3, .cookie = rd }) == 0);
	CHECK(memcmp(r1, a, 4096) == 0 && memcmp(r2, a + 4096, 4096) == 0 && memcmp(r3, b, 4096) == 0);

	/* Unmap the middle 4 KiB: it reads back as zeroes, its neighbours do not. */
	CHECK(run(c, (struct eng_io){ .op = ENG_DISCARD, .offset = 16 * 512, .len = 4096, .cookie = r2 }) == 0);
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 8 * 512, .iov = rd, .iovcnt = 3, .cookie = rd }) == 0);
	static const char zero[4096];
	CHECK(memcmp(r1, a, 4096) == 0 && memcmp(r2, zero, 4096) == 0 && memcmp(r3, b, 4096) == 0);

	/* The depth is a hard limit, and the completion fd says "poll me" while I/O waits. */
	struct iovec one = { r1, 512 };
	struct eng_io io = { .op = ENG_READ, .offset = 0, .iov = &one, .iovcnt = 1 };
	for (int i = 0; i < 4; i++) {
		io.cookie = (void *)(uintptr_t)(i + 1);
		CHECK(c->engine->ops->queue(c, &io) == 0);
	}
	CHECK(c->engine->ops->queue(c, &io) == -EAGAIN);
	c->engine->ops->submit(c);
	CHECK(readable(c->engine->ops->completion_fd(c)));
	struct eng_completion done[8];
	int got = 0;
	for (int i = 0; i < 1000000 && got < 4; i++)
		got += c->engine->ops->reap(c, done + got, 8 - got);
	CHECK(got == 4);
	for (int i = 0; i < got; i++)
		CHECK(done[i].result == 0 && (uintptr_t)done[i].cookie >= 1 && (uintptr_t)done[i].cookie <= 4);

	/* Past the end: SPDK refuses it and the engine says so. */
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 32768ull * 512, .iov = &one, .iovcnt = 1, .cookie = &one }) < 0);

	e->ops->channel_close(c);
	e->ops->close(e);
}

/* Bounce pages as queue.c gets them: DMA-safe, aligned, zeroed; data goes through them both ways. */
static void test_dma_buffers(void)
{
	const char *err = NULL;
	struct engine *e = engine_spdk_open(&(struct engine_options){ .path = "m4k" }, &err);
	CHECK(e != NULL && e->ops->buf_alloc && e->ops->buf_free);
	if (!e || !e->ops->buf_alloc)
		return;
	CHECK(e->ops->block_size(e) == 4096);
	const size_t pages = 64, bytes = pages * 4096;
	uint8_t *w = e->ops->buf_alloc(e, bytes), *r = e->ops->buf_alloc(e, bytes);
	CHECK(w && r && ((uintptr_t)w & 4095) == 0 && ((uintptr_t)r & 4095) == 0);
	if (!w || !r)
		return;
	bool zero = true;
	for (size_t i = 0; i < bytes; i++)
		zero &= w[i] == 0;
	CHECK(zero);
	/* Known to SPDK's memory map: what the NVMe driver needs to build its PRPs. */
	uint64_t len = bytes;
	CHECK(spdk_vtophys(w, &len) != SPDK_VTOPHYS_ERROR);
	len = 4096;
	CHECK(spdk_vtophys(r + bytes - 4096, &len) != SPDK_VTOPHYS_ERROR);

	struct engine_channel *c = e->ops->channel_open(e, 8);
	CHECK(c != NULL);
	/* One iovec per page, as a request's segments: 64 pages written, read back in another order. */
	struct iovec wi[64], ri[64];
	for (size_t i = 0; i < pages; i++) {
		memset(w + i * 4096, (int)(i * 7 + 1), 4096);
		wi[i] = (struct iovec){ w + i * 4096, 4096 };
		ri[i] = (struct iovec){ r + (pages - 1 - i) * 4096, 4096 };
	}
	CHECK(run(c, (struct eng_io){ .op = ENG_WRITE, .offset = 40960, .iov = wi, .iovcnt = 64, .cookie = wi }) == 0);
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 40960, .iov = ri, .iovcnt = 64, .cookie = ri }) == 0);
	bool same = true;
	for (size_t i = 0; i < pages; i++)
		same &= memcmp(w + i * 4096, r + (pages - 1 - i) * 4096, 4096) == 0;
	CHECK(same);
	e->ops->channel_close(c);
	e->ops->buf_free(e, w, bytes);
	e->ops->buf_free(e, r, bytes);
	e->ops->close(e);
}

static void test_4k_and_readonly(void)
{
	const char *err = NULL;
	struct engine *e = engine_spdk_open(&(struct engine_options){ .path = "m4k", .readonly = true }, &err);
	CHECK(e != NULL);
	if (!e)
		return;
	CHECK(e->ops->size(e) == 4096ull * 4096);
	struct engine_channel *c = e->ops->channel_open(e, 2);
	static char buf[8192];
	struct iovec half = { buf, 512 }, whole = { buf, 4096 };
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 512, .iov = &whole, .iovcnt = 1, .cookie = buf }) == -EINVAL);
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 0, .iov = &half, .iovcnt = 1, .cookie = buf }) == -EINVAL);
	CHECK(run(c, (struct eng_io){ .op = ENG_READ, .offset = 4096, .iov = &whole, .iovcnt = 1, .cookie = buf }) == 0);
	CHECK(run(c, (struct eng_io){ .op = ENG_WRITE, .offset = 4096, .iov = &whole, .iovcnt = 1, .cookie = buf }) == -EROFS);
	CHECK(run(c, (struct eng_io){ .op = ENG_DISCARD, .offset = 4096, .len = 4096, .cookie = buf }) == -EROFS);
	e->ops->channel_close(c);
	e->ops->close(e);

	CHECK(engine_spdk_open(&(struct engine_options){ .path = "no-such-bdev" }, &err) == NULL);
	CHECK(err && strstr(err, "bdev"));
}

int main(void)
{
	char err[256];
	struct spdk_host_options opt = { .name = "test_spdk", .config_json = CONFIG, .no_huge = true, .mem_mb = 1024 };
	int rc = spdk_host_start(&opt, err, sizeof(err));
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		return check_report("spdk engine");
	}
	test_512();
	test_dma_buffers();
	test_4k_and_readonly();
	spdk_host_stop();
	return check_report("spdk engine");
}
