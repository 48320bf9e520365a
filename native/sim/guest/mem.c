/* Page and grant-reference allocation in the guest's own domain. */
#include "sim/guest/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gmem_init(struct gmem *m, struct hv_conn *hv, uint32_t domid, uint32_t page_base, uint32_t pages,
	      uint32_t gref_base, uint32_t grefs, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (hv_domain_map(hv, domid, &m->dom) < 0) {
		snprintf(err, errlen, "cannot map domain %u: %s", domid, strerror(errno));
		return -1;
	}
	m->mapped = true;
	if (page_base >= m->dom.nr_pages || (pages && (uint64_t)page_base + pages > m->dom.nr_pages)) {
		snprintf(err, errlen, "page window %u+%u outside the domain's %u pages", page_base, pages,
			 m->dom.nr_pages);
		return -1;
	}
	m->page_next = page_base;
	m->page_end = pages ? page_base + pages : m->dom.nr_pages;
	if (gref_base >= m->dom.nr_grants || (grefs && (uint64_t)gref_base + grefs > m->dom.nr_grants)) {
		snprintf(err, errlen, "grant window %u+%u outside the domain's %u grants", gref_base, grefs,
			 m->dom.nr_grants);
		return -1;
	}
	m->gref_base = gref_base;
	m->gref_end = grefs ? gref_base + grefs : m->dom.nr_grants;
	m->gref_cap = m->gref_end - m->gref_base;
	m->gref_fifo = calloc(m->gref_cap, sizeof(uint32_t));
	if (!m->gref_fifo) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < m->gref_cap; i++)
		m->gref_fifo[i] = m->gref_base + i;
	m->gref_count = m->gref_cap;
	return 0;
}

void gmem_fini(struct gmem *m)
{
	if (m->mapped)
		hv_domain_unmap(&m->dom);
	free(m->gref_fifo);
	free(m->leaked);
	memset(m, 0, sizeof(*m));
}

int gmem_alloc_pages(struct gmem *m, uint32_t n, uint32_t *first)
{
	if (n == 0 || m->page_end - m->page_next < n)
		return -1;
	*first = m->page_next;
	m->page_next += n;
	memset(gmem_page(m, *first), 0, (size_t)n * HV_PAGE_SIZE);
	return 0;
}

uint32_t gmem_pages_free(const struct gmem *m)
{
	return m->page_end - m->page_next;
}

int gmem_gref_get(struct gmem *m, uint32_t *gref)
{
	if (m->gref_count == 0)
		return -1;
	*gref = m->gref_fifo[m->gref_head];
	m->gref_head = (m->gref_head + 1) % m->gref_cap;
	m->gref_count--;
	return 0;
}

void gmem_gref_put(struct gmem *m, uint32_t gref)
{
	m->gref_fifo[(m->gref_head + m->gref_count) % m->gref_cap] = gref;
	m->gref_count++;
}

int gmem_grant(struct gmem *m, uint32_t gref, uint32_t page, bool readonly)
{
	if (hv_grant_access(&m->dom, gref, m->backend_domid, page, readonly) < 0)
		return -1;
	m->grants++;
	return 0;
}

int gmem_revoke_put(struct gmem *m, uint32_t gref)
{
	if (hv_grant_revoke(&m->dom, gref) == 0) {
		m->revokes++;
		gmem_gref_put(m, gref);
		return 0;
	}
	/* Still in the backend's hands (a persistent map): deferred, as Linux's gnttab_end_foreign_access
	 * does; a failure only if the backend still holds it once it has closed (bf_release). */
	m->revoke_deferred++;
	if (m->nleaked == m->leaked_cap) {
		uint32_t cap = m->leaked_cap ? m->leaked_cap * 2 : 16;
		uint32_t *p = realloc(m->leaked, cap * sizeof(*p));
		if (!p)
			return -1; /* the ref is simply lost */
		m->leaked = p;
		m->leaked_cap = cap;
	}
	m->leaked[m->nleaked++] = gref;
	return -1;
}

uint32_t gmem_retry_leaked(struct gmem *m)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < m->nleaked; i++) {
		if (hv_grant_revoke(&m->dom, m->leaked[i]) == 0) {
			m->revokes++;
			gmem_gref_put(m, m->leaked[i]);
		} else {
			m->leaked[kept++] = m->leaked[i];
		}
	}
	m->nleaked = kept;
	return kept;
}
