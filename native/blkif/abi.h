/*
 * The blkif ABIs as byte layouts. A request is copied out of the shared ring
 * as raw bytes and decoded field by field from these offsets, so the same
 * code reads the native/x86_64 and the x86_32 layouts (which differ in the
 * alignment of 64-bit fields and in the entry stride: 112 vs 108 bytes).
 * Offsets follow Xen's io/blkif.h; abi.c checks the native ones against it.
 */
#ifndef BLKIF_ABI_H
#define BLKIF_ABI_H

#include <stddef.h>
#include <stdint.h>

enum blkif_abi_kind { BLKIF_ABI_X86_64 = 0, BLKIF_ABI_X86_32 = 1 };

struct blkif_abi {
	const char *name;    /* the xenstore `protocol` string */
	size_t entry_size;   /* ring slot stride */
	/* READ / WRITE / FLUSH / BARRIER request */
	size_t rw_id, rw_sector, rw_seg;
	/* DISCARD request (flag at byte 1) */
	size_t discard_id, discard_sector, discard_nr_sectors;
	/* INDIRECT request (indirect_op at byte 1) */
	size_t ind_nr_segments, ind_id, ind_sector, ind_grefs;
	/* response: id @0 (u64), operation @8 (u8), status @10 (i16) */
	size_t rsp_size;
};

extern const struct blkif_abi blkif_abi_x86_64;
extern const struct blkif_abi blkif_abi_x86_32;

/*
 * The ABI for a frontend's `protocol` key: NULL (absent) means x86_32, as
 * blkback assumes on x86; unknown strings give NULL (the caller refuses the
 * frontend).
 */
const struct blkif_abi *blkif_abi_from_protocol(const char *protocol, int present);

/* Largest entry size among ABIs, for stack buffers. */
#define BLKIF_MAX_ENTRY_SIZE 112u

/* Ring header (struct blkif_sring): the same for every ABI. */
#define BLKIF_SRING_REQ_PROD 0u
#define BLKIF_SRING_REQ_EVENT 4u
#define BLKIF_SRING_RSP_PROD 8u
#define BLKIF_SRING_RSP_EVENT 12u
#define BLKIF_SRING_RING 64u

#endif
