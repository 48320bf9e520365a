/*
 * Persistent grants (blkif.h notes 7-9, as Linux blkfront does them): a pool
 * of pages each granted once to the backend and kept granted, handed out
 * LIFO so a small hot subset is reused and the backend can keep it mapped.
 * Data is copied between the I/O buffer and the pool page. Data pages are
 * granted read-write (a page written by one request may be read into by the
 * next); the pool for indirect descriptor pages is granted read-only.
 */
#ifndef GUEST_GRANTS_H
#define GUEST_GRANTS_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/guest/mem.h"

struct pgrant {
	uint32_t page;
	uint32_t gref;
};

struct ppool {
	bool readonly;
	uint32_t max;         /* grants this pool may create */
	struct pgrant *all;   /* every grant created, for revocation at close */
	uint32_t nall;
	struct pgrant *stack; /* free ones, top = most recently used */
	uint32_t nfree;
};

int ppool_init(struct ppool *p, uint32_t max, bool readonly);
void ppool_fini(struct ppool *p);
/* Most recently released grant, or a new one while under `max`; -1 if none can be had now. */
int ppool_get(struct ppool *p, struct gmem *m, struct pgrant *out);
void ppool_put(struct ppool *p, struct pgrant g);
/* Revokes every grant of the pool; returns how many the backend still held. */
uint32_t ppool_revoke_all(struct ppool *p, struct gmem *m);

#endif
