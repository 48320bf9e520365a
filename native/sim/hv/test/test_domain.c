/* Domains: create, map, share between mappings and processes, destroy; errors. */
#include <stdlib.h>
#include <unistd.h>

#include "sim/hv/test/hvt.h"

static struct hvt_server srv;

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void test_create_map_destroy(void)
{
	struct hv_conn *hv = hvt_connect(&srv);
	struct hv_domain d, d2;
	const size_t last = 16 * HV_PAGE_SIZE - 1;

	CHECK(hv_domain_create(hv, 1, 16, 32) == 0);
	CHECK(hv_domain_map(hv, 1, &d) == 0);
	CHECK(d.domid == 1 && d.nr_pages == 16 && d.nr_grants == 32);
	CHECK(d.status->alive == 1 && d.status->domid == 1);
	CHECK(d.status->nr_pages == 16 && d.status->nr_grants == 32);
	CHECK(all_zero(d.memory, 16 * HV_PAGE_SIZE));
	CHECK(all_zero(d.grants, 32 * sizeof(grant_entry_v1_t)));
	CHECK(all_zero(d.active, 32 * sizeof(uint32_t)));
	d.memory[last] = 0x5a;

	CHECK(hv_domain_destroy(hv, 1) == 0);
	CHECK(d.status->alive == 0);
	CHECK(d.memory[last] == 0x5a); /* still valid memory for whoever maps it */
	CHECK_ERR(hv_domain_map(hv, 1, &d2), ESRCH);
	CHECK(d2.memory == NULL);
	CHECK_ERR(hv_domain_destroy(hv, 1), ESRCH);

	/* The domid is free again, with fresh memory; the old mapping stays dead. */
	CHECK(hv_domain_create(hv, 1, 4, 8) == 0);
	CHECK(hv_domain_map(hv, 1, &d2) == 0);
	CHECK(d2.nr_pages == 4 && d2.nr_grants == 8 && d2.status->alive == 1);
	CHECK(all_zero(d2.memory, 4 * HV_PAGE_SIZE));
	CHECK(d.status->alive == 0 && d.memory[last] == 0x5a);
	CHECK(hv_domain_destroy(hv, 1) == 0);
	CHECK(d2.status->alive == 0);

	hv_domain_unmap(&d);
	hv_domain_unmap(&d2);
	CHECK(d.memory == NULL && d.status == NULL);
	hv_domain_unmap(&d); /* harmless twice */
	hv_disconnect(hv);
}

static void test_create_errors(void)
{
	struct hv_conn *hv = hvt_connect(&srv);
	struct hv_domain d;

	CHECK(hv_domain_create(hv, 2, 1, 1) == 0);
	CHECK_ERR(hv_domain_create(hv, 2, 1, 1), EEXIST);
	CHECK_ERR(hv_domain_create(hv, 0, 1, 1), EEXIST); /* dom0 always exists */
	CHECK_ERR(hv_domain_create(hv, 3, 0, 1), EINVAL);
	CHECK_ERR(hv_domain_create(hv, 3, HV_MAX_NR_PAGES + 1, 1), EINVAL);
	CHECK_ERR(hv_domain_create(hv, 3, UINT32_MAX, 1), EINVAL);
	CHECK_ERR(hv_domain_create(hv, 3, 1, 0), EINVAL);
	CHECK_ERR(hv_domain_create(hv, 3, 1, HV_MAX_NR_GRANTS + 1), EINVAL);
	CHECK_ERR(hv_domain_create(hv, DOMID_FIRST_RESERVED, 1, 1), EINVAL);
	CHECK_ERR(hv_domain_create(hv, UINT32_MAX, 1, 1), EINVAL);
	CHECK_ERR(hv_domain_destroy(hv, 0), EPERM);
	CHECK_ERR(hv_domain_map(hv, 0, &d), ENODEV);
	CHECK_ERR(hv_domain_map(hv, 4242, &d), ESRCH);
	CHECK_ERR(hv_domain_map(hv, UINT32_MAX, &d), ESRCH);
	CHECK_ERR(hv_domain_destroy(hv, 4242), ESRCH);
	CHECK(hv_domain_destroy(hv, 2) == 0);

	/* The largest domain is accepted and fully usable (the memfd is sparse). */
	CHECK(hv_domain_create(hv, 3, HV_MAX_NR_PAGES, HV_MAX_NR_GRANTS) == 0);
	CHECK(hv_domain_map(hv, 3, &d) == 0);
	d.memory[(size_t)HV_MAX_NR_PAGES * HV_PAGE_SIZE - 1] = 1;
	d.grants[HV_MAX_NR_GRANTS - 1].frame = 1;
	d.active[HV_MAX_NR_GRANTS - 1] = 0;
	hv_domain_unmap(&d);
	CHECK(hv_domain_destroy(hv, 3) == 0);
	hv_disconnect(hv);
}

static void test_connect_errors(void)
{
	char longpath[200];
	struct hv_conn *hv;

	errno = 0;
	CHECK(hv_connect("/nonexistent/xensim-hv.sock") == NULL && errno == ENOENT);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	errno = 0;
	CHECK(hv_connect(longpath) == NULL && errno == ENAMETOOLONG);

	unsetenv("XENSIM_HV_PATH");
	errno = 0;
	CHECK(hv_connect(NULL) == NULL && errno == EINVAL);
	setenv("XENSIM_HV_PATH", srv.path, 1);
	hv = hv_connect(NULL);
	CHECK(hv != NULL);
	CHECK(hv_domain_create(hv, 5, 1, 1) == 0 && hv_domain_destroy(hv, 5) == 0);
	hv_disconnect(hv);
	hv_disconnect(NULL);
}

static void test_two_mappings_share(void)
{
	struct hv_conn *hv = hvt_connect(&srv);
	struct hv_domain a, b;

	CHECK(hv_domain_create(hv, 6, 4, 8) == 0);
	CHECK(hv_domain_map(hv, 6, &a) == 0 && hv_domain_map(hv, 6, &b) == 0);
	CHECK(a.memory != b.memory);
	a.memory[2 * HV_PAGE_SIZE + 7] = 0x42;
	CHECK(b.memory[2 * HV_PAGE_SIZE + 7] == 0x42);
	b.grants[5].frame = 77;
	CHECK(a.grants[5].frame == 77);
	b.active[3] = 9;
	CHECK(a.active[3] == 9);
	hv_domain_unmap(&a);
	CHECK(b.memory[2 * HV_PAGE_SIZE + 7] == 0x42);
	hv_domain_unmap(&b);
	CHECK(hv_domain_destroy(hv, 6) == 0);
	hv_disconnect(hv);
}

static void child_share(int rd, int wr)
{
	struct hv_conn *hv = hvt_connect(&srv);
	struct hv_domain d;
	char c;
	uint8_t *p3, *p5;

	CHECK(hv_domain_map(hv, 7, &d) == 0);
	p3 = d.memory + 3 * HV_PAGE_SIZE;
	p5 = d.memory + 5 * HV_PAGE_SIZE;
	CHECK(read(rd, &c, 1) == 1);
	for (size_t i = 0; i < HV_PAGE_SIZE; i++)
		CHECK(p3[i] == 0xa5);
	memset(p5, 0x3c, HV_PAGE_SIZE);
	d.grants[2].frame = 1234;
	CHECK(write(wr, "c", 1) == 1);
	CHECK(read(rd, &c, 1) == 1);
	CHECK(d.status->alive == 0); /* the parent destroyed it meanwhile */
	hv_domain_unmap(&d);
	hv_disconnect(hv);
	_exit(0);
}

static void test_processes_share(void)
{
	struct hv_conn *hv = hvt_connect(&srv);
	struct hv_domain d;
	int p2c[2], c2p[2];
	pid_t pid;
	char c;

	CHECK(hv_domain_create(hv, 7, 8, 16) == 0);
	CHECK(hv_domain_map(hv, 7, &d) == 0);
	CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
	pid = hvt_fork();
	if (pid == 0)
		child_share(p2c[0], c2p[1]);
	memset(d.memory + 3 * HV_PAGE_SIZE, 0xa5, HV_PAGE_SIZE);
	CHECK(write(p2c[1], "p", 1) == 1);
	CHECK(read(c2p[0], &c, 1) == 1);
	for (size_t i = 0; i < HV_PAGE_SIZE; i++)
		CHECK(d.memory[5 * HV_PAGE_SIZE + i] == 0x3c);
	CHECK(d.grants[2].frame == 1234);
	CHECK(hv_domain_destroy(hv, 7) == 0);
	CHECK(write(p2c[1], "p", 1) == 1);
	CHECK(hvt_wait(pid) == 0);
	for (int i = 0; i < 2; i++) {
		close(p2c[i]);
		close(c2p[i]);
	}
	hv_domain_unmap(&d);
	hv_disconnect(hv);
}

int main(void)
{
	hvt_init();
	hvt_start(&srv, NULL);
	RUN(test_create_map_destroy);
	RUN(test_create_errors);
	RUN(test_connect_errors);
	RUN(test_two_mappings_share);
	RUN(test_processes_share);
	return hvt_finish();
}
