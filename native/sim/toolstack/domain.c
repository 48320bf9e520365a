/*
 * Creating and destroying domains: the hypervisor part (memory, grant
 * table, introduction to xenstored) and the xenstore part libxl does
 * (domid/name, a `device` directory the guest owns; on destruction every
 * device unplugged the hard way and /local/domain/<N> removed).
 */
#include "sim/toolstack/domain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/hv/hv.h"
#include "sim/toolstack/vbd.h"
#include "sim/toolstack/xsutil.h"

int domain_create(struct hv_conn *hv, struct xs_handle *h, uint32_t domid, uint32_t pages, uint32_t grants)
{
	struct xs_permissions rw[2] = { { domid, XS_PERM_NONE }, { 0, XS_PERM_READ } };
	char dir[64], val[32], name[32];

	if (hv_domain_create(hv, domid, pages, grants) < 0) {
		fprintf(stderr, "xensim-toolstack: creating domain %u: %s\n", domid, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	snprintf(val, sizeof(val), "%u", domid);
	snprintf(name, sizeof(name), "guest%u", domid);
	if (!ts_write(h, XBT_NULL, dir, "domid", val, NULL, 0) || !ts_write(h, XBT_NULL, dir, "name", name, NULL, 0) ||
	    !ts_write(h, XBT_NULL, dir, "device", "", rw, 2)) {
		fprintf(stderr, "xensim-toolstack: writing %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int domain_destroy(struct hv_conn *hv, struct xs_handle *h, uint32_t domid)
{
	char dir[96];
	unsigned int n = 0;
	char **devs;
	int rc = 0;

	if (hv_domain_destroy(hv, domid) < 0) {
		fprintf(stderr, "xensim-toolstack: destroying domain %u: %s\n", domid, strerror(errno));
		rc = -1;
	}
	snprintf(dir, sizeof(dir), "/local/domain/%u/device/vbd", domid);
	devs = xs_directory(h, XBT_NULL, dir, &n);
	for (unsigned i = 0; devs && i < n; i++) {
		char fe[192];
		snprintf(fe, sizeof(fe), "%s/%s", dir, devs[i]);
		if (vbd_hard_remove(h, fe) != 0 && rc == 0)
			rc = 1;
	}
	free(devs);
	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	xs_rm(h, XBT_NULL, dir);
	return rc;
}
