/* An open-addressing table gref -> mapped page; grefs that failed to map are remembered too. */
#include "backend/pgrant.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct pgrant_entry {
	uint32_t gref;
	uint8_t used;
	void *page; /* NULL: mapping failed, use grant copy for this gref */
};

struct pgrant_cache {
	unsigned capacity; /* grants we are willing to keep mapped */
	unsigned count;
	unsigned slots;    /* power of two, >= 2 * capacity */
	struct pgrant_entry *table;
};

static atomic_long process_left;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void process_limit_default(void)
{
	long max = 65530; /* the kernel's default */
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1 || max < 2)
			max = 65530;
		fclose(f);
	}
	atomic_store(&process_left, max / 2);
}

void pgrant_set_process_limit(long maps)
{
	pthread_once(&process_once, process_limit_default);
	atomic_store(&process_left, maps);
}

long pgrant_process_left(void)
{
	return atomic_load(&process_left);
}

static void process_give(void)
{
	atomic_fetch_add(&process_left, 1);
}

/* One mapping more for the process, if the budget allows. */
static bool process_take(void)
{
	if (atomic_fetch_sub(&process_left, 1) > 0)
		return true;
	process_give();
	return false;
}

struct pgrant_cache *pgrant_create(unsigned capacity)
{
	pthread_once(&process_once, process_limit_default);
	struct pgrant_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->capacity = capacity;
	c->slots = 16;
	while (c->slots < 2 * capacity)
		c->slots *= 2;
	c->table = calloc(c->slots, sizeof(*c->table));
	if (!c->table) {
		free(c);
		return NULL;
	}
	return c;
}

static struct pgrant_entry *find(struct pgrant_cache *c, uint32_t gref)
{
	unsigned i = (gref * 2654435761u) & (c->slots - 1);
	while (c->table[i].used && c->table[i].gref != gref)
		i = (i + 1) & (c->slots - 1);
	return &c->table[i];
}

void *pgrant_get(struct pgrant_cache *c, struct gnt *g, uint32_t gref)
{
	struct pgrant_entry *e = find(c, gref);
	if (e->used)
		return e->page;
	if (c->count >= c->capacity)
		return NULL;
	e->used = 1;
	e->gref = gref;
	/* Refused by the process budget or by Xen: remembered, so this gref is grant-copied from now on. */
	bool took = process_take();
	e->page = took ? g->platform->ops->gnt_map(g, 1, &gref, true) : NULL;
	if (took && !e->page)
		process_give();
	c->count++;
	return e->page;
}

unsigned pgrant_count(const struct pgrant_cache *c)
{
	return c->count;
}

void pgrant_destroy(struct pgrant_cache *c, struct gnt *g)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->slots; i++) {
		if (c->table[i].used && c->table[i].page) {
			g->platform->ops->gnt_unmap(g, c->table[i].page, 1);
			process_give();
		}
	}
	free(c->table);
	free(c);
}
