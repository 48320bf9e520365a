/*
 * The frontend handshake against a backend played by hand in xenstore:
 * what the guest publishes at Initialised (ring references, event channels,
 * queues, protocol, persistent), the grants and ring pages behind those
 * keys, the features it takes at Connected, online resize, the close
 * sequence, the reset of a frontend left Closed, and the failures (no
 * InitWait, missing disk keys). Runs against the real xensim-xenstored and
 * xensim-hv.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/grant_table.h>

#include "sim/guest/blkfront.h"
#include "sim/guest/test_env.h"
#include "sim/hv/hv.h"
#include "sim/toolstack/domain.h"
#include "sim/toolstack/vbd.h"

#define DOMID 5u

static struct hv_conn *hv;
static struct xs_handle *xs0;
static struct hv_domain guestmem;

static void paths(uint32_t devid, char *fe, char *be)
{
	snprintf(fe, 128, "/local/domain/%u/device/vbd/%u", DOMID, devid);
	snprintf(be, 192, "/local/domain/0/backend/vbd/%u/%u", DOMID, devid);
}

static void add_vbd(uint32_t devid)
{
	struct vbd_spec s = { .domid = DOMID, .devid = devid, .backend_domid = 0, .kind = "vbd", .mode = "w",
			      .params = "test", .device_type = "disk" };
	REQUIRE(vbd_add(xs0, &s) == 0);
}

static struct bf_config config(uint32_t devid)
{
	struct bf_config c = { .domid = DOMID, .devid = devid, .layout = &wire_x86_64, .want_queues = 1,
			       .want_ring_order = 0, .want_indirect_segs = 32, .want_persistent = true,
			       .timeout_ms = 5000 };
	return c;
}

static unsigned long num(const char *dir, const char *key)
{
	char *v = te_read(xs0, dir, key);
	unsigned long n = v ? strtoul(v, NULL, 10) : 0xdeadbeef;
	free(v);
	return n;
}

/* The ring behind a published ref: granted to dom0 read-write, SHARED_RING_INIT done. */
static void check_ring_ref(uint32_t gref)
{
	grant_entry_v1_t *e;
	int16_t st;

	REQUIRE(gref < guestmem.nr_grants);
	e = &guestmem.grants[gref];
	CHECK((e->flags & GTF_type_mask) == GTF_permit_access);
	CHECK(!(e->flags & GTF_readonly));
	CHECK(e->domid == 0);
	REQUIRE(e->frame < guestmem.nr_pages);
	CHECK(hv_grant_map(&guestmem, 0, gref, true, &st) != NULL && st == GNTST_okay);
}

static void check_header(uint32_t gref)
{
	uint32_t *hdr = (uint32_t *)(void *)(guestmem.memory + (size_t)guestmem.grants[gref].frame * 4096);
	CHECK(hdr[0] == 0 && hdr[1] == 1 && hdr[2] == 0 && hdr[3] == 1);
}

/* The backend binds the published port; a notification reaches the guest's end. */
static void check_evtchn(struct bf_dev *d, unsigned q, uint32_t port)
{
	struct hv_evtchn be;
	struct pollfd p;

	CHECK(port == d->q[q].ev.local_port);
	REQUIRE(hv_evtchn_bind_interdomain(hv, 0, DOMID, port, &be) == 0);
	CHECK(hv_evtchn_notify(&be) == 0);
	p = (struct pollfd){ .fd = d->q[q].ev.fd_in, .events = POLLIN };
	CHECK(poll(&p, 1, 2000) == 1);
	CHECK(hv_evtchn_consume(&d->q[q].ev) >= 1);
	/* And the other way. */
	CHECK(hv_evtchn_notify(&d->q[q].ev) == 0);
	p = (struct pollfd){ .fd = be.fd_in, .events = POLLIN };
	CHECK(poll(&p, 1, 2000) == 1);
	hv_evtchn_close(hv, 0, &be);
}

static void backend_initwait(const char *be, const char *order, const char *queues, const char *indirect,
			     const char *persistent)
{
	if (order)
		te_write(xs0, be, "max-ring-page-order", order);
	if (queues)
		te_write(xs0, be, "multi-queue-max-queues", queues);
	if (indirect)
		te_write(xs0, be, "feature-max-indirect-segments", indirect);
	if (persistent)
		te_write(xs0, be, "feature-persistent", persistent);
	te_write(xs0, be, "state", "2");
}

/* Multi-queue, multi-page, native: up to Initialised, then Connected, resize, close. */
static void test_mq(void)
{
	char fe[128], be[192], q[160], key[32];
	struct bf_config c = config(51712);
	struct bf_dev d;
	struct te_mirror *m;
	uint32_t ring_grefs[2][4];

	paths(51712, fe, be);
	add_vbd(51712);
	backend_initwait(be, "2", "4", "256", "1");
	c.want_queues = 2;
	c.want_ring_order = 4; /* more than offered: clamped to 2 */
	c.large_sector = true;
	te_use_xs_of(DOMID);
	REQUIRE(bf_handshake_init(&d, hv, &c) == 0);
	te_use_xs_of(0);

	CHECK(d.state == XB_INITIALISED && te_is(xs0, fe, "state", "3"));
	CHECK(d.f.ring_order == 2 && d.f.queues == 2 && d.nq == 2 && d.f.ring_entries == 128);
	CHECK(d.f.be_max_queues == 4 && d.f.be_max_ring_order == 2 && d.f.be_max_indirect == 256 && d.f.be_persistent);
	CHECK(te_is(xs0, fe, "ring-page-order", "2"));
	CHECK(te_is(xs0, fe, "multi-queue-num-queues", "2"));
	CHECK(te_is(xs0, fe, "ring-ref", NULL) && te_is(xs0, fe, "ring-ref0", NULL));
	CHECK(te_is(xs0, fe, "event-channel", NULL));
	CHECK(te_is(xs0, fe, "protocol", "x86_64-abi"));
	CHECK(te_is(xs0, fe, "feature-persistent", "1"));
	CHECK(te_is(xs0, fe, "feature-large-sector-size", "1"));
	for (unsigned i = 0; i < 2; i++) {
		snprintf(q, sizeof(q), "%s/queue-%u", fe, i);
		CHECK(te_is(xs0, q, "ring-ref", NULL));
		for (unsigned p = 0; p < 4; p++) {
			snprintf(key, sizeof(key), "ring-ref%u", p);
			ring_grefs[i][p] = (uint32_t)num(q, key);
			CHECK(ring_grefs[i][p] == d.q[i].ring_grefs[p]);
			check_ring_ref(ring_grefs[i][p]);
			/* Contiguous pages in our memory: page p of the ring is frame first+p. */
			CHECK(guestmem.grants[ring_grefs[i][p]].frame == d.q[i].ring_page + p);
		}
		check_header(ring_grefs[i][0]);
		check_evtchn(&d, i, (uint32_t)num(q, "event-channel"));
	}
	CHECK(ring_grefs[0][0] != ring_grefs[1][0]);

	/* Connected: the disk and its features. */
	te_write(xs0, be, "sectors", "2097152");
	te_write(xs0, be, "info", "0");
	te_write(xs0, be, "sector-size", "512");
	te_write(xs0, be, "feature-flush-cache", "1");
	te_write(xs0, be, "feature-discard", "1");
	te_write(xs0, be, "discard-granularity", "4096");
	te_write(xs0, be, "discard-alignment", "0");
	te_write(xs0, be, "discard-secure", "1");
	te_write(xs0, be, "state", "4");
	REQUIRE(bf_handshake_connect(&d) == 0);
	CHECK(te_is(xs0, fe, "state", "4") && d.connected);
	CHECK(d.f.sectors == 2097152 && d.f.sector_size == 512 && d.f.physical_sector_size == 512 && !d.f.readonly);
	CHECK(d.f.flush && !d.f.barrier && d.f.discard && d.f.discard_secure && d.f.discard_granularity == 4096);
	CHECK(d.f.persistent && d.f.indirect_segs == 32 && d.f.max_segs == 32);
	/* A backend that kept 512-byte sectors: so does the wire. */
	CHECK(d.f.unit_shift == 0 && bf_disk_sectors(&d) == 2097152);

	/* Online resize as blkback does it: sectors, then state rewritten, in one transaction. */
	{
		xs_transaction_t t;
		char p1[256], p2[256];
		snprintf(p1, sizeof(p1), "%s/sectors", be);
		snprintf(p2, sizeof(p2), "%s/state", be);
		do {
			t = xs_transaction_start(xs0);
			xs_write(xs0, t, p1, "4194304", 7);
			xs_write(xs0, t, p2, "4", 1);
		} while (!xs_transaction_end(xs0, t, false) && errno == EAGAIN);
		for (int i = 0; i < 200 && d.f.sectors != 4194304; i++)
			bf_poll(&d, 10);
		CHECK(d.f.sectors == 4194304 && d.resizes == 1);
		/* Only `sectors` changing (no state rewrite) is seen too. */
		te_write(xs0, be, "sectors", "4194816");
		for (int i = 0; i < 200 && d.f.sectors != 4194816; i++)
			bf_poll(&d, 10);
		CHECK(d.f.sectors == 4194816 && d.resizes == 2 && !d.backend_closing);
	}

	/* Close: Closing, the backend follows, grants revoked, Closed. */
	m = te_mirror_start(fe, be);
	CHECK(bf_close(&d, true) == 0);
	te_mirror_stop(m);
	CHECK(te_is(xs0, fe, "state", "6") && te_is(xs0, be, "state", "6") && d.state == XB_CLOSED);
	for (unsigned i = 0; i < 2; i++)
		for (unsigned p = 0; p < 4; p++)
			CHECK(guestmem.grants[ring_grefs[i][p]].flags == 0);
	CHECK(d.mem.revoke_failures == 0);
	bf_fini(&d);

	/* A frontend found Closed is walked back to Initialising; the backend prepares to reconnect. */
	m = te_mirror_start(fe, be);
	c = config(51712);
	te_use_xs_of(DOMID);
	CHECK(bf_handshake_init(&d, hv, &c) == 0);
	te_use_xs_of(0);
	te_mirror_stop(m);
	CHECK(te_is(xs0, fe, "state", "3"));
	/* One queue, one page now: nothing of the earlier transport is left for the backend to misread. */
	CHECK(te_is(xs0, fe, "multi-queue-num-queues", NULL) && te_is(xs0, fe, "ring-page-order", NULL));
	CHECK(te_is(xs0, fe, "queue-0", NULL) && te_is(xs0, fe, "queue-1", NULL));
	CHECK(num(fe, "ring-ref") == d.q[0].ring_grefs[0]);
	CHECK(num(fe, "event-channel") == d.q[0].ev.local_port);
	bf_fini(&d);
}

/* One queue, one page, x86_32, no persistent: the top-level keys. */
static void test_single_x86_32(void)
{
	char fe[128], be[192];
	struct bf_config c = config(51728);
	struct bf_dev d;

	paths(51728, fe, be);
	add_vbd(51728);
	backend_initwait(be, NULL, NULL, NULL, NULL); /* an old backend: no feature keys at all */
	c.want_queues = 4;
	c.want_ring_order = 3;
	c.want_persistent = false;
	c.layout = &wire_x86_32;
	te_use_xs_of(DOMID);
	REQUIRE(bf_handshake_init(&d, hv, &c) == 0);
	te_use_xs_of(0);
	CHECK(d.f.queues == 1 && d.f.ring_order == 0 && d.f.ring_entries == 32);
	CHECK(te_is(xs0, fe, "state", "3"));
	CHECK(te_is(xs0, fe, "ring-page-order", NULL) && te_is(xs0, fe, "multi-queue-num-queues", NULL));
	CHECK(te_is(xs0, fe, "ring-ref0", NULL));
	CHECK(num(fe, "ring-ref") == d.q[0].ring_grefs[0]);
	check_ring_ref(d.q[0].ring_grefs[0]);
	check_header(d.q[0].ring_grefs[0]);
	check_evtchn(&d, 0, (uint32_t)num(fe, "event-channel"));
	CHECK(te_is(xs0, fe, "protocol", "x86_32-abi"));
	CHECK(te_is(xs0, fe, "feature-persistent", "0"));
	CHECK(te_is(xs0, fe, "feature-large-sector-size", NULL));

	/* Connected by a backend without optional features, read-only and barrier-only. */
	te_write(xs0, be, "sectors", "1000");
	te_write(xs0, be, "info", "4");
	te_write(xs0, be, "sector-size", "512");
	te_write(xs0, be, "feature-barrier", "1");
	te_write(xs0, be, "feature-persistent", "1");
	te_write(xs0, be, "feature-max-indirect-segments", "8"); /* <= 11: no indirect */
	te_write(xs0, be, "state", "4");
	REQUIRE(bf_handshake_connect(&d) == 0);
	CHECK(d.f.readonly && d.f.barrier && !d.f.flush && !d.f.discard && !d.f.persistent);
	CHECK(d.f.indirect_segs == 0 && d.f.max_segs == 11 && d.f.sectors == 1000);

	/* The backend leaving Connected is noticed (toolstack unplug). */
	te_write(xs0, be, "state", "5");
	for (int i = 0; i < 200 && !d.backend_closing; i++)
		bf_poll(&d, 10);
	CHECK(d.backend_closing);
	bf_fini(&d);
}

/* A backend that never gets to InitWait: a bounded wait and a clear error. */
static void test_no_initwait(void)
{
	char fe[128], be[192];
	struct bf_config c = config(51744);
	struct bf_dev d;

	paths(51744, fe, be);
	add_vbd(51744);
	c.timeout_ms = 300;
	te_use_xs_of(DOMID);
	CHECK(bf_handshake_init(&d, hv, &c) < 0);
	te_use_xs_of(0);
	CHECK(strstr(d.err, "InitWait") != NULL);
	CHECK(te_is(xs0, fe, "state", "1"));
	bf_fini(&d);
}

/* Connected without `sectors`: xenbus_dev_fatal, the error node and Closing. */
static void test_missing_sectors(void)
{
	char fe[128], be[192], err[160];
	struct bf_config c = config(51760);
	struct bf_dev d;

	paths(51760, fe, be);
	add_vbd(51760);
	backend_initwait(be, "0", "1", NULL, NULL);
	te_use_xs_of(DOMID);
	REQUIRE(bf_handshake_init(&d, hv, &c) == 0);
	te_use_xs_of(0);
	te_write(xs0, be, "info", "0");
	te_write(xs0, be, "sector-size", "512");
	te_write(xs0, be, "state", "4");
	CHECK(bf_handshake_connect(&d) < 0);
	CHECK(te_is(xs0, fe, "state", "5"));
	snprintf(err, sizeof(err), "/local/domain/%u/error/device/vbd/51760", DOMID);
	{
		char *v = te_read(xs0, err, "error");
		CHECK(v && strstr(v, "sectors"));
		free(v);
	}
	bf_fini(&d);
}

/* The frontend directory removed under us: switching state must not recreate it. */
static void test_removed(void)
{
	char fe[128], be[192];
	struct bf_config c = config(51776);
	struct bf_dev d;

	paths(51776, fe, be);
	add_vbd(51776);
	backend_initwait(be, NULL, NULL, NULL, NULL);
	te_use_xs_of(DOMID);
	REQUIRE(bf_handshake_init(&d, hv, &c) == 0);
	te_use_xs_of(0);
	CHECK(xs_rm(xs0, XBT_NULL, fe));
	CHECK(xb_switch_state(&d.xb, XB_CLOSED) < 0);
	CHECK(te_is(xs0, fe, "state", NULL));
	bf_fini(&d);
}

int main(void)
{
	te_start();
	hv = hv_connect(NULL);
	REQUIRE(hv);
	xs0 = xs_open(XS_OPEN_SOCKETONLY);
	REQUIRE(xs0);
	REQUIRE(domain_create(hv, xs0, DOMID, 2048, 1024) == 0);
	REQUIRE(hv_domain_map(hv, DOMID, &guestmem) == 0);

	test_mq();
	test_single_x86_32();
	test_no_initwait();
	test_missing_sectors();
	test_removed();

	hv_domain_unmap(&guestmem);
	xs_close(xs0);
	hv_disconnect(hv);
	te_stop();
	printf("guest handshake: %d passed, %d failed\n", te_passed, te_failed);
	return te_failed ? 1 : 0;
}
