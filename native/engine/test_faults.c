/*
 * The fault-injection layer (engine/faults.c) over the null engine: which
 * I/Os a rule fails (operation, sector range, flushes only without a range),
 * counts shared by concurrent channels and used up exactly, clearing, and
 * that everything else reaches the engine below.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/faults.h"
#include "testing/check.h"

static char buf[8192];

/* Queues one I/O of `sectors` at `sector`, submits, reaps it; its result. */
static int run(struct engine_channel *c, enum eng_op op, uint64_t sector, uint64_t sectors)
{
	struct iovec iov = { buf, (size_t)(sectors * 512) };
	struct eng_io io = { .op = op, .offset = sector * 512, .len = sectors * 512, .iov = &iov, .iovcnt = 1, .cookie = &iov };
	const struct engine_ops *ops = c->engine->ops;
	if (ops->queue(c, &io) != 0 || ops->submit(c) != 0)
		return 1;
	struct eng_completion done[2];
	int n = ops->reap(c, done, 2);
	return n == 1 && done[0].cookie == &iov ? done[0].result : 2;
}

static struct engine *open_wrapped(void)
{
	struct engine_options eo = { .null_size = 1 << 20 };
	const char *err = NULL;
	struct engine *inner = engine_open("null", &eo, &err);
	return inner ? engine_faults_wrap(inner) : NULL;
}

static void test_rules(void)
{
	struct engine *e = open_wrapped();
	CHECK(e && engine_is_faults(e));
	struct engine_channel *c = e->ops->channel_open(e, 4);
	CHECK(c != NULL);
	CHECK(run(c, ENG_READ, 0, 8) == 0 && run(c, ENG_FLUSH, 0, 0) == 0);

	/* Writes touching [100, 108) fail with ENOSPC; reads there, and writes beside it, do not. */
	struct fault_rule_spec w = { .ops = FAULT_WRITE, .sector_from = 100, .sector_to = 108, .count = -1, .err = ENOSPC };
	CHECK(engine_faults_add(e, &w) == 0);
	CHECK(run(c, ENG_WRITE, 96, 4) == 0);
	CHECK(run(c, ENG_WRITE, 96, 5) == -ENOSPC);
	CHECK(run(c, ENG_WRITE, 107, 1) == -ENOSPC);
	CHECK(run(c, ENG_WRITE, 108, 8) == 0);
	CHECK(run(c, ENG_READ, 100, 8) == 0);
	CHECK(run(c, ENG_DISCARD, 100, 8) == 0);
	CHECK(run(c, ENG_FLUSH, 0, 0) == 0); /* a ranged rule never matches a flush */

	/* Two reads then no more; a flush rule without a range. */
	struct fault_rule_spec r = { .ops = FAULT_READ, .sector_to = FAULT_NO_END, .count = 2, .err = EIO };
	struct fault_rule_spec f = { .ops = FAULT_FLUSH, .sector_to = FAULT_NO_END, .count = -1, .err = EOPNOTSUPP };
	CHECK(engine_faults_add(e, &r) == 0 && engine_faults_add(e, &f) == 0);
	CHECK(run(c, ENG_READ, 0, 1) == -EIO && run(c, ENG_READ, 500, 1) == -EIO && run(c, ENG_READ, 0, 1) == 0);
	CHECK(run(c, ENG_FLUSH, 0, 0) == -EOPNOTSUPP);
	struct fault_rule_state st[FAULT_MAX_RULES];
	CHECK(engine_faults_rules(e, st, FAULT_MAX_RULES) == 3);
	CHECK(st[0].hits == 2 && st[0].left == -1 && st[1].hits == 2 && st[1].left == 0 && st[2].hits == 1);
	CHECK(engine_faults_injected(e) == 5);

	/* At most FAULT_MAX_RULES; clearing removes them all. */
	for (int i = 3; i < FAULT_MAX_RULES; i++)
		CHECK(engine_faults_add(e, &r) == 0);
	CHECK(engine_faults_add(e, &r) == -1);
	engine_faults_clear(e);
	CHECK(engine_faults_rules(e, st, FAULT_MAX_RULES) == 0);
	CHECK(run(c, ENG_WRITE, 100, 8) == 0 && run(c, ENG_FLUSH, 0, 0) == 0 && run(c, ENG_READ, 0, 1) == 0);

	/* A full channel refuses more, injected or not. */
	struct fault_rule_spec all = { .ops = FAULT_ALL, .sector_to = FAULT_NO_END, .count = -1, .err = EIO };
	CHECK(engine_faults_add(e, &all) == 0);
	struct iovec iov = { buf, 512 };
	struct eng_io io = { .op = ENG_READ, .iov = &iov, .iovcnt = 1 };
	for (int i = 0; i < 4; i++)
		CHECK(e->ops->queue(c, &io) == 0);
	CHECK(e->ops->queue(c, &io) == -EAGAIN);
	struct eng_completion done[8];
	CHECK(e->ops->reap(c, done, 8) == 4 && done[3].result == -EIO);
	e->ops->channel_close(c);
	e->ops->close(e);
}

/* Channels on several threads share a counted rule: exactly `count` failures in all. */
struct worker {
	struct engine *e;
	int failed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine_channel *c = w->e->ops->channel_open(w->e, 4);
	char local[512];
	for (int i = 0; c && i < 20000; i++) {
		struct iovec iov = { local, sizeof(local) };
		struct eng_io io = { .op = ENG_WRITE, .offset = (uint64_t)(i % 64) * 512, .iov = &iov, .iovcnt = 1 };
		struct eng_completion done;
		if (w->e->ops->queue(c, &io) == 0 && w->e->ops->reap(c, &done, 1) == 1 && done.result != 0)
			w->failed++;
	}
	if (c)
		w->e->ops->channel_close(c);
	return NULL;
}

static void test_concurrent_count(void)
{
	struct engine *e = open_wrapped();
	struct fault_rule_spec r = { .ops = FAULT_WRITE, .sector_to = FAULT_NO_END, .count = 777, .err = EIO };
	CHECK(engine_faults_add(e, &r) == 0);
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .e = e };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += w[i].failed;
	}
	CHECK(total == 777);
	CHECK(engine_faults_injected(e) == 777);
	e->ops->close(e);
}

int main(void)
{
	test_rules();
	test_concurrent_count();
	return check_report("engine faults");
}
