/*
 * The queue driver of xenblkd-spdk (backend/queue.h): a queue whose engine
 * channel has an SPDK thread runs as a poller on that thread, and a reactor
 * (spdk_reactor.h) polls the thread. Other queues keep a thread of their own.
 */
#include "daemon/spdk_queues.h"

#include <stdlib.h>

#include <spdk/thread.h>

#include "backend/queue.h"
#include "daemon/spdk_reactor.h"

struct driven {
	struct reactor_source src;
	struct spdk_poller *poller;
};

static int queue_poller(void *arg)
{
	return queue_poll(arg) == QUEUE_BUSY ? SPDK_POLLER_BUSY : SPDK_POLLER_IDLE;
}

static bool arm(void *ctx)
{
	return queue_arm(ctx);
}

static void woken(void *ctx, const struct pollfd *fds)
{
	queue_woken(ctx, fds);
}

static struct spdk_thread *queue_thread(struct queue *q)
{
	const struct engine_ops *ops = q->chan->engine->ops;
	return ops->spdk_thread ? ops->spdk_thread(q->chan) : NULL;
}

static int attach(struct queue *q)
{
	struct spdk_thread *t = queue_thread(q);
	if (!t)
		return 1;
	struct driven *d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	d->src = (struct reactor_source){
		.thread = t, .idle_us = q->vbd->features.poll_us, .ctx = q, .arm = arm, .woken = woken
	};
	_Static_assert(REACTOR_SOURCE_FDS == QUEUE_WAIT_FDS, "a reactor sleeps on a queue's fds");
	queue_wait_fds(q, d->src.fds);
	/* No reactor polls the thread yet: registering from here is safe. */
	struct spdk_thread *prev = spdk_get_thread();
	spdk_set_thread(t);
	d->poller = spdk_poller_register(queue_poller, q, 0);
	spdk_set_thread(prev);
	if (!d->poller) {
		free(d);
		return -1;
	}
	if (reactor_add(&d->src) != 0) {
		spdk_set_thread(t);
		spdk_poller_unregister(&d->poller);
		spdk_set_thread(prev);
		free(d);
		return -1;
	}
	q->driver_ctx = d;
	return 0;
}

static void detach(struct queue *q)
{
	struct driven *d = q->driver_ctx;
	reactor_remove(&d->src);
	/* Nobody polls the thread now; channel_close polls it once more and lets the poller go. */
	struct spdk_thread *prev = spdk_get_thread();
	spdk_set_thread(d->src.thread);
	spdk_poller_unregister(&d->poller);
	spdk_set_thread(prev);
	free(d);
	q->driver_ctx = NULL;
}

static const struct queue_driver driver = { .attach = attach, .detach = detach };

void spdk_queues_install(void)
{
	queue_set_driver(&driver);
}

void spdk_queues_uninstall(void)
{
	queue_set_driver(NULL);
}
