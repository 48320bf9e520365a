/*
 * One queue's data path as a non-blocking step, for whoever drives it: its
 * own thread (queue.c, the default) or a queue driver, e.g. the SPDK
 * reactors running it as a poller (daemon/spdk_queues.c). A driver calls
 * queue_poll() until it says STOPPED; to sleep it arms every queue it runs
 * (queue_arm), waits on their fds and hands back what fired (queue_woken).
 */
#ifndef BACKEND_QUEUE_H
#define BACKEND_QUEUE_H

#include <poll.h>
#include <stdbool.h>

#include "backend/vbd.h"

enum queue_pass {
	QUEUE_BUSY,   /* did work: poll again */
	QUEUE_IDLE,   /* nothing now (or paused): may sleep after poll_us */
	QUEUE_STOPPED /* told to stop and drained: never poll it again */
};

/* One pass: consume, complete, publish, acknowledge pause/stop. Never blocks. */
enum queue_pass queue_poll(struct queue *q);

/* Before sleeping: arms the ring's req_event; false if requests came in meanwhile (do not sleep). */
bool queue_arm(struct queue *q);

/* The fds to sleep on (POLLIN): event channel, engine completions, control wake-ups. */
#define QUEUE_WAIT_FDS 3
void queue_wait_fds(const struct queue *q, struct pollfd fds[QUEUE_WAIT_FDS]);

/* After a sleep: drains what fired in `fds` (as filled by queue_wait_fds, with revents). */
void queue_woken(struct queue *q, const struct pollfd fds[QUEUE_WAIT_FDS]);

/*
 * A queue driver runs queues elsewhere than on a thread of their own. Called
 * on the control path only; queue_start/queue_command/queue_join keep their
 * meaning either way.
 */
struct queue_driver {
	/* 0: the driver runs q from now on; 1: not one it runs (q gets a thread); -1: failed. */
	int (*attach)(struct queue *q);
	/* q has stopped: once this returns the driver never touches q again. */
	void (*detach)(struct queue *q);
};

/* Installs (or with NULL removes) the driver, before any queue starts. */
void queue_set_driver(const struct queue_driver *d);

#endif
