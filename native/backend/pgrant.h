/*
 * Persistent grants (feature-persistent): a frontend that offers them reuses
 * a pool of pages granted read-write, so the backend maps each grant once
 * and keeps it, copying data with memcpy instead of a grant-copy hypercall.
 * One cache per queue (no locking); bounded like blkback's 1056 grants.
 * A grant that cannot be mapped (read-only, revoked, full cache) simply goes
 * through grant copy instead.
 */
#ifndef BACKEND_PGRANT_H
#define BACKEND_PGRANT_H

#include <stdint.h>

#include "platform/platform.h"

struct pgrant_cache;

/*
 * Besides each cache's capacity, the whole process holds at most a budget of
 * mappings: under real Xen each is a VMA of gntdev, and every mapping of the
 * process (malloc's, io_uring's, SPDK's) shares vm.max_map_count. Persistent
 * grants may take half of it (read at the first pgrant_create); past that
 * they are grant-copied. Tests set another budget before creating caches.
 */
void pgrant_set_process_limit(long maps);
long pgrant_process_left(void);

struct pgrant_cache *pgrant_create(unsigned capacity);
/* The mapped page of `gref`, mapping it now if there is room; NULL: use grant copy. */
void *pgrant_get(struct pgrant_cache *c, struct gnt *g, uint32_t gref);
unsigned pgrant_count(const struct pgrant_cache *c);
/* Unmaps everything (at disconnect) and frees the cache. */
void pgrant_destroy(struct pgrant_cache *c, struct gnt *g);

#endif
