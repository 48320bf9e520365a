/*
 * Decoding and validation of one blkif request from its private copy. The
 * result is a normalised request the data path can trust: operation known
 * and allowed, segment count and bounds checked, sector range inside the
 * disk without overflow. Every decode fills `id` and `rsp_op`, so even a
 * refused request can be answered.
 */
#ifndef BLKIF_REQUEST_H
#define BLKIF_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "blkif/abi.h"

/* Values from Xen's io/blkif.h, restated so that this header stands alone. */
enum {
	BLKIF_OPC_READ = 0,
	BLKIF_OPC_WRITE = 1,
	BLKIF_OPC_WRITE_BARRIER = 2,
	BLKIF_OPC_FLUSH_DISKCACHE = 3,
	BLKIF_OPC_DISCARD = 5,
	BLKIF_OPC_INDIRECT = 6,
};
enum { BLKIF_STATUS_OKAY = 0, BLKIF_STATUS_ERROR = -1, BLKIF_STATUS_EOPNOTSUPP = -2 };

#define BLKIF_DIRECT_SEGMENTS 11u
#define BLKIF_INDIRECT_PAGES 8u
#define BLKIF_SEGMENTS_PER_INDIRECT_PAGE 512u /* 4096 / sizeof(struct blkif_request_segment) */
#define BLKIF_MAX_INDIRECT_SEGMENTS (BLKIF_INDIRECT_PAGES * BLKIF_SEGMENTS_PER_INDIRECT_PAGE)
#define BLKIF_SECTOR_SHIFT 9u
#define BLKIF_LARGE_SECTOR_SHIFT 12u /* 4096-byte sectors (feature-large-sector-size) */
#define BLKIF_PAGE_SHIFT 12u
#define BLKIF_SECTORS_PER_PAGE 8u

struct blkif_segment {
	uint32_t gref;
	uint8_t first_sect; /* inclusive, in sectors (the negotiated unit) within the page */
	uint8_t last_sect;  /* inclusive */
};

/*
 * What the device allows; set from what we advertised and the disk.
 * Sectors are in the unit negotiated with the frontend (reference 1.5):
 * 512 bytes (sector_shift 9, also what a zeroed limits means) or, when it
 * wrote feature-large-sector-size=1, the backend's 4096 (sector_shift 12).
 */
struct blkif_limits {
	uint64_t disk_sectors;          /* in the negotiated unit */
	uint8_t sector_shift;           /* log2 of the unit: 12, or 9 (any other value means 9) */
	/*
	 * The backing store's block in units, minus 1 (0: any sector will do).
	 * Requests must start and every segment begin and end on a block
	 * boundary: a 512-unit frontend on a 4096-byte store gets 7.
	 */
	uint8_t block_mask;
	uint16_t max_indirect_segments; /* 0: INDIRECT not advertised */
	bool readonly;
	bool flush;          /* feature-flush-cache advertised */
	bool barrier;        /* feature-barrier advertised */
	bool discard;        /* feature-discard advertised */
	bool discard_secure; /* discard-secure advertised */
};

/* The kind of work a request asks for, after unwrapping INDIRECT. */
enum blkif_kind { BLKIF_KIND_READ, BLKIF_KIND_WRITE, BLKIF_KIND_FLUSH, BLKIF_KIND_DISCARD };

struct blkif_request_info {
	uint64_t id;
	uint8_t rsp_op;      /* operation to put in the response (indirect_op for INDIRECT) */
	enum blkif_kind kind;
	bool flush_after;    /* FLUSH_DISKCACHE / WRITE_BARRIER: make everything durable when done */
	bool indirect;
	uint16_t nr_segments;
	bool misaligned;     /* refused (ERROR) because it is not in whole blocks of the store */
	uint64_t sector;     /* start, in the negotiated unit */
	uint64_t nr_sectors; /* whole request; for INDIRECT known only after the segments are decoded */
	uint8_t nr_indirect_pages;
	uint32_t indirect_grefs[BLKIF_INDIRECT_PAGES];
	struct blkif_segment seg[BLKIF_DIRECT_SEGMENTS]; /* direct requests only */
};

/*
 * Decodes the request copied from the ring (`raw`, abi->entry_size bytes).
 * Returns BLKIF_STATUS_OKAY when it may proceed, or the status to answer.
 * An INDIRECT request also needs blkif_decode_indirect() once its indirect
 * pages have been copied in.
 */
int16_t blkif_decode(const struct blkif_abi *abi, const uint8_t *raw, const struct blkif_limits *lim,
		     struct blkif_request_info *req);

/*
 * Decodes and validates the segments of an INDIRECT request from a private
 * copy of its indirect pages (`pages`: nr_indirect_pages * 4096 bytes) into
 * `segs` (room for req->nr_segments), and checks the sector range.
 */
int16_t blkif_decode_indirect(const uint8_t *pages, const struct blkif_limits *lim, struct blkif_request_info *req,
			      struct blkif_segment *segs);

/* The negotiated unit's shift (a zeroed limits means 512-byte sectors). */
static inline unsigned blkif_shift(const struct blkif_limits *lim)
{
	return lim->sector_shift == BLKIF_LARGE_SECTOR_SHIFT ? BLKIF_LARGE_SECTOR_SHIFT : BLKIF_SECTOR_SHIFT;
}

/* Bytes a (validated) segment covers and its offset in the granted page. */
static inline uint32_t blkif_seg_bytes(const struct blkif_segment *s, unsigned shift)
{
	return (uint32_t)(s->last_sect - s->first_sect + 1) << shift;
}
static inline uint32_t blkif_seg_offset(const struct blkif_segment *s, unsigned shift)
{
	return (uint32_t)s->first_sect << shift;
}

#endif
