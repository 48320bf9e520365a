/*
 * Unit tests of the guest that need no daemon: argument parsing, the sector
 * verifier, the request encoders (native against Xen's own structs, x86_32
 * against an independent i386 mirror and the offsets of blkif.md §1.3), the
 * front ring indices, and latency percentile arithmetic.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/io/blkif.h>

#include "testing/check.h"
#include "sim/guest/opts.h"
#include "sim/guest/stats.h"
#include "sim/guest/verify.h"
#include "sim/guest/wire.h"


/* ---- options ---- */

static int parse(struct guest_opts *o, char *err, const char *line)
{
	char buf[1024], *argv[64];
	int argc = 0;

	snprintf(buf, sizeof(buf), "xensim-guest %s", line);
	for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return guest_opts_parse(o, argc, argv, err, 256);
}

static void test_opts(void)
{
	struct guest_opts o;
	char err[256];
	uint64_t v;

	CHECK(parse_size("4k", &v) == 0 && v == 4096);
	CHECK(parse_size("1m", &v) == 0 && v == 1048576);
	CHECK(parse_size("1M", &v) == 0 && v == 1048576);
	CHECK(parse_size("4KiB", &v) == 0 && v == 4096);
	CHECK(parse_size("4kb", &v) == 0 && v == 4096);
	CHECK(parse_size("512", &v) == 0 && v == 512);
	CHECK(parse_size("2g", &v) == 0 && v == (2ull << 30));
	CHECK(parse_size("1t", &v) == 0 && v == (1ull << 40));
	CHECK(parse_size("1x", &v) < 0);
	CHECK(parse_size("", &v) < 0);
	CHECK(parse_size("-1", &v) < 0);
	CHECK(parse_size("k", &v) < 0);
	CHECK(parse_size("18446744073709551615k", &v) < 0);

	CHECK(parse(&o, err, "--domid 3") == 0);
	CHECK(o.domid == 3 && o.devid == 51712 && o.rw == RW_READ && o.bs == 4096 && o.iodepth == 1);
	CHECK(o.queues == 1 && o.indirect_segs == 32 && o.persistent && !o.verify && o.rwmixread == 50);
	CHECK(strcmp(o.abi, "x86_64") == 0 && !o.ios_set && o.runtime == 0 && o.timeout == 30);

	CHECK(parse(&o, err,
		    "--domid 7 --devid 51728 --abi x86_32 --rw randrw --rwmixread 70 --bs 1m --iodepth 16 "
		    "--queues 4 --ring-order 3 --runtime 2.5 --ios 1000 --size 64m --offset 1m --seed 42 "
		    "--discard-every 10 --flush-every 5 --fua-every 3 --indirect-segs 256 --persistent 0 --verify "
		    "--verify-state /tmp/x --close --resize-wait 8192 --timeout 5 --page-base 100 --pages 200 "
		    "--gref-base 300 --grefs 400 --no-progress") == 0);
	CHECK(o.domid == 7 && o.devid == 51728 && strcmp(o.abi, "x86_32") == 0 && o.rw == RW_RANDRW);
	CHECK(o.rwmixread == 70 && o.bs == 1048576 && o.iodepth == 16 && o.queues == 4 && o.ring_order == 3);
	CHECK(o.runtime == 2.5 && o.ios_set && o.ios == 1000 && o.size == (64u << 20) && o.offset == (1u << 20));
	CHECK(o.seed == 42 && o.discard_every == 10 && o.flush_every == 5 && o.fua_every == 3);
	CHECK(o.indirect_segs == 256 && !o.persistent && o.verify && strcmp(o.verify_state, "/tmp/x") == 0);
	CHECK(o.close && o.resize_wait_set && o.resize_wait == 8192 && o.timeout == 5);
	CHECK(o.page_base == 100 && o.pages == 200 && o.gref_base == 300 && o.grefs == 400 && o.progress == 0);

	CHECK(parse(&o, err, "--domid 1") == 0 && !o.large_sector);
	CHECK(parse(&o, err, "--domid 1 --large-sector --bs 512") == 0 && o.large_sector && o.bs == 512);
	CHECK(parse(&o, err, "--domid 1 --hostile bad-gref") == 0 && strcmp(o.hostile, "bad-gref") == 0);
	for (int i = 0; hostile_modes[i]; i++) {
		char line[128];
		snprintf(line, sizeof(line), "--domid 1 --hostile %s", hostile_modes[i]);
		CHECK(parse(&o, err, line) == 0);
	}
	CHECK(parse(&o, err, "--domid 1 --help") == 1);
	CHECK(parse(&o, err, "") < 0 && strstr(err, "--domid"));
	CHECK(parse(&o, err, "--domid 0") < 0);
	CHECK(parse(&o, err, "--domid x") < 0);
	CHECK(parse(&o, err, "--domid 1 --bs 1000") < 0 && strstr(err, "512"));
	CHECK(parse(&o, err, "--domid 1 --bs 0") < 0);
	CHECK(parse(&o, err, "--domid 1 --rw sideways") < 0);
	CHECK(parse(&o, err, "--domid 1 --rwmixread 101") < 0);
	CHECK(parse(&o, err, "--domid 1 --ring-order 5") < 0);
	CHECK(parse(&o, err, "--domid 1 --queues 0") < 0);
	CHECK(parse(&o, err, "--domid 1 --iodepth 0") < 0);
	CHECK(parse(&o, err, "--domid 1 --persistent 2") < 0);
	CHECK(parse(&o, err, "--domid 1 --indirect-segs 5000") < 0);
	CHECK(parse(&o, err, "--domid 1 --abi arm") < 0);
	CHECK(parse(&o, err, "--domid 1 --hostile nice") < 0);
	CHECK(parse(&o, err, "--domid 1 --bogus") < 0);
	CHECK(parse(&o, err, "--domid 1 --runtime -1") < 0);
	CHECK(parse(&o, err, "--domid 1 --timeout 0") < 0);
	CHECK(parse(&o, err, "--domid 1 --offset 100") < 0);
	CHECK(parse(&o, err, "--domid 1 --verify-state f") < 0);
	CHECK(parse(&o, err, "--domid 1 extra") < 0);
	CHECK(parse(&o, err, "--domid 1 --devid 70000") < 0);
	/* The second parse must not inherit state from the first (getopt reinitialised). */
	CHECK(parse(&o, err, "--domid 2 --bs 8k") == 0 && o.bs == 8192 && o.domid == 2);
}

/* ---- verifier ---- */

static void test_verify(void)
{
	uint8_t sec[512], orig[512], zero[512] = { 0 };
	struct vfound f;
	const uint32_t run = 99;

	verify_fill_sector(orig, 1234, 7, run);
	memcpy(sec, orig, 512);
	CHECK(verify_check_sector(sec, 1234, 7, run, &f) == V_OK);
	CHECK(f.lba == 1234 && f.gen == 7 && f.run == run && f.crc_ok);
	/* Any single flipped bit is caught: in the payload, the header, the checksum. */
	for (unsigned bit = 0; bit < 512 * 8; bit += 37) {
		memcpy(sec, orig, 512);
		sec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum vkind k = verify_check_sector(sec, 1234, 7, run, &f);
		CHECK(vkind_failed(k));
		if (bit >= 32 && !(bit >= 64 && bit < 128)) /* not in the magic or the LBA */
			CHECK(k == V_CORRUPT);
	}
	memcpy(sec, orig, 512);
	sec[300] ^= 0x10;
	CHECK(verify_check_sector(sec, 1234, 7, run, &f) == V_CORRUPT);
	sec[300] ^= 0x10;
	sec[0] ^= 1;
	CHECK(verify_check_sector(sec, 1234, 7, run, &f) == V_GARBAGE);
	/* Stale: an older generation of the same LBA, or the same one from another run. */
	CHECK(verify_check_sector(orig, 1234, 8, run, &f) == V_STALE && f.gen == 7);
	CHECK(verify_check_sector(orig, 1234, 7, run + 1, &f) == V_STALE);
	CHECK(verify_check_sector(orig, 1234, 6, run, &f) == V_NEWER);
	/* Misplaced: a valid sector of another LBA, whatever was expected here. */
	CHECK(verify_check_sector(orig, 1235, 7, run, &f) == V_MISPLACED && f.lba == 1234);
	CHECK(verify_check_sector(orig, 1235, VGEN_UNKNOWN, run, &f) == V_MISPLACED);
	CHECK(verify_check_sector(orig, 1235, VGEN_UNKNOWN, run + 1, &f) == V_UNKNOWN);
	CHECK(verify_check_sector(orig, 1235, VGEN_ZERO, run, &f) == V_MISPLACED);
	/* Discards: zeroes expected; data there is a failure; zeroes where data was written too. */
	CHECK(verify_check_sector(zero, 1234, VGEN_ZERO, run, &f) == V_ZERO_OK);
	CHECK(verify_check_sector(orig, 1234, VGEN_ZERO, run, &f) == V_NOT_ZERO);
	CHECK(verify_check_sector(zero, 1234, 7, run, &f) == V_ZEROED);
	CHECK(verify_check_sector(zero, 1234, VGEN_UNKNOWN, run, &f) == V_UNKNOWN);
	CHECK(verify_check_sector(orig, 1234, VGEN_UNKNOWN, run, &f) == V_UNKNOWN);
	/* Different sectors and generations give different payloads. */
	verify_fill_sector(sec, 1234, 8, run);
	CHECK(memcmp(sec + 24, orig + 24, 488) != 0);
	verify_fill_sector(sec, 1235, 7, run);
	CHECK(memcmp(sec + 24, orig + 24, 488) != 0);
	/* crc32c check value ("123456789" -> 0xe3069283). */
	CHECK(crc32c(0, "123456789", 9) == 0xe3069283u);
}

static void test_vmodel(void)
{
	struct vmodel m;
	uint8_t buf[16 * 512];
	uint32_t g1, g2;
	char path[] = "/tmp/guest-test-vmodel-XXXXXX";
	int fd;

	CHECK(vmodel_init(&m, 100, 64, 5) == 0);
	CHECK(vmodel_known(&m) == 0);
	g1 = vmodel_new_gen(&m);
	g2 = vmodel_new_gen(&m);
	CHECK(g1 != g2 && g1 && g2);
	vmodel_fill(&m, buf, 104, 16, g1);
	vmodel_set(&m, 104, 16, g1);
	CHECK(vmodel_known(&m) == 16);
	CHECK(vmodel_check(&m, buf, 104, 16) == 0);
	CHECK(m.counts[V_OK] == 16);
	/* One flipped bit in sector 3: one failure, reported at LBA 107. */
	buf[3 * 512 + 100] ^= 4;
	CHECK(vmodel_check(&m, buf, 104, 16) == 1);
	CHECK(m.nreported == 1 && m.reported[0].lba == 107 && m.reported[0].kind == V_CORRUPT);
	buf[3 * 512 + 100] ^= 4;
	/* A newer write acknowledged, the old data read back: stale at every sector. */
	vmodel_set(&m, 104, 2, g2);
	CHECK(vmodel_check(&m, buf, 104, 2) == 2 && m.reported[1].kind == V_STALE && m.reported[1].lba == 104);
	/* The data of 104.. read from 120: misplaced, found LBA reported. */
	vmodel_set(&m, 104, 16, g1);
	vmodel_set(&m, 120, 1, g1);
	CHECK(vmodel_check(&m, buf, 120, 1) == 1 && m.reported[3].kind == V_MISPLACED &&
	      m.reported[3].found.lba == 104);
	/* Discarded: zeroes are right, data is not. */
	vmodel_set(&m, 130, 2, VGEN_ZERO);
	memset(buf, 0, 1024);
	CHECK(vmodel_check(&m, buf, 130, 2) == 0 && m.counts[V_ZERO_OK] == 2);
	/* Outside the region nothing is known. */
	CHECK(vmodel_check(&m, buf, 10, 2) == 0);
	CHECK(m.failures == 4);

	/* The model survives a save and a load; another region is refused. */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK(vmodel_save(&m, path) == 0);
	{
		struct vmodel m2, m3;
		CHECK(vmodel_init(&m2, 100, 64, 1) == 0);
		CHECK(vmodel_load(&m2, path) == 1);
		CHECK(m2.run == 5 && m2.next_gen == m.next_gen && memcmp(m2.gen, m.gen, 64 * 4) == 0);
		CHECK(vmodel_init(&m3, 100, 65, 1) == 0);
		CHECK(vmodel_load(&m3, path) < 0);
		vmodel_fini(&m2);
		vmodel_fini(&m3);
	}
	unlink(path);
	{
		struct vmodel m4;
		CHECK(vmodel_init(&m4, 0, 8, 1) == 0);
		CHECK(vmodel_load(&m4, "/nonexistent/guest-model") == 0);
		vmodel_fini(&m4);
	}
	vmodel_fini(&m);
}

/* ---- encoders ---- */

/* The i386 layouts, declared independently of wire.c: 64-bit fields 4-byte aligned. */
#pragma pack(push, 4)
struct i386_rw {
	uint8_t operation, nr_segments;
	uint16_t handle;
	uint64_t id, sector_number;
	struct blkif_request_segment seg[11];
};
struct i386_discard {
	uint8_t operation, flag;
	uint16_t handle;
	uint64_t id, sector_number, nr_sectors;
};
struct i386_indirect {
	uint8_t operation, indirect_op;
	uint16_t nr_segments;
	uint64_t id, sector_number;
	uint16_t handle, pad;
	uint32_t indirect_grefs[8];
};
#pragma pack(pop)
_Static_assert(sizeof(struct i386_rw) == 108, "i386 request is 108 bytes");
_Static_assert(offsetof(struct i386_rw, id) == 4 && offsetof(struct i386_rw, sector_number) == 12 &&
		       offsetof(struct i386_rw, seg) == 20, "i386 request offsets (blkif.md 1.3)");
_Static_assert(offsetof(struct i386_discard, id) == 4 && offsetof(struct i386_discard, sector_number) == 12 &&
		       offsetof(struct i386_discard, nr_sectors) == 20, "i386 discard offsets");
_Static_assert(offsetof(struct i386_indirect, id) == 4 && offsetof(struct i386_indirect, sector_number) == 12 &&
		       offsetof(struct i386_indirect, handle) == 20 && offsetof(struct i386_indirect, indirect_grefs) == 24,
	       "i386 indirect offsets");

static const struct wire_seg segs[11] = {
	{ 100, 0, 7 }, { 101, 1, 6 }, { 102, 2, 5 }, { 103, 3, 4 }, { 104, 0, 0 }, { 105, 7, 7 },
	{ 106, 0, 7 }, { 107, 0, 7 }, { 108, 0, 7 }, { 109, 0, 7 }, { 0xfffffffeu, 4, 7 },
};

static void test_native(void)
{
	uint8_t slot[112], ref[112];
	struct blkif_request r;
	struct blkif_request_discard dc;
	struct blkif_request_indirect in;
	uint32_t grefs[3] = { 7, 8, 0xabcdef01u };
	const struct wire_layout *l = &wire_x86_64;

	CHECK(l->entry == sizeof(union blkif_sring_entry));
	CHECK(wire_layout_by_name("x86_64") == &wire_x86_64 && wire_layout_by_name("x86_32") == &wire_x86_32);
	CHECK(wire_layout_by_name("arm") == NULL);
	CHECK(strcmp(wire_x86_64.protocol, "x86_64-abi") == 0 && strcmp(wire_x86_32.protocol, "x86_32-abi") == 0);

	/* READ with 11 segments: decode with Xen's struct. */
	memset(slot, 0xee, sizeof(slot));
	wire_put_rw(l, slot, BLKIF_OP_READ, 11, 51712, 0x1122334455667788ull, 0x0102030405060708ull, segs, 11);
	memcpy(&r, slot, sizeof(r));
	CHECK(r.operation == BLKIF_OP_READ && r.nr_segments == 11 && r.handle == 51712);
	CHECK(r.id == 0x1122334455667788ull && r.sector_number == 0x0102030405060708ull);
	for (int i = 0; i < 11; i++)
		CHECK(r.seg[i].gref == segs[i].gref && r.seg[i].first_sect == segs[i].first_sect &&
		      r.seg[i].last_sect == segs[i].last_sect);
	/* And encode with Xen's struct: the same bytes. */
	memset(&r, 0, sizeof(r));
	r.operation = BLKIF_OP_WRITE;
	r.nr_segments = 3;
	r.handle = 768;
	r.id = 31;
	r.sector_number = 1ull << 40;
	for (int i = 0; i < 3; i++) {
		r.seg[i].gref = segs[i].gref;
		r.seg[i].first_sect = segs[i].first_sect;
		r.seg[i].last_sect = segs[i].last_sect;
	}
	memset(ref, 0, sizeof(ref));
	memcpy(ref, &r, sizeof(r));
	wire_put_rw(l, slot, BLKIF_OP_WRITE, 3, 768, 31, 1ull << 40, segs, 3);
	CHECK(memcmp(slot, ref, sizeof(r)) == 0);
	/* A hostile segment count beyond 11 is encoded but only 11 entries are written. */
	wire_put_rw(l, slot, BLKIF_OP_READ, 255, 1, 2, 3, segs, 200);
	memcpy(&r, slot, sizeof(r));
	CHECK(r.nr_segments == 255 && r.seg[10].gref == segs[10].gref);

	/* DISCARD. */
	wire_put_discard(l, slot, BLKIF_DISCARD_SECURE, 51712, 9, 4096, 1ull << 33);
	memcpy(&dc, slot, sizeof(dc));
	CHECK(dc.operation == BLKIF_OP_DISCARD && dc.flag == BLKIF_DISCARD_SECURE && dc.handle == 51712);
	CHECK(dc.id == 9 && dc.sector_number == 4096 && dc.nr_sectors == (1ull << 33));

	/* INDIRECT. */
	wire_put_indirect(l, slot, BLKIF_OP_WRITE, 600, 51712, 17, 123456, grefs, 3);
	memcpy(&in, slot, sizeof(in));
	CHECK(in.operation == BLKIF_OP_INDIRECT && in.indirect_op == BLKIF_OP_WRITE && in.nr_segments == 600);
	CHECK(in.id == 17 && in.sector_number == 123456 && in.handle == 51712);
	CHECK(in.indirect_grefs[0] == 7 && in.indirect_grefs[1] == 8 && in.indirect_grefs[2] == 0xabcdef01u);
	CHECK(in.indirect_grefs[3] == 0);

	/* An indirect segment entry is a struct blkif_request_segment. */
	{
		struct blkif_request_segment s;
		uint8_t e[8];
		wire_put_seg(e, &segs[1]);
		memcpy(&s, e, sizeof(s));
		CHECK(s.gref == segs[1].gref && s.first_sect == 1 && s.last_sect == 6);
	}
	/* Response: id@0, operation@8, status@10 as in Xen's struct. */
	{
		struct blkif_response rsp = { .id = 0xfeedull, .operation = BLKIF_OP_INDIRECT, .status = BLKIF_RSP_EOPNOTSUPP };
		struct wire_rsp w;
		memset(slot, 0, sizeof(slot));
		memcpy(slot, &rsp, sizeof(rsp));
		wire_get_rsp(slot, &w);
		CHECK(w.id == 0xfeed && w.op == BLKIF_OP_INDIRECT && w.status == BLKIF_RSP_EOPNOTSUPP);
	}
}

static void test_x86_32(void)
{
	uint8_t slot[112];
	struct i386_rw r;
	struct i386_discard dc;
	struct i386_indirect in;
	uint32_t grefs[2] = { 55, 66 };
	const struct wire_layout *l = &wire_x86_32;
	uint64_t v;

	CHECK(l->entry == 108);
	memset(slot, 0xee, sizeof(slot));
	wire_put_rw(l, slot, BLKIF_OP_WRITE, 11, 51712, 0x1122334455667788ull, 0x0102030405060708ull, segs, 11);
	/* Byte offsets straight from blkif.md: id@4, sector@12, seg@20. */
	memcpy(&v, slot + 4, 8);
	CHECK(v == 0x1122334455667788ull);
	memcpy(&v, slot + 12, 8);
	CHECK(v == 0x0102030405060708ull);
	CHECK(slot[20 + 4] == segs[0].first_sect && slot[20 + 5] == segs[0].last_sect);
	CHECK(slot[107] == 0 && slot[108] == 0xee); /* exactly one 108-byte slot written */
	memcpy(&r, slot, sizeof(r));
	CHECK(r.operation == BLKIF_OP_WRITE && r.nr_segments == 11 && r.handle == 51712);
	CHECK(r.id == 0x1122334455667788ull && r.sector_number == 0x0102030405060708ull);
	for (int i = 0; i < 11; i++)
		CHECK(r.seg[i].gref == segs[i].gref && r.seg[i].first_sect == segs[i].first_sect &&
		      r.seg[i].last_sect == segs[i].last_sect);

	wire_put_discard(l, slot, 0, 5, 77, 8, 16);
	memcpy(&dc, slot, sizeof(dc));
	CHECK(dc.operation == BLKIF_OP_DISCARD && dc.flag == 0 && dc.handle == 5 && dc.id == 77);
	CHECK(dc.sector_number == 8 && dc.nr_sectors == 16);
	memcpy(&v, slot + 20, 8);
	CHECK(v == 16);

	wire_put_indirect(l, slot, BLKIF_OP_READ, 32, 51712, 3, 99, grefs, 2);
	memcpy(&in, slot, sizeof(in));
	CHECK(in.operation == BLKIF_OP_INDIRECT && in.indirect_op == BLKIF_OP_READ && in.nr_segments == 32);
	CHECK(in.id == 3 && in.sector_number == 99 && in.handle == 51712);
	CHECK(in.indirect_grefs[0] == 55 && in.indirect_grefs[1] == 66);
	{
		uint32_t g;
		memcpy(&g, slot + 24, 4);
		CHECK(g == 55);
	}
}

/* ---- ring ---- */

static void test_ring(void)
{
	static uint8_t page[16 * 4096];
	struct front_ring r;
	uint32_t *sw = (uint32_t *)(void *)page;

	/* Entries per ring: blkif.md §1.2, and Xen's own macro for the native ABI. */
	CHECK(wire_ring_entries(&wire_x86_64, 4096) == __CONST_RING_SIZE(blkif, 4096));
	for (unsigned order = 0; order <= 4; order++) {
		CHECK(wire_ring_entries(&wire_x86_64, 4096u << order) == 32u << order);
		CHECK(wire_ring_entries(&wire_x86_32, 4096u << order) == 32u << order);
	}
	CHECK(wire_ring_entries(&wire_x86_64, 64) == 0);

	memset(page, 0x5a, sizeof(page));
	fring_shared_init(page, 4096);
	CHECK(sw[0] == 0 && sw[1] == 1 && sw[2] == 0 && sw[3] == 1 && page[100] == 0);
	fring_attach(&r, page, 4096, &wire_x86_32);
	CHECK(r.nr_ents == 32 && fring_slot(&r, 0) == page + 64 && fring_slot(&r, 33) == page + 64 + 108);

	/* Notify only when req_event falls inside what we publish. */
	r.req_prod_pvt = 1;
	CHECK(fring_push(&r) && sw[0] == 1);
	sw[1] = 10; /* the backend wants an event when req_prod passes 9 */
	r.req_prod_pvt = 5;
	CHECK(!fring_push(&r));
	r.req_prod_pvt = 10;
	CHECK(fring_push(&r));
	/* Across the 32-bit wrap. */
	sw[0] = 0xfffffffeu;
	sw[1] = 0xffffffffu;
	r.req_prod_pvt = 2;
	CHECK(fring_push(&r) && sw[0] == 2);

	/* Responses: overflow and the final check. */
	r.rsp_cons = 0xfffffff0u;
	r.req_prod_pvt = 0xfffffff0u + 4;
	sw[2] = 0xfffffff0u + 2;
	CHECK(fring_outstanding(&r) == 4 && !fring_full(&r));
	CHECK(!fring_rsp_overflow(&r, fring_rsp_prod(&r)));
	CHECK(fring_rsp_overflow(&r, 0xfffffff0u + 40));
	CHECK(fring_final_check(&r)); /* two unconsumed */
	r.rsp_cons = sw[2];
	CHECK(!fring_final_check(&r) && sw[3] == r.rsp_cons + 1);
	r.rsp_cons = r.req_prod_pvt;
	CHECK(!fring_final_check(&r) && sw[3] == r.rsp_cons + 1);
	r.req_prod_pvt = r.rsp_cons + 32;
	CHECK(fring_full(&r));
}

/* ---- percentiles ---- */

static void test_hist(void)
{
	static struct hist h, h2;

	hist_init(&h);
	CHECK(hist_percentile(&h, 50) == 0 && hist_mean(&h) == 0);
	for (uint64_t v = 1; v <= 100; v++)
		hist_add(&h, v);
	/* Nearest rank, exact below 64 and within a bucket of 1/64 above. */
	CHECK(hist_percentile(&h, 50) == 50);
	CHECK(hist_percentile(&h, 1) == 1);
	CHECK(hist_percentile(&h, 99) == 99);
	CHECK(hist_percentile(&h, 99.9) == 100);
	CHECK(hist_percentile(&h, 100) == 100);
	CHECK(h.min == 1 && h.max == 100 && hist_mean(&h) == 50.5);

	/* One slow outlier in 1000: it is p99.9, not p99. */
	hist_init(&h);
	for (int i = 0; i < 999; i++)
		hist_add(&h, 10);
	hist_add(&h, 1000000);
	CHECK(hist_percentile(&h, 50) == 10 && hist_percentile(&h, 99) == 10);
	CHECK(hist_percentile(&h, 99.9) == 10);
	CHECK(hist_percentile(&h, 99.91) == 1000000 && hist_percentile(&h, 100) == 1000000);

	/* Large values: within 1/64 of the true percentile, never below it. */
	hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_add(&h, v * 1000);
	{
		uint64_t p50 = hist_percentile(&h, 50), p99 = hist_percentile(&h, 99), p999 = hist_percentile(&h, 99.9);
		CHECK(p50 >= 50000000ull && p50 <= 50000000ull + 50000000ull / 64);
		CHECK(p99 >= 99000000ull && p99 <= 99000000ull + 99000000ull / 64);
		CHECK(p999 >= 99900000ull && p999 <= 100000000ull);
	}
	/* Bucket arithmetic: every value lies in its bucket, buckets are ordered. */
	for (uint64_t v = 1; v < (1ull << 62); v = v * 3 + 1) {
		unsigned i = hist_index(v);
		CHECK(hist_bucket_high(i) >= v && (i == 0 || hist_bucket_high(i - 1) < v));
		CHECK(i < HIST_BUCKETS);
	}
	CHECK(hist_index(UINT64_MAX) == HIST_BUCKETS - 1 && hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX);

	hist_init(&h2);
	hist_add(&h2, 5);
	hist_merge(&h2, &h);
	CHECK(h2.count == 100001 && h2.min == 5 && h2.max == 100000000ull);

	{
		static struct run_stats s;
		run_stats_init(&s);
		run_stats_add(&s, ST_READ, 4096, 0, 0, 1000);
		run_stats_add(&s, ST_WRITE, 4096, -1, 0, 2000);
		run_stats_add(&s, ST_DISCARD, 0, -2, 0, 3000);
		run_stats_add(&s, ST_FLUSH, 0, 0, 1, 0);
		CHECK(run_stats_ios(&s) == 4 && run_stats_errors(&s) == 3);
		CHECK(s.k[ST_READ].bytes == 4096 && s.k[ST_WRITE].bytes == 0 && s.k[ST_WRITE].err_io == 1);
		CHECK(s.k[ST_DISCARD].err_eopnotsupp == 1 && s.k[ST_FLUSH].aborted == 1 && s.k[ST_FLUSH].lat.count == 0);
	}
}

int main(void)
{
	test_opts();
	test_verify();
	test_vmodel();
	test_native();
	test_x86_32();
	test_ring();
	test_hist();
	return check_report("guest units");
}
