/*
 * The frontend's view of the blkif wire format: request encoders for the two
 * x86 ABIs and the front half of the shared ring (io/ring.h FRONT_RING
 * macros). The offsets are written out here rather than taken from the
 * backend's blkif/abi.h on purpose: the guest is an independent implementation
 * the backend is tested against, and test_guest.c checks these offsets
 * against Xen's own structs (native) and the i386 layout (x86_32).
 */
#ifndef GUEST_WIRE_H
#define GUEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WIRE_OP_READ = 0, WIRE_OP_WRITE = 1, WIRE_OP_WRITE_BARRIER = 2, WIRE_OP_FLUSH = 3,
       WIRE_OP_DISCARD = 5, WIRE_OP_INDIRECT = 6 };
enum { WIRE_RSP_OKAY = 0, WIRE_RSP_ERROR = -1, WIRE_RSP_EOPNOTSUPP = -2 };

#define WIRE_DIRECT_SEGS 11u
#define WIRE_INDIRECT_PAGES 8u
#define WIRE_SEGS_PER_INDIRECT_PAGE 512u
#define WIRE_SEG_SIZE 8u
#define WIRE_PAGE 4096u
#define WIRE_DISCARD_SECURE 1u
#define WIRE_RING_HDR 64u

struct wire_layout {
	const char *name;     /* "x86_64" / "x86_32" as on our command line */
	const char *protocol; /* the xenstore `protocol` value */
	size_t entry;         /* slot stride */
	size_t rw_id, rw_sector, rw_seg;
	size_t dc_id, dc_sector, dc_nr;
	size_t in_nseg, in_id, in_sector, in_handle, in_grefs;
};

extern const struct wire_layout wire_x86_64;
extern const struct wire_layout wire_x86_32;
/* By command-line name; NULL if unknown. */
const struct wire_layout *wire_layout_by_name(const char *name);

struct wire_seg {
	uint32_t gref;
	uint8_t first_sect, last_sect;
};

/*
 * Encoders write a whole slot (zeroed first). `nr_segments` is the value put
 * on the wire; only min(nsegs, 11) entries of `segs` are written, so a
 * hostile count larger than the slot can hold is representable.
 */
void wire_put_rw(const struct wire_layout *l, uint8_t *slot, uint8_t op, uint8_t nr_segments, uint16_t handle,
		 uint64_t id, uint64_t sector, const struct wire_seg *segs, unsigned nsegs);
void wire_put_discard(const struct wire_layout *l, uint8_t *slot, uint8_t flag, uint16_t handle, uint64_t id,
		      uint64_t sector, uint64_t nr_sectors);
void wire_put_indirect(const struct wire_layout *l, uint8_t *slot, uint8_t indirect_op, uint16_t nr_segments,
		       uint16_t handle, uint64_t id, uint64_t sector, const uint32_t *grefs, unsigned ngrefs);
/* One struct blkif_request_segment (8 bytes), as stored in indirect pages. */
void wire_put_seg(uint8_t *dst, const struct wire_seg *s);

struct wire_rsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};
/* Decodes a response slot (the same in both ABIs: id@0, operation@8, status@10). */
void wire_get_rsp(const uint8_t *slot, struct wire_rsp *r);

/* ---- front ring ---- */

struct front_ring {
	uint8_t *sring;
	const struct wire_layout *l;
	uint32_t nr_ents;      /* power of two */
	uint32_t req_prod_pvt; /* next request slot we fill */
	uint32_t rsp_cons;     /* next response we read */
};

/* Entries a ring of `bytes` holds (rounded down to a power of two). */
uint32_t wire_ring_entries(const struct wire_layout *l, size_t bytes);
/* SHARED_RING_INIT: indices zero, req_event = rsp_event = 1, slots zeroed. */
void fring_shared_init(uint8_t *sring, size_t bytes);
void fring_attach(struct front_ring *r, uint8_t *sring, size_t bytes, const struct wire_layout *l);
uint8_t *fring_slot(const struct front_ring *r, uint32_t idx);
/* Requests we put and whose response we have not consumed. */
static inline uint32_t fring_outstanding(const struct front_ring *r)
{
	return r->req_prod_pvt - r->rsp_cons;
}
static inline bool fring_full(const struct front_ring *r)
{
	return fring_outstanding(r) >= r->nr_ents;
}
/* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes req_prod_pvt; true if the backend wants an event. */
bool fring_push(struct front_ring *r);
/* Writes a raw req_prod (hostile use) and says whether to notify as fring_push would. */
bool fring_push_raw(struct front_ring *r, uint32_t req_prod);
/* The backend's rsp_prod, read with acquire ordering so the responses before it are visible. */
uint32_t fring_rsp_prod(const struct front_ring *r);
/* RING_RESPONSE_PROD_OVERFLOW: more responses than requests outstanding. */
static inline bool fring_rsp_overflow(const struct front_ring *r, uint32_t rp)
{
	return rp - r->rsp_cons > r->nr_ents;
}
/*
 * After consuming: if requests are still outstanding, RING_FINAL_CHECK_FOR_RESPONSES
 * (true: more responses arrived, consume again); otherwise arms rsp_event for the next one.
 */
bool fring_final_check(struct front_ring *r);

#endif
