/* Request validation: the rules of blkback and QEMU, applied to a private copy. */
#include "blkif/request.h"

#include <string.h>

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static void read_segment(const uint8_t *p, struct blkif_segment *s)
{
	s->gref = get32(p);
	s->first_sect = p[4];
	s->last_sect = p[5];
}

/* Inside its page: with 4096-byte sectors only first = last = 0 is. */
static bool segment_ok(const struct blkif_limits *lim, const struct blkif_segment *s)
{
	return s->first_sect <= s->last_sect && s->last_sect < (1u << (BLKIF_PAGE_SHIFT - blkif_shift(lim)));
}

/* Begins and ends on a block of the backing store (a valid segment). */
static bool segment_aligned(const struct blkif_limits *lim, const struct blkif_segment *s)
{
	return !(s->first_sect & lim->block_mask) && !((s->last_sect + 1u) & lim->block_mask);
}

/* Decodes and checks one segment; counts its sectors. ERROR for a bad or misaligned one. */
static int16_t take_segment(const uint8_t *p, const struct blkif_limits *lim, struct blkif_request_info *req,
			    struct blkif_segment *s, uint64_t *sectors)
{
	read_segment(p, s);
	if (!segment_ok(lim, s))
		return BLKIF_STATUS_ERROR;
	if (!segment_aligned(lim, s)) {
		req->misaligned = true;
		return BLKIF_STATUS_ERROR;
	}
	*sectors += (uint64_t)(s->last_sect - s->first_sect + 1);
	return BLKIF_STATUS_OKAY;
}

/*
 * start + count within the disk, with no overflow, and in bytes too (the
 * limits come from a byte size, but the decoder does not rely on it).
 */
static bool range_ok(const struct blkif_limits *lim, uint64_t start, uint64_t count)
{
	uint64_t max = UINT64_MAX >> blkif_shift(lim);
	return start <= lim->disk_sectors && count <= lim->disk_sectors - start && start + count <= max;
}

/* A start on a block boundary of the backing store; marks the request if not. */
static bool start_aligned(const struct blkif_limits *lim, struct blkif_request_info *req)
{
	if (req->sector & lim->block_mask) {
		req->misaligned = true;
		return false;
	}
	return true;
}

static int16_t decode_rw(const struct blkif_abi *abi, const uint8_t *raw, uint8_t op, const struct blkif_limits *lim,
			 struct blkif_request_info *req)
{
	req->id = get64(raw + abi->rw_id);
	req->rsp_op = op;
	req->sector = get64(raw + abi->rw_sector);
	req->nr_segments = raw[1];

	switch (op) {
	case BLKIF_OPC_READ:
		req->kind = BLKIF_KIND_READ;
		break;
	case BLKIF_OPC_WRITE:
		req->kind = BLKIF_KIND_WRITE;
		break;
	case BLKIF_OPC_FLUSH_DISKCACHE:
	case BLKIF_OPC_WRITE_BARRIER:
		if (!(op == BLKIF_OPC_FLUSH_DISKCACHE ? lim->flush : lim->barrier))
			return BLKIF_STATUS_EOPNOTSUPP;
		/* With data it is a write made durable; without, a plain cache flush. */
		req->kind = req->nr_segments ? BLKIF_KIND_WRITE : BLKIF_KIND_FLUSH;
		req->flush_after = true;
		break;
	}

	if (req->kind == BLKIF_KIND_FLUSH)
		return BLKIF_STATUS_OKAY;
	if (req->nr_segments == 0 || req->nr_segments > BLKIF_DIRECT_SEGMENTS)
		return BLKIF_STATUS_ERROR;
	if (req->kind == BLKIF_KIND_WRITE && lim->readonly)
		return BLKIF_STATUS_ERROR;
	uint64_t sectors = 0;
	for (unsigned i = 0; i < req->nr_segments; i++) {
		int16_t st = take_segment(raw + abi->rw_seg + 8 * i, lim, req, &req->seg[i], &sectors);
		if (st != BLKIF_STATUS_OKAY)
			return st;
	}
	req->nr_sectors = sectors;
	if (!range_ok(lim, req->sector, sectors))
		return BLKIF_STATUS_ERROR;
	return start_aligned(lim, req) ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
}

static int16_t decode_discard(const struct blkif_abi *abi, const uint8_t *raw, const struct blkif_limits *lim,
			      struct blkif_request_info *req)
{
	req->id = get64(raw + abi->discard_id);
	req->rsp_op = BLKIF_OPC_DISCARD;
	req->kind = BLKIF_KIND_DISCARD;
	req->sector = get64(raw + abi->discard_sector);
	req->nr_sectors = get64(raw + abi->discard_nr_sectors);
	bool secure = raw[1] & 1u;
	if (!lim->discard || (secure && !lim->discard_secure))
		return BLKIF_STATUS_EOPNOTSUPP;
	if (lim->readonly || !range_ok(lim, req->sector, req->nr_sectors))
		return BLKIF_STATUS_ERROR;
	if (!start_aligned(lim, req))
		return BLKIF_STATUS_ERROR;
	if (req->nr_sectors & lim->block_mask) {
		req->misaligned = true;
		return BLKIF_STATUS_ERROR;
	}
	return BLKIF_STATUS_OKAY;
}

static int16_t decode_indirect(const struct blkif_abi *abi, const uint8_t *raw, const struct blkif_limits *lim,
			       struct blkif_request_info *req)
{
	uint8_t inner = raw[1];
	req->id = get64(raw + abi->ind_id);
	req->rsp_op = inner; /* blkfront checks the response carries the inner op */
	req->indirect = true;
	req->sector = get64(raw + abi->ind_sector);
	req->nr_segments = get16(raw + abi->ind_nr_segments);
	if (lim->max_indirect_segments == 0)
		return BLKIF_STATUS_EOPNOTSUPP;
	if (inner == BLKIF_OPC_READ)
		req->kind = BLKIF_KIND_READ;
	else if (inner == BLKIF_OPC_WRITE)
		req->kind = BLKIF_KIND_WRITE;
	else
		return BLKIF_STATUS_ERROR;
	if (req->nr_segments == 0 || req->nr_segments > lim->max_indirect_segments ||
	    req->nr_segments > BLKIF_MAX_INDIRECT_SEGMENTS)
		return BLKIF_STATUS_ERROR;
	if (req->kind == BLKIF_KIND_WRITE && lim->readonly)
		return BLKIF_STATUS_ERROR;
	req->nr_indirect_pages =
		(uint8_t)((req->nr_segments + BLKIF_SEGMENTS_PER_INDIRECT_PAGE - 1) / BLKIF_SEGMENTS_PER_INDIRECT_PAGE);
	for (unsigned i = 0; i < req->nr_indirect_pages; i++)
		req->indirect_grefs[i] = get32(raw + abi->ind_grefs + 4 * i);
	/* Even the largest request must start inside the disk. */
	if (req->sector >= lim->disk_sectors)
		return BLKIF_STATUS_ERROR;
	return start_aligned(lim, req) ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
}

int16_t blkif_decode(const struct blkif_abi *abi, const uint8_t *raw, const struct blkif_limits *lim,
		     struct blkif_request_info *req)
{
	memset(req, 0, sizeof(*req));
	uint8_t op = raw[0];
	switch (op) {
	case BLKIF_OPC_READ:
	case BLKIF_OPC_WRITE:
	case BLKIF_OPC_WRITE_BARRIER:
	case BLKIF_OPC_FLUSH_DISKCACHE:
		return decode_rw(abi, raw, op, lim, req);
	case BLKIF_OPC_DISCARD:
		return decode_discard(abi, raw, lim, req);
	case BLKIF_OPC_INDIRECT:
		return decode_indirect(abi, raw, lim, req);
	default:
		/* Unknown or reserved: only the id is trusted enough to answer. */
		req->id = get64(raw + abi->rw_id);
		req->rsp_op = op;
		return BLKIF_STATUS_EOPNOTSUPP;
	}
}

int16_t blkif_decode_indirect(const uint8_t *pages, const struct blkif_limits *lim, struct blkif_request_info *req,
			      struct blkif_segment *segs)
{
	uint64_t sectors = 0;
	for (unsigned i = 0; i < req->nr_segments; i++) {
		int16_t st = take_segment(pages + 8 * (size_t)i, lim, req, &segs[i], &sectors);
		if (st != BLKIF_STATUS_OKAY)
			return st;
	}
	req->nr_sectors = sectors;
	return range_ok(lim, req->sector, sectors) ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
}
