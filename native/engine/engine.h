/*
 * The storage engines behind one asynchronous interface, shaped like SPDK's
 * bdev API so an SPDK engine can slot in: a backing store is opened once per
 * disk, each queue gets its own channel (no sharing between threads), I/O is
 * submitted in batches and completions are reaped without blocking.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum eng_op { ENG_READ, ENG_WRITE, ENG_FLUSH, ENG_DISCARD };

struct eng_io {
	enum eng_op op;
	uint64_t offset; /* bytes */
	uint64_t len;    /* bytes (DISCARD; READ/WRITE use the iovecs) */
	const struct iovec *iov;
	unsigned iovcnt;
	void *cookie; /* handed back on completion */
};

struct eng_completion {
	void *cookie;
	int result; /* 0 or -errno */
};

struct engine;         /* one backing store */
struct spdk_thread;    /* SPDK's (spdk/thread.h): only the SPDK engine has them */
struct engine_channel; /* one queue's handle */

struct engine_ops {
	const char *name;
	/* Size in bytes now (re-read on resize). */
	uint64_t (*size)(struct engine *e);
	/*
	 * Logical block size in bytes (512 or 4096): offsets, lengths and
	 * buffers must be whole blocks of it. Fixed while the engine is open.
	 */
	uint32_t (*block_size)(struct engine *e);
	bool (*can_discard)(struct engine *e);
	void (*close)(struct engine *e);
	struct engine_channel *(*channel_open)(struct engine *e, unsigned depth);
	void (*channel_close)(struct engine_channel *c);
	/* Queues one I/O; -EAGAIN when the channel is full. Nothing starts before submit(). */
	int (*queue)(struct engine_channel *c, const struct eng_io *io);
	/* Starts everything queued. */
	int (*submit)(struct engine_channel *c);
	/* Non-blocking: up to `max` completions; returns how many. */
	int (*reap)(struct engine_channel *c, struct eng_completion *out, int max);
	/*
	 * Readable when completions may be waiting, for sleeping in poll(). The
	 * caller drains it (an eventfd) after waking; reap() never reads it.
	 */
	int (*completion_fd)(struct engine_channel *c);
	/*
	 * Optional (NULL: any memory will do): memory the engine can do I/O
	 * from and into, e.g. DMA-safe for a user-space NVMe driver; zeroed,
	 * page-aligned, `bytes` a multiple of 4096. Called on the control path
	 * (queue setup and teardown), never per request. Use engine_buf_alloc().
	 */
	void *(*buf_alloc)(struct engine *e, size_t bytes);
	void (*buf_free)(struct engine *e, void *p, size_t bytes);
	/*
	 * Optional (NULL: none): the SPDK thread the channel's I/O runs on. Whoever
	 * polls it (a reactor) may run the queue there as a poller; reap() then
	 * leaves the polling to it.
	 */
	struct spdk_thread *(*spdk_thread)(struct engine_channel *c);
};

struct engine {
	const struct engine_ops *ops;
};

struct engine_channel {
	struct engine *engine;
};

struct engine_options {
	const char *path;  /* file or block device (uring) */
	bool readonly;
	uint64_t null_size; /* bytes, for the null engine */
	/* The null engine spends this much CPU on each request, standing for a costly backend (benchmarks). */
	uint32_t null_cpu_ns;
	/*
	 * 0, 512 or 4096: the block size of the null engine (default 512) or of
	 * a regular file under uring (emulating a 4Kn disk; default 512). A block
	 * device has its own (BLKSSZGET): any other value is refused.
	 */
	uint32_t block_size;
	/*
	 * spdk: the NVMe namespace bdev under `path` whose volatile write cache a
	 * flush must commit, since an lvol passes no flush down (docs/spdk.md
	 * "Flush on lvols"); NULL for none.
	 */
	const char *flush_nvme;
};

/* "uring" or "null"; NULL with *err set to a message on failure. */
struct engine *engine_open(const char *kind, const struct engine_options *opt, const char **err);

/* I/O buffer memory for `e`: its buf_alloc, or anonymous pages (engine.c). NULL when out of memory. */
void *engine_buf_alloc(struct engine *e, size_t bytes);
void engine_buf_free(struct engine *e, void *p, size_t bytes);

#endif
