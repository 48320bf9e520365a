/*
 * Fuzz target: blkif request decoding and validation, both ABIs, indirect
 * pages included. The input is the guest's side: a first byte choosing the
 * ABI, what the device advertised and the sector unit (its top bit: 4096-byte
 * sectors), the disk size (its low bit, with 512-byte sectors: a store of
 * 4096-byte blocks), one ring slot, then the indirect pages. Whatever decode accepts must be safe to act on; anything
 * else is a finding (abort, so that libFuzzer and the replay driver stop).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkif/request.h"
#include "fuzz/fuzz.h"

unsigned long fuzz_accepted;
const struct fuzz_replay fuzz_replay = { "fuzz/corpus/request", 100000 };

static void finding(const char *what)
{
	fprintf(stderr, "fuzz_request: accepted an unsafe request: %s\n", what);
	abort();
}

/*
 * The segments of an accepted request: inside their page, in whole blocks of
 * the store, and in sector count what the request says.
 */
static void check_segments(const struct blkif_limits *lim, const struct blkif_request_info *req,
			   const struct blkif_segment *segs)
{
	unsigned shift = blkif_shift(lim);
	uint64_t sectors = 0;
	for (unsigned i = 0; i < req->nr_segments; i++) {
		if (segs[i].first_sect > segs[i].last_sect ||
		    blkif_seg_offset(&segs[i], shift) + blkif_seg_bytes(&segs[i], shift) > 4096)
			finding("segment outside its page");
		if ((segs[i].first_sect & lim->block_mask) || ((segs[i].last_sect + 1u) & lim->block_mask))
			finding("segment not in whole blocks of the store");
		sectors += (uint64_t)(segs[i].last_sect - segs[i].first_sect + 1);
	}
	if (sectors != req->nr_sectors)
		finding("sector count differs from the segments'");
}

/* The range of an accepted request: inside the disk, in bytes without overflow, on a block boundary. */
static void check_range(const struct blkif_limits *lim, const struct blkif_request_info *req)
{
	if (req->sector > lim->disk_sectors || req->nr_sectors > lim->disk_sectors - req->sector)
		finding("a request past the end of the disk");
	if (req->sector + req->nr_sectors > (UINT64_MAX >> blkif_shift(lim)))
		finding("a byte range that overflows");
	if ((req->sector & lim->block_mask) || (req->nr_sectors & lim->block_mask))
		finding("a range not in whole blocks of the store");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9)
		return 0;
	const struct blkif_abi *abi = (data[0] & 1) ? &blkif_abi_x86_32 : &blkif_abi_x86_64;
	struct blkif_limits lim = {
		.readonly = data[0] & 2,
		.flush = data[0] & 4,
		.barrier = data[0] & 8,
		.discard = data[0] & 16,
		.discard_secure = data[0] & 32,
		.max_indirect_segments = (data[0] & 64) ? BLKIF_MAX_INDIRECT_SEGMENTS : 0,
	};
	memcpy(&lim.disk_sectors, data + 1, sizeof(lim.disk_sectors));
	if (data[0] & 128)
		lim.sector_shift = BLKIF_LARGE_SECTOR_SHIFT;
	else
		lim.block_mask = (data[1] & 1) ? 7 : 0;
	data += 9;
	size -= 9;

	/* The slot as the backend copies it out of the ring: exactly entry_size bytes. */
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE] = { 0 };
	size_t n = size < abi->entry_size ? size : abi->entry_size;
	memcpy(raw, data, n);
	data += n;
	size -= n;

	struct blkif_request_info req;
	if (blkif_decode(abi, raw, &lim, &req) != BLKIF_STATUS_OKAY)
		return 0;
	fuzz_accepted++;
	if (lim.readonly && (req.kind == BLKIF_KIND_WRITE || req.kind == BLKIF_KIND_DISCARD))
		finding("a write on a read-only device");
	if (req.kind == BLKIF_KIND_DISCARD && !lim.discard)
		finding("a discard that was not advertised");
	if (req.indirect) {
		if (!lim.max_indirect_segments || req.nr_segments > lim.max_indirect_segments)
			finding("indirect beyond what was advertised");
		if (req.nr_indirect_pages > BLKIF_INDIRECT_PAGES ||
		    (unsigned)req.nr_indirect_pages * BLKIF_SEGMENTS_PER_INDIRECT_PAGE < req.nr_segments)
			finding("indirect page count does not hold the segments");
		/* The indirect pages, copied as the backend would: what the input has, zeroes after. */
		size_t len = (size_t)req.nr_indirect_pages * 4096;
		uint8_t *pages = calloc(1, len ? len : 1);
		struct blkif_segment *segs = calloc(req.nr_segments ? req.nr_segments : 1, sizeof(*segs));
		if (!pages || !segs)
			abort();
		memcpy(pages, data, size < len ? size : len);
		if (blkif_decode_indirect(pages, &lim, &req, segs) == BLKIF_STATUS_OKAY) {
			check_segments(&lim, &req, segs);
			check_range(&lim, &req);
		}
		free(pages);
		free(segs);
		return 0;
	}
	if (req.kind == BLKIF_KIND_READ || req.kind == BLKIF_KIND_WRITE) {
		if (req.nr_segments > BLKIF_DIRECT_SEGMENTS)
			finding("more direct segments than a slot holds");
		check_segments(&lim, &req, req.seg);
	}
	if (req.nr_sectors)
		check_range(&lim, &req);
	return 0;
}
