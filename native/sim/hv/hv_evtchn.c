/* Client library: event channels (ports from the server, eventfds locally). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_conn.h"

static int evtchn_call(struct hv_conn *hv, uint32_t op, uint32_t domid, uint32_t a0, uint32_t a1,
		       struct hv_evtchn *out)
{
	struct hv_resp resp;
	int fds[HV_NR_EVTCHN_FDS];

	out->local_port = 0;
	out->fd_in = out->fd_out = -1;
	if (hv_call(hv, op, domid, a0, a1, &resp, fds, HV_NR_EVTCHN_FDS) < 0)
		return -1;
	out->local_port = resp.val[0];
	out->fd_in = fds[HV_FD_EVT_IN];
	out->fd_out = fds[HV_FD_EVT_OUT];
	return 0;
}

int hv_evtchn_alloc_unbound(struct hv_conn *hv, uint32_t domid, uint32_t remote_domid, struct hv_evtchn *out)
{
	return evtchn_call(hv, HV_OP_EVTCHN_ALLOC, domid, remote_domid, 0, out);
}

int hv_evtchn_bind_interdomain(struct hv_conn *hv, uint32_t domid, uint32_t remote_domid, uint32_t remote_port,
			       struct hv_evtchn *out)
{
	return evtchn_call(hv, HV_OP_EVTCHN_BIND, domid, remote_domid, remote_port, out);
}

int hv_evtchn_close(struct hv_conn *hv, uint32_t domid, struct hv_evtchn *ch)
{
	struct hv_resp resp;
	int rc, e;

	rc = hv_call(hv, HV_OP_EVTCHN_CLOSE, domid, ch->local_port, 0, &resp, NULL, 0);
	e = errno;
	/* Our fds go whatever the server said: the caller is done with this end. */
	if (ch->fd_in >= 0)
		close(ch->fd_in);
	if (ch->fd_out >= 0)
		close(ch->fd_out);
	ch->fd_in = ch->fd_out = -1;
	errno = e;
	return rc;
}

int hv_evtchn_notify(const struct hv_evtchn *ch)
{
	uint64_t one = 1;

	for (;;) {
		if (write(ch->fd_out, &one, sizeof(one)) == (ssize_t)sizeof(one))
			return 0;
		/* EAGAIN: the counter is saturated, the peer has events pending anyway. */
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int hv_evtchn_consume(const struct hv_evtchn *ch)
{
	uint64_t n;

	for (;;) {
		if (read(ch->fd_in, &n, sizeof(n)) == (ssize_t)sizeof(n))
			return n > INT_MAX ? INT_MAX : (int)n;
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}
