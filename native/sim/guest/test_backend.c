/* The loopback tests' backend thread (see test_backend.h). */
#include "sim/guest/test_backend.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "blkif/abi.h"
#include "blkif/request.h"
#include "blkif/ring.h"
#include "sim/hv/hv.h"

#define MAXQ 8

struct tb_ring {
	struct blk_back_ring r;
	struct hv_evtchn ev;
	bool stopped;
};

struct tb {
	struct tb_opts o;
	pthread_t thread;
	pthread_mutex_t lock;
	volatile int stop;
	struct xs_handle *xs;
	struct hv_conn *hv;
	struct hv_domain dom;
	bool mapped, connected;
	char fe[128], be[192];
	uint8_t *disk;
	const struct blkif_abi *abi;
	struct blkif_limits lim;
	struct tb_ring rings[MAXQ];
	unsigned nrings;
	struct tb_counts c;
	uint8_t ibuf[BLKIF_INDIRECT_PAGES * 4096];
	struct blkif_segment segs[BLKIF_MAX_INDIRECT_SEGMENTS];
};

struct tb_opts tb_defaults(uint32_t domid, uint32_t devid)
{
	return (struct tb_opts){ .domid = domid, .devid = devid, .sectors = 16384, .max_order = 4, .max_queues = 4,
				 .max_indirect = 256, .persistent = true, .flush = true, .discard = true,
				 .discard_secure = true, .discard_granularity = 4096, .flip_lba = TB_NEVER,
				 .ignore_write_lba = TB_NEVER, .misdirect_lba = TB_NEVER };
}

static void put(struct tb *b, const char *key, const char *fmt, unsigned long long v)
{
	char path[256], val[32];
	snprintf(path, sizeof(path), "%s/%s", b->be, key);
	snprintf(val, sizeof(val), fmt, v);
	xs_write(b->xs, XBT_NULL, path, val, (unsigned)strlen(val));
}

static long long get(struct tb *b, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;
	char *v;
	long long n;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	v = xs_read(b->xs, XBT_NULL, path, &len);
	if (!v)
		return -1;
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

static void initwait(struct tb *b)
{
	put(b, "max-ring-page-order", "%llu", b->o.max_order);
	put(b, "multi-queue-max-queues", "%llu", b->o.max_queues);
	if (b->o.max_indirect)
		put(b, "feature-max-indirect-segments", "%llu", b->o.max_indirect);
	put(b, "state", "%llu", 2);
}

static void disconnect(struct tb *b)
{
	for (unsigned i = 0; i < b->nrings; i++)
		hv_evtchn_close(b->hv, 0, &b->rings[i].ev);
	b->nrings = 0;
	if (b->mapped)
		hv_domain_unmap(&b->dom);
	b->mapped = b->connected = false;
}

/* Maps one ring: its pages must be contiguous frames (our guest allocates them so). */
static int map_ring(struct tb *b, const char *dir, unsigned order, struct tb_ring *ring)
{
	unsigned npages = 1u << order;
	uint32_t grefs[16];
	uint8_t *base = NULL;
	char key[32];
	int16_t st;

	for (unsigned p = 0; p < npages; p++) {
		uint8_t *page;
		snprintf(key, sizeof(key), order ? "ring-ref%u" : "ring-ref", p);
		if (get(b, dir, key) < 0)
			return -1;
		grefs[p] = (uint32_t)get(b, dir, key);
		page = hv_grant_map(&b->dom, 0, grefs[p], true, &st);
		if (!page || (p && page != base + (size_t)p * 4096))
			return -1;
		if (!p)
			base = page;
	}
	if (blkif_ring_attach(&ring->r, base, (size_t)npages * 4096, b->abi) < 0)
		return -1;
	if (hv_evtchn_bind_interdomain(b->hv, 0, b->o.domid, (uint32_t)get(b, dir, "event-channel"), &ring->ev) < 0)
		return -1;
	ring->stopped = false;
	return 0;
}

static int connect_rings(struct tb *b)
{
	char path[256];
	unsigned int len;
	char *proto;
	long long order = get(b, b->fe, "ring-page-order"), nq = get(b, b->fe, "multi-queue-num-queues");

	snprintf(path, sizeof(path), "%s/protocol", b->fe);
	proto = xs_read(b->xs, XBT_NULL, path, &len);
	b->abi = blkif_abi_from_protocol(proto ? proto : "", proto != NULL);
	snprintf(b->c.protocol, sizeof(b->c.protocol), "%s", proto ? proto : "");
	free(proto);
	if (!b->abi || hv_domain_map(b->hv, b->o.domid, &b->dom) < 0)
		return -1;
	b->mapped = true;
	if (order < 0)
		order = 0;
	if (nq < 1)
		nq = 1;
	if (order > b->o.max_order || nq > b->o.max_queues || nq > MAXQ)
		return -1;
	b->c.order = (unsigned)order;
	b->c.queues = (unsigned)nq;
	for (unsigned q = 0; q < nq; q++) {
		char dir[224];
		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", b->fe);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", b->fe, q);
		if (map_ring(b, dir, (unsigned)order, &b->rings[q]) < 0)
			return -1;
		b->nrings = q + 1;
	}
	b->lim = (struct blkif_limits){ .disk_sectors = b->o.sectors, .max_indirect_segments = (uint16_t)b->o.max_indirect,
				       .readonly = b->o.readonly, .flush = b->o.flush, .barrier = b->o.barrier,
				       .discard = b->o.discard, .discard_secure = b->o.discard_secure };
	put(b, "sectors", "%llu", b->o.sectors);
	put(b, "info", "%llu", b->o.readonly ? 4 : 0);
	put(b, "sector-size", "%llu", 512);
	put(b, "feature-flush-cache", "%llu", b->o.flush);
	put(b, "feature-barrier", "%llu", b->o.barrier);
	put(b, "feature-persistent", "%llu", b->o.persistent);
	if (b->o.discard) {
		put(b, "feature-discard", "%llu", 1);
		put(b, "discard-granularity", "%llu", b->o.discard_granularity);
		put(b, "discard-alignment", "%llu", 0);
		put(b, "discard-secure", "%llu", b->o.discard_secure);
	}
	put(b, "state", "%llu", 4);
	b->connected = true;
	b->c.connects++;
	return 0;
}

/* One segment between the disk and a granted page, with the injected faults. */
static int copy_segment(struct tb *b, const struct blkif_segment *s, uint64_t sector, bool read)
{
	uint32_t off = (uint32_t)s->first_sect << 9, len = blkif_seg_bytes(s, BLKIF_SECTOR_SHIFT);
	uint8_t tmp[4096], *disk = b->disk + sector * 512;
	struct hv_copy_seg cs = { .gref = s->gref, .offset = (uint16_t)off, .len = (uint16_t)len, .local = tmp,
				  .to_foreign = read };

	if (read) {
		memcpy(tmp, disk, len);
		if (b->o.flip_lba >= sector && b->o.flip_lba < sector + len / 512)
			tmp[(b->o.flip_lba - sector) * 512 + 77] ^= 0x20;
		hv_grant_copy(&b->dom, 0, &cs, 1);
		return cs.status == 0 ? 0 : -1;
	}
	hv_grant_copy(&b->dom, 0, &cs, 1);
	if (cs.status != 0)
		return -1;
	for (uint32_t i = 0; i < len / 512; i++) {
		uint64_t lba = sector + i;
		if (lba == b->o.ignore_write_lba)
			continue;
		if (lba == b->o.misdirect_lba && lba >= 8) {
			memcpy(b->disk + (lba - 8) * 512, tmp + i * 512, 512);
			continue;
		}
		memcpy(disk + i * 512, tmp + i * 512, 512);
	}
	return 0;
}

static int16_t execute(struct tb *b, struct blkif_request_info *req)
{
	const struct blkif_segment *segs = req->seg;
	uint64_t sector = req->sector;
	int16_t st;

	switch (req->kind) {
	case BLKIF_KIND_FLUSH:
		return BLKIF_STATUS_OKAY;
	case BLKIF_KIND_DISCARD:
		memset(b->disk + req->sector * 512, 0, req->nr_sectors * 512);
		return BLKIF_STATUS_OKAY;
	default:
		break;
	}
	if (req->indirect) {
		for (unsigned p = 0; p < req->nr_indirect_pages; p++) {
			int16_t gst;
			uint8_t *page = hv_grant_map(&b->dom, 0, req->indirect_grefs[p], false, &gst);
			if (!page)
				return BLKIF_STATUS_ERROR;
			memcpy(b->ibuf + p * 4096, page, 4096);
		}
		st = blkif_decode_indirect(b->ibuf, &b->lim, req, b->segs);
		if (st != BLKIF_STATUS_OKAY)
			return st;
		segs = b->segs;
		b->c.indirect++;
	}
	if (req->nr_segments > b->c.max_segs)
		b->c.max_segs = req->nr_segments;
	if (req->flush_after && req->nr_segments)
		b->c.flushes_with_data++;
	for (unsigned i = 0; i < req->nr_segments; i++) {
		if (copy_segment(b, &segs[i], sector, req->kind == BLKIF_KIND_READ) < 0)
			return BLKIF_STATUS_ERROR;
		sector += blkif_seg_bytes(&segs[i], BLKIF_SECTOR_SHIFT) / 512;
	}
	return BLKIF_STATUS_OKAY;
}

static void serve(struct tb *b, unsigned qi)
{
	struct tb_ring *ring = &b->rings[qi];
	uint8_t raw[BLKIF_MAX_ENTRY_SIZE];

	if (ring->stopped)
		return;
	hv_evtchn_consume(&ring->ev);
	do {
		int n = blkif_ring_available(&ring->r);
		if (n < 0) {
			/* A bogus producer index halts this ring for good and drops the device (as xenblkd). */
			ring->stopped = true;
			b->c.overflow_stops++;
			put(b, "state", "%llu", 5);
			return;
		}
		for (int i = 0; i < n; i++) {
			struct blkif_request_info req;
			int16_t st;
			uint8_t op;

			blkif_ring_copy_request(&ring->r, raw);
			st = blkif_decode(b->abi, raw, &b->lim, &req);
			pthread_mutex_lock(&b->lock);
			b->c.ops[raw[0]]++;
			if (qi < 8)
				b->c.per_queue[qi]++;
			if (raw[0] == BLKIF_OPC_DISCARD && (raw[1] & 1) && st == BLKIF_STATUS_OKAY)
				b->c.secure_discards++;
			if (st == BLKIF_STATUS_OKAY)
				st = execute(b, &req);
			if (st != BLKIF_STATUS_OKAY)
				b->c.errors++;
			op = req.rsp_op;
			if (++b->c.responses == b->o.wrong_op_at)
				op ^= 0x40;
			pthread_mutex_unlock(&b->lock);
			blkif_ring_put_response(&ring->r, req.id, op, st);
		}
		if (blkif_ring_push_responses(&ring->r))
			hv_evtchn_notify(&ring->ev);
	} while (blkif_ring_final_check(&ring->r));
}

static void *tb_main(void *arg)
{
	struct tb *b = arg;
	unsigned tick = 0;

	initwait(b);
	while (!b->stop) {
		struct pollfd pfd[MAXQ];
		unsigned n = b->connected ? b->nrings : 0;

		for (unsigned i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = b->rings[i].ev.fd_in, .events = POLLIN };
		poll(pfd, n, 2);
		for (unsigned i = 0; i < n; i++)
			serve(b, i);
		if (tick++ % 5)
			continue;
		/* The xenbus side, a few times a second is plenty. */
		{
			long long fe = get(b, b->fe, "state"), be = get(b, b->be, "state");
			if (!b->connected && (fe == 3 || fe == 4) && be == 2) {
				if (connect_rings(b) < 0) {
					disconnect(b);
					put(b, "state", "%llu", 5);
				}
			} else if (fe == 5 && be == 4) {
				put(b, "state", "%llu", 5);
			} else if ((fe == 6 || fe < 0) && be != 6) {
				disconnect(b);
				put(b, "state", "%llu", 6);
			} else if (fe == 1 && be == 6) {
				initwait(b);
			}
		}
	}
	disconnect(b);
	return NULL;
}

struct tb *tb_start(const struct tb_opts *o)
{
	struct tb *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->o = *o;
	snprintf(b->fe, sizeof(b->fe), "/local/domain/%u/device/vbd/%u", o->domid, o->devid);
	snprintf(b->be, sizeof(b->be), "/local/domain/0/backend/vbd/%u/%u", o->domid, o->devid);
	b->disk = calloc(o->sectors, 512);
	b->xs = xs_open(XS_OPEN_SOCKETONLY);
	b->hv = hv_connect(NULL);
	pthread_mutex_init(&b->lock, NULL);
	if (!b->disk || !b->xs || !b->hv || pthread_create(&b->thread, NULL, tb_main, b) != 0) {
		free(b->disk);
		if (b->xs)
			xs_close(b->xs);
		if (b->hv)
			hv_disconnect(b->hv);
		free(b);
		return NULL;
	}
	return b;
}

void tb_stop(struct tb *b)
{
	b->stop = 1;
	pthread_join(b->thread, NULL);
	xs_close(b->xs);
	hv_disconnect(b->hv);
	pthread_mutex_destroy(&b->lock);
	free(b->disk);
	free(b);
}

void tb_counts(struct tb *b, struct tb_counts *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->c;
	pthread_mutex_unlock(&b->lock);
}

void tb_set_faults(struct tb *b, uint64_t flip_lba, uint64_t ignore_write_lba, uint64_t misdirect_lba)
{
	pthread_mutex_lock(&b->lock);
	b->o.flip_lba = flip_lba;
	b->o.ignore_write_lba = ignore_write_lba;
	b->o.misdirect_lba = misdirect_lba;
	pthread_mutex_unlock(&b->lock);
}

uint8_t *tb_disk(struct tb *b)
{
	return b->disk;
}
