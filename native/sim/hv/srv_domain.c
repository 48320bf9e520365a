/* xensim-hv: domains own memfds (memory, grant table, status, active table). */
#include "sim/hv/srv_domain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim/hv/srv_evtchn.h"

/* Indexed by domid: small enough (32 K pointers) to keep lookups trivial. */
static struct srv_domain *domains[DOMID_FIRST_RESERVED];

static size_t round_page(size_t n)
{
	return (n + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE * HV_PAGE_SIZE;
}

/* A zero-filled memfd of `size` bytes whose size nobody can change later: a
 * client truncating it would make every other mapper fault. */
static int make_memfd(uint32_t domid, const char *what, size_t size)
{
	char name[48];
	int fd, e;

	snprintf(name, sizeof(name), "xensim-d%u-%s", domid, what);
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void domain_free(struct srv_domain *d)
{
	srv_evtchn_close_all(d);
	free(d->ports);
	if (d->status) {
		/* Release: whoever sees alive == 0 sees a finished domain. */
		__atomic_store_n(&d->status->alive, 0, __ATOMIC_RELEASE);
		munmap(d->status, HV_PAGE_SIZE);
	}
	for (int i = 0; i < HV_NR_DOMAIN_FDS; i++)
		if (d->fds[i] >= 0)
			close(d->fds[i]);
	free(d);
}

static struct srv_domain *domain_alloc(uint32_t domid)
{
	struct srv_domain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->domid = domid;
	for (int i = 0; i < HV_NR_DOMAIN_FDS; i++)
		d->fds[i] = -1;
	return d;
}

void srv_domains_init(void)
{
	domains[0] = domain_alloc(0);
	if (!domains[0]) {
		perror("xensim-hv: dom0");
		exit(1);
	}
}

void srv_domains_fini(void)
{
	for (uint32_t i = 0; i < DOMID_FIRST_RESERVED; i++) {
		if (domains[i]) {
			domain_free(domains[i]);
			domains[i] = NULL;
		}
	}
}

struct srv_domain *srv_domain_get(uint32_t domid)
{
	return domid < DOMID_FIRST_RESERVED ? domains[domid] : NULL;
}

static int setup_status(struct srv_domain *d)
{
	void *p = mmap(NULL, HV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d->fds[HV_FD_STATUS], 0);

	if (p == MAP_FAILED)
		return -errno;
	d->status = p;
	d->status->domid = d->domid;
	d->status->nr_pages = d->nr_pages;
	d->status->nr_grants = d->nr_grants;
	__atomic_store_n(&d->status->alive, 1, __ATOMIC_RELEASE);
	/* Only we may write it: clients can no longer map it writable. */
	if (fcntl(d->fds[HV_FD_STATUS], F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0)
		return -errno;
	return 0;
}

int srv_domain_create(uint32_t domid, uint32_t nr_pages, uint32_t nr_grants)
{
	static const char *const what[HV_NR_DOMAIN_FDS] = { "mem", "grants", "status", "active" };
	size_t sizes[HV_NR_DOMAIN_FDS];
	struct srv_domain *d;
	int rc = 0;

	if (domid >= DOMID_FIRST_RESERVED || !nr_pages || nr_pages > HV_MAX_NR_PAGES || !nr_grants ||
	    nr_grants > HV_MAX_NR_GRANTS)
		return -EINVAL;
	if (domains[domid])
		return -EEXIST;
	d = domain_alloc(domid);
	if (!d)
		return -ENOMEM;
	d->nr_pages = nr_pages;
	d->nr_grants = nr_grants;
	sizes[HV_FD_MEMORY] = (size_t)nr_pages * HV_PAGE_SIZE;
	sizes[HV_FD_GRANTS] = round_page(nr_grants * sizeof(grant_entry_v1_t));
	sizes[HV_FD_STATUS] = HV_PAGE_SIZE;
	sizes[HV_FD_ACTIVE] = hv_active_bytes(nr_grants); /* pins, then the audit page */
	for (int i = 0; i < HV_NR_DOMAIN_FDS && rc == 0; i++) {
		d->fds[i] = make_memfd(domid, what[i], sizes[i]);
		if (d->fds[i] < 0)
			rc = d->fds[i];
	}
	if (rc == 0)
		rc = setup_status(d);
	for (int i = 0; i < HV_NR_DOMAIN_FDS && rc == 0; i++)
		if (fcntl(d->fds[i], F_ADD_SEALS, F_SEAL_SEAL) < 0)
			rc = -errno;
	if (rc < 0) {
		domain_free(d);
		return rc;
	}
	domains[domid] = d;
	return 0;
}

int srv_domain_destroy(uint32_t domid)
{
	struct srv_domain *d = srv_domain_get(domid);

	if (!d)
		return -ESRCH;
	if (domid == 0)
		return -EPERM;
	domains[domid] = NULL;
	domain_free(d);
	return 0;
}
