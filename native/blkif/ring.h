/*
 * The backend side of a shared blkif ring, written against guest memory we
 * do not trust: indices are free-running 32-bit counters compared by unsigned
 * subtraction, every slot is copied out before anyone looks at it, and a
 * producer index that claims more than a ring's worth of requests stops the
 * ring (the frontend loses its device, nothing else).
 */
#ifndef BLKIF_RING_H
#define BLKIF_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blkif/abi.h"

typedef uint32_t ring_idx_t;

struct blk_back_ring {
	uint8_t *sring; /* shared page(s): header then slots */
	const struct blkif_abi *abi;
	uint32_t nr_ents; /* power of two */
	ring_idx_t req_cons;     /* next request to copy out */
	ring_idx_t rsp_prod_pvt; /* next response slot */
};

/* Entries a ring of `bytes` holds for `abi` (rounded down to a power of two); 0 if none. */
uint32_t blkif_ring_entries(const struct blkif_abi *abi, size_t bytes);

/*
 * Attaches to a ring the frontend initialised. Returns 0, or -1 if `bytes` is
 * too small or the frontend's indices are already inconsistent.
 */
int blkif_ring_attach(struct blk_back_ring *r, void *sring, size_t bytes, const struct blkif_abi *abi);

/*
 * How many requests may be copied out now (0 if none), or -1 if the
 * frontend's req_prod is impossible (more than nr_ents beyond our responses).
 * Never more than the free response slots, so responses cannot overrun.
 */
int blkif_ring_available(struct blk_back_ring *r);

/* Copies the next request slot into `out` (abi->entry_size bytes) and advances req_cons. */
void blkif_ring_copy_request(struct blk_back_ring *r, uint8_t *out);

/* Writes a response in the next slot (not yet visible to the frontend). */
void blkif_ring_put_response(struct blk_back_ring *r, uint64_t id, uint8_t operation, int16_t status);

/* Publishes written responses; true if the frontend asked to be notified about them. */
bool blkif_ring_push_responses(struct blk_back_ring *r);

/*
 * Before going to sleep: true if requests arrived; otherwise arms req_event
 * so the frontend notifies us on its next request, and checks once more.
 */
bool blkif_ring_final_check(struct blk_back_ring *r);

/* Requests consumed but not yet answered. */
static inline uint32_t blkif_ring_in_flight(const struct blk_back_ring *r)
{
	return r->req_cons - r->rsp_prod_pvt;
}

#endif
