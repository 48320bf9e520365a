/* The two byte layouts, checked at compile time against Xen's native header. */
#include "blkif/abi.h"

#include <string.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

const struct blkif_abi blkif_abi_x86_64 = {
	.name = XEN_IO_PROTO_ABI_X86_64,
	.entry_size = 112,
	.rw_id = 8, .rw_sector = 16, .rw_seg = 24,
	.discard_id = 8, .discard_sector = 16, .discard_nr_sectors = 24,
	.ind_nr_segments = 2, .ind_id = 8, .ind_sector = 16, .ind_grefs = 28,
	.rsp_size = 16,
};

/* i386 aligns 64-bit fields to 4 bytes and Linux packs the response, so slots are 108 bytes. */
const struct blkif_abi blkif_abi_x86_32 = {
	.name = XEN_IO_PROTO_ABI_X86_32,
	.entry_size = 108,
	.rw_id = 4, .rw_sector = 12, .rw_seg = 20,
	.discard_id = 4, .discard_sector = 12, .discard_nr_sectors = 20,
	.ind_nr_segments = 2, .ind_id = 4, .ind_sector = 12, .ind_grefs = 24,
	.rsp_size = 12,
};

/* Our x86_64 table must be the native layout of the Xen headers we build against. */
_Static_assert(sizeof(union blkif_sring_entry) == 112, "native entry size");
_Static_assert(offsetof(struct blkif_request, id) == 8, "rw id");
_Static_assert(offsetof(struct blkif_request, sector_number) == 16, "rw sector");
_Static_assert(offsetof(struct blkif_request, seg) == 24, "rw segments");
_Static_assert(sizeof(struct blkif_request_segment) == 8, "segment size");
_Static_assert(offsetof(struct blkif_request_discard, nr_sectors) == 24, "discard nr_sectors");
_Static_assert(offsetof(struct blkif_request_indirect, nr_segments) == 2, "indirect nr_segments");
_Static_assert(offsetof(struct blkif_request_indirect, id) == 8, "indirect id");
_Static_assert(offsetof(struct blkif_request_indirect, sector_number) == 16, "indirect sector");
_Static_assert(offsetof(struct blkif_request_indirect, indirect_grefs) == 28, "indirect grefs");
_Static_assert(offsetof(struct blkif_response, operation) == 8, "response op");
_Static_assert(offsetof(struct blkif_response, status) == 10, "response status");
_Static_assert(offsetof(struct blkif_sring, ring) == BLKIF_SRING_RING, "ring offset");

const struct blkif_abi *blkif_abi_from_protocol(const char *protocol, int present)
{
	if (!present)
		return &blkif_abi_x86_32;
	if (strcmp(protocol, XEN_IO_PROTO_ABI_X86_64) == 0 || strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE) == 0 ||
	    strcmp(protocol, "native") == 0)
		return &blkif_abi_x86_64;
	if (strcmp(protocol, XEN_IO_PROTO_ABI_X86_32) == 0)
		return &blkif_abi_x86_32;
	return NULL;
}
