/*
 * The simulator: grants and event channels of sim/hv. Grant copies and maps
 * go through hv_grant_copy / hv_grant_map_pinned, which check each grant as
 * Xen does; a map keeps its grants pinned until unmapped (the guest cannot
 * end access meanwhile); a multi-page map is made contiguous by re-mapping
 * each granted page of the guest's shared memory at consecutive addresses.
 */
#include "platform/platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim/hv/hv.h"

#define SIM_MAX_DOMAINS 64

/* A domain's memory and grant table mapped into this process, for as long as grant handles use it. */
struct sim_dom {
	struct hv_domain d;
	unsigned users; /* open grant handles; 0: the slot is free */
};

struct sim_platform {
	struct platform base;
	struct hv_conn *hv;
	pthread_mutex_t lock; /* guards `domains` (control path only) */
	struct sim_dom domains[SIM_MAX_DOMAINS];
};

/* A mapping's grants stay pinned until it is unmapped, as Xen keeps a mapped grant in use. */
struct sim_map {
	uint8_t *area;
	unsigned count;
	bool writable;
	struct sim_map *next;
	uint32_t refs[];
};

struct sim_gnt {
	struct gnt base;
	struct sim_dom *slot;
	const struct hv_domain *dom;
	struct hv_copy_seg *segs;
	unsigned cap;
	pthread_mutex_t lock; /* guards `maps`: a queue's worker maps while the control path may unmap */
	struct sim_map *maps;
};

struct sim_evtchn {
	struct evtchn base;
	struct hv_evtchn ch;
	uint16_t domid;
};

/*
 * The domain's memory, mapped once for all the grant handles open on it and
 * unmapped when the last one closes: a destroyed domain's memory is not kept
 * alive by our mapping, and the slots serve any number of domains over time.
 */
static struct sim_dom *sim_domain_get(struct sim_platform *p, uint16_t domid)
{
	struct sim_dom *found = NULL, *free_slot = NULL;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < SIM_MAX_DOMAINS; i++) {
		struct sim_dom *s = &p->domains[i];
		if (!s->users)
			free_slot = free_slot ? free_slot : s;
		else if (s->d.domid == domid && s->d.status->alive)
			found = s; /* not a dead domain whose id was given again */
	}
	if (!found && free_slot && hv_domain_map(p->hv, domid, &free_slot->d) == 0)
		found = free_slot;
	if (found)
		found->users++;
	pthread_mutex_unlock(&p->lock);
	return found;
}

static void sim_domain_put(struct sim_platform *p, struct sim_dom *s)
{
	pthread_mutex_lock(&p->lock);
	if (--s->users == 0)
		hv_domain_unmap(&s->d);
	pthread_mutex_unlock(&p->lock);
}

static void sim_close(struct platform *base)
{
	struct sim_platform *p = (struct sim_platform *)base;
	for (unsigned i = 0; i < SIM_MAX_DOMAINS; i++) {
		if (p->domains[i].users)
			hv_domain_unmap(&p->domains[i].d);
	}
	hv_disconnect(p->hv);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct gnt *sim_gnt_open(struct platform *base, uint16_t domid)
{
	struct sim_platform *p = (struct sim_platform *)base;
	struct sim_dom *slot = sim_domain_get(p, domid);
	if (!slot) {
		errno = ESRCH;
		return NULL;
	}
	struct sim_gnt *g = calloc(1, sizeof(*g));
	if (!g) {
		sim_domain_put(p, slot);
		return NULL;
	}
	g->base.platform = base;
	g->slot = slot;
	g->dom = &slot->d;
	pthread_mutex_init(&g->lock, NULL);
	return &g->base;
}

static void sim_gnt_close(struct gnt *base)
{
	struct sim_gnt *g = (struct sim_gnt *)base;
	/* Whatever is still mapped is let go with the handle, as closing /dev/xen/gntdev does. */
	while (g->maps) {
		struct sim_map *m = g->maps;
		g->maps = m->next;
		for (unsigned i = 0; i < m->count; i++)
			hv_grant_unmap(g->dom, m->refs[i], m->writable);
		munmap(m->area, (size_t)m->count * HV_PAGE_SIZE);
		free(m);
	}
	pthread_mutex_destroy(&g->lock);
	sim_domain_put((struct sim_platform *)base->platform, g->slot);
	free(g->segs);
	free(g);
}

static int sim_gnt_copy(struct gnt *base, struct gnt_copy_seg *segs, unsigned count)
{
	struct sim_gnt *g = (struct sim_gnt *)base;
	if (platform_reserve((void **)&g->segs, &g->cap, count, sizeof(*g->segs)) != 0)
		return -1;
	for (unsigned i = 0; i < count; i++) {
		g->segs[i] = (struct hv_copy_seg){
			.gref = segs[i].gref,
			.offset = segs[i].offset,
			.len = segs[i].len,
			.local = segs[i].local,
			.to_foreign = segs[i].to_guest,
		};
	}
	if (hv_grant_copy(g->dom, 0, g->segs, count) != 0)
		return -1;
	for (unsigned i = 0; i < count; i++)
		segs[i].status = g->segs[i].status;
	return 0;
}

static void *sim_gnt_map(struct gnt *base, unsigned count, const uint32_t *refs, bool writable)
{
	struct sim_gnt *g = (struct sim_gnt *)base;
	size_t bytes = (size_t)count * HV_PAGE_SIZE;
	struct sim_map *m = malloc(sizeof(*m) + (size_t)count * sizeof(uint32_t));
	if (!m)
		return NULL;
	uint8_t *area = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		free(m);
		return NULL;
	}
	for (unsigned i = 0; i < count; i++) {
		int16_t status;
		void *page = hv_grant_map_pinned(g->dom, 0, refs[i], writable, &status);
		/* mremap of a shared mapping with old size 0 makes a second mapping of the same page. */
		if (page && mremap(page, 0, HV_PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, area + (size_t)i * HV_PAGE_SIZE) == MAP_FAILED) {
			hv_grant_unmap(g->dom, refs[i], writable);
			page = NULL;
		}
		if (!page) {
			while (i--)
				hv_grant_unmap(g->dom, refs[i], writable);
			munmap(area, bytes);
			free(m);
			errno = EINVAL;
			return NULL;
		}
		if (!writable)
			mprotect(area + (size_t)i * HV_PAGE_SIZE, HV_PAGE_SIZE, PROT_READ);
	}
	m->area = area;
	m->count = count;
	m->writable = writable;
	memcpy(m->refs, refs, (size_t)count * sizeof(uint32_t));
	pthread_mutex_lock(&g->lock);
	m->next = g->maps;
	g->maps = m;
	pthread_mutex_unlock(&g->lock);
	return area;
}

static void sim_gnt_unmap(struct gnt *base, void *addr, unsigned count)
{
	struct sim_gnt *g = (struct sim_gnt *)base;
	struct sim_map *m = NULL;
	pthread_mutex_lock(&g->lock);
	for (struct sim_map **pp = &g->maps; *pp; pp = &(*pp)->next) {
		if ((*pp)->area == addr) {
			m = *pp;
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	/* The page leaves our address space before the guest may have it back. */
	munmap(addr, (size_t)count * HV_PAGE_SIZE);
	if (!m)
		return;
	for (unsigned i = 0; i < m->count; i++)
		hv_grant_unmap(g->dom, m->refs[i], m->writable);
	free(m);
}

static struct evtchn *sim_evtchn_bind(struct platform *base, uint16_t domid, uint32_t remote_port)
{
	struct sim_platform *p = (struct sim_platform *)base;
	struct sim_evtchn *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->base.platform = base;
	e->domid = domid;
	pthread_mutex_lock(&p->lock);
	int rc = hv_evtchn_bind_interdomain(p->hv, 0, domid, remote_port, &e->ch);
	pthread_mutex_unlock(&p->lock);
	if (rc != 0) {
		free(e);
		return NULL;
	}
	return &e->base;
}

static int sim_evtchn_fd(struct evtchn *base)
{
	return ((struct sim_evtchn *)base)->ch.fd_in;
}

static int sim_evtchn_notify(struct evtchn *base)
{
	return hv_evtchn_notify(&((struct sim_evtchn *)base)->ch);
}

static int sim_evtchn_ack(struct evtchn *base)
{
	return hv_evtchn_consume(&((struct sim_evtchn *)base)->ch);
}

static void sim_evtchn_close(struct evtchn *base)
{
	struct sim_evtchn *e = (struct sim_evtchn *)base;
	struct sim_platform *p = (struct sim_platform *)base->platform;
	pthread_mutex_lock(&p->lock);
	hv_evtchn_close(p->hv, 0, &e->ch);
	pthread_mutex_unlock(&p->lock);
	free(e);
}

static const struct platform_ops sim_ops = {
	.name = "sim",
	.close = sim_close,
	.gnt_open = sim_gnt_open,
	.gnt_close = sim_gnt_close,
	.gnt_copy = sim_gnt_copy,
	.gnt_map = sim_gnt_map,
	.gnt_unmap = sim_gnt_unmap,
	.evtchn_bind = sim_evtchn_bind,
	.evtchn_fd = sim_evtchn_fd,
	.evtchn_notify = sim_evtchn_notify,
	.evtchn_ack = sim_evtchn_ack,
	.evtchn_close = sim_evtchn_close,
};

struct platform *platform_sim_open(void);
struct platform *platform_sim_open(void)
{
	struct sim_platform *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->hv = hv_connect(NULL);
	if (!p->hv) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->base.ops = &sim_ops;
	return &p->base;
}
