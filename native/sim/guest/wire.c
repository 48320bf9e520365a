/* Request encoding for both x86 ABIs and the front ring indices (io/ring.h semantics). */
#include "sim/guest/wire.h"

#include <string.h>

/* Native x86_64: 64-bit fields 8-byte aligned, 112-byte slots. */
const struct wire_layout wire_x86_64 = {
	.name = "x86_64", .protocol = "x86_64-abi", .entry = 112,
	.rw_id = 8, .rw_sector = 16, .rw_seg = 24,
	.dc_id = 8, .dc_sector = 16, .dc_nr = 24,
	.in_nseg = 2, .in_id = 8, .in_sector = 16, .in_handle = 24, .in_grefs = 28,
};

/* i386: 64-bit fields 4-byte aligned; Linux packs the response so slots are 108 bytes. */
const struct wire_layout wire_x86_32 = {
	.name = "x86_32", .protocol = "x86_32-abi", .entry = 108,
	.rw_id = 4, .rw_sector = 12, .rw_seg = 20,
	.dc_id = 4, .dc_sector = 12, .dc_nr = 20,
	.in_nseg = 2, .in_id = 4, .in_sector = 12, .in_handle = 20, .in_grefs = 24,
};

const struct wire_layout *wire_layout_by_name(const char *name)
{
	if (strcmp(name, "x86_64") == 0)
		return &wire_x86_64;
	if (strcmp(name, "x86_32") == 0)
		return &wire_x86_32;
	return NULL;
}

/* Little-endian stores at arbitrary (possibly unaligned) offsets. */
static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

void wire_put_seg(uint8_t *dst, const struct wire_seg *s)
{
	memset(dst, 0, WIRE_SEG_SIZE);
	put32(dst, s->gref);
	dst[4] = s->first_sect;
	dst[5] = s->last_sect;
}

void wire_put_rw(const struct wire_layout *l, uint8_t *slot, uint8_t op, uint8_t nr_segments, uint16_t handle,
		 uint64_t id, uint64_t sector, const struct wire_seg *segs, unsigned nsegs)
{
	memset(slot, 0, l->entry);
	slot[0] = op;
	slot[1] = nr_segments;
	put16(slot + 2, handle);
	put64(slot + l->rw_id, id);
	put64(slot + l->rw_sector, sector);
	for (unsigned i = 0; i < nsegs && i < WIRE_DIRECT_SEGS; i++)
		wire_put_seg(slot + l->rw_seg + i * WIRE_SEG_SIZE, &segs[i]);
}

void wire_put_discard(const struct wire_layout *l, uint8_t *slot, uint8_t flag, uint16_t handle, uint64_t id,
		      uint64_t sector, uint64_t nr_sectors)
{
	memset(slot, 0, l->entry);
	slot[0] = WIRE_OP_DISCARD;
	slot[1] = flag;
	put16(slot + 2, handle);
	put64(slot + l->dc_id, id);
	put64(slot + l->dc_sector, sector);
	put64(slot + l->dc_nr, nr_sectors);
}

void wire_put_indirect(const struct wire_layout *l, uint8_t *slot, uint8_t indirect_op, uint16_t nr_segments,
		       uint16_t handle, uint64_t id, uint64_t sector, const uint32_t *grefs, unsigned ngrefs)
{
	memset(slot, 0, l->entry);
	slot[0] = WIRE_OP_INDIRECT;
	slot[1] = indirect_op;
	put16(slot + l->in_nseg, nr_segments);
	put64(slot + l->in_id, id);
	put64(slot + l->in_sector, sector);
	put16(slot + l->in_handle, handle);
	for (unsigned i = 0; i < ngrefs && i < WIRE_INDIRECT_PAGES; i++)
		put32(slot + l->in_grefs + i * 4, grefs[i]);
}

void wire_get_rsp(const uint8_t *slot, struct wire_rsp *r)
{
	memcpy(&r->id, slot, 8);
	r->op = slot[8];
	memcpy(&r->status, slot + 10, 2);
}

/* ---- front ring ---- */

#define SR_REQ_PROD 0u
#define SR_REQ_EVENT 4u
#define SR_RSP_PROD 8u
#define SR_RSP_EVENT 12u

static uint32_t *sr_word(uint8_t *sring, unsigned off)
{
	return (uint32_t *)(void *)(sring + off);
}

uint32_t wire_ring_entries(const struct wire_layout *l, size_t bytes)
{
	uint32_t n, p = 1;

	if (bytes < WIRE_RING_HDR + l->entry)
		return 0;
	n = (uint32_t)((bytes - WIRE_RING_HDR) / l->entry);
	while (p * 2 <= n)
		p *= 2;
	return p;
}

void fring_shared_init(uint8_t *sring, size_t bytes)
{
	memset(sring, 0, bytes);
	*sr_word(sring, SR_REQ_EVENT) = 1;
	*sr_word(sring, SR_RSP_EVENT) = 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void fring_attach(struct front_ring *r, uint8_t *sring, size_t bytes, const struct wire_layout *l)
{
	r->sring = sring;
	r->l = l;
	r->nr_ents = wire_ring_entries(l, bytes);
	r->req_prod_pvt = 0;
	r->rsp_cons = 0;
}

uint8_t *fring_slot(const struct front_ring *r, uint32_t idx)
{
	return r->sring + WIRE_RING_HDR + (size_t)(idx & (r->nr_ents - 1)) * r->l->entry;
}

bool fring_push_raw(struct front_ring *r, uint32_t req_prod)
{
	uint32_t old = __atomic_load_n(sr_word(r->sring, SR_REQ_PROD), __ATOMIC_RELAXED);
	uint32_t ev;

	/* Release: the backend that sees req_prod sees the slots before it. */
	__atomic_store_n(sr_word(r->sring, SR_REQ_PROD), req_prod, __ATOMIC_RELEASE);
	/* Full barrier: our req_prod store before reading the backend's req_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = __atomic_load_n(sr_word(r->sring, SR_REQ_EVENT), __ATOMIC_RELAXED);
	return (uint32_t)(req_prod - ev) < (uint32_t)(req_prod - old);
}

bool fring_push(struct front_ring *r)
{
	return fring_push_raw(r, r->req_prod_pvt);
}

uint32_t fring_rsp_prod(const struct front_ring *r)
{
	return __atomic_load_n(sr_word(r->sring, SR_RSP_PROD), __ATOMIC_ACQUIRE);
}

bool fring_final_check(struct front_ring *r)
{
	if (r->rsp_cons == r->req_prod_pvt) {
		/* Nothing outstanding: ask for an event on the very next response. */
		__atomic_store_n(sr_word(r->sring, SR_RSP_EVENT), r->rsp_cons + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return false;
	}
	if (fring_rsp_prod(r) != r->rsp_cons)
		return true;
	__atomic_store_n(sr_word(r->sring, SR_RSP_EVENT), r->rsp_cons + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return fring_rsp_prod(r) != r->rsp_cons;
}
