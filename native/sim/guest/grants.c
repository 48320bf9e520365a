/* The persistent-grant pool: granted once, reused LIFO, revoked only at close. */
#include "sim/guest/grants.h"

#include <stdlib.h>
#include <string.h>

int ppool_init(struct ppool *p, uint32_t max, bool readonly)
{
	memset(p, 0, sizeof(*p));
	p->readonly = readonly;
	p->max = max;
	if (max == 0)
		return 0;
	p->all = calloc(max, sizeof(*p->all));
	p->stack = calloc(max, sizeof(*p->stack));
	return p->all && p->stack ? 0 : -1;
}

void ppool_fini(struct ppool *p)
{
	free(p->all);
	free(p->stack);
	memset(p, 0, sizeof(*p));
}

int ppool_get(struct ppool *p, struct gmem *m, struct pgrant *out)
{
	struct pgrant g;

	if (p->nfree) {
		*out = p->stack[--p->nfree];
		return 0;
	}
	if (p->nall >= p->max)
		return -1;
	if (gmem_gref_get(m, &g.gref) < 0)
		return -1;
	if (gmem_alloc_pages(m, 1, &g.page) < 0 || gmem_grant(m, g.gref, g.page, p->readonly) < 0) {
		gmem_gref_put(m, g.gref);
		return -1;
	}
	p->all[p->nall++] = g;
	*out = g;
	return 0;
}

void ppool_put(struct ppool *p, struct pgrant g)
{
	p->stack[p->nfree++] = g;
}

uint32_t ppool_revoke_all(struct ppool *p, struct gmem *m)
{
	uint32_t held = 0;

	for (uint32_t i = 0; i < p->nall; i++)
		if (gmem_revoke_put(m, p->all[i].gref) < 0)
			held++;
	p->nall = p->nfree = 0;
	return held;
}
