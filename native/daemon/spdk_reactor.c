/* The reactors of xenblkd-spdk (spdk_reactor.h). */
#include "daemon/spdk_reactor.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <spdk/thread.h>

/* Sleep at most this long, so SPDK's timed pollers and messages still run. */
#define SLEEP_MS 100

enum req_op { REQ_ADD, REQ_REMOVE, REQ_STOP };

/* A request from the control path; the reactor posts `done` once it is handled. */
struct reactor_req {
	enum req_op op;
	struct reactor_source *src;
	int result;
	sem_t done;
};

struct reactor {
	unsigned index;
	pthread_t thread;
	int wake_fd; /* kicked with each request, so a sleeping reactor sees it */
	_Atomic(struct reactor_req *) req;
	pthread_mutex_t ctl; /* one request at a time; taken by requesters only, never by the reactor */
	unsigned load;       /* sources handed to it (control path, under reactors_lock) */

	/* The reactor's own. */
	struct reactor_source **src;
	unsigned nsrc, cap;
	struct pollfd *pfds; /* 1 + REACTOR_SOURCE_FDS per source */
	uint64_t idle_ns;    /* the largest idle_us of its sources */

	_Atomic unsigned threads;
	_Atomic uint64_t passes, sleeps;
};

static struct reactor *reactors;
static unsigned nreactors;
static pthread_mutex_t reactors_lock = PTHREAD_MUTEX_INITIALIZER; /* the loads, on the control path */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void set_idle(struct reactor *r)
{
	r->idle_ns = 0;
	for (unsigned i = 0; i < r->nsrc; i++) {
		uint64_t ns = (uint64_t)r->src[i]->idle_us * 1000;
		if (ns > r->idle_ns)
			r->idle_ns = ns;
	}
	atomic_store_explicit(&r->threads, r->nsrc, memory_order_relaxed);
}

/* Runs on the reactor, between passes. */
static bool handle(struct reactor *r, struct reactor_req *req)
{
	req->result = 0;
	if (req->op == REQ_ADD) {
		if (r->nsrc == r->cap) {
			/* Only when a source is added: never on the polling path. */
			unsigned cap = r->cap ? r->cap * 2 : 16;
			struct reactor_source **src = realloc(r->src, cap * sizeof(*src));
			if (src)
				r->src = src;
			struct pollfd *pfds = src ? realloc(r->pfds, (1 + (size_t)cap * REACTOR_SOURCE_FDS) * sizeof(*pfds)) : NULL;
			if (pfds)
				r->pfds = pfds;
			if (!src || !pfds)
				req->result = -1;
			else
				r->cap = cap;
		}
		if (req->result == 0)
			r->src[r->nsrc++] = req->src;
	} else if (req->op == REQ_REMOVE) {
		for (unsigned i = 0; i < r->nsrc; i++) {
			if (r->src[i] == req->src) {
				r->src[i] = r->src[--r->nsrc];
				break;
			}
		}
	}
	set_idle(r);
	bool stop = req->op == REQ_STOP;
	atomic_store_explicit(&r->req, NULL, memory_order_release);
	sem_post(&req->done);
	return !stop;
}

/* Every source idle: arm them all, then one poll() over all their fds and the reactor's own. */
static void reactor_sleep(struct reactor *r)
{
	for (unsigned i = 0; i < r->nsrc; i++) {
		if (!r->src[i]->arm(r->src[i]->ctx))
			return;
	}
	r->pfds[0] = (struct pollfd){ .fd = r->wake_fd, .events = POLLIN };
	unsigned n = 1;
	for (unsigned i = 0; i < r->nsrc; i++) {
		for (unsigned k = 0; k < REACTOR_SOURCE_FDS; k++) {
			r->pfds[n] = r->src[i]->fds[k];
			r->pfds[n++].revents = 0;
		}
	}
	atomic_fetch_add_explicit(&r->sleeps, 1, memory_order_relaxed);
	poll(r->pfds, n, SLEEP_MS);
	if (r->pfds[0].revents & POLLIN) {
		uint64_t v;
		ssize_t rd = read(r->wake_fd, &v, sizeof(v));
		(void)rd;
	}
	for (unsigned i = 0; i < r->nsrc; i++)
		r->src[i]->woken(r->src[i]->ctx, &r->pfds[1 + (size_t)i * REACTOR_SOURCE_FDS]);
}

static void *reactor_main(void *arg)
{
	struct reactor *r = arg;
	char name[16];
	snprintf(name, sizeof(name), "xenblkd-r%u", r->index);
	pthread_setname_np(pthread_self(), name);
	uint64_t last_busy = now_ns(), passes = 0;
	for (;;) {
		struct reactor_req *req = atomic_load_explicit(&r->req, memory_order_acquire);
		if (req) {
			if (!handle(r, req))
				break;
			last_busy = now_ns();
			continue;
		}
		bool busy = false;
		for (unsigned i = 0; i < r->nsrc; i++)
			busy |= spdk_thread_poll(r->src[i]->thread, 0, 0) > 0;
		atomic_store_explicit(&r->passes, ++passes, memory_order_relaxed);
		uint64_t t = now_ns();
		if (busy)
			last_busy = t;
		else if (t - last_busy >= r->idle_ns)
			reactor_sleep(r);
	}
	return NULL;
}

/* Hands req to r and waits until r handled it. */
static int request(struct reactor *r, enum req_op op, struct reactor_source *s)
{
	struct reactor_req req = { .op = op, .src = s };
	sem_init(&req.done, 0, 0);
	pthread_mutex_lock(&r->ctl);
	atomic_store_explicit(&r->req, &req, memory_order_release);
	uint64_t one = 1;
	ssize_t w = write(r->wake_fd, &one, sizeof(one));
	(void)w;
	while (sem_wait(&req.done) != 0 && errno == EINTR)
		;
	pthread_mutex_unlock(&r->ctl);
	sem_destroy(&req.done);
	return req.result;
}

unsigned reactors_default(void)
{
	cpu_set_t set;
	unsigned n = 1;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = (unsigned)CPU_COUNT(&set);
	if (n < 1)
		n = 1;
	return n > 8 ? 8 : n;
}

int reactors_start(unsigned n, char *err, size_t errlen)
{
	if (n < 1 || n > REACTORS_MAX) {
		snprintf(err, errlen, "--spdk-reactors: 0..%u", REACTORS_MAX);
		return -1;
	}
	reactors = calloc(n, sizeof(*reactors));
	if (!reactors) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct reactor *r = &reactors[i];
		r->index = i;
		pthread_mutex_init(&r->ctl, NULL);
		r->pfds = calloc(1, sizeof(*r->pfds));
		r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (!r->pfds || r->wake_fd < 0 || pthread_create(&r->thread, NULL, reactor_main, r) != 0) {
			snprintf(err, errlen, "cannot start SPDK reactor %u: %s", i, strerror(errno));
			free(r->pfds);
			if (r->wake_fd >= 0)
				close(r->wake_fd);
			pthread_mutex_destroy(&r->ctl);
			nreactors = i;
			reactors_stop();
			return -1;
		}
		nreactors = i + 1;
	}
	return 0;
}

void reactors_stop(void)
{
	for (unsigned i = 0; i < nreactors; i++) {
		struct reactor *r = &reactors[i];
		request(r, REQ_STOP, NULL);
		pthread_join(r->thread, NULL);
		close(r->wake_fd);
		pthread_mutex_destroy(&r->ctl);
		free(r->src);
		free(r->pfds);
	}
	free(reactors);
	reactors = NULL;
	nreactors = 0;
}

unsigned reactors_count(void)
{
	return nreactors;
}

int reactor_add(struct reactor_source *s)
{
	pthread_mutex_lock(&reactors_lock);
	unsigned best = 0;
	for (unsigned i = 1; i < nreactors; i++) {
		if (reactors[i].load < reactors[best].load)
			best = i;
	}
	reactors[best].load++;
	pthread_mutex_unlock(&reactors_lock);
	s->reactor = best;
	if (request(&reactors[best], REQ_ADD, s) == 0)
		return 0;
	pthread_mutex_lock(&reactors_lock);
	reactors[best].load--;
	pthread_mutex_unlock(&reactors_lock);
	return -1;
}

void reactor_remove(struct reactor_source *s)
{
	request(&reactors[s->reactor], REQ_REMOVE, s);
	pthread_mutex_lock(&reactors_lock);
	reactors[s->reactor].load--;
	pthread_mutex_unlock(&reactors_lock);
}

void reactor_get_stats(unsigned i, struct reactor_stats *out)
{
	struct reactor *r = &reactors[i];
	out->threads = atomic_load_explicit(&r->threads, memory_order_relaxed);
	out->passes = atomic_load_explicit(&r->passes, memory_order_relaxed);
	out->sleeps = atomic_load_explicit(&r->sleeps, memory_order_relaxed);
}
