/*
 * Unit tests of the protocol engine: request decoding and validation for
 * every operation in both ABIs, and ring index arithmetic across wrap-around.
 * Native requests are built with Xen's own structs, x86_32 ones byte by byte
 * at the offsets of blkback's i386 layout, so the tables in abi.c are checked
 * against independent sources.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/blkif.h>

#include "testing/check.h"
#include "blkif/abi.h"
#include "blkif/request.h"
#include "blkif/ring.h"


static const struct blkif_limits all_on = {
	.disk_sectors = 1 << 20, .max_indirect_segments = 256, .flush = true, .barrier = true, .discard = true,
};

/* ---- request builders ---- */

static void put(uint8_t *raw, size_t off, const void *v, size_t n)
{
	memcpy(raw + off, v, n);
}

/* A READ/WRITE/FLUSH request in the native layout, via Xen's struct. */
static void native_rw(uint8_t *raw, uint8_t op, uint64_t id, uint64_t sector, unsigned nseg, uint8_t first, uint8_t last)
{
	struct blkif_request r;
	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.nr_segments = (uint8_t)nseg;
	r.handle = 51712;
	r.id = id;
	r.sector_number = sector;
	for (unsigned i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r.seg[i].gref = 100 + i;
		r.seg[i].first_sect = first;
		r.seg[i].last_sect = last;
	}
	memset(raw, 0xEE, BLKIF_MAX_ENTRY_SIZE);
	memcpy(raw, &r, sizeof(r));
}

/* The same in the x86_32 layout: id @4, sector @12, segments @20. */
static void x32_rw(uint8_t *raw, uint8_t op, uint64_t id, uint64_t sector, unsigned nseg, uint8_t first, uint8_t last)
{
	memset(raw, 0xEE, BLKIF_MAX_ENTRY_SIZE);
	raw[0] = op;
	raw[1] = (uint8_t)nseg;
	put(raw, 4, &id, 8);
	put(raw, 12, &sector, 8);
	for (unsigned i = 0; i < nseg && i < 11; i++) {
		uint32_t gref = 100 + i;
		put(raw, 20 + 8 * i, &gref, 4);
		raw[20 + 8 * i + 4] = first;
		raw[20 + 8 * i + 5] = last;
	}
}

typedef void (*rw_builder)(uint8_t *, uint8_t, uint64_t, uint64_t, unsigned, uint8_t, uint8_t);

static void discard_req(const struct blkif_abi *abi, uint8_t *raw, uint64_t id, uint64_t sector, uint64_t n, uint8_t flag)
{
	memset(raw, 0xEE, BLKIF_MAX_ENTRY_SIZE);
	if (abi == &blkif_abi_x86_64) {
		struct blkif_request_discard d;
		memset(&d, 0, sizeof(d));
		d.operation = BLKIF_OP_DISCARD;
		d.flag = flag;
		d.id = id;
		d.sector_number = sector;
		d.nr_sectors = n;
		memcpy(raw, &d, sizeof(d));
	} else {
		raw[0] = BLKIF_OP_DISCARD;
		raw[1] = flag;
		put(raw, 4, &id, 8);
		put(raw, 12, &sector, 8);
		put(raw, 20, &n, 8);
	}
}

static void indirect_req(const struct blkif_abi *abi, uint8_t *raw, uint8_t inner, uint64_t id, uint64_t sector, uint16_t nseg)
{
	memset(raw, 0xEE, BLKIF_MAX_ENTRY_SIZE);
	if (abi == &blkif_abi_x86_64) {
		struct blkif_request_indirect r;
		memset(&r, 0, sizeof(r));
		r.operation = BLKIF_OP_INDIRECT;
		r.indirect_op = inner;
		r.nr_segments = nseg;
		r.id = id;
		r.sector_number = sector;
		for (unsigned i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
			r.indirect_grefs[i] = 900 + i;
		memcpy(raw, &r, sizeof(r));
	} else {
		raw[0] = BLKIF_OP_INDIRECT;
		raw[1] = inner;
		put(raw, 2, &nseg, 2);
		put(raw, 4, &id, 8);
		put(raw, 12, &sector, 8);
		for (uint32_t i = 0; i < 8; i++) {
			uint32_t g = 900 + i;
			put(raw, 24 + 4 * i, &g, 4);
		}
	}
}

/* ---- decoding ---- */

static void test_rw(const struct blkif_abi *abi, rw_builder build)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;

	build(raw, BLKIF_OP_READ, 0x1122334455667788ull, 4096, 11, 0, 7);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.id == 0x1122334455667788ull && req.kind == BLKIF_KIND_READ && req.rsp_op == BLKIF_OP_READ);
	CHECK(req.sector == 4096 && req.nr_segments == 11 && req.nr_sectors == 88);
	CHECK(req.seg[10].gref == 110 && req.seg[10].first_sect == 0 && req.seg[10].last_sect == 7);
	CHECK(!req.flush_after && !req.indirect);

	build(raw, BLKIF_OP_WRITE, 7, 0, 1, 2, 5);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.kind == BLKIF_KIND_WRITE && req.nr_sectors == 4);
	CHECK(blkif_seg_offset(&req.seg[0], 9) == 1024 && blkif_seg_bytes(&req.seg[0], 9) == 2048);

	/* Segment counts: 0 and 12 are refused, id still answered. */
	build(raw, BLKIF_OP_READ, 9, 0, 0, 0, 7);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR && req.id == 9);
	build(raw, BLKIF_OP_READ, 9, 0, 11, 0, 7);
	raw[1] = 12;
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	raw[1] = 255;
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);

	/* Segment bounds: first > last, last past the page. */
	build(raw, BLKIF_OP_READ, 1, 0, 1, 5, 4);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	build(raw, BLKIF_OP_READ, 1, 0, 1, 0, 8);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	build(raw, BLKIF_OP_READ, 1, 0, 1, 255, 255);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);

	/* Sector range: the last sector is fine, one past is not, overflow is not. */
	build(raw, BLKIF_OP_READ, 1, all_on.disk_sectors - 8, 1, 0, 7);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	build(raw, BLKIF_OP_READ, 1, all_on.disk_sectors - 7, 1, 0, 7);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	build(raw, BLKIF_OP_WRITE, 1, UINT64_MAX - 3, 1, 0, 7);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);

	/* Writes to a read-only device; reads still fine. */
	struct blkif_limits ro = all_on;
	ro.readonly = true;
	build(raw, BLKIF_OP_WRITE, 1, 0, 1, 0, 7);
	CHECK(blkif_decode(abi, raw, &ro, &req) == BLKIF_STATUS_ERROR);
	build(raw, BLKIF_OP_READ, 1, 0, 1, 0, 7);
	CHECK(blkif_decode(abi, raw, &ro, &req) == BLKIF_STATUS_OKAY);
}

static void test_flush_barrier(const struct blkif_abi *abi, rw_builder build)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;
	struct blkif_limits none = all_on;
	none.flush = none.barrier = false;

	build(raw, BLKIF_OP_FLUSH_DISKCACHE, 3, 0, 0, 0, 0);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.kind == BLKIF_KIND_FLUSH && req.flush_after && req.rsp_op == BLKIF_OP_FLUSH_DISKCACHE);
	CHECK(blkif_decode(abi, raw, &none, &req) == BLKIF_STATUS_EOPNOTSUPP && req.id == 3);

	/* A flush with data is a write made durable (blkfront sends PREFLUSH/FUA writes so). */
	build(raw, BLKIF_OP_FLUSH_DISKCACHE, 4, 16, 2, 0, 7);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.kind == BLKIF_KIND_WRITE && req.flush_after && req.nr_sectors == 16);
	struct blkif_limits ro = all_on;
	ro.readonly = true;
	CHECK(blkif_decode(abi, raw, &ro, &req) == BLKIF_STATUS_ERROR);

	build(raw, BLKIF_OP_WRITE_BARRIER, 5, 0, 0, 0, 0);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY && req.rsp_op == BLKIF_OP_WRITE_BARRIER);
	CHECK(blkif_decode(abi, raw, &none, &req) == BLKIF_STATUS_EOPNOTSUPP);
}

static void test_discard(const struct blkif_abi *abi)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;

	discard_req(abi, raw, 42, 2048, 4096, 0);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.kind == BLKIF_KIND_DISCARD && req.id == 42 && req.sector == 2048 && req.nr_sectors == 4096);
	CHECK(req.rsp_op == BLKIF_OP_DISCARD);

	struct blkif_limits off = all_on;
	off.discard = false;
	CHECK(blkif_decode(abi, raw, &off, &req) == BLKIF_STATUS_EOPNOTSUPP && req.id == 42);

	/* Secure discard only where advertised. */
	discard_req(abi, raw, 43, 0, 8, BLKIF_DISCARD_SECURE);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_EOPNOTSUPP);
	struct blkif_limits secure = all_on;
	secure.discard_secure = true;
	CHECK(blkif_decode(abi, raw, &secure, &req) == BLKIF_STATUS_OKAY);

	discard_req(abi, raw, 44, all_on.disk_sectors - 8, 9, 0);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	discard_req(abi, raw, 44, 8, UINT64_MAX, 0);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	struct blkif_limits ro = all_on;
	ro.readonly = true;
	discard_req(abi, raw, 45, 0, 8, 0);
	CHECK(blkif_decode(abi, raw, &ro, &req) == BLKIF_STATUS_ERROR);
}

static void test_indirect(const struct blkif_abi *abi)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;

	indirect_req(abi, raw, BLKIF_OP_WRITE, 77, 64, 200);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.indirect && req.kind == BLKIF_KIND_WRITE && req.rsp_op == BLKIF_OP_WRITE && req.id == 77);
	CHECK(req.nr_segments == 200 && req.nr_indirect_pages == 1 && req.indirect_grefs[0] == 900);

	indirect_req(abi, raw, BLKIF_OP_READ, 78, 0, 256);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY && req.rsp_op == BLKIF_OP_READ);
	struct blkif_limits big = all_on;
	big.max_indirect_segments = 4096;
	indirect_req(abi, raw, BLKIF_OP_READ, 78, 0, 4096);
	CHECK(blkif_decode(abi, raw, &big, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.nr_indirect_pages == 8 && req.indirect_grefs[7] == 907);
	indirect_req(abi, raw, BLKIF_OP_READ, 78, 0, 513);
	CHECK(blkif_decode(abi, raw, &big, &req) == BLKIF_STATUS_OKAY && req.nr_indirect_pages == 2);

	/* Not advertised: EOPNOTSUPP, answered with the inner op. */
	struct blkif_limits off = all_on;
	off.max_indirect_segments = 0;
	indirect_req(abi, raw, BLKIF_OP_READ, 79, 0, 16);
	CHECK(blkif_decode(abi, raw, &off, &req) == BLKIF_STATUS_EOPNOTSUPP && req.rsp_op == BLKIF_OP_READ && req.id == 79);

	/* Inner op must be READ or WRITE; segment counts 1..max. */
	indirect_req(abi, raw, BLKIF_OP_DISCARD, 80, 0, 16);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR && req.id == 80);
	indirect_req(abi, raw, BLKIF_OP_INDIRECT, 80, 0, 16);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	indirect_req(abi, raw, BLKIF_OP_READ, 81, 0, 0);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	indirect_req(abi, raw, BLKIF_OP_READ, 81, 0, 257);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	indirect_req(abi, raw, BLKIF_OP_READ, 81, 0, 65535);
	CHECK(blkif_decode(abi, raw, &big, &req) == BLKIF_STATUS_ERROR);
	indirect_req(abi, raw, BLKIF_OP_READ, 81, all_on.disk_sectors, 1);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_ERROR);
	struct blkif_limits ro = all_on;
	ro.readonly = true;
	indirect_req(abi, raw, BLKIF_OP_WRITE, 82, 0, 16);
	CHECK(blkif_decode(abi, raw, &ro, &req) == BLKIF_STATUS_ERROR);
}

static void test_indirect_segments(void)
{
	static uint8_t pages[2 * 4096];
	struct blkif_segment segs[600];
	struct blkif_request_info req;
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	indirect_req(&blkif_abi_x86_64, raw, BLKIF_OP_READ, 1, 100, 600);
	struct blkif_limits big = all_on;
	big.max_indirect_segments = 1024;
	CHECK(blkif_decode(&blkif_abi_x86_64, raw, &big, &req) == BLKIF_STATUS_OKAY);

	struct blkif_request_segment *s = (struct blkif_request_segment *)pages;
	for (unsigned i = 0; i < 600; i++) {
		s[i].gref = 5000 + i;
		s[i].first_sect = 0;
		s[i].last_sect = 7;
	}
	CHECK(blkif_decode_indirect(pages, &big, &req, segs) == BLKIF_STATUS_OKAY);
	CHECK(req.nr_sectors == 4800 && segs[599].gref == 5599 && segs[512].gref == 5512);

	s[300].last_sect = 8;
	CHECK(blkif_decode_indirect(pages, &big, &req, segs) == BLKIF_STATUS_ERROR);
	s[300].last_sect = 7;
	s[599].first_sect = 7;
	s[599].last_sect = 6;
	CHECK(blkif_decode_indirect(pages, &big, &req, segs) == BLKIF_STATUS_ERROR);
	s[599].first_sect = 0;
	s[599].last_sect = 7;
	/* The whole request must fit the disk. */
	req.sector = big.disk_sectors - 4799;
	CHECK(blkif_decode_indirect(pages, &big, &req, segs) == BLKIF_STATUS_ERROR);
	req.sector = big.disk_sectors - 4800;
	CHECK(blkif_decode_indirect(pages, &big, &req, segs) == BLKIF_STATUS_OKAY);
}

/* ---- 4096-byte stores: large sectors, and 512-byte sectors that must be in whole blocks ---- */

static void test_large_sectors(const struct blkif_abi *abi, rw_builder build)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;
	struct blkif_limits large = all_on;
	large.sector_shift = BLKIF_LARGE_SECTOR_SHIFT;
	large.disk_sectors = 1 << 17; /* 512 MiB in 4096-byte sectors */

	/* A segment is a whole page: sector 0 of it, and nothing else. */
	build(raw, BLKIF_OP_WRITE, 5, 1000, 11, 0, 0);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_OKAY);
	CHECK(req.sector == 1000 && req.nr_sectors == 11 && !req.misaligned);
	CHECK(blkif_seg_offset(&req.seg[3], 12) == 0 && blkif_seg_bytes(&req.seg[3], 12) == 4096);
	build(raw, BLKIF_OP_READ, 5, 0, 1, 0, 1);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_ERROR && req.id == 5 && !req.misaligned);
	build(raw, BLKIF_OP_READ, 5, 0, 1, 1, 1);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_ERROR);
	build(raw, BLKIF_OP_READ, 5, 0, 1, 7, 7); /* fine in 512-byte sectors, past the page in 4096-byte ones */
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_ERROR);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);

	/* The end of the disk, in 4096-byte sectors. */
	build(raw, BLKIF_OP_READ, 5, large.disk_sectors - 2, 2, 0, 0);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_OKAY);
	build(raw, BLKIF_OP_READ, 5, large.disk_sectors - 1, 2, 0, 0);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_ERROR);

	/* sector * 4096 overflowing 64 bits: refused even on a disk claiming that many sectors. */
	struct blkif_limits huge = large;
	huge.disk_sectors = UINT64_MAX;
	build(raw, BLKIF_OP_READ, 5, UINT64_MAX >> 12, 1, 0, 0);
	CHECK(blkif_decode(abi, raw, &huge, &req) == BLKIF_STATUS_ERROR);
	build(raw, BLKIF_OP_READ, 5, (UINT64_MAX >> 12) - 1, 1, 0, 0);
	CHECK(blkif_decode(abi, raw, &huge, &req) == BLKIF_STATUS_OKAY);
	build(raw, BLKIF_OP_READ, 5, 1ull << 52, 1, 0, 0);
	CHECK(blkif_decode(abi, raw, &huge, &req) == BLKIF_STATUS_ERROR);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_ERROR);

	/* Discard in 4096-byte sectors, its end bounded the same way. */
	discard_req(abi, raw, 6, 8, 16, 0);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_OKAY && req.sector == 8 && req.nr_sectors == 16);
	discard_req(abi, raw, 6, 1, UINT64_MAX >> 12, 0);
	CHECK(blkif_decode(abi, raw, &huge, &req) == BLKIF_STATUS_ERROR);
}

static void test_misaligned(const struct blkif_abi *abi, rw_builder build)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;
	struct blkif_limits blocks = all_on; /* 512-byte sectors on a store of 4096-byte blocks */
	blocks.block_mask = 7;

	build(raw, BLKIF_OP_WRITE, 9, 64, 3, 0, 7);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_OKAY && !req.misaligned && req.nr_sectors == 24);
	/* A start, a segment's beginning or its end off a block: ERROR, marked misaligned. */
	build(raw, BLKIF_OP_WRITE, 9, 65, 3, 0, 7);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && req.misaligned && req.id == 9);
	build(raw, BLKIF_OP_READ, 9, 64, 1, 1, 7);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && req.misaligned);
	build(raw, BLKIF_OP_READ, 9, 64, 1, 0, 0); /* one 512-byte sector */
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && req.misaligned);
	CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY && !req.misaligned);
	/* A bad segment is a bad segment, not a misaligned one. */
	build(raw, BLKIF_OP_READ, 9, 64, 1, 0, 8);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && !req.misaligned);
	/* Flushes have no range. */
	build(raw, BLKIF_OP_FLUSH_DISKCACHE, 9, 3, 0, 0, 0);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_OKAY);

	discard_req(abi, raw, 10, 8, 8, 0);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_OKAY);
	discard_req(abi, raw, 10, 4, 8, 0);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && req.misaligned);
	discard_req(abi, raw, 10, 8, 12, 0);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && req.misaligned);

	/* Indirect: the start at decode, each segment with the pages. */
	indirect_req(abi, raw, BLKIF_OP_WRITE, 11, 12, 2);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_ERROR && req.misaligned);
	indirect_req(abi, raw, BLKIF_OP_WRITE, 11, 16, 2);
	CHECK(blkif_decode(abi, raw, &blocks, &req) == BLKIF_STATUS_OKAY);
	static uint8_t page[4096];
	struct blkif_request_segment *s = (struct blkif_request_segment *)page;
	struct blkif_segment segs[2];
	s[0] = (struct blkif_request_segment){ .gref = 1, .first_sect = 0, .last_sect = 7 };
	s[1] = (struct blkif_request_segment){ .gref = 2, .first_sect = 0, .last_sect = 7 };
	CHECK(blkif_decode_indirect(page, &blocks, &req, segs) == BLKIF_STATUS_OKAY && req.nr_sectors == 16);
	s[1].last_sect = 3;
	CHECK(blkif_decode_indirect(page, &blocks, &req, segs) == BLKIF_STATUS_ERROR && req.misaligned);

	/* 4096-byte sectors on the same store: every valid segment is whole. */
	struct blkif_limits large = all_on;
	large.sector_shift = BLKIF_LARGE_SECTOR_SHIFT;
	indirect_req(abi, raw, BLKIF_OP_READ, 12, 3, 2);
	CHECK(blkif_decode(abi, raw, &large, &req) == BLKIF_STATUS_OKAY);
	s[0].last_sect = 0;
	s[1].last_sect = 0;
	CHECK(blkif_decode_indirect(page, &large, &req, segs) == BLKIF_STATUS_OKAY && req.nr_sectors == 2);
	s[1].first_sect = s[1].last_sect = 1;
	CHECK(blkif_decode_indirect(page, &large, &req, segs) == BLKIF_STATUS_ERROR && !req.misaligned);
}

static void test_unknown_ops(const struct blkif_abi *abi, rw_builder build)
{
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	struct blkif_request_info req;
	for (unsigned op = 4; op < 256; op++) {
		if (op == BLKIF_OP_DISCARD || op == BLKIF_OP_INDIRECT)
			continue;
		build(raw, (uint8_t)op, 1000 + op, 0, 1, 0, 7);
		int16_t st = blkif_decode(abi, raw, &all_on, &req);
		if (st != BLKIF_STATUS_EOPNOTSUPP || req.id != 1000 + op || req.rsp_op != op) {
			CHECK(!"unknown op answered EOPNOTSUPP with its id and op");
			return;
		}
	}
	CHECK(1);
}

static void test_protocols(void)
{
	CHECK(blkif_abi_from_protocol(NULL, 0) == &blkif_abi_x86_32); /* absent: x86_32, as blkback */
	CHECK(blkif_abi_from_protocol("x86_64-abi", 1) == &blkif_abi_x86_64);
	CHECK(blkif_abi_from_protocol("x86_32-abi", 1) == &blkif_abi_x86_32);
	CHECK(blkif_abi_from_protocol("native", 1) == &blkif_abi_x86_64);
	CHECK(blkif_abi_from_protocol("arm-abi", 1) == NULL);
	CHECK(blkif_abi_from_protocol("", 1) == NULL);
}

/* ---- rings ---- */

static void test_ring_sizes(void)
{
	for (unsigned order = 0; order <= 4; order++) {
		size_t bytes = 4096u << order;
		CHECK(blkif_ring_entries(&blkif_abi_x86_64, bytes) == 32u << order);
		CHECK(blkif_ring_entries(&blkif_abi_x86_32, bytes) == 32u << order);
	}
	CHECK(blkif_ring_entries(&blkif_abi_x86_64, 100) == 0);
}

static uint32_t *idx(uint8_t *sring, size_t off)
{
	return (uint32_t *)(sring + off);
}

/* A frontend's view: produce one request in slot req_prod. */
static void produce(uint8_t *sring, const struct blkif_abi *abi, uint32_t nr_ents, uint64_t id)
{
	uint32_t p = *idx(sring, BLKIF_SRING_REQ_PROD);
	uint8_t *slot = sring + BLKIF_SRING_RING + (size_t)(p & (nr_ents - 1)) * abi->entry_size;
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	if (abi == &blkif_abi_x86_64)
		native_rw(raw, BLKIF_OP_READ, id, 0, 1, 0, 7);
	else
		x32_rw(raw, BLKIF_OP_READ, id, 0, 1, 0, 7);
	memcpy(slot, raw, abi->entry_size);
	*idx(sring, BLKIF_SRING_REQ_PROD) = p + 1;
}

static void test_ring_wrap(const struct blkif_abi *abi, uint32_t start)
{
	static uint8_t sring[4096];
	memset(sring, 0, sizeof(sring));
	/* The frontend initialised the ring long ago: indices near the 32-bit wrap. */
	*idx(sring, BLKIF_SRING_REQ_PROD) = start;
	*idx(sring, BLKIF_SRING_RSP_PROD) = start;
	*idx(sring, BLKIF_SRING_REQ_EVENT) = start + 1;
	*idx(sring, BLKIF_SRING_RSP_EVENT) = start + 1;
	struct blk_back_ring r;
	CHECK(blkif_ring_attach(&r, sring, sizeof(sring), abi) == 0 && r.nr_ents == 32);
	CHECK(blkif_ring_available(&r) == 0);

	uint64_t next_id = 1, expect_id = 1;
	unsigned answered = 0;
	/* 5 rounds of 20 requests: 100 requests through a 32-slot ring, across the wrap. */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 20; i++)
			produce(sring, abi, 32, next_id++);
		int n = blkif_ring_available(&r);
		CHECK(n == 20);
		for (int i = 0; i < n; i++) {
			uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
			struct blkif_request_info req;
			blkif_ring_copy_request(&r, raw);
			CHECK(blkif_decode(abi, raw, &all_on, &req) == BLKIF_STATUS_OKAY);
			if (req.id != expect_id++)
				CHECK(!"requests come out in order");
			blkif_ring_put_response(&r, req.id, req.rsp_op, BLKIF_STATUS_OKAY);
		}
		CHECK(blkif_ring_in_flight(&r) == 0);
		/* The frontend wants an event for the first response after rsp_event. */
		bool notify = blkif_ring_push_responses(&r);
		uint32_t rsp_prod = *idx(sring, BLKIF_SRING_RSP_PROD);
		CHECK(rsp_prod == start + (uint32_t)(20 * (round + 1)));
		CHECK(notify); /* rsp_event (start+1, then rsp_prod+1 each round) falls in every batch */
		/* The frontend consumes the responses and checks ids and ops. */
		for (uint32_t k = rsp_prod - 20; k != rsp_prod; k++) {
			uint8_t *slot = sring + BLKIF_SRING_RING + (size_t)(k & 31) * abi->entry_size;
			uint64_t id;
			memcpy(&id, slot, 8);
			if (id != (uint64_t)(k - start + 1) || slot[8] != BLKIF_OP_READ)
				CHECK(!"response id and op in their slot");
			answered++;
		}
		*idx(sring, BLKIF_SRING_RSP_EVENT) = rsp_prod + 1; /* RING_FINAL_CHECK_FOR_RESPONSES */
	}
	CHECK(answered == 100);

	/* Hold-off: while the frontend has not re-armed rsp_event, later batches notify nobody. */
	for (int batch = 0; batch < 3; batch++) {
		produce(sring, abi, 32, next_id++);
		CHECK(blkif_ring_available(&r) == 1);
		uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
		blkif_ring_copy_request(&r, raw);
		blkif_ring_put_response(&r, next_id - 1, BLKIF_OP_READ, BLKIF_STATUS_OKAY);
		CHECK(blkif_ring_push_responses(&r) == (batch == 0));
	}
	start += 3;
	CHECK(r.req_cons == start + 100 && r.rsp_prod_pvt == start + 100);

	/* Nothing pending: final check arms req_event at req_cons + 1. */
	CHECK(!blkif_ring_final_check(&r));
	CHECK(*idx(sring, BLKIF_SRING_REQ_EVENT) == start + 101);
	produce(sring, abi, 32, 999);
	CHECK(blkif_ring_final_check(&r));
}

static void test_ring_hostile(void)
{
	static uint8_t sring[4096];
	memset(sring, 0, sizeof(sring));
	struct blk_back_ring r;
	CHECK(blkif_ring_attach(&r, sring, sizeof(sring), &blkif_abi_x86_64) == 0);

	/* More outstanding than slots: the ring is stopped. */
	*idx(sring, BLKIF_SRING_REQ_PROD) = 33;
	CHECK(blkif_ring_available(&r) == -1);
	*idx(sring, BLKIF_SRING_REQ_PROD) = 0xFFFFFFF0u; /* "behind" us */
	CHECK(blkif_ring_available(&r) == -1);
	*idx(sring, BLKIF_SRING_REQ_PROD) = 32;
	CHECK(blkif_ring_available(&r) == 32);

	/* With 32 in flight no more may be consumed, even if req_prod races ahead within bounds. */
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];
	for (int i = 0; i < 32; i++)
		blkif_ring_copy_request(&r, raw);
	CHECK(blkif_ring_in_flight(&r) == 32);
	CHECK(blkif_ring_available(&r) == 0);
	blkif_ring_put_response(&r, 1, 0, 0);
	*idx(sring, BLKIF_SRING_REQ_PROD) = 33;
	CHECK(blkif_ring_available(&r) == 1);
	*idx(sring, BLKIF_SRING_REQ_PROD) = 34; /* 34 - rsp_prod_pvt(1) = 33 > 32 */
	CHECK(blkif_ring_available(&r) == -1);

	/* Attaching to a ring whose indices are already impossible fails. */
	memset(sring, 0, sizeof(sring));
	*idx(sring, BLKIF_SRING_REQ_PROD) = 1000;
	CHECK(blkif_ring_attach(&r, sring, sizeof(sring), &blkif_abi_x86_64) == -1);
	CHECK(blkif_ring_attach(&r, sring, 60, &blkif_abi_x86_64) == -1);
}

static void test_x86_32_response_stride(void)
{
	static uint8_t sring[4096];
	memset(sring, 0xAA, sizeof(sring));
	memset(sring, 0, 64);
	struct blk_back_ring r;
	CHECK(blkif_ring_attach(&r, sring, sizeof(sring), &blkif_abi_x86_32) == 0);
	blkif_ring_put_response(&r, 0x0102030405060708ull, BLKIF_OP_WRITE, BLKIF_STATUS_ERROR);
	blkif_ring_put_response(&r, 0x1112131415161718ull, BLKIF_OP_READ, BLKIF_STATUS_EOPNOTSUPP);
	uint8_t *second = sring + 64 + 108;
	uint64_t id;
	int16_t st;
	memcpy(&id, second, 8);
	memcpy(&st, second + 10, 2);
	CHECK(id == 0x1112131415161718ull && second[8] == BLKIF_OP_READ && st == BLKIF_STATUS_EOPNOTSUPP);
	/* A 12-byte i386 response does not spill into the rest of its slot. */
	CHECK(sring[64 + 12] == 0xAA);
}

int main(void)
{
	test_protocols();
	test_rw(&blkif_abi_x86_64, native_rw);
	test_rw(&blkif_abi_x86_32, x32_rw);
	test_flush_barrier(&blkif_abi_x86_64, native_rw);
	test_flush_barrier(&blkif_abi_x86_32, x32_rw);
	test_discard(&blkif_abi_x86_64);
	test_discard(&blkif_abi_x86_32);
	test_indirect(&blkif_abi_x86_64);
	test_indirect(&blkif_abi_x86_32);
	test_indirect_segments();
	test_large_sectors(&blkif_abi_x86_64, native_rw);
	test_large_sectors(&blkif_abi_x86_32, x32_rw);
	test_misaligned(&blkif_abi_x86_64, native_rw);
	test_misaligned(&blkif_abi_x86_32, x32_rw);
	test_unknown_ops(&blkif_abi_x86_64, native_rw);
	test_unknown_ops(&blkif_abi_x86_32, x32_rw);
	test_ring_sizes();
	test_ring_wrap(&blkif_abi_x86_64, 0);
	test_ring_wrap(&blkif_abi_x86_64, 0xFFFFFFF0u);
	test_ring_wrap(&blkif_abi_x86_32, 0xFFFFFFE7u);
	test_ring_hostile();
	test_x86_32_response_stride();
	return check_report("blkif");
}
