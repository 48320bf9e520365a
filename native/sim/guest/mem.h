/*
 * The guest's own memory and grant table, as the simulated hypervisor shares
 * them: pages come from a bump allocator over a window of the domain's
 * memory, grant references from a FIFO over a window of its grant table.
 * Windows let several guest processes share one domain without colliding.
 * FIFO reuse keeps a revoked reference unused for as long as possible, so a
 * backend that touches a grant after answering hits an ungranted entry.
 */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/hv/hv.h"

/* Xen keeps refs 0..7 for the console and xenstore rings (GNTTAB_NR_RESERVED_ENTRIES). */
#define GMEM_RESERVED_GREFS 8u

struct gmem {
	struct hv_domain dom;
	bool mapped;
	uint16_t backend_domid;
	uint32_t page_next, page_end; /* [page_next, page_end) still free */
	uint32_t gref_base, gref_end;
	uint32_t *gref_fifo; /* free refs, a ring of gref_cap */
	uint32_t gref_cap, gref_head, gref_count;
	uint32_t *leaked; /* refs whose revoke failed: retried at close */
	uint32_t nleaked, leaked_cap;
	uint64_t grants, revokes, revoke_deferred;
	uint64_t revoke_failures; /* still held by the backend after it closed */
};

/*
 * Maps domain `domid` and sets up the windows: pages [page_base, page_base+pages)
 * and refs [gref_base, gref_base+grefs); 0 means "to the end". Returns 0, or -1
 * with a message in `err`.
 */
int gmem_init(struct gmem *m, struct hv_conn *hv, uint32_t domid, uint32_t page_base, uint32_t pages,
	      uint32_t gref_base, uint32_t grefs, char *err, size_t errlen);
void gmem_fini(struct gmem *m);

/* `n` contiguous zeroed pages; -1 if the window is exhausted. */
int gmem_alloc_pages(struct gmem *m, uint32_t n, uint32_t *first);
uint32_t gmem_pages_free(const struct gmem *m);
static inline uint8_t *gmem_page(const struct gmem *m, uint32_t page)
{
	return m->dom.memory + (size_t)page * HV_PAGE_SIZE;
}

/* A free grant reference (not granted), or -1. */
int gmem_gref_get(struct gmem *m, uint32_t *gref);
void gmem_gref_put(struct gmem *m, uint32_t gref);
static inline uint32_t gmem_grefs_free(const struct gmem *m)
{
	return m->gref_count;
}

/* Grants page `page` to the backend at `gref`. */
int gmem_grant(struct gmem *m, uint32_t gref, uint32_t page, bool readonly);
/*
 * Revokes `gref` and frees it. If the backend still holds it (as Xen's
 * gnttab_end_foreign_access would refuse: a map pins it), defers it: the ref
 * stays out of circulation until gmem_retry_leaked succeeds; returns -1.
 */
int gmem_revoke_put(struct gmem *m, uint32_t gref);
/* Retries leaked refs; returns how many are still held by the backend. */
uint32_t gmem_retry_leaked(struct gmem *m);

#endif
