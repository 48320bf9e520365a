/*
 * Reactors of xenblkd-spdk (docs/spdk.md): a few pthreads, each polling the
 * SPDK threads handed to it (spdk_thread_poll) in a loop, as SPDK's own
 * reactors do. When all of a reactor's threads have been idle for their
 * idle_us, it arms every source and sleeps in one poll() over their fds.
 * Adding and removing a source goes through a slot the reactor looks at
 * between passes: no lock on its path.
 */
#ifndef DAEMON_SPDK_REACTOR_H
#define DAEMON_SPDK_REACTOR_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spdk_thread;

#define REACTOR_SOURCE_FDS 3

/* One SPDK thread a reactor polls, and how to sleep for it. Owned by the caller. */
struct reactor_source {
	struct spdk_thread *thread;
	unsigned idle_us; /* poll this long idle before sleeping */
	struct pollfd fds[REACTOR_SOURCE_FDS]; /* to sleep on (POLLIN) */
	void *ctx;
	/* Before sleeping, on the reactor: false if work came in (do not sleep). */
	bool (*arm)(void *ctx);
	/* After a sleep, on the reactor: `fds` with their revents, to drain. */
	void (*woken)(void *ctx, const struct pollfd *fds);
	unsigned reactor; /* set by reactor_add */
};

/* Starts n reactors (1..REACTORS_MAX); 0, or -1 with a message. */
#define REACTORS_MAX 64
int reactors_start(unsigned n, char *err, size_t errlen);
/* Stops and joins them; every source must be removed first. */
void reactors_stop(void);
unsigned reactors_count(void);

/*
 * Hands s to the least loaded reactor and returns once that polls it: 0, or
 * -1 (out of memory). Control path only.
 */
int reactor_add(struct reactor_source *s);
/* Returns once s's reactor has dropped it: it never touches s or its thread again. */
void reactor_remove(struct reactor_source *s);

struct reactor_stats {
	unsigned threads;  /* SPDK threads it polls */
	uint64_t passes;   /* polling passes over them */
	uint64_t sleeps;   /* poll() sleeps */
};
void reactor_get_stats(unsigned i, struct reactor_stats *out);

/* The default count: CPUs in the process's affinity mask, at most 8. */
unsigned reactors_default(void);

#endif
