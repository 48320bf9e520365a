/* xensim-hv: requests to domain and event channel operations. */
#include "sim/hv/srv_dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim/hv/srv_domain.h"
#include "sim/hv/srv_evtchn.h"
#include "sim/hv/srv_xs.h"

static int domain_create(const struct hv_req *req)
{
	int rc = srv_domain_create(req->domid, req->arg[0], req->arg[1]);

	if (rc < 0)
		return rc;
	rc = srv_xs_introduce(req->domid);
	if (rc < 0) {
		/* A domain xenstored does not know is useless to the toolstack: undo. */
		fprintf(stderr, "xensim-hv: introducing d%u to xenstored: %s\n", req->domid, strerror(-rc));
		srv_domain_destroy(req->domid);
	}
	return rc;
}

static int domain_destroy(const struct hv_req *req)
{
	int rc = srv_domain_destroy(req->domid);

	if (rc < 0)
		return rc;
	/* The domain is gone either way; a lost release only shows in xenstored. */
	rc = srv_xs_release(req->domid);
	if (rc < 0)
		fprintf(stderr, "xensim-hv: releasing d%u in xenstored: %s\n", req->domid, strerror(-rc));
	return 0;
}

static int domain_map(const struct hv_req *req, struct hv_resp *resp, int *fds, unsigned *nfds)
{
	struct srv_domain *d = srv_domain_get(req->domid);

	if (!d)
		return -ESRCH;
	if (!d->status)
		return -ENODEV; /* dom0: no simulated memory */
	resp->val[0] = d->nr_pages;
	resp->val[1] = d->nr_grants;
	memcpy(fds, d->fds, sizeof(d->fds));
	*nfds = HV_NR_DOMAIN_FDS;
	return 0;
}

static int evtchn_result(struct srv_domain *d, uint32_t port, struct hv_resp *resp, int *fds, unsigned *nfds)
{
	const struct srv_port *p = srv_evtchn_get(d, port);

	resp->val[0] = port;
	fds[HV_FD_EVT_IN] = p->fd_in;
	fds[HV_FD_EVT_OUT] = p->fd_out;
	*nfds = HV_NR_EVTCHN_FDS;
	return 0;
}

static int evtchn_alloc(const struct hv_req *req, uint64_t client, struct hv_resp *resp, int *fds, unsigned *nfds)
{
	struct srv_domain *d = srv_domain_get(req->domid);
	uint32_t port;
	int rc;

	if (!d)
		return -ESRCH;
	rc = srv_evtchn_alloc(d, req->arg[0], client, &port);
	return rc < 0 ? rc : evtchn_result(d, port, resp, fds, nfds);
}

static int evtchn_bind(const struct hv_req *req, uint64_t client, struct hv_resp *resp, int *fds, unsigned *nfds)
{
	struct srv_domain *d = srv_domain_get(req->domid), *rd = srv_domain_get(req->arg[0]);
	uint32_t port;
	int rc;

	if (!d || !rd)
		return -ESRCH;
	rc = srv_evtchn_bind(d, rd, req->arg[1], client, &port);
	return rc < 0 ? rc : evtchn_result(d, port, resp, fds, nfds);
}

static int evtchn_close(const struct hv_req *req)
{
	struct srv_domain *d = srv_domain_get(req->domid);

	return d ? srv_evtchn_close(d, req->arg[0]) : -ESRCH;
}

bool srv_dispatch(const struct hv_req *req, uint64_t client, struct hv_resp *resp, int *fds, unsigned *nfds)
{
	int rc;

	memset(resp, 0, sizeof(*resp));
	*nfds = 0;
	if (req->magic != HV_PROTO_MAGIC)
		return false;
	switch (req->op) {
	case HV_OP_DOMAIN_CREATE:
		rc = domain_create(req);
		break;
	case HV_OP_DOMAIN_DESTROY:
		rc = domain_destroy(req);
		break;
	case HV_OP_DOMAIN_MAP:
		rc = domain_map(req, resp, fds, nfds);
		break;
	case HV_OP_EVTCHN_ALLOC:
		rc = evtchn_alloc(req, client, resp, fds, nfds);
		break;
	case HV_OP_EVTCHN_BIND:
		rc = evtchn_bind(req, client, resp, fds, nfds);
		break;
	case HV_OP_EVTCHN_CLOSE:
		rc = evtchn_close(req);
		break;
	default:
		return false;
	}
	resp->magic = HV_PROTO_MAGIC;
	resp->op = req->op;
	resp->err = -rc;
	if (rc < 0)
		*nfds = 0;
	resp->nfds = *nfds;
	return true;
}
