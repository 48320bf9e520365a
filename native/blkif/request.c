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

static bool segment_ok(const struct blkif_segment *s)
{
	return s->first_sect <= s->last_sect && s->last_sect < BLKIF_SECTORS_PER_PAGE;
}

static void read_segment(const uint8_t *p, struct blkif_segment *s)
{
	s->gref = get32(p);
	s->first_sect = p[4];
	s->last_sect = p[5];
}

/* start + count within the disk, with no overflow. */
static bool range_ok(const struct blkif_limits *lim, uint64_t start, uint64_t count)
{
	return start <= lim->disk_sectors && count <= lim->disk_sectors - start;
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
		read_segment(raw + abi->rw_seg + 8 * i, &req->seg[i]);
		if (!segment_ok(&req->seg[i]))
			return BLKIF_STATUS_ERROR;
		sectors += (uint64_t)(req->seg[i].last_sect - req->seg[i].first_sect + 1);
	}
	req->nr_sectors = sectors;
	return range_ok(lim, req->sector, sectors) ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
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
	if (lim->readonly)
		return BLKIF_STATUS_ERROR;
	return range_ok(lim, req->sector, req->nr_sectors) ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
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
	return req->sector < lim->disk_sectors ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
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
		read_segment(pages + 8 * (size_t)i, &segs[i]);
		if (!segment_ok(&segs[i]))
			return BLKIF_STATUS_ERROR;
		sectors += (uint64_t)(segs[i].last_sect - segs[i].first_sect + 1);
	}
	req->nr_sectors = sectors;
	return range_ok(lim, req->sector, sectors) ? BLKIF_STATUS_OKAY : BLKIF_STATUS_ERROR;
}
