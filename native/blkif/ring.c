/* Ring index arithmetic and the notification hold-off rules of Xen's io/ring.h. */
#include "blkif/ring.h"

#include <stdatomic.h>
#include <string.h>

static inline ring_idx_t load_idx(const struct blk_back_ring *r, size_t off)
{
	/* Guest memory: one acquire load, so later slot reads are not hoisted above it. */
	return __atomic_load_n((ring_idx_t *)(r->sring + off), __ATOMIC_ACQUIRE);
}

static inline void store_idx(struct blk_back_ring *r, size_t off, ring_idx_t v)
{
	__atomic_store_n((ring_idx_t *)(r->sring + off), v, __ATOMIC_RELEASE);
}

uint32_t blkif_ring_entries(const struct blkif_abi *abi, size_t bytes)
{
	if (bytes < BLKIF_SRING_RING + abi->entry_size)
		return 0;
	size_t n = (bytes - BLKIF_SRING_RING) / abi->entry_size;
	uint32_t p = 1;
	while ((size_t)p * 2 <= n && p < (1u << 30))
		p *= 2;
	return p;
}

int blkif_ring_attach(struct blk_back_ring *r, void *sring, size_t bytes, const struct blkif_abi *abi)
{
	uint32_t n = blkif_ring_entries(abi, bytes);
	if (n == 0)
		return -1;
	r->sring = sring;
	r->abi = abi;
	r->nr_ents = n;
	/* Resume where the frontend's published responses stand (reconnection keeps the ring). */
	r->rsp_prod_pvt = load_idx(r, BLKIF_SRING_RSP_PROD);
	r->req_cons = r->rsp_prod_pvt;
	if (load_idx(r, BLKIF_SRING_REQ_PROD) - r->rsp_prod_pvt > n)
		return -1;
	return 0;
}

int blkif_ring_available(struct blk_back_ring *r)
{
	ring_idx_t rp = load_idx(r, BLKIF_SRING_REQ_PROD);
	if (rp - r->rsp_prod_pvt > r->nr_ents)
		return -1; /* RING_REQUEST_PROD_OVERFLOW: a bogus frontend */
	ring_idx_t unconsumed = rp - r->req_cons;
	ring_idx_t free_slots = r->nr_ents - (r->req_cons - r->rsp_prod_pvt);
	if (unconsumed > r->nr_ents)
		return -1; /* req_prod moved backwards past our consumer */
	return (int)(unconsumed < free_slots ? unconsumed : free_slots);
}

void blkif_ring_copy_request(struct blk_back_ring *r, uint8_t *out)
{
	size_t slot = BLKIF_SRING_RING + (size_t)(r->req_cons & (r->nr_ents - 1)) * r->abi->entry_size;
	/* A volatile byte copy: the compiler may neither re-read guest memory later nor merge reads. */
	const volatile uint8_t *src = r->sring + slot;
	for (size_t i = 0; i < r->abi->entry_size; i++)
		out[i] = src[i];
	r->req_cons++;
}

void blkif_ring_put_response(struct blk_back_ring *r, uint64_t id, uint8_t operation, int16_t status)
{
	uint8_t rsp[16] = {0};
	memcpy(rsp, &id, 8);
	rsp[8] = operation;
	memcpy(rsp + 10, &status, 2);
	size_t slot = BLKIF_SRING_RING + (size_t)(r->rsp_prod_pvt & (r->nr_ents - 1)) * r->abi->entry_size;
	memcpy(r->sring + slot, rsp, r->abi->rsp_size);
	r->rsp_prod_pvt++;
}

bool blkif_ring_push_responses(struct blk_back_ring *r)
{
	ring_idx_t old = load_idx(r, BLKIF_SRING_RSP_PROD);
	ring_idx_t new = r->rsp_prod_pvt;
	store_idx(r, BLKIF_SRING_RSP_PROD, new); /* release: the slots are visible first */
	atomic_thread_fence(memory_order_seq_cst);
	ring_idx_t event = load_idx(r, BLKIF_SRING_RSP_EVENT);
	return (ring_idx_t)(new - event) < (ring_idx_t)(new - old);
}

bool blkif_ring_final_check(struct blk_back_ring *r)
{
	if (load_idx(r, BLKIF_SRING_REQ_PROD) != r->req_cons)
		return true;
	store_idx(r, BLKIF_SRING_REQ_EVENT, r->req_cons + 1);
	atomic_thread_fence(memory_order_seq_cst);
	return load_idx(r, BLKIF_SRING_REQ_PROD) != r->req_cons;
}
