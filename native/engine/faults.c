/*
 * The fault-injection layer (faults.h). The rules in force are one immutable
 * set published with an atomic pointer: a worker loads it once per I/O, and
 * the control path replaces it whole (add, clear) but never frees a set or a
 * rule a worker may still be reading: they are kept until the engine closes
 * (a test feature: a few hundred bytes per change). A rule's only mutable
 * field, what is left of its count, is an atomic counter. A failed I/O
 * completes through the channel's own ring of completions, preallocated at
 * open: no lock and no allocation per I/O.
 */
#include "engine/faults.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct fault_rule {
	struct fault_rule_spec spec;
	_Atomic int64_t left;
	_Atomic uint64_t hits;
	struct fault_rule *next_alloc; /* every rule ever made, freed at close */
};

struct fault_set {
	unsigned n;
	struct fault_rule *rules[FAULT_MAX_RULES];
	struct fault_set *next_alloc;
};

struct faults_engine {
	struct engine base;
	struct engine *inner;
	_Atomic(struct fault_set *) active; /* NULL: pass everything through */
	struct fault_set *sets;              /* every set ever published */
	struct fault_rule *rules;
	_Atomic uint64_t injected;
};

struct faults_channel {
	struct engine_channel base;
	struct engine_channel *inner;
	unsigned depth, head, count;
	struct eng_completion *done; /* ring of injected failures waiting for reap() */
};

static const struct engine_ops faults_ops;

static struct faults_engine *fe(struct engine *e)
{
	return (struct faults_engine *)e;
}

static uint64_t faults_size(struct engine *e)
{
	struct engine *in = fe(e)->inner;
	return in->ops->size(in);
}

static uint32_t faults_block_size(struct engine *e)
{
	struct engine *in = fe(e)->inner;
	return in->ops->block_size(in);
}

/* The inner engine's memory: the wrapper changes nothing about what it can DMA into. */
static void *faults_buf_alloc(struct engine *e, size_t bytes)
{
	return engine_buf_alloc(fe(e)->inner, bytes);
}

static void faults_buf_free(struct engine *e, void *p, size_t bytes)
{
	engine_buf_free(fe(e)->inner, p, bytes);
}

static bool faults_can_discard(struct engine *e)
{
	struct engine *in = fe(e)->inner;
	return in->ops->can_discard(in);
}

static void faults_close(struct engine *e)
{
	struct faults_engine *f = fe(e);
	f->inner->ops->close(f->inner);
	while (f->sets) {
		struct fault_set *s = f->sets;
		f->sets = s->next_alloc;
		free(s);
	}
	while (f->rules) {
		struct fault_rule *r = f->rules;
		f->rules = r->next_alloc;
		free(r);
	}
	free(f);
}

static struct engine_channel *faults_channel_open(struct engine *e, unsigned depth)
{
	struct faults_channel *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.engine = e;
	c->depth = depth;
	c->done = calloc(depth, sizeof(*c->done));
	c->inner = fe(e)->inner->ops->channel_open(fe(e)->inner, depth);
	if (!c->done || !c->inner) {
		if (c->inner)
			c->inner->engine->ops->channel_close(c->inner);
		free(c->done);
		free(c);
		return NULL;
	}
	return &c->base;
}

static void faults_channel_close(struct engine_channel *base)
{
	struct faults_channel *c = (struct faults_channel *)base;
	c->inner->engine->ops->channel_close(c->inner);
	free(c->done);
	free(c);
}

static uint64_t io_bytes(const struct eng_io *io)
{
	if (io->op == ENG_DISCARD)
		return io->len;
	uint64_t n = 0;
	for (unsigned i = 0; i < io->iovcnt; i++)
		n += io->iov[i].iov_len;
	return n;
}

static bool has_range(const struct fault_rule_spec *s)
{
	return s->sector_from != 0 || s->sector_to != FAULT_NO_END;
}

/* Takes one from the rule's count; false when it is used up. */
static bool take_one(struct fault_rule *r)
{
	if (r->spec.count < 0)
		return true;
	int64_t left = atomic_load_explicit(&r->left, memory_order_relaxed);
	do {
		if (left <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->left, &left, left - 1, memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

/* The errno this I/O fails with, or 0 to pass it on. */
static int match(const struct fault_set *set, const struct eng_io *io)
{
	uint64_t first = io->offset >> 9, bytes = io_bytes(io);
	uint64_t end = first + ((bytes + 511) >> 9);
	if (end == first)
		end = first + 1;
	for (unsigned i = 0; i < set->n; i++) {
		struct fault_rule *r = set->rules[i];
		const struct fault_rule_spec *s = &r->spec;
		if (!(s->ops & (1u << io->op)))
			continue;
		if (io->op == ENG_FLUSH ? has_range(s) : (end <= s->sector_from || first >= s->sector_to))
			continue;
		if (!take_one(r))
			continue;
		atomic_fetch_add_explicit(&r->hits, 1, memory_order_relaxed);
		return s->err;
	}
	return 0;
}

static int faults_queue(struct engine_channel *base, const struct eng_io *io)
{
	struct faults_channel *c = (struct faults_channel *)base;
	struct faults_engine *f = fe(base->engine);
	const struct fault_set *set = atomic_load_explicit(&f->active, memory_order_acquire);
	if (set && c->count == c->depth)
		return -EAGAIN; /* before match(): a refused I/O must not use up a rule's count */
	int err = set ? match(set, io) : 0;
	if (!err)
		return c->inner->engine->ops->queue(c->inner, io);
	c->done[(c->head + c->count++) % c->depth] = (struct eng_completion){ .cookie = io->cookie, .result = -err };
	atomic_fetch_add_explicit(&f->injected, 1, memory_order_relaxed);
	/* Wake a caller sleeping on the completion fd (an eventfd, see engine.h); only failed I/Os pay this. */
	uint64_t one = 1;
	ssize_t w = write(c->inner->engine->ops->completion_fd(c->inner), &one, sizeof(one));
	(void)w;
	return 0;
}

static int faults_submit(struct engine_channel *base)
{
	struct faults_channel *c = (struct faults_channel *)base;
	return c->inner->engine->ops->submit(c->inner);
}

static int faults_reap(struct engine_channel *base, struct eng_completion *out, int max)
{
	struct faults_channel *c = (struct faults_channel *)base;
	int n = 0;
	while (n < max && c->count) {
		out[n++] = c->done[c->head];
		c->head = (c->head + 1) % c->depth;
		c->count--;
	}
	if (n == max)
		return n;
	int r = c->inner->engine->ops->reap(c->inner, out + n, max - n);
	return r > 0 ? n + r : n;
}

static int faults_completion_fd(struct engine_channel *base)
{
	struct faults_channel *c = (struct faults_channel *)base;
	return c->inner->engine->ops->completion_fd(c->inner);
}

/* The inner channel's SPDK thread, so a faulty SPDK disk runs on the reactors too. */
static struct spdk_thread *faults_spdk_thread(struct engine_channel *base)
{
	struct faults_channel *c = (struct faults_channel *)base;
	const struct engine_ops *in = c->inner->engine->ops;
	return in->spdk_thread ? in->spdk_thread(c->inner) : NULL;
}

static const struct engine_ops faults_ops = {
	.name = "faults",
	.size = faults_size,
	.block_size = faults_block_size,
	.buf_alloc = faults_buf_alloc,
	.buf_free = faults_buf_free,
	.can_discard = faults_can_discard,
	.close = faults_close,
	.channel_open = faults_channel_open,
	.channel_close = faults_channel_close,
	.queue = faults_queue,
	.submit = faults_submit,
	.reap = faults_reap,
	.completion_fd = faults_completion_fd,
	.spdk_thread = faults_spdk_thread,
};

struct engine *engine_faults_wrap(struct engine *inner)
{
	struct faults_engine *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->base.ops = &faults_ops;
	f->inner = inner;
	return &f->base;
}

bool engine_is_faults(const struct engine *e)
{
	return e && e->ops == &faults_ops;
}

/* Publishes a new set: the old one stays allocated (a worker may be reading it). */
static int publish(struct faults_engine *f, const struct fault_set *from, struct fault_rule *added)
{
	struct fault_set *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	if (from)
		*s = *from;
	if (added)
		s->rules[s->n++] = added;
	s->next_alloc = f->sets;
	f->sets = s;
	atomic_store_explicit(&f->active, s, memory_order_release);
	return 0;
}

int engine_faults_add(struct engine *e, const struct fault_rule_spec *spec)
{
	struct faults_engine *f = fe(e);
	const struct fault_set *cur = atomic_load_explicit(&f->active, memory_order_relaxed);
	if (cur && cur->n == FAULT_MAX_RULES)
		return -1;
	struct fault_rule *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->spec = *spec;
	atomic_store_explicit(&r->left, spec->count, memory_order_relaxed);
	r->next_alloc = f->rules;
	f->rules = r;
	return publish(f, cur, r);
}

void engine_faults_clear(struct engine *e)
{
	atomic_store_explicit(&fe(e)->active, NULL, memory_order_release);
}

unsigned engine_faults_rules(struct engine *e, struct fault_rule_state *out, unsigned max)
{
	const struct fault_set *cur = atomic_load_explicit(&fe(e)->active, memory_order_acquire);
	unsigned n = 0;
	for (unsigned i = 0; cur && i < cur->n && n < max; i++, n++) {
		struct fault_rule *r = cur->rules[i];
		out[n].spec = r->spec;
		out[n].left = r->spec.count < 0 ? -1 : atomic_load_explicit(&r->left, memory_order_relaxed);
		out[n].hits = atomic_load_explicit(&r->hits, memory_order_relaxed);
	}
	return n;
}

uint64_t engine_faults_injected(const struct engine *e)
{
	return atomic_load_explicit(&((const struct faults_engine *)e)->injected, memory_order_relaxed);
}
