/* Client library: creating, destroying and mapping domains. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_conn.h"
#include "sim/hv/hv_msg.h"

int hv_domain_create(struct hv_conn *hv, uint32_t domid, uint32_t nr_pages, uint32_t nr_grants)
{
	struct hv_resp resp;
	return hv_call(hv, HV_OP_DOMAIN_CREATE, domid, nr_pages, nr_grants, &resp, NULL, 0);
}

int hv_domain_destroy(struct hv_conn *hv, uint32_t domid)
{
	struct hv_resp resp;
	return hv_call(hv, HV_OP_DOMAIN_DESTROY, domid, 0, 0, &resp, NULL, 0);
}

static size_t round_page(size_t n)
{
	return (n + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE * HV_PAGE_SIZE;
}

/* Maps one memfd, first checking it is as large as the server said: a short
 * file would turn accesses past its end into SIGBUS. */
static void *map_fd(int fd, size_t len, int prot)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return NULL;
	if ((size_t)st.st_size < len) {
		errno = EPROTO;
		return NULL;
	}
	p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int hv_domain_map(struct hv_conn *hv, uint32_t domid, struct hv_domain *out)
{
	struct hv_resp resp;
	int fds[HV_NR_DOMAIN_FDS];
	int e = 0;

	memset(out, 0, sizeof(*out));
	if (hv_call(hv, HV_OP_DOMAIN_MAP, domid, 0, 0, &resp, fds, HV_NR_DOMAIN_FDS) < 0)
		return -1;
	out->domid = domid;
	out->nr_pages = resp.val[0];
	out->nr_grants = resp.val[1];
	if (!out->nr_pages || out->nr_pages > HV_MAX_NR_PAGES || !out->nr_grants ||
	    out->nr_grants > HV_MAX_NR_GRANTS) {
		e = EPROTO;
		goto out;
	}
	errno = 0;
	out->memory = map_fd(fds[HV_FD_MEMORY], (size_t)out->nr_pages * HV_PAGE_SIZE,
			     PROT_READ | PROT_WRITE);
	out->grants = map_fd(fds[HV_FD_GRANTS], round_page(out->nr_grants * sizeof(grant_entry_v1_t)),
			     PROT_READ | PROT_WRITE);
	/* Read-only: only the hypervisor says whether a domain is alive. */
	out->status = map_fd(fds[HV_FD_STATUS], HV_PAGE_SIZE, PROT_READ);
	out->active = map_fd(fds[HV_FD_ACTIVE], hv_active_bytes(out->nr_grants), PROT_READ | PROT_WRITE);
	if (out->active)
		out->audit = (struct hv_audit *)(void *)((uint8_t *)out->active + hv_active_bytes(out->nr_grants) -
							 HV_PAGE_SIZE);
	if (!out->memory || !out->grants || !out->status || !out->active)
		e = errno ? errno : EPROTO;
out:
	hv_msg_close_fds(fds, HV_NR_DOMAIN_FDS); /* the mappings keep the memfds alive */
	if (e) {
		hv_domain_unmap(out);
		errno = e;
		return -1;
	}
	return 0;
}

void hv_domain_unmap(struct hv_domain *d)
{
	if (!d)
		return;
	if (d->memory)
		munmap(d->memory, (size_t)d->nr_pages * HV_PAGE_SIZE);
	if (d->grants)
		munmap(d->grants, round_page(d->nr_grants * sizeof(grant_entry_v1_t)));
	if (d->status)
		munmap((void *)d->status, HV_PAGE_SIZE);
	if (d->active)
		munmap(d->active, hv_active_bytes(d->nr_grants));
	memset(d, 0, sizeof(*d));
}
