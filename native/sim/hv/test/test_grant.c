/* Grants: copies and maps both ways, every status, readonly, revocation, pins. */
#include <time.h>
#include <unistd.h>

#include "sim/hv/hv_grant_pin.h"
#include "sim/hv/test/hvt.h"

#define NR_PAGES 8
#define NR_GRANTS 16
#define BACKEND 0 /* the backend is dom0 */

static struct hvt_server srv;
static struct hv_conn *hv;
/* The guest's view and the backend's view of the same domain. */
static struct hv_domain fe, be;

static void setup(uint32_t domid)
{
	CHECK(hv_domain_create(hv, domid, NR_PAGES, NR_GRANTS) == 0);
	CHECK(hv_domain_map(hv, domid, &fe) == 0);
	CHECK(hv_domain_map(hv, domid, &be) == 0);
}

static void teardown(uint32_t domid)
{
	for (uint32_t g = 0; g < NR_GRANTS; g++)
		CHECK(be.active[g] == 0); /* no pin leaked */
	hv_domain_unmap(&fe);
	hv_domain_unmap(&be);
	CHECK(hv_domain_destroy(hv, domid) == 0 || errno == ESRCH);
}

static uint8_t *fe_page(uint32_t frame)
{
	return fe.memory + (size_t)frame * HV_PAGE_SIZE;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static int16_t copy1(uint32_t gref, uint16_t off, uint16_t len, void *buf, bool to_foreign)
{
	struct hv_copy_seg s = { .gref = gref, .offset = off, .len = len, .local = buf, .to_foreign = to_foreign,
				 .status = 99 };
	CHECK(hv_grant_copy(&be, BACKEND, &s, 1) == 0);
	return s.status;
}

static int16_t map1(uint32_t gref, bool writable, void **page)
{
	int16_t st = 99;
	*page = hv_grant_map(&be, BACKEND, gref, writable, &st);
	CHECK((st == GNTST_okay) == (*page != NULL));
	return st;
}

static void test_copy_from_foreign(void)
{
	uint8_t buf[HV_PAGE_SIZE], want[HV_PAGE_SIZE];

	setup(10);
	fill(fe_page(2), HV_PAGE_SIZE, 1);
	memcpy(want, fe_page(2), HV_PAGE_SIZE);
	CHECK(hv_grant_access(&fe, 3, BACKEND, 2, true) == 0);
	CHECK(fe.grants[3].flags == (GTF_permit_access | GTF_readonly) && fe.grants[3].domid == BACKEND &&
	      fe.grants[3].frame == 2);

	memset(buf, 0, sizeof(buf));
	CHECK(copy1(3, 100, 200, buf, false) == GNTST_okay);
	CHECK(memcmp(buf, want + 100, 200) == 0);
	CHECK(copy1(3, 0, HV_PAGE_SIZE, buf, false) == GNTST_okay);
	CHECK(memcmp(buf, want, HV_PAGE_SIZE) == 0);
	CHECK(copy1(3, HV_PAGE_SIZE - 1, 1, buf, false) == GNTST_okay);
	CHECK(buf[0] == want[HV_PAGE_SIZE - 1]);
	/* Done: the in-use flags are gone again. */
	CHECK(fe.grants[3].flags == (GTF_permit_access | GTF_readonly));
	teardown(10);
}

static void test_copy_to_foreign(void)
{
	uint8_t buf[HV_PAGE_SIZE];

	setup(11);
	fill(buf, sizeof(buf), 3);
	CHECK(hv_grant_access(&fe, 4, BACKEND, 3, false) == 0);
	CHECK(copy1(4, 512, 1024, buf, true) == GNTST_okay);
	CHECK(memcmp(fe_page(3) + 512, buf, 1024) == 0);
	for (size_t i = 0; i < HV_PAGE_SIZE; i++)
		if (i < 512 || i >= 1536)
			CHECK(fe_page(3)[i] == 0);
	CHECK(fe.grants[4].flags == GTF_permit_access);
	/* Nothing else in the guest moved. */
	for (uint32_t f = 0; f < NR_PAGES; f++)
		if (f != 3)
			for (size_t i = 0; i < HV_PAGE_SIZE; i++)
				CHECK(fe_page(f)[i] == 0);
	teardown(11);
}

static void test_copy_segments_independent(void)
{
	uint8_t a[64], b[64];
	struct hv_copy_seg segs[3] = {
		{ .gref = 1, .offset = 0, .len = 64, .local = a, .to_foreign = false },
		{ .gref = NR_GRANTS, .offset = 0, .len = 64, .local = a, .to_foreign = false },
		{ .gref = 2, .offset = 64, .len = 64, .local = b, .to_foreign = true },
	};

	setup(12);
	fill(fe_page(0), 64, 5);
	fill(b, sizeof(b), 9);
	CHECK(hv_grant_access(&fe, 1, BACKEND, 0, true) == 0);
	CHECK(hv_grant_access(&fe, 2, BACKEND, 1, false) == 0);
	CHECK(hv_grant_copy(&be, BACKEND, segs, 3) == 0);
	CHECK(segs[0].status == GNTST_okay && segs[1].status == GNTST_bad_gntref && segs[2].status == GNTST_okay);
	CHECK(memcmp(a, fe_page(0), 64) == 0 && memcmp(fe_page(1) + 64, b, 64) == 0);
	CHECK(hv_grant_copy(&be, BACKEND, segs, 0) == 0);
	CHECK_ERR(hv_grant_copy(NULL, BACKEND, segs, 1), EINVAL);
	CHECK_ERR(hv_grant_copy(&be, BACKEND, NULL, 1), EINVAL);
	teardown(12);
}

static void test_status_bad_domain(void)
{
	uint8_t buf[16];
	void *p;

	setup(13);
	CHECK(hv_grant_access(&fe, 0, BACKEND, 0, false) == 0);
	CHECK(copy1(0, 0, 16, buf, false) == GNTST_okay);
	CHECK(hv_domain_destroy(hv, 13) == 0);
	CHECK(copy1(0, 0, 16, buf, false) == GNTST_bad_domain);
	CHECK(copy1(0, 0, 16, buf, true) == GNTST_bad_domain);
	CHECK(map1(0, false, &p) == GNTST_bad_domain);
	teardown(13);
}

static void test_status_bad_gntref(void)
{
	uint8_t buf[16];
	void *p;

	setup(14);
	CHECK(copy1(NR_GRANTS, 0, 16, buf, false) == GNTST_bad_gntref);
	CHECK(copy1(UINT32_MAX, 0, 16, buf, true) == GNTST_bad_gntref);
	CHECK(map1(NR_GRANTS, false, &p) == GNTST_bad_gntref);
	/* Never granted (GTF_invalid). */
	CHECK(copy1(5, 0, 16, buf, false) == GNTST_bad_gntref);
	CHECK(map1(5, false, &p) == GNTST_bad_gntref);
	/* Granted, but not for access. */
	fe.grants[6].domid = BACKEND;
	fe.grants[6].frame = 1;
	fe.grants[6].flags = GTF_accept_transfer;
	CHECK(copy1(6, 0, 16, buf, false) == GNTST_bad_gntref);
	fe.grants[6].flags = GTF_transitive;
	CHECK(copy1(6, 0, 16, buf, true) == GNTST_bad_gntref);
	CHECK(map1(6, false, &p) == GNTST_bad_gntref);
	CHECK(fe.grants[6].flags == GTF_transitive); /* a failed check leaves the entry alone */
	teardown(14);
}

static void test_status_permission_denied(void)
{
	uint8_t buf[16] = { 0 };
	void *p;

	setup(15);
	CHECK(hv_grant_access(&fe, 7, 9 /* some other backend */, 1, false) == 0);
	CHECK(copy1(7, 0, 16, buf, false) == GNTST_permission_denied);
	CHECK(copy1(7, 0, 16, buf, true) == GNTST_permission_denied);
	CHECK(map1(7, false, &p) == GNTST_permission_denied);
	CHECK(fe.grants[7].flags == GTF_permit_access);
	/* ...but that backend may. */
	struct hv_copy_seg s = { .gref = 7, .len = 16, .local = buf, .to_foreign = true };
	CHECK(hv_grant_copy(&be, 9, &s, 1) == 0 && s.status == GNTST_okay);
	teardown(15);
}

static void test_status_bad_page(void)
{
	uint8_t buf[16];
	void *p;

	setup(16);
	CHECK(hv_grant_access(&fe, 8, BACKEND, NR_PAGES, false) == 0);
	CHECK(copy1(8, 0, 16, buf, false) == GNTST_bad_page);
	CHECK(copy1(8, 0, 16, buf, true) == GNTST_bad_page);
	CHECK(map1(8, true, &p) == GNTST_bad_page);
	CHECK(hv_grant_access(&fe, 9, BACKEND, UINT32_MAX, true) == 0);
	CHECK(copy1(9, 0, 16, buf, false) == GNTST_bad_page);
	CHECK(map1(9, false, &p) == GNTST_bad_page);
	/* The pin taken for the check was undone. */
	CHECK(fe.grants[8].flags == GTF_permit_access && fe.grants[9].flags == (GTF_permit_access | GTF_readonly));
	teardown(16);
}

static void test_status_bad_copy_arg(void)
{
	uint8_t buf[HV_PAGE_SIZE];

	setup(17);
	CHECK(hv_grant_access(&fe, 10, BACKEND, 2, false) == 0);
	CHECK(copy1(10, 0, 0, buf, false) == GNTST_bad_copy_arg);
	CHECK(copy1(10, 4000, 97, buf, false) == GNTST_bad_copy_arg);
	CHECK(copy1(10, 1, HV_PAGE_SIZE, buf, true) == GNTST_bad_copy_arg);
	CHECK(copy1(10, 0, HV_PAGE_SIZE + 1, buf, true) == GNTST_bad_copy_arg);
	CHECK(copy1(10, UINT16_MAX, UINT16_MAX, buf, true) == GNTST_bad_copy_arg);
	CHECK(copy1(10, 0, 16, NULL, false) == GNTST_bad_copy_arg);
	CHECK(copy1(10, 4000, 96, buf, false) == GNTST_okay); /* exactly to the end */
	for (size_t i = 0; i < HV_PAGE_SIZE; i++)
		CHECK(fe_page(2)[i] == 0);
	teardown(17);
}

static void test_readonly_refuses_writes(void)
{
	uint8_t buf[32];
	void *p;

	setup(18);
	fill(fe_page(4), HV_PAGE_SIZE, 11);
	CHECK(hv_grant_access(&fe, 11, BACKEND, 4, true) == 0);
	memset(buf, 0xff, sizeof(buf));
	CHECK(copy1(11, 0, 32, buf, true) == GNTST_permission_denied);
	CHECK(fe_page(4)[0] == 11); /* untouched */
	CHECK(map1(11, true, &p) == GNTST_permission_denied);
	CHECK(map1(11, false, &p) == GNTST_okay);
	CHECK(p == be.memory + 4 * HV_PAGE_SIZE && memcmp(p, fe_page(4), HV_PAGE_SIZE) == 0);
	CHECK(copy1(11, 0, 32, buf, false) == GNTST_okay && memcmp(buf, fe_page(4), 32) == 0);
	CHECK(fe.grants[11].flags == (GTF_permit_access | GTF_readonly));
	teardown(18);
}

static void test_writable_map(void)
{
	void *p;
	int16_t st;

	setup(19);
	CHECK(hv_grant_access(&fe, 12, BACKEND, 5, false) == 0);
	CHECK(map1(12, true, &p) == GNTST_okay);
	memset(p, 0x77, HV_PAGE_SIZE);
	CHECK(fe_page(5)[0] == 0x77 && fe_page(5)[HV_PAGE_SIZE - 1] == 0x77);
	CHECK(hv_grant_map(&be, BACKEND, 12, false, NULL) == p); /* status is optional */
	CHECK(hv_grant_map(NULL, BACKEND, 12, false, &st) == NULL && st == GNTST_general_error);
	teardown(19);
}

static void test_revoke(void)
{
	uint8_t buf[16];
	void *p;

	setup(20);
	CHECK(hv_grant_access(&fe, 13, BACKEND, 6, false) == 0);
	CHECK(copy1(13, 0, 16, buf, false) == GNTST_okay);
	CHECK(hv_grant_revoke(&fe, 13) == 0);
	CHECK(fe.grants[13].flags == 0);
	CHECK(copy1(13, 0, 16, buf, false) == GNTST_bad_gntref);
	CHECK(copy1(13, 0, 16, buf, true) == GNTST_bad_gntref);
	CHECK(map1(13, false, &p) == GNTST_bad_gntref);
	CHECK(hv_grant_revoke(&fe, 13) == 0); /* already revoked: nothing to do */
	CHECK(hv_grant_access(&fe, 13, BACKEND, 6, true) == 0);
	CHECK(copy1(13, 0, 16, buf, false) == GNTST_okay);
	CHECK_ERR(hv_grant_access(&fe, NR_GRANTS, BACKEND, 0, false), EINVAL);
	CHECK_ERR(hv_grant_revoke(&fe, NR_GRANTS), EINVAL);
	CHECK_ERR(hv_grant_revoke(NULL, 0), EINVAL);
	teardown(20);
}

/* While a grant is pinned (a copy in progress) its flags say so and revoking fails. */
static void test_revoke_while_in_use(void)
{
	uint32_t frame = 0;

	setup(21);
	CHECK(hv_grant_access(&fe, 14, BACKEND, 7, false) == 0);
	CHECK(hv_grant_pin(&be, BACKEND, 14, false, &frame) == GNTST_okay && frame == 7);
	CHECK(fe.grants[14].flags == (GTF_permit_access | GTF_reading));
	CHECK_ERR(hv_grant_revoke(&fe, 14), EBUSY);
	CHECK(fe.grants[14].flags == (GTF_permit_access | GTF_reading));

	/* A writer on top: GTF_writing until the last writer is done, GTF_reading until the last user. */
	CHECK(hv_grant_pin(&be, BACKEND, 14, true, &frame) == GNTST_okay);
	CHECK(hv_grant_pin(&be, BACKEND, 14, true, &frame) == GNTST_okay);
	CHECK(fe.grants[14].flags == (GTF_permit_access | GTF_reading | GTF_writing));
	hv_grant_unpin(&be, 14, true);
	CHECK(fe.grants[14].flags == (GTF_permit_access | GTF_reading | GTF_writing));
	hv_grant_unpin(&be, 14, true);
	CHECK(fe.grants[14].flags == (GTF_permit_access | GTF_reading));
	CHECK_ERR(hv_grant_revoke(&fe, 14), EBUSY);
	hv_grant_unpin(&be, 14, false);
	CHECK(fe.grants[14].flags == GTF_permit_access);
	CHECK(hv_grant_revoke(&fe, 14) == 0);
	CHECK(hv_grant_pin(&be, BACKEND, 14, false, &frame) == GNTST_bad_gntref);
	teardown(21);
}

/* Copies `iterations` times, or (iterations < 0) until byte 0 of page 0 turns non-zero. */
static void child_copier(uint32_t domid, uint32_t gref, bool to_foreign, int iterations)
{
	struct hv_conn *c = hvt_connect(&srv);
	struct hv_domain d;
	uint8_t buf[HV_PAGE_SIZE];

	CHECK(hv_domain_map(c, domid, &d) == 0);
	memset(buf, 0x11, sizeof(buf));
	for (int i = 0; iterations < 0 ? !__atomic_load_n(&d.memory[0], __ATOMIC_ACQUIRE) : i < iterations; i++) {
		struct hv_copy_seg s = { .gref = gref, .len = HV_PAGE_SIZE, .local = buf, .to_foreign = to_foreign };
		CHECK(hv_grant_copy(&d, BACKEND, &s, 1) == 0);
		CHECK(s.status == GNTST_okay || s.status == GNTST_bad_gntref);
	}
	hv_domain_unmap(&d);
	hv_disconnect(c);
	_exit(0);
}

/* The backend in another process: data crosses both ways. */
static void test_copy_across_processes(void)
{
	pid_t pid;

	setup(22);
	fill(fe_page(1), HV_PAGE_SIZE, 21);
	CHECK(hv_grant_access(&fe, 1, BACKEND, 2, false) == 0);
	pid = hvt_fork();
	if (pid == 0)
		child_copier(22, 1, true, 1);
	CHECK(hvt_wait(pid) == 0);
	for (size_t i = 0; i < HV_PAGE_SIZE; i++)
		CHECK(fe_page(2)[i] == 0x11);
	CHECK(fe.grants[1].flags == GTF_permit_access);
	teardown(22);
}

/* Two processes copying the same grant at once: pins are counted across
 * processes, so the flags end clear and no pin is left. */
static void test_concurrent_copies_same_grant(void)
{
	pid_t a, b;

	setup(23);
	CHECK(hv_grant_access(&fe, 2, BACKEND, 0, true) == 0);
	a = hvt_fork();
	if (a == 0)
		child_copier(23, 2, false, 20000);
	b = hvt_fork();
	if (b == 0)
		child_copier(23, 2, false, 20000);
	CHECK(hvt_wait(a) == 0 && hvt_wait(b) == 0);
	CHECK(fe.grants[2].flags == (GTF_permit_access | GTF_readonly));
	teardown(23);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The guarantee revocation gives: once hv_grant_revoke succeeds, no copy into
 * the page is running or can start. A backend process hammers the grant; each
 * time we revoke successfully we fill the page and check nobody writes it. */
static void test_revoke_races_copies(void)
{
	long end;
	int revoked = 0, busy = 0;
	pid_t pid;

	setup(24);
	CHECK(hv_grant_access(&fe, 3, BACKEND, 4, false) == 0);
	pid = hvt_fork();
	if (pid == 0)
		child_copier(24, 3, true, -1);
	end = now_ms() + 500;
	while (now_ms() < end) {
		if (hv_grant_revoke(&fe, 3) < 0) {
			CHECK(errno == EBUSY);
			busy++;
			continue;
		}
		revoked++;
		memset(fe_page(4), 0xee, HV_PAGE_SIZE);
		for (int spin = 0; spin < 2000; spin++)
			CHECK(fe_page(4)[spin % HV_PAGE_SIZE] == 0xee);
		for (size_t i = 0; i < HV_PAGE_SIZE; i++)
			CHECK(fe_page(4)[i] == 0xee);
		CHECK(hv_grant_access(&fe, 3, BACKEND, 4, false) == 0);
	}
	__atomic_store_n(&fe_page(0)[0], 1, __ATOMIC_RELEASE);
	CHECK(hvt_wait(pid) == 0);
	fprintf(stderr, "    %d revocations, %d refused as busy\n", revoked, busy);
	CHECK(revoked > 0);
	teardown(24);
}

/* A pinned map holds the grant as Xen's map does: the guest cannot end access until it is unmapped. */
static void test_pinned_map_blocks_revoke(void)
{
	int16_t st = 99;
	uint8_t *p;

	setup(26);
	CHECK(hv_grant_access(&fe, 9, BACKEND, 3, false) == 0);
	p = hv_grant_map_pinned(&be, BACKEND, 9, true, &st);
	CHECK(st == GNTST_okay && p == be.memory + 3 * HV_PAGE_SIZE);
	CHECK(fe.grants[9].flags == (GTF_permit_access | GTF_reading | GTF_writing));
	CHECK_ERR(hv_grant_revoke(&fe, 9), EBUSY);
	CHECK(be.audit->maps == 1 && be.audit->maps_held == 1);
	hv_grant_unmap(&be, 9, true);
	CHECK(fe.grants[9].flags == GTF_permit_access);
	CHECK(be.audit->unmaps == 1 && be.audit->maps_held == 0);
	CHECK(hv_grant_revoke(&fe, 9) == 0);
	/* Read-only: a read-only map pins for reading only; a writable one is refused and counted. */
	CHECK(hv_grant_access(&fe, 10, BACKEND, 4, true) == 0);
	CHECK(hv_grant_map_pinned(&be, BACKEND, 10, true, &st) == NULL && st == GNTST_permission_denied);
	CHECK(be.audit->refused[HV_REF_READONLY] == 1);
	CHECK(hv_grant_map_pinned(&be, BACKEND, 10, false, &st) != NULL && st == GNTST_okay);
	CHECK(fe.grants[10].flags == (GTF_permit_access | GTF_readonly | GTF_reading));
	CHECK_ERR(hv_grant_revoke(&fe, 10), EBUSY);
	hv_grant_unmap(&be, 10, false);
	CHECK(hv_grant_revoke(&fe, 10) == 0);
	/* Refusals by reason, seen by the guest's mapping of the same domain. */
	CHECK(hv_grant_map_pinned(&be, BACKEND, 10, false, &st) == NULL && st == GNTST_bad_gntref);
	CHECK(hv_grant_map_pinned(&be, BACKEND, NR_GRANTS, false, &st) == NULL && st == GNTST_bad_gntref);
	CHECK(hv_grant_access(&fe, 11, BACKEND + 5, 4, false) == 0);
	CHECK(hv_grant_map_pinned(&be, BACKEND, 11, false, &st) == NULL && st == GNTST_permission_denied);
	{
		uint8_t buf[8];
		CHECK(hv_grant_access(&fe, 12, BACKEND, 4, false) == 0);
		CHECK(copy1(12, HV_PAGE_SIZE - 4, 8, buf, false) == GNTST_bad_copy_arg);
	}
	CHECK(fe.audit->refused[HV_REF_NOT_GRANTED] == 2 && fe.audit->refused[HV_REF_OTHER_DOMAIN] == 1 &&
	      fe.audit->refused[HV_REF_BAD_RANGE] == 1 && fe.audit->refused[HV_REF_READONLY] == 1);
	CHECK(strcmp(hv_refusal_name(HV_REF_READONLY), "readonly_write") == 0);
	teardown(26);
}

int main(void)
{
	hvt_init();
	hvt_start(&srv, NULL);
	hv = hvt_connect(&srv);
	RUN(test_copy_from_foreign);
	RUN(test_copy_to_foreign);
	RUN(test_copy_segments_independent);
	RUN(test_status_bad_domain);
	RUN(test_status_bad_gntref);
	RUN(test_status_permission_denied);
	RUN(test_status_bad_page);
	RUN(test_status_bad_copy_arg);
	RUN(test_readonly_refuses_writes);
	RUN(test_writable_map);
	RUN(test_revoke);
	RUN(test_revoke_while_in_use);
	RUN(test_copy_across_processes);
	RUN(test_concurrent_copies_same_grant);
	RUN(test_revoke_races_copies);
	RUN(test_pinned_map_blocks_revoke);
	hv_disconnect(hv);
	return hvt_finish();
}
