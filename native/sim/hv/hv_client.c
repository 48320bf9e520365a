/* Client library: connecting to xensim-hv and the request/response call. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim/hv/hv.h"
#include "sim/hv/hv_conn.h"
#include "sim/hv/hv_msg.h"

struct hv_conn *hv_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct hv_conn *hv;

	if (!path)
		path = getenv("XENSIM_HV_PATH");
	if (!path || !*path) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(addr.sun_path, path);

	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return NULL;
	hv->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (hv->sock < 0 || connect(hv->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		if (hv->sock >= 0)
			close(hv->sock);
		free(hv);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&hv->lock, NULL);
	return hv;
}

void hv_disconnect(struct hv_conn *hv)
{
	if (!hv)
		return;
	close(hv->sock);
	pthread_mutex_destroy(&hv->lock);
	free(hv);
}

static int call_locked(struct hv_conn *hv, const struct hv_req *req, struct hv_resp *resp,
		       int *fds, unsigned nfds)
{
	int got[HV_PROTO_MAX_FDS];
	unsigned ngot;
	ssize_t n;

	if (hv_msg_send(hv->sock, req, sizeof(*req), NULL, 0, 0) < 0) {
		if (errno == EPIPE)
			errno = ECONNRESET; /* one errno for "the server is gone" */
		return -1;
	}
	n = hv_msg_recv(hv->sock, resp, sizeof(*resp), got, HV_PROTO_MAX_FDS, &ngot, 0);
	if (n < 0)
		return -1;
	if (n == 0) {
		errno = ECONNRESET; /* the server dropped us or exited */
		return -1;
	}
	if ((size_t)n != sizeof(*resp) || resp->magic != HV_PROTO_MAGIC || resp->op != req->op ||
	    resp->nfds != ngot || (resp->err == 0 && ngot != nfds) || (resp->err != 0 && ngot != 0)) {
		hv_msg_close_fds(got, ngot);
		errno = EPROTO;
		return -1;
	}
	if (resp->err != 0) {
		errno = resp->err > 0 ? resp->err : EPROTO;
		return -1;
	}
	if (nfds)
		memcpy(fds, got, sizeof(int) * nfds);
	return 0;
}

int hv_call(struct hv_conn *hv, uint32_t op, uint32_t domid, uint32_t a0, uint32_t a1,
	    struct hv_resp *resp, int *fds, unsigned nfds)
{
	struct hv_req req = { .magic = HV_PROTO_MAGIC, .op = op, .domid = domid, .arg = { a0, a1, 0 } };
	int rc, e;

	if (!hv) {
		errno = EINVAL;
		return -1;
	}
	memset(resp, 0, sizeof(*resp));
	pthread_mutex_lock(&hv->lock);
	rc = call_locked(hv, &req, resp, fds, nfds);
	e = errno;
	pthread_mutex_unlock(&hv->lock);
	errno = e;
	return rc;
}
